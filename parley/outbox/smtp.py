"""Sending one email over SMTP, and telling a failure worth retrying from one that is final."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib

from parley.settings import Settings


@dataclass(frozen=True)
class Email:
    id: str
    to: str
    subject: str
    text: str


class SendFailed(Exception):
    """`permanent`: the server refused this message for good (5xx); otherwise trying again later may work."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def message_id(outbox_id: str, mail_from: str) -> str:
    """Derived from the outbox row, so a resend after a crash carries the same Message-ID as the first send."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<{outbox_id}@{domain}>"


def build(email: Email, settings: Settings, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.effective_mail_from
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(email.id, settings.effective_mail_from)
    message.set_content(email.text)
    return message


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool
    starttls: bool
    timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpServer:
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_username or None,
            settings.smtp_password.get_secret_value() or None,
            settings.smtp_tls,
            settings.smtp_starttls,
            settings.smtp_timeout_seconds,
        )


async def send(email: Email, settings: Settings, now: datetime) -> None:
    await send_message(build(email, settings, now), SmtpServer.from_settings(settings))


async def send_message(message: EmailMessage, server: SmtpServer) -> None:
    """Hand one built message to `server`; `SendFailed` says whether trying again may help (used by channels too)."""
    try:
        await aiosmtplib.send(
            message,
            hostname=server.host,
            port=server.port,
            username=server.username,
            password=server.password,
            use_tls=server.tls,
            start_tls=False if server.tls else server.starttls,
            timeout=server.timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = exc.recipients[0]
        raise SendFailed(_reply(refused.code, refused.message), permanent=refused.code >= 500) from exc
    except aiosmtplib.SMTPAuthenticationError as exc:
        # The server's configuration, not this message: keep it for when the credentials are fixed.
        raise SendFailed(f"SMTP authentication failed: {_reply(exc.code, exc.message)}", permanent=False) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise SendFailed(_reply(exc.code, exc.message), permanent=exc.code >= 500) from exc
    except (aiosmtplib.SMTPException, OSError) as exc:  # connection refused, dropped, timed out; no STARTTLS
        raise SendFailed(
            f"could not reach the mail server {server.host}:{server.port}: {exc}", permanent=False
        ) from exc


def _reply(code: int, text: str) -> str:
    return f"{code} {text}".strip()[:1000]
