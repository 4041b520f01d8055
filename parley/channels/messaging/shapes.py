"""The shapes every messaging channel speaks: a normalised inbound message, an outbound body, a connection with
its secrets opened, and the sender interface a channel kind implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

# A connection kind's conversations are on one of the engine's channels.
CONVERSATION_CHANNEL = {"whatsapp": "whatsapp", "twilio_whatsapp": "whatsapp", "twilio_sms": "sms", "email": "email"}
# Kinds under WhatsApp's 24-hour customer-service window.
WINDOWED_KINDS = frozenset({"whatsapp", "twilio_whatsapp"})


@dataclass(frozen=True)
class MediaRef:
    """A media item as the provider names it: a media id (WhatsApp) or a URL (Twilio), fetched later."""

    kind: str  # image, audio, video, document, sticker
    ref: str
    mime_type: str | None = None
    filename: str | None = None
    caption: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    """One message from a person, whatever the channel. `identifiers` are (kind, value) pairs of the
    ContactIdentifier kinds, most specific first (a WhatsApp id, then the phone number it is)."""

    provider_message_id: str
    sender: str
    timestamp: datetime
    text: str = ""
    identifiers: tuple[tuple[str, str], ...] = ()
    media: tuple[MediaRef, ...] = ()
    display_name: str | None = None
    # Channel details worth keeping with the message (email subject and threading headers, a location).
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "provider_message_id": self.provider_message_id,
            "sender": self.sender,
            "timestamp": self.timestamp.isoformat(),
            "text": self.text,
            "identifiers": [list(i) for i in self.identifiers],
            "media": [m.__dict__ for m in self.media],
            "display_name": self.display_name,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InboundMessage:
        return cls(
            provider_message_id=data["provider_message_id"],
            sender=data["sender"],
            timestamp=datetime.fromisoformat(data["timestamp"]),
            text=data.get("text") or "",
            identifiers=tuple((str(k), str(v)) for k, v in data.get("identifiers") or []),
            media=tuple(MediaRef(**m) for m in data.get("media") or []),
            display_name=data.get("display_name"),
            extra=data.get("extra") or {},
        )


@dataclass(frozen=True)
class StatusReport:
    """A provider's delivery report about a message we sent."""

    provider_message_id: str
    status: str  # sent, delivered, read, failed
    timestamp: datetime
    error_code: str | None = None
    error_title: str | None = None


@dataclass(frozen=True)
class LiveConnection:
    """A channel connection with its secrets opened, for a webhook check or a send."""

    id: str
    org_id: str
    agent_id: str
    kind: str
    config: dict[str, Any]
    secrets: dict[str, str]
    enabled: bool


@dataclass(frozen=True)
class OutboundBody:
    """What to send: free text, or an approved template (WhatsApp, outside the 24-hour window)."""

    text: str = ""
    template: str | None = None
    language: str | None = None
    parameters: tuple[str, ...] = ()
    # Channel details (email subject, In-Reply-To) the channel's sender understands.
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "template": self.template,
            "language": self.language,
            "parameters": list(self.parameters),
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutboundBody:
        return cls(
            text=data.get("text") or "",
            template=data.get("template"),
            language=data.get("language"),
            parameters=tuple(data.get("parameters") or ()),
            extra=data.get("extra") or {},
        )


@dataclass(frozen=True)
class Sent:
    provider_message_id: str


class SendError(Exception):
    """A send that did not go out. `retryable`: trying again later may work (rate limits, 5xx, timeouts);
    `outside_window`: the provider refused free text outside the 24-hour window; `opted_out`: see below."""

    def __init__(
        self,
        reason: str,
        *,
        code: str | None = None,
        retryable: bool,
        outside_window: bool = False,
        opted_out: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.retryable = retryable
        self.outside_window = outside_window
        self.opted_out = opted_out  # the provider knows the person opted out (e.g. STOP sent to Twilio directly)


@dataclass(frozen=True)
class FetchedMedia:
    content: bytes
    mime_type: str | None


class ChannelSender(Protocol):
    """What a connection kind implements so that the outbox and the media step can reach its provider."""

    async def send(self, connection: LiveConnection, to: str, body: OutboundBody, *, key: str) -> Sent:
        """Send once; `key` is stable across retries of the same outbound row (for providers that dedupe)."""
        ...

    async def fetch_media(self, connection: LiveConnection, media: MediaRef) -> FetchedMedia:
        """The bytes of an inbound media item; raises SendError (retryable or not) when they cannot be had."""
        ...
