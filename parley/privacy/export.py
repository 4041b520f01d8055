"""Everything held about one person, as a ZIP: the right of access (GDPR Art. 15) and portability (Art. 20).

The archive holds:
- `data.json` — machine-readable: the contact, every identifier (visitor id, e-mail, phone, WhatsApp…), every
  conversation on every channel and agent with its messages in clear (opened with the person's key), and the
  Art. 15 information;
- `index.html` — the same for a human, every value escaped;
- `README.txt` — what the files are.

Staff names are kept (they acted for the business); the person's own messages are theirs. Messages whose key was
destroyed read as erased. The export is audited by the caller's transaction.
"""

from __future__ import annotations

import html
import io
import json
import zipfile
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.channels.email import privacy as email_privacy  # email channel
from parley.channels.messaging import channel_privacy
from parley.conversations import repository as conversations_repo
from parley.conversations.service import open_body
from parley.kit.errors import NotFound
from parley.models import Contact, ContactIdentifier, Conversation, Organization
from parley.privacy import audit
from parley.privacy.keys import Erased, keyring
from parley.privacy.retention import RETENTION_CLASSES
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope

FORMAT_VERSION = 1
MAX_MESSAGES_PER_CONVERSATION = 100_000


async def export_contact(db: AsyncSession, runtime: Runtime, scope: OrgScope, contact_id: str) -> bytes:
    contact = await db.scalar(select(Contact).where(Contact.org_id == scope.org_id, Contact.id == contact_id))
    if contact is None:
        raise NotFound("contact not found")
    organization = await db.get(Organization, scope.org_id)
    assert organization is not None
    document = await _document(db, runtime, scope, contact, organization)
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "contact.exported",
        target_type="contact",
        target_id=contact_id,
        details={"conversations": len(document["conversations"])},
    )
    return _zip(document)


async def _document(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, contact: Contact, organization: Organization
) -> dict[str, Any]:
    identifiers = list(
        await db.scalars(
            select(ContactIdentifier)
            .where(ContactIdentifier.org_id == scope.org_id, ContactIdentifier.contact_id == contact.id)
            .order_by(ContactIdentifier.created_at)
        )
    )
    conversations = list(
        await db.scalars(
            select(Conversation)
            .where(Conversation.org_id == scope.org_id, Conversation.contact_id == contact.id)
            .order_by(Conversation.created_at)
        )
    )
    ring = keyring(runtime, scope)
    exported = []
    for conversation in conversations:
        messages = []
        for m in await conversations_repo.messages(db, scope, conversation.id, limit=MAX_MESSAGES_PER_CONVERSATION):
            body = await open_body(ring, m)
            messages.append(
                {
                    "id": m.id,
                    "from": {"user": "you", "assistant": "AI assistant", "staff": "staff"}.get(m.role, m.role),
                    "text": None if isinstance(body, Erased) else body,
                    "erased": isinstance(body, Erased),
                    "sent_at": _iso(m.created_at),
                }
            )
        exported.append(
            {
                "id": conversation.id,
                "channel": conversation.channel,
                "agent_id": conversation.agent_id,
                "started_at": _iso(conversation.created_at),
                "last_message_at": _iso(conversation.last_message_at),
                "messages": messages,
            }
        )
    return {
        "format": "parley.contact-export",
        "version": FORMAT_VERSION,
        "exported_at": _iso(runtime.clock.now()),
        "controller": {"organization": organization.name},
        "person": {
            "contact_id": contact.id,
            "name": contact.display_name,
            "known_since": _iso(contact.created_at),
            "identifiers": [{"kind": i.kind, "value": i.value, "since": _iso(i.created_at)} for i in identifiers],
        },
        "conversations": exported,
        "channels": await channel_privacy.export_section(db, runtime, scope, [contact.id]),
        "email_threads": await email_privacy.export_section(db, scope, [contact.id]),  # email channel
        "information": {
            "purposes": [
                "answering your questions and requests through the organisation's assistant",
                "letting the organisation's staff follow up on your conversations",
            ],
            "categories": sorted({"contact identifiers", "conversation content"}),
            "recipients": "the organisation's staff; the language-model provider the organisation configured, "
            "which receives conversation text with personal values replaced by placeholders when redaction is on",
            "retention": {
                "conversations": f"{organization.conversation_retention_days} days after the last message",
                "classes": RETENTION_CLASSES,
            },
            "source": "you, through the channels listed with each conversation",
            "rights": "access, rectification, erasure, restriction, objection, portability, and complaint to a "
            "supervisory authority",
            "automated_decision_making": "none with legal or similarly significant effects; an AI assistant drafts "
            "replies, and staff can take over any conversation",
        },
    }


def _zip(document: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(document, ensure_ascii=False, indent=2))
        archive.writestr("index.html", _html(document))
        archive.writestr(
            "README.txt",
            "Your data held by "
            + document["controller"]["organization"]
            + ".\ndata.json: everything, machine-readable (portable).\nindex.html: the same, to read.\n",
        )
    return buffer.getvalue()


def _html(document: dict[str, Any]) -> str:
    e = html.escape
    person = document["person"]
    parts = [
        "<!doctype html><meta charset=utf-8><title>Your data</title>",
        f"<h1>Your data held by {e(document['controller']['organization'])}</h1>",
        f"<p>Exported {e(document['exported_at'])}.</p><h2>How you are known</h2><ul>",
        *(f"<li>{e(i['kind'])}: {e(i['value'])}</li>" for i in person["identifiers"]),
        "</ul>",
    ]
    for conversation in document["conversations"]:
        parts.append(f"<h2>Conversation on {e(conversation['channel'])}, {e(conversation['started_at'])}</h2><ol>")
        for m in conversation["messages"]:
            text = "[erased]" if m["erased"] else m["text"] or ""
            parts.append(f"<li><b>{e(m['from'])}</b> ({e(m['sent_at'])}): {e(text)}</li>")
        parts.append("</ol>")
    info = document["information"]
    parts.append("<h2>About this processing</h2><dl>")
    for key in ("recipients", "source", "rights", "automated_decision_making"):
        parts.append(f"<dt>{e(key.replace('_', ' '))}</dt><dd>{e(str(info[key]))}</dd>")
    parts.append(f"<dt>retention</dt><dd>{e(info['retention']['conversations'])}</dd></dl>")
    return "\n".join(parts)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
