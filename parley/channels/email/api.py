"""The inbound-email webhook: `POST /webhooks/email/{connection id}` (the URL the channel shows staff).

The connection's `config.inbound_provider` says who calls it and how they prove it:
- `postmark`: JSON, HTTP basic auth (`config.postmark_username`, secret `postmark_password`);
- `sendgrid`: Inbound Parse multipart with the raw MIME (`send_raw`), ECDSA-signed by a Parse security policy
  (`config.sendgrid_public_key`).
A request that does not authenticate is refused (401/403) before its body is read into anything and changes
nothing. An accepted email is recorded durably (unique per Message-ID, so a provider's retry is harmless), then
answered 200; the turn and the reply happen after, in this process (`nudge`) or the reconcilers.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile

from parley.auth.dependencies import RuntimeDep
from parley.channels.email.ingest import accept_emails
from parley.channels.email.mime import ParsedEmail
from parley.channels.email.polling import limits_for
from parley.channels.email.webhooks import (
    SENDGRID_SIGNATURE,
    SENDGRID_TIMESTAMP,
    BadPayload,
    basic_auth_matches,
    from_postmark,
    from_sendgrid,
    sendgrid_signature_valid,
)
from parley.channels.messaging.connections import live_connection
from parley.channels.messaging.shapes import LiveConnection
from parley.channels.messaging.tasks import nudge
from parley.kit.errors import BadRequest, Forbidden, NotAuthenticated, NotFound

log = logging.getLogger("parley.channels.email")
router = APIRouter(tags=["channels"])


@router.post("/webhooks/email/{connection_id}")
async def inbound_email(connection_id: str, request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """Receive one inbound email from Postmark or SendGrid for this email channel."""
    connection = await live_connection(runtime, connection_id)
    if connection is None or connection.kind != "email" or not connection.enabled:
        raise NotFound("channel not found")
    body = await request.body()
    parsed = await _authenticated_email(connection, request, body)
    outcomes = await accept_emails(runtime, connection, [parsed])
    if outcomes == ["accepted"]:
        nudge(runtime, connection.org_id, connection.id, {parsed.sender})
    return {"accepted": outcomes.count("accepted"), "ignored": outcomes.count("ignored")}


async def _authenticated_email(connection: LiveConnection, request: Request, body: bytes) -> ParsedEmail:
    provider = connection.config.get("inbound_provider")
    limits = limits_for(connection)
    try:
        if provider == "postmark":
            username = str(connection.config.get("postmark_username") or "")
            password = connection.secrets.get("postmark_password", "")
            if not password or not basic_auth_matches(request.headers.get("authorization"), username, password):
                log.warning("Postmark webhook refused: wrong credentials", extra={"connection_id": connection.id})
                raise NotAuthenticated("wrong or missing credentials")
            try:
                payload = json.loads(body)
            except ValueError as exc:
                raise BadPayload("the body is not JSON") from exc
            return from_postmark(payload, limits)
        if provider == "sendgrid":
            public_key = str(connection.config.get("sendgrid_public_key") or "")
            signature = request.headers.get(SENDGRID_SIGNATURE)
            if not public_key or not sendgrid_signature_valid(
                public_key, signature, request.headers.get(SENDGRID_TIMESTAMP), body
            ):
                log.warning("SendGrid webhook refused: bad signature", extra={"connection_id": connection.id})
                raise Forbidden("the request is not signed by this channel's SendGrid key")
            return from_sendgrid(await _form(request), limits)
    except BadPayload as exc:
        raise BadRequest(str(exc)) from exc
    raise NotFound("this email channel does not receive webhooks (set config.inbound_provider)")


async def _form(request: Request) -> dict[str, str | bytes]:
    form = await request.form()
    fields: dict[str, str | bytes] = {}
    for name, value in form.items():
        fields[name] = await value.read() if isinstance(value, UploadFile) else value
    return fields
