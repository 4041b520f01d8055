"""Shared set-up for the consent tests: a contact with an email address, and the ledger read from outside."""

from __future__ import annotations

import httpx

from parley.consent import service as consent
from parley.conversations import service as conversations
from parley.kit.db import unit_of_work
from parley.runtime import Runtime
from parley.tenancy import platform
from tests.factories import ACTOR
from tests.privacy_support import Chat, start_chat


async def chat_with_email(client: httpx.AsyncClient, runtime: Runtime, email: str = "zoe@example.com") -> Chat:
    """A person who wrote on WhatsApp and is also known by an email address."""
    chat = await start_chat(client, runtime)
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, chat.org_id, ACTOR)
        contact = await conversations.contact_for(db, runtime, scope, "email", email)
        # contact_for made a second contact for the address; attach the address to the chat's person instead
        from sqlalchemy import update

        from parley.models import ContactIdentifier

        await db.execute(
            update(ContactIdentifier)
            .where(ContactIdentifier.org_id == chat.org_id, ContactIdentifier.contact_id == contact.id)
            .values(contact_id=chat.contact_id)
        )
    return chat


async def allows(runtime: Runtime, org_id: str, contact_id: str, purpose: str) -> bool:
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        scope = await platform.system_scope(db, org_id, ACTOR)
        return await consent.allows(db, scope, contact_id, purpose)


async def add_text(client: httpx.AsyncClient, chat: Chat, purpose: str, body: str, language: str = "en") -> str:
    response = await client.post(
        f"{chat.base}/consent/texts",
        json={"purpose": purpose, "language": language, "body": body},
        headers=chat.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
