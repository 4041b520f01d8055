"""Everything held about one person, as a ZIP: the right of access (GDPR Art. 15) and portability (Art. 20).

The archive holds:
- `data.json` — machine-readable: the contact, every identifier (visitor id, e-mail, phone, WhatsApp…), every
  conversation on every channel and agent with its messages in clear (opened with the person's key), and the
  Art. 15 information;
- `index.html` — the same for a human, every value escaped;
- `README.txt` — what the files are;
- `files/…` — the person's own files (uploads, audio), if they have any.

`data.json` follows `parley/privacy/export_schema.json`. The archive is written entry by entry into a file (or
any binary stream): conversations are read, opened and written one at a time, so a person with a long history
does not have to fit in memory. Other people's e-mail addresses and phone numbers inside transcripts are masked
(`privacy.masking`).

Staff names are kept (they acted for the business); the person's own messages are theirs. Messages whose key was
destroyed read as erased. The export is audited by the caller's transaction.
"""

from __future__ import annotations

import html
import io
import json
import tempfile
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.channels.email import privacy as email_privacy  # email channel
from parley.channels.messaging import channel_privacy
from parley.consent.proof import export_section as consent_export_section
from parley.conversations import repository as conversations_repo
from parley.conversations.inbox import read_notes
from parley.conversations.service import open_body
from parley.kit.errors import NotFound
from parley.models import Contact, ContactIdentifier, Conversation, Organization, PrivacyRequest
from parley.privacy import audit, notice
from parley.privacy.keys import Erased, keyring
from parley.privacy.masking import ThirdPartyMask
from parley.privacy.personfiles import person_files
from parley.privacy.retention import RETENTION_CLASSES
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope

FORMAT_VERSION = 1
MAX_MESSAGES_PER_CONVERSATION = 100_000


async def export_contact(db: AsyncSession, runtime: Runtime, scope: OrgScope, contact_id: str) -> bytes:
    buffer = io.BytesIO()
    await write_archive(db, runtime, scope, contact_id, buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class Exported:
    conversations: int
    messages: int
    files: int
    masked: int


async def find_contact(db: AsyncSession, scope: OrgScope, kind: str, value: str) -> Contact | None:
    """The person behind any one of their identifiers (identifiers are unique per organisation)."""
    return await db.scalar(
        select(Contact)
        .join(ContactIdentifier, ContactIdentifier.contact_id == Contact.id)
        .where(
            ContactIdentifier.org_id == scope.org_id, ContactIdentifier.kind == kind, ContactIdentifier.value == value
        )
    )


async def write_archive(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, contact_id: str, target: IO[bytes]
) -> Exported:
    """Write the person's ZIP into `target` and audit it in the caller's transaction."""
    contact = await db.scalar(select(Contact).where(Contact.org_id == scope.org_id, Contact.id == contact_id))
    if contact is None:
        raise NotFound("contact not found")
    organization = await db.get(Organization, scope.org_id)
    assert organization is not None
    identifiers = list(
        await db.scalars(
            select(ContactIdentifier)
            .where(ContactIdentifier.org_id == scope.org_id, ContactIdentifier.contact_id == contact.id)
            .order_by(ContactIdentifier.created_at)
        )
    )
    head = _head(runtime, contact, organization, identifiers)
    # Messaging channels: per-channel state (opt-outs, the 24-hour window), delivery states, merges.
    # Art. 15(1)(c): the recipients by name — the sub-processors configured now (language models, messaging
    # providers, mail servers, hosting), the same list as the public notice.
    head["information"]["subprocessors"] = [
        {"name": p.name, "purpose": p.purpose, "location": p.location, "transfer_mechanism": p.transfer_mechanism}
        for p in await notice.subprocessors(db, scope, runtime)
    ]
    head["channels"] = await channel_privacy.export_section(db, runtime, scope, [contact.id])
    head["email_threads"] = await email_privacy.export_section(db, scope, [contact.id])  # email channel
    mask = ThirdPartyMask([i.value for i in identifiers])
    files = list(person_files(runtime.settings, scope.org_id, contact.id))
    head["files"] = [{"name": name, "path": f"files/{name}", "bytes": path.stat().st_size} for name, path in files]
    head["requests"] = await _requests(db, scope, contact.id)
    conversations = messages = 0
    with (
        zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        tempfile.SpooledTemporaryFile(max_size=4 << 20, mode="w+t", encoding="utf-8") as page,
    ):
        page.write(_html_head(head))
        with archive.open("data.json", "w", force_zip64=True) as out:
            tail = json.dumps({k: v for k, v in head.items()}, ensure_ascii=False)
            out.write(tail[:-1].encode() + b', "conversations": [')
            async for conversation in _conversations(db, runtime, scope, contact.id, mask):
                out.write((b",\n" if conversations else b"\n") + json.dumps(conversation, ensure_ascii=False).encode())
                page.write(_html_conversation(conversation))
                conversations += 1
                messages += len(conversation["messages"])
            out.write(b"\n]}")
        page.write(_html_information(head))
        page.seek(0)
        with archive.open("index.html", "w", force_zip64=True) as out:
            while chunk := page.read(1 << 16):
                out.write(chunk.encode())
        archive.writestr(
            "README.txt",
            f"Your data held by {organization.name}.\n"
            "data.json: everything, machine-readable (portable); its schema is export_schema.json in Parley.\n"
            "index.html: the same, to read.\n"
            "consents.json, consents.html: every consent choice you made, with the text you were shown.\n"
            "files/: your files (uploads, recordings), if any.\n",
        )
        for name, path in files:  # copied in a worker thread: tens of megabytes must not block the event loop
            await anyio.to_thread.run_sync(_store, archive, path, f"files/{name}")
        # The proof of every consent choice the person made (consents.json, consents.html).
        for name, content in (await consent_export_section(db, scope, contact.id)).items():
            archive.writestr(name, content)
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "contact.exported",
        target_type="contact",
        target_id=contact_id,
        details={"conversations": conversations, "messages": messages, "files": len(files)},
    )
    return Exported(conversations, messages, len(files), mask.masked)


