"""Phone numbers in one form (E.164), so that the same person on WhatsApp and by SMS is one contact."""

from __future__ import annotations

import phonenumbers


def to_e164(raw: str, region: str = "") -> str | None:
    """`+31612345678` from `whatsapp:+31 6 1234 5678`, `0031612345678` or (with a region) `06 12345678`;
    None when it is not a possible number. WhatsApp ids are digits without the plus."""
    value = raw.strip().removeprefix("whatsapp:").strip()
    if value and value[0].isdigit() and not region:
        value = "+" + value.removeprefix("00")
    try:
        parsed = phonenumbers.parse(value, region or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
