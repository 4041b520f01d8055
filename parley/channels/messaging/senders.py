"""Which `ChannelSender` serves which connection kind. Imported lazily (by dotted path) so that the common layer
does not import every provider's client; a new kind adds one line here."""

from __future__ import annotations

import importlib
from functools import cache

from parley.channels.messaging.shapes import ChannelSender

SENDERS: dict[str, str] = {
    "whatsapp": "parley.channels.whatsapp.sender:WhatsAppSender",
    "twilio_sms": "parley.channels.twilio.sender:TwilioSender",
    "twilio_whatsapp": "parley.channels.twilio.sender:TwilioSender",
    "email": "parley.channels.email.sender:EmailSender",  # email channel
}


@cache
def _load(path: str) -> type:
    module, _, name = path.partition(":")
    loaded: type = getattr(importlib.import_module(module), name)
    return loaded


def sender_for(kind: str, runtime: object) -> ChannelSender | None:
    """The sender for `kind`, built for this runtime (its settings say where the provider's API is)."""
    path = SENDERS.get(kind)
    if path is None:
        return None
    sender: ChannelSender = _load(path)(runtime)
    return sender
