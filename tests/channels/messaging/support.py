"""Helpers for the messaging-channel tests: a business with an agent and a WhatsApp connection, notifications
built and signed exactly as Meta builds them, and the reconcilers run by hand."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from parley.channels.messaging.tasks import deliver_channels, process_inbound
from parley.kit.db import set_pg_setting, unit_of_work
from parley.runtime import Runtime
from tests.factories import make_org, sign_in
from tests.fakes.graph_server import ACCESS_TOKEN

APP_SECRET = "fake-app-secret"
VERIFY_TOKEN = "fake-verify-token"
PHONE_NUMBER_ID = "106540352242922"
WA_ID = "31612345678"
PHONE = "+31612345678"


@dataclass
class Business:
    org_id: str
    agent_id: str
    channel: dict[str, Any]
    headers: dict[str, str]  # a signed-in owner's CSRF header (the client holds the cookie)

    @property
    def webhook(self) -> str:
        return "/webhooks/whatsapp/" + self.channel["id"]

    @property
    def api(self) -> str:
        return f"/api/v1/orgs/{self.org_id}"


async def make_business(
    client: httpx.AsyncClient, runtime: Runtime, *, config: dict[str, Any] | None = None, name: str | None = None
) -> Business:
    org = await make_org(runtime, name)
    headers = await sign_in(client, org.owner_email)
    base = f"/api/v1/orgs/{org.id}"
    agent = await client.post(f"{base}/agents", json={"name": "Helper"}, headers=headers)
    assert agent.status_code == 201, agent.text
    channel = await client.post(
        f"{base}/channels",
        json={
            "kind": "whatsapp",
            "agent_id": agent.json()["id"],
            "name": "WhatsApp",
            "config": {"phone_number_id": PHONE_NUMBER_ID, **(config or {})},
            "secrets": {"access_token": ACCESS_TOKEN, "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN},
        },
        headers=headers,
    )
    assert channel.status_code == 201, channel.text
    return Business(org.id, agent.json()["id"], channel.json(), headers)


def text_message(wamid: str, body: str, at: datetime, wa_id: str = WA_ID) -> dict[str, Any]:
    return {"from": wa_id, "id": wamid, "timestamp": str(int(at.timestamp())), "type": "text", "text": {"body": body}}


def image_message(wamid: str, media_id: str, at: datetime, caption: str | None = None) -> dict[str, Any]:
    image: dict[str, Any] = {"id": media_id, "mime_type": "image/jpeg", "sha256": "x"}
    if caption:
        image["caption"] = caption
    return {"from": WA_ID, "id": wamid, "timestamp": str(int(at.timestamp())), "type": "image", "image": image}


def notification(
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    *,
    entries: int = 1,
) -> dict[str, Any]:
    """A `whatsapp_business_account` notification; with `entries` > 1 the messages are spread over entries."""
    messages = messages or []
    value_base = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE_NUMBER_ID},
    }
    chunks = [messages[i::entries] for i in range(entries)]
    entry_list = []
    for n, chunk in enumerate(chunks):
        value: dict[str, Any] = {**value_base}
        if chunk:
            value["contacts"] = [{"profile": {"name": "Ada"}, "wa_id": WA_ID}]
            value["messages"] = chunk
        if statuses and n == 0:
            value["statuses"] = statuses
        entry_list.append({"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]})
    return {"object": "whatsapp_business_account", "entry": entry_list}


def signed(payload: dict[str, Any], secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    """The body and headers as Meta sends them: the signature is over the exact bytes sent."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"content-type": "application/json", "x-hub-signature-256": signature}


async def post_signed(client: httpx.AsyncClient, url: str, payload: dict[str, Any]) -> httpx.Response:
    raw, headers = signed(payload)
    return await client.post(url, content=raw, headers=headers)


async def reconcile(runtime: Runtime) -> None:
    await process_inbound(runtime)
    await deliver_channels(runtime)


async def rows(runtime: Runtime, org_id: str, sql: str, **params: object) -> list[dict[str, Any]]:
    from sqlalchemy import text

    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        await set_pg_setting(db, "app.org_id", org_id)
        result = await db.execute(text(sql), params)
        return [dict(r) for r in result.mappings()]