def _store(archive: zipfile.ZipFile, path: Path, name: str) -> None:
    archive.write(path, name, compress_type=zipfile.ZIP_STORED)  # media are compressed already


async def _requests(db: AsyncSession, scope: OrgScope, contact_id: str) -> list[dict[str, Any]]:
    """The person's own data-subject requests (what they asked, and what became of it)."""
    rows = await db.scalars(
        select(PrivacyRequest)
        .where(PrivacyRequest.org_id == scope.org_id, PrivacyRequest.contact_id == contact_id)
        .order_by(PrivacyRequest.received_at, PrivacyRequest.id)
    )
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "status": r.status,
            "received_at": _iso(r.received_at),
            "due_at": _iso(r.extended_due_at or r.due_at),
            "details": r.details,
        }
        for r in rows
    ]


async def _conversations(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, contact_id: str, mask: ThirdPartyMask
) -> AsyncIterator[dict[str, Any]]:
    ring = keyring(runtime, scope)
    conversations = list(
        await db.scalars(
            select(Conversation)
            .where(Conversation.org_id == scope.org_id, Conversation.contact_id == contact_id)
            .order_by(Conversation.created_at, Conversation.id)
        )
    )
    for conversation in conversations:
        messages = []
        for m in await conversations_repo.messages(db, scope, conversation.id, limit=MAX_MESSAGES_PER_CONVERSATION):
            body = await open_body(ring, m)
            messages.append(
                {
                    "id": m.id,
                    "from": {"user": "you", "assistant": "AI assistant", "staff": "staff"}.get(m.role, m.role),
                    "text": None if isinstance(body, Erased) else mask.apply(body),
                    "erased": isinstance(body, Erased),
                    "sent_at": _iso(m.created_at),
                }
            )
        yield {
            "id": conversation.id,
            "channel": conversation.channel,
            "agent_id": conversation.agent_id,
            "started_at": _iso(conversation.created_at),
            "last_message_at": _iso(conversation.last_message_at),
            "messages": messages,
            # Staff's internal notes are about the person too (dashboard inbox).
            "staff_notes": [
                {
                    "text": None if text is None else mask.apply(text),
                    "erased": text is None,
                    "written_at": _iso(note.created_at),
                }
                for note, text in await read_notes(db, runtime, scope, conversation.id)
            ],
        }


