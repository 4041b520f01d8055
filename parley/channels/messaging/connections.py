"""Channel connections: configured by admins over the API, secrets sealed under the organisation key, each
with the public webhook URL the provider must be given. Webhooks find their connection by its id alone (a
read-only lookup policy on PostgreSQL) and keep it cached for a few seconds: the accept path is then one INSERT."""

from __future__ import annotations

import json
import time
import weakref
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from parley.agents import service as agents_service
from parley.channels.messaging.phones import to_e164
from parley.channels.messaging.schemas import ChannelIn, ChannelOut, ChannelPatch
from parley.channels.messaging.shapes import LiveConnection
from parley.kit.db import set_pg_setting, unit_of_work
from parley.kit.errors import InvalidField, NotFound
from parley.kit.ids import new_id
from parley.models import ChannelConnection
from parley.privacy import audit
from parley.privacy.keys import Keyring, org_cipher
from parley.runtime import Runtime
from parley.settings import Settings
from parley.tenancy.scope import OrgScope

# kind -> (required config keys, required secrets)
REQUIRED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "whatsapp": (("phone_number_id",), ("access_token", "app_secret", "verify_token")),
    "twilio_sms": (("account_sid", "from_number"), ("auth_token",)),
    "twilio_whatsapp": (("account_sid", "from_number"), ("auth_token",)),
    "email": ((), ()),
}
WEBHOOK_PATH = {"whatsapp": "whatsapp", "twilio_sms": "twilio", "twilio_whatsapp": "twilio", "email": "email"}
CACHE_SECONDS = 5.0


def secrets_record(connection_id: str) -> str:
    return f"channel_connection:{connection_id}:secrets"


def webhook_url(settings: Settings, connection: ChannelConnection | LiveConnection) -> str:
    return f"{settings.effective_public_url}/webhooks/{WEBHOOK_PATH[connection.kind]}/{connection.id}"


def _check(kind: str, config: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
    needed_config, needed_secrets = REQUIRED[kind]
    for key in needed_config:
        if not str(config.get(key) or "").strip():
            raise InvalidField(f"body.config.{key}", f"a {kind} channel needs `{key}`")
    for key in needed_secrets:
        if not str(secrets.get(key) or "").strip():
            raise InvalidField(f"body.secrets.{key}", f"a {kind} channel needs the secret `{key}`")
    if "from_number" in config:
        number = to_e164(str(config["from_number"]))
        if number is None:
            raise InvalidField("body.config.from_number", "not a phone number (use E.164, e.g. +31612345678)")
        config = {**config, "from_number": number}
    if kind == "email":  # email channel: its own settings (addresses, IMAP/SMTP, inbound webhook provider)
        from parley.channels.email.config import check_config

        config = check_config(config, secrets)
    template = config.get("window_template")
    if template is not None and not (isinstance(template, dict) and template.get("name")):
        raise InvalidField("body.config.window_template", "give the approved template as {name, language}")
    return config


def out(settings: Settings, connection: ChannelConnection, secret_names: list[str]) -> ChannelOut:
    return ChannelOut(
        id=connection.id,
        kind=connection.kind,
        agent_id=connection.agent_id,
        name=connection.name,
        enabled=connection.enabled,
        config=connection.config,
        secret_names=sorted(secret_names),
        webhook_url=webhook_url(settings, connection),
        created_at=connection.created_at,
        updated_at=connection.updated_at,
    )


async def open_secrets(ring: Keyring, connection: ChannelConnection) -> dict[str, str]:
    opened = await ring.open(connection.secrets_sealed, record=secrets_record(connection.id))
    if isinstance(opened, bytes):
        loaded: dict[str, str] = json.loads(opened)
        return loaded
    return {}


async def access_connection(db: AsyncSession, scope: OrgScope, connection_id: str) -> ChannelConnection:
    found = await db.scalar(
        select(ChannelConnection).where(ChannelConnection.org_id == scope.org_id, ChannelConnection.id == connection_id)
    )
    if found is None:
        raise NotFound("channel not found")
    return found


async def list_connections(db: AsyncSession, scope: OrgScope) -> list[ChannelConnection]:
    return list(
        await db.scalars(
            select(ChannelConnection)
            .where(ChannelConnection.org_id == scope.org_id)
            .order_by(ChannelConnection.created_at, ChannelConnection.id)
        )
    )


async def do_create(db: AsyncSession, runtime: Runtime, scope: OrgScope, body: ChannelIn) -> ChannelOut:
    await agents_service.access_agent(db, scope, body.agent_id)
    config = _check(body.kind, body.config, body.secrets)
    now = runtime.clock.now()
    connection = ChannelConnection(
        id=new_id("chn"),
        org_id=scope.org_id,
        agent_id=body.agent_id,
        kind=body.kind,
        name=body.name,
        config=config,
        enabled=True,
        created_at=now,
        updated_at=now,
    )
    cipher = await org_cipher(runtime, scope)
    connection.secrets_sealed = cipher.encrypt(json.dumps(body.secrets).encode(), record=secrets_record(connection.id))
    db.add(connection)
    await db.flush()
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "channel.created",
        target_type="channel",
        target_id=connection.id,
        details={"kind": body.kind, "agent_id": body.agent_id, "secrets": sorted(body.secrets)},
    )
    return out(runtime.settings, connection, list(body.secrets))


