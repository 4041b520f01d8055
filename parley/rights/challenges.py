"""One-time codes that prove a person controls an e-mail address (or phone number) before a public request is
filed for whatever is held under it.

Only keyed hashes are stored (of the code, bound to the challenge id; of the identifier; of the caller's IP), so
the table discloses nothing if read. A code lives `rights_code_minutes`, allows `rights_code_attempts` wrong
tries, and is used once. At most `rights_codes_per_identifier_hour` codes go to one address and
`rights_codes_per_ip_hour` are asked from one IP address per hour, so the page can be used neither to flood a
person's inbox nor to guess codes at scale. The person sends the identifier back with the code: the server
never needs to keep it.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.errors import Conflict, InvalidField, NotFound, TooManyRequests
from parley.kit.ids import new_id
from parley.models import PrivacyChallenge
from parley.outbox.service import enqueue_email
from parley.privacy.erasure import pseudonym
from parley.rights import repository as repo
from parley.rights.sms import sms_sender
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope

HOUR = timedelta(hours=1)


def normalise(channel: str, identifier: str) -> str:
    value = identifier.strip()
    if channel == "email":
        if "@" not in value or len(value) > 320:
            raise InvalidField("body.identifier", "not an e-mail address")
        return value.lower()
    digits = "".join(ch for ch in value if ch.isdigit())
    if not value.startswith("+") or not 8 <= len(digits) <= 15:
        raise InvalidField("body.identifier", "a phone number in international format, e.g. +33612345678")
    return "+" + digits


def _code_hash(runtime: Runtime, challenge_id: str, code: str) -> str:
    return pseudonym(runtime, f"challenge:{challenge_id}:{code}")


async def do_send_code(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, *, kind: str, channel: str, identifier: str, org_name: str
) -> PrivacyChallenge:
    settings = runtime.settings
    value = normalise(channel, identifier)
    now = runtime.clock.now()
    identifier_hash = pseudonym(runtime, value)
    ip = scope.actor.request.ip
    ip_hash = pseudonym(runtime, f"ip:{ip}") if ip else None
    if await repo.challenges_since(db, scope, now - HOUR, identifier_hash=identifier_hash) >= (
        settings.rights_codes_per_identifier_hour
    ):
        raise TooManyRequests("too many codes for this address; try again later", retry_after=HOUR.total_seconds())
    if (
        ip_hash
        and await repo.challenges_since(db, scope, now - HOUR, ip_hash=ip_hash) >= settings.rights_codes_per_ip_hour
    ):
        raise TooManyRequests("too many codes from this network; try again later", retry_after=HOUR.total_seconds())
    code = f"{secrets.randbelow(1_000_000):06d}"
    challenge = PrivacyChallenge(
        id=new_id("chl"),
        org_id=scope.org_id,
        channel=channel,
        identifier_hash=identifier_hash,
        ip_hash=ip_hash,
        code_hash="",
        kind=kind,
        attempts=0,
        expires_at=now + timedelta(minutes=settings.rights_code_minutes),
        created_at=now,
    )
    challenge.code_hash = _code_hash(runtime, challenge.id, code)
    db.add(challenge)
    await db.flush()
    text = (
        f"Your code to confirm your privacy request to {org_name} is {code}.\n"
        f"It expires in {settings.rights_code_minutes} minutes. If you did not ask for it, ignore this message."
    )
    if channel == "email":
        await enqueue_email(
            db, runtime.clock, org_id=scope.org_id, to=value, subject="Your confirmation code", text=text
        )
        return challenge
    sender = sms_sender(settings)
    if sender is None:
        raise InvalidField("body.channel", "codes by SMS are not available here; use e-mail")
    # Sent before the commit: a failure rolls the challenge back (a code nobody can use is never stored).
    await sender.send(value, text)
    return challenge


async def do_check_code(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, *, challenge_id: str, identifier: str, code: str
) -> PrivacyChallenge | None:
    """The challenge, consumed, if `code` is right for it and `identifier`; None for a wrong try, which is
    counted (the caller commits the count before telling the person, so a rollback cannot undo it)."""
    challenge = await repo.challenge(db, scope, challenge_id)
    if challenge is None:
        raise NotFound("no such code request")
    now = runtime.clock.now()
    if challenge.consumed_at is not None:
        raise Conflict("this code was already used", code="code_used")
    if challenge.expires_at <= now:
        raise Conflict("this code has expired; ask for a new one", code="code_expired")
    if challenge.attempts >= runtime.settings.rights_code_attempts:
        raise TooManyRequests("too many wrong codes; ask for a new one", retry_after=HOUR.total_seconds())
    value = normalise(challenge.channel, identifier)
    right_code = hmac.compare_digest(challenge.code_hash, _code_hash(runtime, challenge.id, code.strip()))
    right_identifier = hmac.compare_digest(challenge.identifier_hash, pseudonym(runtime, value))
    if not (right_code and right_identifier):
        challenge.attempts += 1
        await db.flush()
        return None
    challenge.consumed_at = now
    await db.flush()
    return challenge
