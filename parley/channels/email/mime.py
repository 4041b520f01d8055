"""One raw email (RFC 5322 / MIME bytes) read into what the channel needs.

The stdlib parser reads the MIME structure with the `compat32` policy, and only the few headers used are decoded
(RFC 2047) — `policy.default` builds a structured object for every header touched, several times per message,
which made parsing five times slower for nothing we read. Bodies are decoded from their transfer encoding and
charset. The person's text is the plain part when there is one, else the HTML part reduced to safe text;
either way quoted history and the signature are cut. Automated mail — auto-replies, bulk and list mail, bounces —
is recognised from its headers (RFC 3834, RFC 2076, RFC 2369, RFC 3464) so that it is recorded but never answered,
which is what stops two auto-responders from mailing each other forever.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from parley.channels.email.html import html_to_text
from parley.channels.email.quotes import strip_reply

MAX_TEXT_CHARS = 20_000
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")


@dataclass(frozen=True)
class Limits:
    max_attachments: int = 10
    max_attachment_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Bounce:
    """A delivery status notification (multipart/report; report-type=delivery-status) about one of our emails."""

    original_message_id: str | None
    recipient: str | None
    status: str | None
    diagnostic: str | None


@dataclass
class ParsedEmail:
    message_id: str
    sender: str  # lower-cased address
    sender_name: str | None
    recipients: list[str]
    subject: str
    sent_at: datetime | None
    text: str
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    attachments_dropped: int = 0
    automated: str | None = None  # why this message must not be answered, if so
    bounce: Bounce | None = None

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this one answers, nearest first."""
        return [*self.in_reply_to, *reversed(self.references)]


class _FastMessage(EmailMessage):
    """EmailMessage's body and attachment walk over compat32 headers, which are plain strings."""

    def is_attachment(self) -> bool:
        return self.get_content_disposition() == "attachment"


def parse_email(raw: bytes, limits: Limits | None = None) -> ParsedEmail:
    limits = limits or Limits()
    message = message_from_bytes(raw, _class=_FastMessage, policy=policy.compat32)
    assert isinstance(message, EmailMessage)
    name, sender = parseaddr(_header(message, "From"))
    bounce = _bounce(message)
    attachments, dropped = _attachments(message, limits) if bounce is None else ([], 0)
    return ParsedEmail(
        message_id=next(iter(_ids(message.get("Message-ID"))), None) or _synthetic_id(raw),
        sender=sender.strip().lower(),
        sender_name=name.strip() or None,
        recipients=recipients(message),
        subject=_header(message, "Subject").strip()[:500],
        sent_at=_date(message.get("Date")),
        text=_text(message)[:MAX_TEXT_CHARS],
        in_reply_to=_ids(message.get("In-Reply-To")),
        references=_ids(message.get("References")),
        attachments=attachments,
        attachments_dropped=dropped,
        automated="bounce" if bounce is not None else automated_reason(message),
        bounce=bounce,
    )


def recipients(message: Message) -> list[str]:
    """Every address the message was delivered to, as the sender wrote them or as the server recorded them."""
    values = [str(v) for name in ("To", "Cc", "Delivered-To", "X-Original-To") for v in message.get_all(name, [])]
    return [address.strip().lower() for _, address in getaddresses(values) if "@" in address]


def automated_reason(message: Message) -> str | None:
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    if auto and not auto.startswith("no"):
        return f"auto-submitted: {auto.split(';')[0]}"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in ("bulk", "list", "junk", "auto_reply"):
        return f"precedence: {precedence}"
    if message.get("List-Id") or message.get("List-Unsubscribe"):
        return "mailing list"
    if message.get("X-Autoreply") or message.get("X-Autorespond") or message.get("X-Auto-Response-Suppress"):
        return "auto-reply header"
    if "Return-Path" in message and str(message["Return-Path"]).strip() in ("<>", ""):
        return "empty return-path"  # RFC 5321: the null sender is for notifications, which must not be answered
    return None


def _header(message: Message, name: str) -> str:
    value = message.get(name)
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except (LookupError, UnicodeError, ValueError):  # an unknown charset or a broken encoded word
        return str(value)


def _ids(value: object) -> list[str]:
    return _MESSAGE_ID.findall(str(value)) if value else []


def _synthetic_id(raw: bytes) -> str:
    """A message without a Message-ID still needs one stable id, so that fetching it twice finds the first copy."""
    return f"<sha256.{hashlib.sha256(raw).hexdigest()[:40]}@parley.invalid>"


def _date(value: object) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        content = payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    except LookupError:  # an unknown charset: read what is readable
        content = payload.decode("utf-8", errors="replace")
    text = html_to_text(content) if part.get_content_type() == "text/html" else content
    return strip_reply(text)


def _attachments(message: EmailMessage, limits: Limits) -> tuple[list[Attachment], int]:
    kept: list[Attachment] = []
    dropped = 0
    for part in message.iter_attachments():
        if part.get_content_maintype() == "multipart":
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        if len(kept) >= limits.max_attachments or len(data) > limits.max_attachment_bytes:
            dropped += 1
            continue
        filename = _decoded(part.get_filename() or "attachment").replace("/", "_").replace("\\", "_")[:200]
        kept.append(Attachment(filename, part.get_content_type(), data))
    return kept, dropped


def _decoded(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, UnicodeError, ValueError):
        return value


def _bounce(message: EmailMessage) -> Bounce | None:
    if message.get_content_type() != "multipart/report":
        return None
    if message.get_param("report-type", "").lower() != "delivery-status":  # type: ignore[union-attr]
        return None
    fields: dict[str, str] = {}
    original: str | None = None
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            fields.update(_status_fields(part))
        elif kind in ("message/rfc822", "text/rfc822-headers") and original is None:
            original = _original_id(part)
    if not fields and original is None:
        return None
    recipient = fields.get("final-recipient", "").partition(";")[2].strip() or None
    return Bounce(original, recipient, fields.get("status"), fields.get("diagnostic-code"))


def _status_fields(part: Message) -> dict[str, str]:
    """The per-recipient fields of a delivery-status part, whichever way the parser split its header groups."""
    fields: dict[str, str] = {}
    payload = part.get_payload()
    groups = payload if isinstance(payload, list) else [part]
    for group in groups:
        if not isinstance(group, Message):
            continue
        for key, value in group.items():
            fields.setdefault(key.lower(), str(value).strip())
    return fields


def _original_id(part: Message) -> str | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        ids = _ids(payload[0].get("Message-ID"))
        return ids[0] if ids else None
    if isinstance(payload, str):
        headers = message_from_bytes(payload.encode(errors="replace"), policy=policy.compat32)
        ids = _ids(headers.get("Message-ID"))
        return ids[0] if ids else None
    return None
