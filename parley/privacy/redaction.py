"""PII redaction before an outside language model: personal values out, stable placeholders in, and back.

Before a turn goes to a remote provider, e-mail addresses, phone numbers, payment card numbers, IBANs and IP
addresses in every message of the request are replaced by placeholders such as `[PHONE_1]`. The same value gets
the same placeholder throughout the request, and numbering follows the conversation's order (history first, then
the new message, then the system prompt), so a conversation keeps its placeholders from turn to turn. The model
answers with placeholders; `Restorer` puts the real values back as the reply streams, so the person sees them
while the provider never received them.

Detection is validated, not just pattern-matched, so ordinary numbers survive: card numbers must pass the Luhn
check, IBANs the ISO 7064 mod-97 check, IP addresses must parse, phone numbers must be valid for libphonenumber
(`phonenumbers`) — international numbers anywhere, national ones for the configured region — and any other run of
nine to thirteen digits written like a phone number is redacted too, erring on the side of the person. A cheap
pre-check skips the expensive phone matcher for text with fewer than seven digits.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import phonenumbers

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IPV4 = re.compile(r"(?<!\d)(?<!\d\.)(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)")  # a full stop may end the sentence
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
# 9 to 13 digits, written like a phone number, and not a piece of a longer run of digits.
_DIGIT_RUN = re.compile(r"(?<![\w+])(?<!\d[\s().-])\+?\(?\d(?:[\s().-]{0,2}\d){8,12}(?![\s().-]{0,2}\d)(?!\w)")
_PLACEHOLDER = re.compile(r"\[(EMAIL|PHONE|CARD|IBAN|IP)_(\d{1,4})\]")
_LONGEST_PLACEHOLDER = len("[EMAIL_9999]")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    iban = candidate.replace(" ", "")
    if not 15 <= len(iban) <= 34:
        return False
    rearranged = iban[4:] + iban[:4]
    try:
        return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
    except ValueError:
        return False


def _ip_valid(candidate: str) -> bool:
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


@dataclass
class Redactor:
    """Placeholders for one request. `region` (ISO 3166 code) lets national phone formats be recognised."""

    region: str | None = None
    _by_value: dict[tuple[str, str], str] = field(default_factory=dict)
    _values: dict[str, str] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)

    @property
    def redacted(self) -> int:
        return len(self._values)

    def redact(self, text: str) -> str:
        if not text:
            return text
        text = self._sub(_EMAIL, text, "EMAIL", lambda m: m.lower())
        if any(ch.isdigit() for ch in text):
            text = self._sub(_IBAN, text, "IBAN", lambda m: m.replace(" ", ""), iban_valid)
            text = self._sub(_CARD, text, "CARD", _digits, lambda m: luhn_valid(_digits(m)))
            text = self._sub(_IPV4, text, "IP", str, _ip_valid)
        if ":" in text:
            text = self._sub(_IPV6, text, "IP", str.lower, lambda m: m.count(":") >= 2 and _ip_valid(m))
        if sum(ch.isdigit() for ch in text) >= 7:
            text = self._phones(text)
        return text

    def restore(self, text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: self._values.get(m.group(0), m.group(0)), text)

    def restorer(self) -> Restorer:
        return Restorer(self)

    def placeholder_of(self, kind: str, canonical: str) -> str | None:
        """The placeholder a value got, if it was seen (canonical: lower-case email, E.164 phone number)."""
        return self._by_value.get((kind, canonical))

    # --- internals ----------------------------------------------------------------------------------------------

    def _placeholder(self, kind: str, canonical: str, original: str) -> str:
        key = (kind, canonical)
        found = self._by_value.get(key)
        if found is None:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            found = f"[{kind}_{self._counts[kind]}]"
            self._by_value[key] = found
            self._values[found] = original
        return found

    def _sub(
        self,
        pattern: re.Pattern[str],
        text: str,
        kind: str,
        canonical: Callable[[str], str],
        valid: Callable[[str], bool] | None = None,
    ) -> str:
        def replace(match: re.Match[str]) -> str:
            value = match.group(0)
            if valid is not None and not valid(value):
                return value
            return self._placeholder(kind, canonical(value), value)

        return pattern.sub(replace, text)

    def _phones(self, text: str) -> str:
        spans: list[tuple[int, int, str]] = []
        for found in phonenumbers.PhoneNumberMatcher(text, self.region, leniency=phonenumbers.Leniency.VALID):
            canonical = phonenumbers.format_number(found.number, phonenumbers.PhoneNumberFormat.E164)
            spans.append((found.start, found.end, canonical))
        for run in _DIGIT_RUN.finditer(text):  # anything else written like a phone number
            if not any(s <= run.start() < e or s < run.end() <= e for s, e, _ in spans):
                spans.append((run.start(), run.end(), _digits(run.group(0))))
        # Numbered in reading order, replaced from the end so earlier offsets stay valid.
        named = [
            (start, end, self._placeholder("PHONE", canonical, text[start:end]))
            for start, end, canonical in sorted(spans)
        ]
        for start, end, placeholder in reversed(named):
            text = text[:start] + placeholder + text[end:]
        return text


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


class Restorer:
    """Restores placeholders in a streamed reply: a placeholder split across two deltas is held back until it
    is complete (or clearly is not one), so the person never sees half of `[PHONE_1]`."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._pending = ""

    def feed(self, delta: str) -> str:
        text = self._pending + delta
        cut = text.rfind("[")
        if cut != -1 and "]" not in text[cut:] and len(text) - cut < _LONGEST_PLACEHOLDER:
            self._pending = text[cut:]
            text = text[:cut]
        else:
            self._pending = ""
        return self._redactor.restore(text)

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return self._redactor.restore(rest)
