"""Other people's identifiers inside one person's export: e-mail addresses and phone numbers that are not the
person's own are replaced, so an access request never discloses a third party's contact details (Art. 15(4)).

The detection is the redaction module's (validated e-mails, libphonenumber phone numbers); a value the person is
known by (one of their contact identifiers) is put back, anything else of that kind is masked. Other kinds the
redactor finds (cards, IBANs, IP addresses) are restored as written: in a person's conversation they are most
likely the person's own, and the data map treats them as message content.
"""

from __future__ import annotations

import re

import phonenumbers

from parley.privacy.redaction import Redactor

_PLACEHOLDER = re.compile(r"\[(EMAIL|PHONE|CARD|IBAN|IP)_(\d{1,4})\]")
MASKS = {"EMAIL": "[someone else's e-mail]", "PHONE": "[someone else's phone number]"}


def _canonical_phone(value: str) -> str | None:
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class ThirdPartyMask:
    """Masks everything but `own` identifiers (e-mails and phone numbers, any spelling) in texts."""

    def __init__(self, own: list[str]) -> None:
        self._own_emails = {v.lower() for v in own if "@" in v}
        self._own_phones = {p for p in (_canonical_phone(v) for v in own if "@" not in v) if p}
        self._own_digits = {"".join(ch for ch in v if ch.isdigit()) for v in own if "@" not in v}
        self.masked = 0

    def apply(self, text: str) -> str:
        # Most messages hold neither an e-mail address nor enough digits for a phone number: skip the detectors.
        if "@" not in text and sum(ch.isdigit() for ch in text) < 7:
            return text
        redactor = Redactor()
        redacted = redactor.redact(text)
        if redacted == text:
            return text
        keep = {p for e in self._own_emails if (p := redactor.placeholder_of("EMAIL", e))}
        keep |= {p for n in self._own_phones | self._own_digits if (p := redactor.placeholder_of("PHONE", n))}

        def put_back(match: re.Match[str]) -> str:
            placeholder, kind = match.group(0), match.group(1)
            if kind in MASKS and placeholder not in keep:
                self.masked += 1
                return MASKS[kind]
            return redactor.restore(placeholder)

        return _PLACEHOLDER.sub(put_back, redacted)
