"""Query terms: lower-cased, accents folded, stop words dropped. Shared by search and the offline provider so
that what is searched for and what is matched in sentences are the same words."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"\w+", re.UNICODE)

STOPWORDS = frozenset(
    # English
    (
        "a an and are as at be but by can do does for from had has have how i if in is it its me my no not of on or "
        "our so that the their them then there these they this to was we what when where which who why will with "
        "you your yours please tell about any am"
    ).split()
    # French
    + (
        "a au aux avec ce ces cette dans de des du elle en est et il ils je la le les leur lui ma mais me mes moi "
        "mon ne nos notre nous on ou par pas pour qu que qui quel quelle quels quelles quand comment sa se ses son "
        "sur ta te tes toi ton tu un une vos votre vous y c d l j m n s t"
    ).split()
    # Arabic (common function words)
    + "في من على إلى عن مع هل ما ماذا متى أين كيف هذا هذه ذلك تلك هو هي أنا أنت نحن هم و أو ثم لا لم لن".split()
)


def fold(text: str) -> str:
    """Lower case without diacritics (é → e); Arabic letters are kept, their short-vowel marks dropped."""
    if text.isascii():  # nothing to decompose: skip the per-character pass (search re-reads candidate texts)
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str, *, keep_accents: bool = False) -> list[str]:
    return _WORD.findall(text.lower() if keep_accents else fold(text))


def terms(text: str, *, keep_accents: bool = False) -> list[str]:
    """Content words of a query, in order, without duplicates. `keep_accents` for indexes that keep them
    (PostgreSQL's 'simple' configuration); SQLite's FTS5 index folds them like `fold` does."""
    return list(
        dict.fromkeys(
            w
            for w in words(text, keep_accents=keep_accents)
            if fold(w) not in STOPWORDS and (len(w) > 1 or w.isdigit())
        )
    )


def coverage(query_terms: list[str], text: str) -> float:
    """Share of the query's content words that the text contains: a retrieval confidence in [0, 1] that means
    the same on SQLite and PostgreSQL (raw BM25 and ts_rank scores do not)."""
    if not query_terms:
        return 0.0
    present = set(words(text))
    folded = [fold(t) for t in query_terms]
    return sum(1 for t in folded if t in present or _prefix_match(t, present)) / len(folded)


def _prefix_match(term: str, present: set[str]) -> bool:
    # "reservations" should count "reservation": a shared stem of 5+ letters is a match.
    if len(term) < 5:
        return False
    stem = term[: max(5, len(term) - 2)]
    return any(word.startswith(stem) for word in present)
