"""Reading Twilio's form webhooks: an inbound message (`From`, `Body`, `MediaUrl{N}`…) or a status callback
(`MessageSid`, `MessageStatus`, `ErrorCode`). Twilio sends no message timestamp: arrival time orders them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from parley.channels.messaging.phones import to_e164
from parley.channels.messaging.shapes import InboundMessage, LiveConnection, MediaRef, StatusReport

MAX_MEDIA = 10  # Twilio's own limit per message
# Twilio's statuses → ours (undelivered is a failure to deliver; queued/sending say nothing new).
STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed", "undelivered": "failed"}


def is_whatsapp(address: str) -> bool:
    return address.startswith("whatsapp:")


def inbound(connection: LiveConnection, form: Mapping[str, str], now: datetime) -> InboundMessage | None:
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    sender = form.get("From") or ""
    phone = to_e164(sender)
    if not sid or phone is None:
        return None
    whatsapp = is_whatsapp(sender)
    media = []
    for n in range(min(_int(form.get("NumMedia")), MAX_MEDIA)):
        url = form.get(f"MediaUrl{n}")
        if url:
            mime = form.get(f"MediaContentType{n}")
            media.append(MediaRef(_kind(mime), url, mime))
    identifiers = (("whatsapp", phone), ("phone", phone)) if whatsapp else (("phone", phone),)
    extra: dict[str, object] = {"to": form.get("To")}
    if form.get("Latitude") and form.get("Longitude"):
        extra["location"] = {
            "latitude": form.get("Latitude"),
            "longitude": form.get("Longitude"),
            "address": form.get("Address"),
            "name": form.get("Label"),
        }
    return InboundMessage(
        provider_message_id=sid,
        sender=phone,
        timestamp=now,
        text=form.get("Body") or "",
        identifiers=identifiers,
        media=tuple(media),
        display_name=form.get("ProfileName") or None,
        extra=extra,
    )


def status(form: Mapping[str, str], now: datetime) -> StatusReport | None:
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    mapped = STATUSES.get((form.get("MessageStatus") or form.get("SmsStatus") or "").lower())
    if not sid or mapped is None:
        return None
    return StatusReport(
        provider_message_id=sid,
        status=mapped,
        timestamp=now,
        error_code=form.get("ErrorCode") or None,
        error_title=form.get("ErrorMessage") or None,
    )


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


def _kind(mime: str | None) -> str:
    head = (mime or "").partition("/")[0]
    return head if head in ("image", "audio", "video") else "document"
