"""A parsed email as the shared channel layer's `InboundMessage`.

Attachments travel inside the sealed inbound record as `data:` references — the email itself is the only place
they exist, unlike WhatsApp's media ids — and the channel layer's media step stores them sealed under the
person's key (`EmailSender.fetch_media` just decodes them). The threading headers ride along in `extra["email"]`
for `threads.py`.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

from parley.channels.email.mime import ParsedEmail
from parley.channels.messaging.shapes import InboundMessage, MediaRef

_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|fw|fwd|tr)\s*:\s*)+", re.IGNORECASE)


def media_kind(content_type: str) -> str:
    major = content_type.partition("/")[0]
    return major if major in ("image", "audio", "video") else "document"


def data_ref(content_type: str, data: bytes) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


def plain_subject(subject: str) -> str:
    return _REPLY_PREFIX.sub("", subject).strip()


def to_inbound(parsed: ParsedEmail, received_at: datetime) -> InboundMessage:
    # The Date header is the sender's clock: trusted for ordering, but never later than when the mail arrived.
    timestamp = min(parsed.sent_at, received_at) if parsed.sent_at else received_at
    # An email with no body says everything in its subject ("Table for 4 on Friday?").
    text = parsed.text or plain_subject(parsed.subject)
    email: dict[str, Any] = {
        "subject": parsed.subject,
        "message_id": parsed.message_id,
        "in_reply_to": parsed.in_reply_to,
        "references": parsed.references,
        "recipients": parsed.recipients,
        "attachments_dropped": parsed.attachments_dropped,
    }
    return InboundMessage(
        provider_message_id=parsed.message_id,
        sender=parsed.sender,
        timestamp=timestamp,
        text=text,
        identifiers=(("email", parsed.sender),),
        media=tuple(
            MediaRef(
                kind=media_kind(a.content_type),
                ref=data_ref(a.content_type, a.data),
                mime_type=a.content_type,
                filename=a.filename,
                caption=a.filename,
            )
            for a in parsed.attachments
        ),
        display_name=parsed.sender_name,
        extra={"email": email},
    )
