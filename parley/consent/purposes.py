"""The purposes a person can consent to, in code: what each means, its lawful basis, and the wording offered when
the organisation has not written its own consent text yet.

A purpose not in this registry cannot be recorded (the database checks it too), so that `allows()` is only ever
asked about purposes someone could actually have been asked about.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Purpose:
    key: str
    title: str
    description: str
    lawful_basis: str
    default_text: str


PURPOSES: dict[str, Purpose] = {
    p.key: p
    for p in (
        Purpose(
            "marketing",
            "Marketing messages",
            "sending offers and news by email, SMS or WhatsApp",
            "consent, GDPR Art. 6(1)(a); ePrivacy Directive Art. 13",
            "May we send you offers and news? You can unsubscribe at any time (reply STOP).",
        ),
        Purpose(
            "analytics",
            "Anonymous chat statistics",
            "counting how the chat is used (daily totals, without identifiers) to improve it",
            "consent, GDPR Art. 6(1)(a); ePrivacy Directive Art. 5(3)",
            "May we use anonymous analytics to improve this chat? The chat works the same either way.",
        ),
        Purpose(
            "call_recording",
            "Call recording",
            "recording phone calls to keep a record of what was agreed and to train staff",
            "consent, GDPR Art. 6(1)(a)",
            "This call may be recorded. Press 1 or say yes to agree; the call continues either way.",
        ),
        Purpose(
            "ai_voice_processing",
            "AI processing of your voice",
            "transcribing and answering your voice with an automated assistant",
            "consent, GDPR Art. 6(1)(a) (voice can identify you)",
            "An automated assistant will transcribe and answer your voice. Press 1 or say yes to agree, "
            "or stay on the line for a person.",
        ),
    )
}
PURPOSE_KEYS = tuple(PURPOSES)
CHANNELS = ("widget", "api", "staff", "sms", "whatsapp", "email", "voice")