async def do_update(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, connection_id: str, body: ChannelPatch
) -> ChannelOut:
    connection = await access_connection(db, scope, connection_id)
    secrets = await open_secrets(Keyring(runtime.keystore, scope.org_id), connection)
    if body.secrets:
        secrets.update(body.secrets)
        cipher = await org_cipher(runtime, scope)
        connection.secrets_sealed = cipher.encrypt(json.dumps(secrets).encode(), record=secrets_record(connection.id))
    if body.config is not None:
        connection.config = _check(connection.kind, body.config, secrets)
    if body.name is not None:
        connection.name = body.name
    if body.enabled is not None:
        connection.enabled = body.enabled
    connection.updated_at = runtime.clock.now()
    await db.flush()
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "channel.updated",
        target_type="channel",
        target_id=connection.id,
        details={**body.model_dump(exclude={"secrets"}, exclude_none=True), "secrets": sorted(body.secrets or {})},
    )
    forget(runtime, connection.id)
    return out(runtime.settings, connection, list(secrets))


async def do_delete(db: AsyncSession, runtime: Runtime, scope: OrgScope, connection_id: str) -> None:
    connection = await access_connection(db, scope, connection_id)
    await db.delete(connection)
    await audit.record_in_scope(
        db, runtime.clock, scope, "channel.deleted", target_type="channel", target_id=connection_id
    )
    forget(runtime, connection_id)


# --- Webhooks and senders: the connection by its id alone ------------------------------------------------------

_cache: weakref.WeakKeyDictionary[AsyncEngine, dict[str, tuple[float, LiveConnection | None]]] = (
    weakref.WeakKeyDictionary()
)


def forget(runtime: Runtime, connection_id: str) -> None:
    _cache.get(runtime.engine, {}).pop(connection_id, None)


async def live_connection(runtime: Runtime, connection_id: str) -> LiveConnection | None:
    """The connection a webhook names, secrets opened; None when there is none (or it was deleted). Cached for
    CACHE_SECONDS per process: a changed secret takes effect at once here, within seconds elsewhere."""
    cache = _cache.setdefault(runtime.engine, {})
    hit = cache.get(connection_id)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    found = await _load(runtime, connection_id)
    cache[connection_id] = (time.monotonic(), found)
    return found


async def _load(runtime: Runtime, connection_id: str) -> LiveConnection | None:
    if len(connection_id) > 40:
        return None
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        await set_pg_setting(db, "app.channel_connection_id", connection_id)
        row = await db.scalar(select(ChannelConnection).where(ChannelConnection.id == connection_id))
        if row is None:
            return None
        secrets = await open_secrets(Keyring(runtime.keystore, row.org_id), row)
    return LiveConnection(
        id=row.id,
        org_id=row.org_id,
        agent_id=row.agent_id,
        kind=row.kind,
        config=dict(row.config),
        secrets=secrets,
        enabled=row.enabled,
    )
