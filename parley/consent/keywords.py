"""Messaging keywords that withdraw consent: a reply of STOP (or its equivalent in the person's language) ends
marketing, as carriers and the ePrivacy rules expect. Matching is on the whole message, case- and accent-
insensitive, so "stop" stops but "don't stop the booking" does not.

The messaging channels (SMS, WhatsApp, email replies) call `withdraw_by_keyword` on every inbound text before the
engine sees it; it records the withdrawal with the message as evidence.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy.ext.asyncio import AsyncSession

from parley.consent import service
from parley.models import ConsentEvent
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope

# keyword (normalised: upper case, no accents) -> purpose it withdraws
KEYWORDS: dict[str, str] = {
    word: "marketing"
    for word in (
        # English (CTIA/carrier standard words)
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "OPTOUT",
        "OPT OUT",
        # French
        "ARRET",
        "ARRETER",
        "STOP SMS",
        "DESABONNER",
        "DESINSCRIRE",
        # Spanish, Portuguese, Italian
        "BAJA",
        "PARAR",
        "CANCELAR",
        "DESCADASTRAR",
        "ANNULLA",
        "DISISCRIVI",
        # German, Dutch
        "ABMELDEN",
        "AFMELDEN",
    )
}


def normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.upper().replace("-", " ").strip(" .!\t\r\n").split())


def purpose_for(text: str) -> str | None:
    """The purpose a message withdraws, if the whole message is a stop keyword."""
    if len(text) > 40:
        return None
    return KEYWORDS.get(normalise(text))


async def withdraw_by_keyword(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, *, contact_id: str, text: str, channel: str
) -> ConsentEvent | None:
    """Records the withdrawal when `text` is a stop keyword; None (nothing recorded) otherwise."""
    purpose = purpose_for(text)
    if purpose is None:
        return None
    return await service.do_record(
        db,
        runtime,
        scope,
        contact_id=contact_id,
        purpose=purpose,
        granted=False,
        channel=channel,
        evidence={"kind": "keyword", "message": text[:40]},
    )
