"""Inbound email pushed by a provider, read into the same `ParsedEmail` as a raw message from IMAP.

- **Postmark** POSTs JSON (`FromFull`, `ToFull`, `Subject`, `TextBody`, `HtmlBody`, `Headers`, `Attachments`
  with base64 `Content`, and `RawEmail` when "include raw email" is on). It authenticates with HTTP basic auth
  written into the webhook URL (`https://user:password@host/...`); Postmark stops retrying on a 403.
- **SendGrid Inbound Parse** POSTs multipart/form-data; with "POST the raw, full MIME message" (`send_raw`) the
  message is in the `email` field. A Parse security policy signs each request with ECDSA (P-256, SHA-256) over
  the timestamp followed by the raw body, sent in `X-Twilio-Email-Event-Webhook-Signature` / `-Timestamp`;
  the connection keeps the policy's public key.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from email.message import Message
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from parley.channels.email.html import html_to_text
from parley.channels.email.mime import (
    MAX_TEXT_CHARS,
    Attachment,
    Limits,
    ParsedEmail,
    _date,
    _ids,
    automated_reason,
    parse_email,
)
from parley.channels.email.quotes import strip_reply

SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


class BadPayload(ValueError):
    """The provider's request does not have the shape its documentation gives."""


def basic_auth_matches(authorization: str | None, username: str, password: str) -> bool:
    if not authorization or not authorization.lower().startswith("basic "):
        return False
    try:
        given = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    expected = f"{username}:{password}"
    return hmac.compare_digest(given.encode(), expected.encode())


def sendgrid_signature_valid(public_key: str, signature: str | None, timestamp: str | None, body: bytes) -> bool:
    if not signature or not timestamp:
        return False
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        key.verify(base64.b64decode(signature), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def from_sendgrid(form: dict[str, str | bytes], limits: Limits) -> ParsedEmail:
    raw = form.get("email")
    if not raw:
        raise BadPayload("the form has no `email` field: turn on “POST the raw, full MIME message” in SendGrid")
    return parse_email(raw if isinstance(raw, bytes) else raw.encode(), limits)


def from_postmark(payload: Any, limits: Limits) -> ParsedEmail:
    if not isinstance(payload, dict) or not isinstance(payload.get("FromFull", {}), dict):
        raise BadPayload("expected Postmark's inbound JSON object")
    if isinstance(raw := payload.get("RawEmail"), str) and raw:
        return parse_email(raw.encode(), limits)
    headers = _headers(payload.get("Headers"))
    sender = str(payload.get("FromFull", {}).get("Email") or payload.get("From") or "").strip().lower()
    if "@" not in sender:
        raise BadPayload("the message has no sender address (FromFull.Email)")
    message_ids = _ids(headers.get("Message-ID")) or _ids(f"<{payload.get('MessageID', '')}@postmark>")
    if not message_ids:
        raise BadPayload("the message has no MessageID")
    text = payload.get("TextBody") or ""
    if not str(text).strip() and payload.get("HtmlBody"):
        text = html_to_text(str(payload["HtmlBody"]))
    attachments, dropped = _postmark_attachments(payload.get("Attachments"), limits)
    return ParsedEmail(
        message_id=message_ids[0],
        sender=sender,
        sender_name=str(payload.get("FromFull", {}).get("Name") or "").strip() or None,
        recipients=_postmark_recipients(payload),
        subject=str(payload.get("Subject") or "").strip()[:500],
        sent_at=_date(payload.get("Date")),
        text=strip_reply(str(text))[:MAX_TEXT_CHARS],
        in_reply_to=_ids(headers.get("In-Reply-To")),
        references=_ids(headers.get("References")),
        attachments=attachments,
        attachments_dropped=dropped,
        automated=automated_reason(headers),
    )


def _headers(value: object) -> Message:
    headers = Message()
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and isinstance(item.get("Name"), str):
            headers[item["Name"]] = str(item.get("Value", ""))
    return headers


def _postmark_recipients(payload: dict[str, Any]) -> list[str]:
    found = []
    for key in ("ToFull", "CcFull", "BccFull"):
        for entry in payload.get(key) or []:
            if isinstance(entry, dict) and "@" in str(entry.get("Email", "")):
                found.append(str(entry["Email"]).strip().lower())
    if original := str(payload.get("OriginalRecipient") or "").strip().lower():
        found.append(original)
    return found


def _postmark_attachments(value: object, limits: Limits) -> tuple[list[Attachment], int]:
    kept: list[Attachment] = []
    dropped = 0
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict):
            continue
        try:
            data = base64.b64decode(str(item.get("Content", "")), validate=True)
        except binascii.Error as exc:
            raise BadPayload("an attachment's Content is not base64") from exc
        if len(kept) >= limits.max_attachments or len(data) > limits.max_attachment_bytes:
            dropped += 1
            continue
        name = str(item.get("Name") or "attachment").replace("/", "_").replace("\\", "_")[:200]
        kept.append(Attachment(name, str(item.get("ContentType") or "application/octet-stream"), data))
    return kept, dropped
