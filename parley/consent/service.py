"""The consent ledger: versioned texts, and grant/withdraw events that are only ever appended.

`allows(db, scope, contact_id, purpose)` is what the engine and the channels ask before processing that needs
consent: true only when the contact's latest event for that purpose is a grant. No event means no consent.
A grant must name the text the person was shown (the proof); a withdrawal need not (STOP by SMS shows none),
so withdrawing is never harder than granting.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parley.consent import repository as repo
from parley.consent.purposes import CHANNELS, PURPOSES
from parley.conversations import repository as contacts_repo
from parley.kit.errors import Conflict, InvalidField, NotFound, ParleyError
from parley.kit.ids import new_id
from parley.models import ConsentEvent, ConsentText
from parley.privacy import audit
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope

# Two events of one contact and purpose never share a timestamp: the latest is always well defined.
_TICK = timedelta(microseconds=1)


async def allows(db: AsyncSession, scope: OrgScope, contact_id: str, purpose: str) -> bool:
    """Whether the contact's current choice for `purpose` is a grant."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown consent purpose: {purpose}")
    return bool(await repo.latest_granted(db, scope, contact_id, purpose))


class ConsentRequired(ParleyError):
    """Processing that needs a consent the person has not given (or withdrew)."""

    status_code = 403
    code = "consent_required"


async def require_consent(db: AsyncSession, scope: OrgScope, contact_id: str, purpose: str) -> None:
    """For the engine and channels: raise before processing that needs `purpose` unless the person allows it."""
    if not await allows(db, scope, contact_id, purpose):
        raise ConsentRequired(
            f"this person has not agreed to {PURPOSES[purpose].title.lower()}", extra={"purpose": purpose}
        )


async def may_process_voice(db: AsyncSession, scope: OrgScope, contact_id: str) -> bool:
    """What the voice channel asks before sending a caller's audio to speech recognition and the AI: their
    current `ai_voice_processing` choice (asked by a keypress or a spoken yes; see purposes.py). Without it the
    call goes to a person. Call recording is a separate purpose (`call_recording`)."""
    return await allows(db, scope, contact_id, "ai_voice_processing")


async def current_state(db: AsyncSession, scope: OrgScope, contact_id: str) -> dict[str, bool | None]:
    """Every purpose with the contact's current choice (None: never asked)."""
    return {p: await repo.latest_granted(db, scope, contact_id, p) for p in PURPOSES}


async def access_contact(db: AsyncSession, scope: OrgScope, contact_id: str) -> None:
    if await contacts_repo.contact(db, scope, contact_id) is None:
        raise NotFound("contact not found")


async def do_record(
    db: AsyncSession,
    runtime: Runtime,
    scope: OrgScope,
    *,
    contact_id: str,
    purpose: str,
    granted: bool,
    channel: str,
    text_id: str | None = None,
    evidence: dict[str, Any] | None = None,
    by_staff: bool = False,
) -> ConsentEvent:
    """Append one choice to the ledger. Staff entries (consent taken on the phone, a signed form) are audited."""
    if purpose not in PURPOSES:
        raise InvalidField("purpose", f"unknown purpose; one of {', '.join(PURPOSES)}")
    if channel not in CHANNELS:
        raise InvalidField("channel", f"unknown channel; one of {', '.join(CHANNELS)}")
    if text_id is not None:
        shown = await repo.text(db, scope, text_id)
        if shown is None or shown.purpose != purpose:
            raise InvalidField("text_id", "no consent text with this id for this purpose")
    elif granted:
        raise InvalidField("text_id", "a grant must name the consent text the person was shown")
    now = runtime.clock.now()
    previous = await repo.latest_event(db, scope, contact_id, purpose)
    if previous is not None and previous.occurred_at >= now:
        now = previous.occurred_at + _TICK
    event = ConsentEvent(
        id=new_id("cev"),
        org_id=scope.org_id,
        contact_id=contact_id,
        purpose=purpose,
        granted=granted,
        channel=channel,
        occurred_at=now,
        text_id=text_id,
        evidence=evidence,
        recorded_by=scope.actor.id if by_staff else None,
    )
    db.add(event)
    await db.flush()
    if by_staff:
        await audit.record_in_scope(
            db,
            runtime.clock,
            scope,
            "consent.recorded",
            target_type="contact",
            target_id=contact_id,
            details={"purpose": purpose, "granted": granted, "channel": channel, "text_id": text_id},
        )
    return event


# --- Texts ---------------------------------------------------------------------------------------------------


async def access_text(db: AsyncSession, scope: OrgScope, text_id: str) -> ConsentText:
    found = await repo.text(db, scope, text_id)
    if found is None:
        raise NotFound("consent text not found")
    return found


async def do_add_text(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, *, purpose: str, language: str, body: str
) -> ConsentText:
    """A new version for (purpose, language); earlier versions stay as they were, for the events that cite them."""
    if purpose not in PURPOSES:
        raise InvalidField("purpose", f"unknown purpose; one of {', '.join(PURPOSES)}")
    version = await repo.last_version(db, scope, purpose, language) + 1
    text = ConsentText(
        id=new_id("ctx"),
        org_id=scope.org_id,
        purpose=purpose,
        language=language,
        version=version,
        body=body,
        created_by=scope.actor.id,
        created_at=runtime.clock.now(),
    )
    db.add(text)
    await db.flush()
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "consent.text_added",
        target_type="consent_text",
        target_id=text.id,
        details={"purpose": purpose, "language": language, "version": version},
    )
    return text


async def do_delete_text(db: AsyncSession, runtime: Runtime, scope: OrgScope, text_id: str) -> None:
    """Only a text nobody was shown yet can go: a cited text is part of someone's proof."""
    text = await access_text(db, scope, text_id)
    if await repo.text_in_use(db, scope, text_id):
        raise Conflict("this text was shown to people and is part of their consent proof; add a new version instead")
    await db.delete(text)
    await audit.record_in_scope(
        db, runtime.clock, scope, "consent.text_deleted", target_type="consent_text", target_id=text_id
    )


async def find_text_to_show(
    db: AsyncSession, scope: OrgScope, purpose: str, languages: list[str]
) -> ConsentText | None:
    """The newest text for the first of `languages` that has one, else English."""
    for language in [*languages, "en"]:
        found = await repo.current_text(db, scope, purpose, language)
        if found is not None:
            return found
    return None


async def text_to_show(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, purpose: str, languages: list[str]
) -> ConsentText:
    """As `find_text_to_show`; without any text, the registry's wording becomes version 1 (in English), so that
    even a business that wrote nothing can prove what was shown. Needs a write transaction."""
    found = await find_text_to_show(db, scope, purpose, languages)
    if found is not None:
        return found
    return await do_add_text(db, runtime, scope, purpose=purpose, language="en", body=PURPOSES[purpose].default_text)
