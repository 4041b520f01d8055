"""Reading Meta's webhook: the signature over the exact raw body, and the notification's nested shape.

A notification carries entries, each with changes, each with messages and/or statuses; all of them are read.
Changes for another phone number (one app may serve several) are left for that number's connection."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from parley.channels.messaging.phones import to_e164
from parley.channels.messaging.shapes import InboundMessage, LiveConnection, MediaRef, StatusReport

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")


def signature_valid(app_secret: str, raw_body: bytes, header: str) -> bool:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body keyed with the app secret>`."""
    expected = "sha256=" + hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.strip())


def _time(value: object) -> datetime:
    try:
        return datetime.fromtimestamp(int(str(value)), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return datetime.now(UTC)


def parse(connection: LiveConnection, payload: dict[str, Any]) -> tuple[list[InboundMessage], list[StatusReport]]:
    messages: list[InboundMessage] = []
    reports: list[StatusReport] = []
    own_number = str(connection.config.get("phone_number_id") or "")
    for entry in payload.get("entry") or []:
        for change in (entry or {}).get("changes") or []:
            value = (change or {}).get("value") or {}
            if (change or {}).get("field") != "messages" or not isinstance(value, dict):
                continue
            number = str((value.get("metadata") or {}).get("phone_number_id") or "")
            if own_number and number and number != own_number:
                continue
            names = {c.get("wa_id"): (c.get("profile") or {}).get("name") for c in value.get("contacts") or []}
            for raw in value.get("messages") or []:
                message = _message(raw, names)
                if message is not None:
                    messages.append(message)
            for raw in value.get("statuses") or []:
                reports.append(_status(raw))
    return messages, reports


def _message(raw: dict[str, Any], names: dict[Any, Any]) -> InboundMessage | None:
    wa_id = str(raw.get("from") or "")
    phone = to_e164(wa_id)
    if not raw.get("id") or phone is None:
        return None
    kind = str(raw.get("type") or "")
    text = ""
    media: list[MediaRef] = []
    extra: dict[str, Any] = {"type": kind}
    if kind == "text":
        text = str((raw.get("text") or {}).get("body") or "")
    elif kind in MEDIA_TYPES:
        item = raw.get(kind) or {}
        caption = item.get("caption")
        media_kind = "voice" if kind == "audio" and item.get("voice") else kind
        media.append(
            MediaRef(media_kind, str(item.get("id") or ""), item.get("mime_type"), item.get("filename"), caption)
        )
    elif kind == "location":
        extra["location"] = {
            k: (raw.get("location") or {}).get(k) for k in ("latitude", "longitude", "name", "address")
        }
    elif kind == "interactive":
        interactive = raw.get("interactive") or {}
        reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
        text = str(reply.get("title") or "")
        extra["reply_id"] = reply.get("id")
    elif kind == "button":
        text = str((raw.get("button") or {}).get("text") or "")
        extra["reply_id"] = (raw.get("button") or {}).get("payload")
    elif kind == "reaction":
        text = str((raw.get("reaction") or {}).get("emoji") or "")
    else:
        text = f"[{kind or 'unknown'} message]"
    if raw.get("context"):
        extra["in_reply_to"] = (raw.get("context") or {}).get("id")
    return InboundMessage(
        provider_message_id=str(raw["id"]),
        sender=phone,
        timestamp=_time(raw.get("timestamp")),
        text=text,
        identifiers=(("whatsapp", phone), ("phone", phone)),
        media=tuple(m for m in media if m.ref),
        display_name=names.get(wa_id),
        extra=extra,
    )


def _status(raw: dict[str, Any]) -> StatusReport:
    errors = raw.get("errors") or [{}]
    error = errors[0] if isinstance(errors[0], dict) else {}
    return StatusReport(
        provider_message_id=str(raw.get("id") or ""),
        status=str(raw.get("status") or ""),
        timestamp=_time(raw.get("timestamp")),
        error_code=str(error["code"]) if error.get("code") is not None else None,
        error_title=error.get("title") or error.get("message"),
    )
