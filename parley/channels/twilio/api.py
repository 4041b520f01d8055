"""Twilio's webhooks for one connection: inbound messages (`POST …/twilio/{id}`) and status callbacks (`POST
…/twilio/{id}/status`), each validated with the official `RequestValidator` against the URL Twilio called.
Answered with empty TwiML once recorded; replies go out through the REST API, never inline."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response
from twilio.request_validator import RequestValidator

from parley.auth.dependencies import RuntimeDep
from parley.channels.messaging import connections, intake, tasks
from parley.channels.messaging.shapes import LiveConnection
from parley.channels.twilio import webhook
from parley.kit.errors import Forbidden, NotAuthenticated, NotFound
from parley.runtime import Runtime

router = APIRouter(tags=["webhooks"])
log = logging.getLogger("parley.channels.twilio")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


async def _checked(
    runtime: Runtime, connection_id: str, request: Request, suffix: str
) -> tuple[LiveConnection, dict[str, str]]:
    connection = await connections.live_connection(runtime, connection_id)
    if connection is None or connection.kind not in ("twilio_sms", "twilio_whatsapp"):
        raise NotFound("there is no webhook here")
    form = await request.form()
    params = {k: str(v) for k, v in form.multi_items()}
    signature = request.headers.get("x-twilio-signature")
    if not signature:
        log.warning("unsigned twilio webhook refused", extra={"connection_id": connection_id})
        raise NotAuthenticated("the request is not signed (X-Twilio-Signature)", code="signature_missing")
    # The URL Twilio was given (the public one), with the query string it called.
    url = connections.webhook_url(runtime.settings, connection) + suffix
    if request.url.query:
        url += "?" + request.url.query
    validator = RequestValidator(connection.secrets.get("auth_token", ""))
    if not validator.validate(url, form, signature):
        log.warning("wrongly signed twilio webhook refused", extra={"connection_id": connection_id})
        raise Forbidden("the request signature is not valid", code="signature_invalid")
    if params.get("AccountSid") != connection.config.get("account_sid"):
        raise Forbidden("the request is for another Twilio account", code="account_mismatch")
    return connection, params


@router.post("/webhooks/twilio/{connection_id}")
async def receive_message(connection_id: str, request: Request, runtime: RuntimeDep) -> Response:
    """An inbound SMS or WhatsApp message from Twilio (form-encoded, `X-Twilio-Signature`)."""
    connection, form = await _checked(runtime, connection_id, request, "")
    message = webhook.inbound(connection, form, runtime.clock.now())
    if message is not None:
        await intake.accept(runtime, connection, [message])
        tasks.nudge(runtime, connection.org_id, connection.id, {message.sender})
    return Response(EMPTY_TWIML, media_type="text/xml")


@router.post("/webhooks/twilio/{connection_id}/status")
async def receive_status(connection_id: str, request: Request, runtime: RuntimeDep) -> Response:
    """A status callback for a message we sent (queued, sent, delivered, read, undelivered, failed)."""
    connection, form = await _checked(runtime, connection_id, request, "/status")
    report = webhook.status(form, runtime.clock.now())
    if report is not None:
        await intake.accept(runtime, connection, [], [report])
    return Response(EMPTY_TWIML, media_type="text/xml")
