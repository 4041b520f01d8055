"""Password hashing with argon2id. Hashing is deliberately slow CPU work, so it runs in a worker thread and
never blocks the event loop."""

from __future__ import annotations

from anyio import to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from parley.settings import Settings

MIN_LENGTH = 10
MAX_LENGTH = 256


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        # Verified against when the email is unknown, so that a miss takes as long as a wrong password.
        self._dummy = self._hasher.hash("parley-dummy-password")

    async def hash(self, password: str) -> str:
        return await to_thread.run_sync(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        return await to_thread.run_sync(self._verify, stored_hash or self._dummy, password, stored_hash is None)

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other cost settings than today's."""
        return self._hasher.check_needs_rehash(stored_hash)

    def _verify(self, stored_hash: str, password: str, dummy: bool) -> bool:
        try:
            ok = self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return ok and not dummy


def check_strength(password: str) -> str:
    """Raises ValueError with a message for people; used by request schemas and the CLI."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"passwords need at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValueError(f"passwords are at most {MAX_LENGTH} characters")
    if len(set(password)) < 4:
        raise ValueError("this password is too easy to guess")
    return password
