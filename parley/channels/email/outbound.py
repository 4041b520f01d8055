"""The email that carries a reply: threaded into the person's mail client and marked as automatic.

- `Message-ID` comes from the outbox row (`parley.outbox.smtp.message_id`), so a resend after a crash is the
  same message to every mail server and client (they drop the duplicate), and a reply to it names the row.
- `In-Reply-To` / `References` (RFC 5322 §3.6.4) point at the person's message, so clients thread the answer.
- `Reply-To` is the conversation's own address (see `addresses.py`).
- `Auto-Submitted: auto-replied` (RFC 3834) tells the person's auto-responder not to answer an answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from parley.outbox.smtp import message_id

MAX_REFERENCES = 20  # long threads: the first message and the latest ones, as RFC 5322 suggests


@dataclass(frozen=True)
class Reply:
    outbox_id: str
    mail_from: str
    from_name: str | None
    to: str
    subject: str
    text: str
    reply_to: str | None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    automatic: bool = True  # written by the agent; a staff member's answer is not auto-submitted


def reply_subject(subject: str) -> str:
    subject = subject.strip() or "Your message"
    return subject if subject.lower().startswith(("re:", "aw:", "sv:")) else f"Re: {subject}"


def build_reply(reply: Reply, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((reply.from_name, reply.mail_from)) if reply.from_name else reply.mail_from
    message["To"] = reply.to
    message["Subject"] = reply.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(reply.outbox_id, reply.mail_from)
    if reply.reply_to:
        message["Reply-To"] = reply.reply_to
    if reply.in_reply_to:
        message["In-Reply-To"] = reply.in_reply_to
        chain = [*reply.references, reply.in_reply_to]
        chain = list(dict.fromkeys(chain))  # each once, order kept
        if len(chain) > MAX_REFERENCES:
            chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
        message["References"] = " ".join(chain)
    if reply.automatic:
        message["Auto-Submitted"] = "auto-replied"
    message.set_content(reply.text)
    return message
