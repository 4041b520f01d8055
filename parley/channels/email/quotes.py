"""Cutting a reply down to what the person wrote this time: the quoted history below it and their signature go.

Mail clients mark the start of the history in a handful of ways; the first line that matches any of them ends
the new text. Without this the model would answer the whole thread again on every reply, and the stored
message would duplicate what is already in the conversation.
"""

from __future__ import annotations

import re

_ATTRIBUTION = [
    re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.IGNORECASE | re.DOTALL),  # Gmail, Apple Mail, Thunderbird
    re.compile(r"^\s*Le\b.{0,300}\ba écrit\s*:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*Am\b.{0,300}\bschrieb\b.{0,100}:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*El\b.{0,300}\bescribió:\s*$", re.IGNORECASE | re.DOTALL),
]
_SEPARATORS = [
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE),  # Outlook
    re.compile(r"^\s*-{2,}\s*Forwarded message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook's rule above "From: … Sent: …"
]
_HEADER_BLOCK_START = re.compile(r"^\s*\*?From:\*?\s+\S", re.IGNORECASE)
_HEADER_BLOCK_NEXT = re.compile(r"^\s*\*?(Sent|Date|To|Subject|Cc):\*?\s", re.IGNORECASE)
_SIGNATURE = re.compile(r"^-- ?$")  # RFC 3676's "-- " (some clients drop the trailing space)
_MOBILE_SIGNATURE = re.compile(r"^\s*Sent from my \w+", re.IGNORECASE)


def strip_reply(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    end = _history_start(lines)
    kept = [line for line in lines[:end] if not line.lstrip().startswith(">")]
    for index, line in enumerate(kept):
        if _SIGNATURE.match(line) or _MOBILE_SIGNATURE.match(line):
            kept = kept[:index]
            break
    return "\n".join(kept).strip()


def _history_start(lines: list[str]) -> int:
    for index, line in enumerate(lines):
        if any(pattern.match(line) for pattern in _SEPARATORS):
            return index
        # An attribution can wrap over two lines ("On Mon, 7 Dec 2026 at 10:00, Ann <ann@…>\nwrote:").
        joined = line if index + 1 >= len(lines) else f"{line} {lines[index + 1]}"
        if any(pattern.match(line) for pattern in _ATTRIBUTION):
            return index
        if line.strip() and any(pattern.match(joined) for pattern in _ATTRIBUTION) and _quoted_after(lines, index + 2):
            return index
        if _HEADER_BLOCK_START.match(line) and any(_HEADER_BLOCK_NEXT.match(n) for n in lines[index + 1 : index + 4]):
            return index
    return len(lines)


def _quoted_after(lines: list[str], start: int) -> bool:
    following = [line for line in lines[start : start + 3] if line.strip()]
    return not following or following[0].lstrip().startswith(">")
