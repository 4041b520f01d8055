"""`ChannelSender` for email connections: a reply handed to the connection's SMTP server (or the platform's).

Called by the channel outbox with the outbound row's id as `key`; that id becomes the Message-ID, so a retry
after a crash is the same email (mail servers and clients drop the second copy) and a reply to it names the row
(`threads.py`). Subject, `In-Reply-To` and `References` come from the conversation's thread state, the
`Reply-To` is the conversation's HMAC-protected address. SMTP failures map onto the channel layer's retry rules:
4xx and unreachable servers are retried with backoff, 5xx refusals fail the row and flag the conversation.
"""

from __future__ import annotations

import base64
import binascii

from sqlalchemy import select

from parley.channels.email import addresses
from parley.channels.email.outbound import Reply, build_reply, reply_subject
from parley.channels.messaging.shapes import FetchedMedia, LiveConnection, MediaRef, OutboundBody, SendError, Sent
from parley.kit.db import set_pg_setting, unit_of_work
from parley.models import ChannelOutbound, EmailThread, Message
from parley.outbox.smtp import SendFailed, SmtpServer, send_message
from parley.privacy.keys import Keyring
from parley.runtime import Runtime


def smtp_server(connection: LiveConnection, runtime: Runtime) -> SmtpServer:
    """The connection's own SMTP server when it names one (the business's mailbox), else the platform's."""
    config = connection.config
    if not config.get("smtp_host"):
        return SmtpServer.from_settings(runtime.settings)
    security = str(config.get("smtp_security") or "starttls")
    return SmtpServer(
        host=str(config["smtp_host"]),
        port=int(config.get("smtp_port") or (465 if security == "ssl" else 587)),
        username=str(config.get("smtp_username") or "") or None,
        password=connection.secrets.get("smtp_password") or None,
        tls=security == "ssl",
        starttls=security == "starttls",
        timeout=runtime.settings.smtp_timeout_seconds,
    )


class EmailSender:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def send(self, connection: LiveConnection, to: str, body: OutboundBody, *, key: str) -> Sent:
        server = smtp_server(connection, self.runtime)
        if not server.host:
            raise SendError("no SMTP server: set one on the email channel or PARLEY_SMTP_HOST", retryable=True)
        reply = await self._reply(connection, to, body, key)
        message = build_reply(reply, self.runtime.clock.now())
        try:
            await send_message(message, server)
        except SendFailed as exc:
            raise SendError(exc.reason, code=exc.reason[:3], retryable=not exc.permanent) from exc
        return Sent(provider_message_id=str(message["Message-ID"]))

    async def fetch_media(self, connection: LiveConnection, media: MediaRef) -> FetchedMedia:
        """An attachment travels in the inbound record itself (`normalise.data_ref`)."""
        header, _, encoded = media.ref.partition(",")
        if not header.startswith("data:") or not header.endswith(";base64"):
            raise SendError("not an email attachment reference", retryable=False)
        try:
            return FetchedMedia(base64.b64decode(encoded, validate=True), header[5:-7] or media.mime_type)
        except binascii.Error as exc:
            raise SendError("the attachment is not valid base64", retryable=False) from exc

    async def _reply(self, connection: LiveConnection, to: str, body: OutboundBody, key: str) -> Reply:
        config = connection.config
        mail_from = str(config.get("address") or self.runtime.settings.effective_mail_from)
        async with unit_of_work(self.runtime.sessionmaker, write=False) as db:
            await set_pg_setting(db, "app.org_id", connection.org_id)
            found = (
                await db.execute(
                    select(ChannelOutbound.conversation_id, Message.role)
                    .outerjoin(Message, Message.id == ChannelOutbound.message_id)
                    .where(ChannelOutbound.org_id == connection.org_id, ChannelOutbound.id == key)
                )
            ).first()
            conversation_id, role = (found[0], found[1]) if found else (None, None)
            thread = (
                await db.scalar(
                    select(EmailThread).where(
                        EmailThread.org_id == connection.org_id, EmailThread.conversation_id == conversation_id
                    )
                )
                if conversation_id
                else None
            )
        reply_to = None
        domain = str(config.get("inbound_domain") or "")
        if domain and conversation_id:
            org_key = (await Keyring(self.runtime.keystore, connection.org_id).org()).key
            reply_to = addresses.reply_address(addresses.reply_key(org_key), connection.org_id, conversation_id, domain)
        return Reply(
            outbox_id=key,
            mail_from=mail_from,
            from_name=str(config.get("from_name") or "") or None,
            to=to,
            subject=str(body.extra.get("subject") or reply_subject(thread.subject if thread else "")),
            text=body.text,
            reply_to=reply_to,
            in_reply_to=thread.last_message_id if thread else None,
            references=list(thread.references) if thread else [],
            automatic=role != "staff",  # a staff member's answer is a person's, not an auto-reply
        )