def _head(
    runtime: Runtime, contact: Contact, organization: Organization, identifiers: list[ContactIdentifier]
) -> dict[str, Any]:
    return {
        "format": "parley.contact-export",
        "version": FORMAT_VERSION,
        "exported_at": _iso(runtime.clock.now()),
        "controller": {"organization": organization.name},
        "person": {
            "contact_id": contact.id,
            "name": contact.display_name,
            "known_since": _iso(contact.created_at),
            "restricted": contact.restricted_at is not None,
            "identifiers": [{"kind": i.kind, "value": i.value, "since": _iso(i.created_at)} for i in identifiers],
        },
        "information": {
            "purposes": [
                "answering your questions and requests through the organisation's assistant",
                "letting the organisation's staff follow up on your conversations",
            ],
            "categories": sorted({"contact identifiers", "conversation content", "files you sent"}),
            "recipients": "the organisation's staff; the language-model provider the organisation configured, "
            "which receives conversation text with personal values replaced by placeholders when redaction is on",
            "retention": {
                "conversations": f"{organization.conversation_retention_days} days after the last message",
                "classes": RETENTION_CLASSES,
            },
            "source": "you, through the channels listed with each conversation",
            "rights": "access, rectification, erasure, restriction, objection, portability, withdrawal of consent, "
            "and complaint to a supervisory authority",
            "automated_decision_making": "none with legal or similarly significant effects; an AI assistant drafts "
            "replies, and staff can take over any conversation",
            "third_parties": "other people's e-mail addresses and phone numbers inside your conversations are masked",
        },
    }


def _html_head(document: dict[str, Any]) -> str:
    e = html.escape
    person = document["person"]
    return "\n".join(
        [
            "<!doctype html><meta charset=utf-8><title>Your data</title>",
            f"<h1>Your data held by {e(document['controller']['organization'])}</h1>",
            f"<p>Exported {e(document['exported_at'])}.</p><h2>How you are known</h2><ul>",
            *(f"<li>{e(i['kind'])}: {e(i['value'])}</li>" for i in person["identifiers"]),
            "</ul>",
            *(f"<p>File: {e(f['name'])} ({f['bytes']} bytes)</p>" for f in document["files"]),
            "",
        ]
    )


def _html_conversation(conversation: dict[str, Any]) -> str:
    e = html.escape
    parts = [f"<h2>Conversation on {e(conversation['channel'])}, {e(conversation['started_at'])}</h2><ol>"]
    for m in conversation["messages"]:
        text = "[erased]" if m["erased"] else m["text"] or ""
        parts.append(f"<li><b>{e(m['from'])}</b> ({e(m['sent_at'])}): {e(text)}</li>")
    parts.append("</ol>\n")
    notes = conversation.get("staff_notes") or []
    if notes:
        parts.append("<h3>Staff notes</h3><ul>")
        parts.extend(f"<li>({e(n['written_at'])}) {e(n['text'] or '[erased]')}</li>" for n in notes)
        parts.append("</ul>\n")
    return "\n".join(parts)


def _html_information(document: dict[str, Any]) -> str:
    e = html.escape
    info = document["information"]
    parts = ["<h2>About this processing</h2><dl>"]
    for key in ("recipients", "source", "rights", "automated_decision_making", "third_parties"):
        parts.append(f"<dt>{e(key.replace('_', ' '))}</dt><dd>{e(str(info[key]))}</dd>")
    parts.append(f"<dt>retention</dt><dd>{e(info['retention']['conversations'])}</dd>")
    processors = info.get("subprocessors") or []
    listed = "; ".join(f"{p['name']} ({p['purpose']}; {p['location']}; {p['transfer_mechanism']})" for p in processors)
    parts.append(f"<dt>sub-processors</dt><dd>{e(listed or 'none outside the organisation')}</dd></dl>")
    return "\n".join(parts)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
