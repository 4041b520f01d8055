"""The proof of one person's consents: for their access export, for staff, and what erasure leaves of it.

Erasure (data-map decision): the events stay, because the controller must be able to demonstrate consent
(GDPR Art. 7(1)) and that it honoured a withdrawal, possibly in a later dispute (Art. 17(3)(e)). What made
them the person's goes: `contact_id` becomes a keyed pseudonym (HMAC with the installation's pseudonym key, per
organisation) that nobody can turn back into the person, and the free-form `evidence` (an utterance, the message
that said STOP) is cleared. Purpose, choice, channel, time and the text shown remain.
"""

from __future__ import annotations

import html
import json
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.auth.secrets import keyed_digest
from parley.consent import repository as repo
from parley.consent.purposes import PURPOSES
from parley.models import ConsentEvent, Contact
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope

PSEUDONYM_PREFIX = "pse_"


async def proof(db: AsyncSession, scope: OrgScope, contact_id: str) -> dict[str, Any]:
    """Every choice the contact made, oldest first, each with the exact text they were shown, and the current
    state per purpose."""
    events = await repo.events_of(db, scope, contact_id)
    texts = await repo.texts_by_id(db, scope, {e.text_id for e in events if e.text_id})
    current: dict[str, bool] = {}
    listed = []
    for event in events:
        current[event.purpose] = event.granted
        shown = texts.get(event.text_id) if event.text_id else None
        listed.append(
            {
                "id": event.id,
                "purpose": event.purpose,
                "granted": event.granted,
                "channel": event.channel,
                "occurred_at": event.occurred_at.isoformat(),
                "text": None
                if shown is None
                else {"id": shown.id, "language": shown.language, "version": shown.version, "body": shown.body},
                "evidence": event.evidence,
                "recorded_by_staff": event.recorded_by is not None,
            }
        )
    return {
        "contact_id": contact_id,
        "current": {
            key: {"title": p.title, "lawful_basis": p.lawful_basis, "granted": current.get(key)}
            for key, p in PURPOSES.items()
        },
        "events": listed,
    }


async def export_section(db: AsyncSession, scope: OrgScope, contact_id: str) -> dict[str, str]:
    """The files the person's access export gains: `consents.json` and its readable `consents.html`."""
    document = await proof(db, scope, contact_id)
    return {
        "consents.json": json.dumps(document, ensure_ascii=False, indent=2),
        "consents.html": proof_html(document),
    }


def proof_html(document: dict[str, Any]) -> str:
    e = html.escape
    parts = ["<!doctype html><meta charset=utf-8><title>Your consents</title><h1>Your consents</h1><ul>"]
    for state in document["current"].values():
        choice = {True: "given", False: "withdrawn or refused", None: "never asked"}[state["granted"]]
        parts.append(f"<li>{e(state['title'])}: {e(choice)}</li>")
    parts.append("</ul><h2>Every choice you made</h2><ol>")
    for event in document["events"]:
        verb = "agreed to" if event["granted"] else "withdrew or refused"
        shown = f" — shown: “{e(event['text']['body'])}”" if event["text"] else ""
        what = f"{e(event['purpose'])} ({e(event['channel'])})"
        parts.append(f"<li>{e(event['occurred_at'])}: you {verb} {what}{shown}</li>")
    parts.append("</ol>")
    return "\n".join(parts)


def pseudonym(runtime: Runtime, org_id: str, contact_id: str) -> str:
    return PSEUDONYM_PREFIX + keyed_digest(runtime.pseudonym_key, f"consent/{org_id}/{contact_id}")


async def erase_section(db: AsyncSession, runtime: Runtime, scope: OrgScope, contact_id: str) -> int:
    """Pseudonymises the erased contact's consent events (see the module docstring). Returns how many."""
    return await pseudonymise_contacts(db, runtime, scope.org_id, [contact_id])


async def pseudonymise_contacts(db: AsyncSession, runtime: Runtime, org_id: str, contact_ids: list[str]) -> int:
    """The same for many contacts at once (retention forgetting people in batches): one UPDATE per contact that
    has events at all, found first with one query. Only contacts already deleted in this transaction: one that
    retention spared at the last moment (a conversation started) keeps its ledger as it is."""
    with_events = set(
        await db.scalars(
            select(ConsentEvent.contact_id)
            .where(
                ConsentEvent.org_id == org_id,
                ConsentEvent.contact_id.in_(contact_ids),
                ~exists().where(Contact.id == ConsentEvent.contact_id),
            )
            .distinct()
        )
    )
    changed = 0
    for contact_id in sorted(with_events):
        result = await db.execute(
            update(ConsentEvent)
            .where(ConsentEvent.org_id == org_id, ConsentEvent.contact_id == contact_id)
            .values(contact_id=pseudonym(runtime, org_id, contact_id), evidence=None)
            .execution_options(synchronize_session=False)
        )
        changed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return changed
