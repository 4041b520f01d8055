"""Sign-in throttling with exponential backoff, per email address and per IP address.

The first `login_free_failures` failures within the window cost nothing; each further one locks sign-in for
that key for base * 2^(n - free) seconds, up to the cap. IP addresses get four times the free failures, since
many people can share one (an office, a mobile carrier). Counters live in the database, so every server
process enforces the same limits, and keys are HMAC pseudonyms so the table holds no address in clear.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from parley.auth import repository as repo
from parley.auth.secrets import keyed_digest
from parley.kit.errors import TooManyRequests
from parley.settings import Settings


class LoginThrottler:
    def __init__(self, settings: Settings, pseudonym_key: bytes) -> None:
        self._settings = settings
        self._key = pseudonym_key

    def keys(self, email: str, ip: str | None) -> dict[str, int]:
        """Throttle keys and their free-failure allowance."""
        free = self._settings.login_free_failures
        keys = {f"email:{keyed_digest(self._key, email)}": free}
        if ip:
            keys[f"ip:{keyed_digest(self._key, ip)}"] = free * 4
        return keys

    async def check(self, session: AsyncSession, keys: dict[str, int], now: datetime) -> None:
        waits = [
            (row.locked_until - now).total_seconds()
            for row in await repo.throttles(session, list(keys))
            if row.locked_until and row.locked_until > now
        ]
        if waits:
            raise TooManyRequests("too many failed sign-in attempts; try again later", retry_after=max(waits))

    async def failed(self, session: AsyncSession, keys: dict[str, int], now: datetime) -> None:
        window = timedelta(minutes=self._settings.login_failure_window_minutes)
        for key, free in keys.items():
            row = await repo.throttle_for_update(session, key, now)
            if row.failures and now - row.last_failure_at > window:
                row.failures, row.first_failure_at, row.locked_until = 0, now, None
            row.failures += 1
            row.last_failure_at = now
            if row.failures >= free:
                delay = min(
                    self._settings.login_backoff_base_seconds * 2 ** (row.failures - free),
                    self._settings.login_backoff_max_seconds,
                )
                row.locked_until = now + timedelta(seconds=delay)
        await session.flush()

    async def succeeded(self, session: AsyncSession, keys: dict[str, int]) -> None:
        # Only the address's counter is cleared: a correct password for one account says nothing about the
        # other accounts being guessed from the same IP.
        for key in keys:
            if key.startswith("email:"):
                await repo.delete_throttle(session, key)
