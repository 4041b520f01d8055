"""Meta's webhook for one connection: `GET` is the verification handshake, `POST` a signed notification.

A POST is answered 200 as soon as its messages and statuses are durably recorded (one INSERT each); unsigned
requests get 401 and wrongly signed ones 403, are logged, and change nothing."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response

from parley.auth.dependencies import RuntimeDep
from parley.channels.messaging import connections, intake, tasks
from parley.channels.messaging.shapes import LiveConnection
from parley.channels.whatsapp import webhook
from parley.kit.errors import BadRequest, Forbidden, NotAuthenticated, NotFound

router = APIRouter(tags=["webhooks"])
log = logging.getLogger("parley.channels.whatsapp")


async def _connection(runtime: RuntimeDep, connection_id: str) -> LiveConnection:
    connection = await connections.live_connection(runtime, connection_id)
    if connection is None or connection.kind != "whatsapp":
        raise NotFound("there is no webhook here")
    return connection


@router.get("/webhooks/whatsapp/{connection_id}", response_class=PlainTextResponse)
async def verify_webhook(
    connection_id: str,
    runtime: RuntimeDep,
    mode: Annotated[str, Query(alias="hub.mode", max_length=40)] = "",
    token: Annotated[str, Query(alias="hub.verify_token", max_length=500)] = "",
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=500)] = "",
) -> PlainTextResponse:
    """Meta's subscription handshake: echo `hub.challenge` when `hub.verify_token` is the connection's."""
    connection = await _connection(runtime, connection_id)
    expected = connection.secrets.get("verify_token", "")
    if mode != "subscribe" or not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        log.warning("whatsapp webhook verification refused", extra={"connection_id": connection_id})
        raise Forbidden("verification failed", code="verification_failed")
    return PlainTextResponse(challenge)


@router.post("/webhooks/whatsapp/{connection_id}")
async def receive_webhook(connection_id: str, request: Request, runtime: RuntimeDep) -> Response:
    """A notification from Meta (messages, statuses), signed with the app secret (`X-Hub-Signature-256`)."""
    connection = await _connection(runtime, connection_id)
    raw = await request.body()
    signature = request.headers.get("x-hub-signature-256")
    if not signature:
        log.warning("unsigned whatsapp webhook refused", extra={"connection_id": connection_id})
        raise NotAuthenticated("the request is not signed (X-Hub-Signature-256)", code="signature_missing")
    if not webhook.signature_valid(connection.secrets.get("app_secret", ""), raw, signature):
        log.warning("wrongly signed whatsapp webhook refused", extra={"connection_id": connection_id})
        raise Forbidden("the request signature is not valid", code="signature_invalid")
    try:
        payload = json.loads(raw)
    except ValueError:
        raise BadRequest("the body is not JSON", code="invalid_json") from None
    if not isinstance(payload, dict):
        raise BadRequest("the body is not a notification", code="invalid_notification")
    messages, reports = webhook.parse(connection, payload)
    await intake.accept(runtime, connection, messages, reports)
    tasks.nudge(runtime, connection.org_id, connection.id, {m.sender for m in messages})
    return Response(status_code=200)
