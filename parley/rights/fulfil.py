"""Carrying out a verified request, per kind. Runs in short transactions of its own (an erasure destroys the
person's key in the key store first; an export writes a file), so the route holds no write lock meanwhile.

- access / portability: the ZIP is written to `<data_dir>/exports/<org>/<request>.zip`; the person gets a link
  with a secret token (only its hash is stored), valid `rights_export_days`; then the file is deleted.
- erasure: `privacy.erasure.erase_contact` (key destroyed, every table and file per the data map); the request
  row stays, without the person, as the record that it was done.
- restriction: the contact is flagged; the engine stores their messages but the AI no longer answers them.
- objection / consent withdrawal: the purposes are recorded on the request; an objection to AI processing also
  restricts the contact (ground "objection"), since the assistant is the processing objected to.
- rectification: the corrections given by staff are applied and recorded.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.consent import service as consent_service
from parley.consent.purposes import PURPOSES
from parley.conversations.service import contact_for
from parley.kit.errors import Conflict, InvalidField
from parley.models import Contact, ContactIdentifier, Conversation, PrivacyRequest
from parley.privacy import erasure, export
from parley.rights import repository as repo
from parley.rights.schemas import FulfilIn
from parley.rights.service import notify_person, open_request, record_step
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope, scoped_unit_of_work


def export_path(runtime: Runtime, request: PrivacyRequest) -> Path:
    return runtime.settings.data_dir / "exports" / request.org_id / f"{request.id}.zip"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def fulfil(runtime: Runtime, scope: OrgScope, request_id: str, body: FulfilIn) -> None:
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        request = await open_request(db, scope, request_id)
        if request.status == "received":
            raise Conflict("verify the person before acting on the request", code="not_verified")
        if request.status != "in_progress":
            await record_step(db, runtime, scope, request, "in_progress", note=body.note)
        kind, contact_id = request.kind, request.contact_id
    if contact_id is None:
        return await _complete(runtime, scope, request_id, {"held": "nothing under the identifier given"})
    if kind in ("access", "portability"):
        return await _export(runtime, scope, request_id, contact_id)
    if kind == "erasure":
        done = await erasure.erase_contact(runtime, scope, contact_id)
        return await _complete(
            runtime,
            scope,
            request_id,
            {"conversations": done.conversations, "messages": done.messages, "key_destroyed": done.key_destroyed},
        )
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        request = await open_request(db, scope, request_id)
        outcome = await _apply(db, runtime, scope, request, body)
        request.outcome = outcome
        request.completed_at = runtime.clock.now()
        await record_step(db, runtime, scope, request, "completed", evidence=outcome, note=body.note)
        await notify_person(
            db, runtime, scope, request, "Your privacy request is done", _done_text(request.kind, request.id)
        )


async def _apply(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, request: PrivacyRequest, body: FulfilIn
) -> dict[str, Any]:
    contact = await repo.contact(db, scope, request.contact_id or "")
    assert contact is not None
    now = runtime.clock.now()
    purposes = list(request.details.get("purposes", []))
    if request.kind == "restriction":
        ground = body.ground or request.details.get("ground") or "accuracy"
        contact.restricted_at, contact.restriction_ground = contact.restricted_at or now, ground
        return {"restricted": True, "ground": ground}
    if request.kind in ("objection", "consent_withdrawal"):
        if not purposes:
            raise InvalidField("details.purposes", "the request names no purpose")
        if "ai_processing" in purposes:
            contact.restricted_at, contact.restriction_ground = contact.restricted_at or now, "objection"
        # Purposes that rest on consent stop through the consent ledger, which every check (allows()) reads:
        # a withdrawal there, citing this request as evidence, is what makes the purpose stop everywhere.
        for purpose in purposes:
            if purpose in PURPOSES:
                await consent_service.do_record(
                    db,
                    runtime,
                    scope,
                    contact_id=contact.id,
                    purpose=purpose,
                    granted=False,
                    channel="staff",
                    evidence={"kind": "privacy_request", "request_id": request.id, "request_kind": request.kind},
                )
        key = "objecting_to" if request.kind == "objection" else "withdrawn"
        return {key: purposes, "restricted": contact.restricted_at is not None}
    changed: list[str] = []
    if body.display_name is not None:
        contact.display_name = body.display_name
        changed.append("display_name")
    for identifier in body.remove_identifiers:
        await db.execute(
            delete(ContactIdentifier).where(
                ContactIdentifier.org_id == scope.org_id,
                ContactIdentifier.contact_id == contact.id,
                ContactIdentifier.kind == identifier.kind,
                ContactIdentifier.value == identifier.value,
            )
        )
        changed.append(f"removed {identifier.kind}")
    for identifier in body.add_identifiers:
        owner = await contact_for(db, runtime, scope, identifier.kind, identifier.value)
        if owner.id != contact.id:  # a fresh contact was made for it: the identifier belongs to this person
            await _move_identifier(db, scope, owner.id, contact.id, identifier.kind, identifier.value)
        changed.append(f"added {identifier.kind}")
    if not changed:
        raise InvalidField("body", "a rectification needs display_name, add_identifiers or remove_identifiers")
    request.details = {**request.details, "rectified": body.model_dump(exclude={"note", "ground"})}
    await db.flush()
    return {"changed": changed}


async def _move_identifier(
    db: AsyncSession, scope: OrgScope, from_contact: str, to_contact: str, kind: str, value: str
) -> None:
    if await db.scalar(
        select(Conversation.id)
        .where(Conversation.org_id == scope.org_id, Conversation.contact_id == from_contact)
        .limit(1)
    ):
        raise Conflict(
            f"that {kind} belongs to another person with conversations of their own", code="identifier_taken"
        )
    await db.execute(
        update(ContactIdentifier)
        .where(
            ContactIdentifier.org_id == scope.org_id, ContactIdentifier.kind == kind, ContactIdentifier.value == value
        )
        .values(contact_id=to_contact)
    )
    await db.execute(delete(Contact).where(Contact.org_id == scope.org_id, Contact.id == from_contact))


async def _export(runtime: Runtime, scope: OrgScope, request_id: str, contact_id: str) -> None:
    token = secrets.token_urlsafe(32)
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        request = await open_request(db, scope, request_id)
        path = export_path(runtime, request)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("wb") as file:
                done = await export.write_archive(db, runtime, scope, contact_id, file)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        now = runtime.clock.now()
        request.export_file = str(path.relative_to(runtime.settings.data_dir))
        request.export_token_hash = token_hash(token)
        request.export_expires_at = now + timedelta(days=runtime.settings.rights_export_days)
        request.outcome = {
            "conversations": done.conversations,
            "messages": done.messages,
            "files": done.files,
            "third_party_values_masked": done.masked,
            "archive_bytes": path.stat().st_size,
        }
        request.completed_at = now
        await record_step(db, runtime, scope, request, "completed", evidence=request.outcome)
        base = runtime.settings.public_url.rstrip("/")
        link = f"{base}/privacy/{scope.org_id}/requests/{request.id}/download?token={token}"
        await notify_person(
            db,
            runtime,
            scope,
            request,
            "Your data is ready to download",
            f"Download everything we hold about you here:\n{link}\n"
            f"The link works until {request.export_expires_at.date().isoformat()}; then the file is deleted.",
        )


async def _complete(runtime: Runtime, scope: OrgScope, request_id: str, outcome: dict[str, Any]) -> None:
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        request = await open_request(db, scope, request_id)
        request.outcome = outcome
        request.completed_at = runtime.clock.now()
        await record_step(db, runtime, scope, request, "completed", evidence=outcome)


def _done_text(kind: str, request_id: str) -> str:
    return f"Your {kind.replace('_', ' ')} request has been carried out. Reference: {request_id}."
