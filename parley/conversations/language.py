"""Which language a message is in, among the few the fixed phrases exist in. A deliberately small heuristic:
the offline provider only needs it to pick its own phrases; remote models answer in the user's language."""

from __future__ import annotations

import re

from parley.knowledge.terms import words

_ARABIC = re.compile(r"[\u0600-\u06FF]")
_FRENCH_MARKERS = frozenset(
    (
        "bonjour bonsoir salut merci vous est quels quelles quel quelle comment pourquoi avez etes sont votre vos je "
        "nous les des une pour avec ouvert ouverts ferme horaires reserver reservation combien"
    ).split()
)
_ENGLISH_MARKERS = frozenset(
    "hello hi thanks thank you are is what when where how do does your the open opening hours book booking".split()
)
SUPPORTED = ("en", "fr", "ar")


def detect(text: str, fallback: str = "en") -> str:
    if _ARABIC.search(text):
        return "ar"
    tokens = set(words(text))
    french = len(tokens & _FRENCH_MARKERS) + (1 if re.search(r"[éèêàçùœ]", text.lower()) else 0)
    english = len(tokens & _ENGLISH_MARKERS)
    if french > english:
        return "fr"
    if english > french:
        return "en"
    return fallback if fallback in SUPPORTED else "en"
