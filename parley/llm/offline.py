"""The offline provider: no network, no key, no model. It answers extractively from the knowledge base.

For a question it scores each sentence of the retrieved passages by how many of the question's content words
it contains (accent-insensitive, light prefix matching), keeps the best sentences of the best passages, and
replies with those sentences, verbatim, in document order, citing where they came from. It never writes a
sentence that is not in the business's documents. Greetings, thanks and goodbyes get fixed phrases in the
user's language; a request for a person triggers the `handoff_to_human` tool, exactly as a model would; and
when nothing covers the question well enough it says so (the agent's fallback) and reports zero confidence,
which flags the conversation for staff.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from parley.conversations.phrases import phrase
from parley.knowledge.terms import coverage, terms, words
from parley.llm.base import ChatRequest, Event, Finished, Passage, TextDelta, ToolCall, Usage

NAME = "offline"
MIN_SENTENCE_COVERAGE = 0.34
MAX_SENTENCES = 3
_SENTENCE = re.compile(r"(?<=[.!?؟])\s+|\n+")

_GREETINGS = frozenset(
    ["hello", "hi", "hey", "bonjour", "bonsoir", "salut", "coucou", "مرحبا", "مرحبًا", "اهلا", "أهلا", "السلام"]
)
_THANKS = frozenset(["thanks", "thank", "merci", "شكرا", "شكرًا"])
_GOODBYES = frozenset(["bye", "goodbye", "au", "revoir", "ciao", "وداعا", "سلام"])
_PERSON = re.compile(
    r"\b(human|person|someone|agent|staff|representative|humain|personne|conseiller|quelqu'un)\b|موظف|شخص|انسان|إنسان",
    re.IGNORECASE,
)


def _small_talk(text: str) -> str | None:
    tokens = words(text)
    if not tokens or len(tokens) > 6:
        return None
    first = set(tokens)
    if first & _THANKS:
        return "thanks"
    if first & _GOODBYES or "au revoir" in text.lower():
        return "goodbye"
    if first & _GREETINGS and len(terms(text)) <= 1:
        return "greeting"
    return None


_QA = re.compile(r"^Q:\s*(?P<q>.+?)\s*\nA:\s*(?P<a>.+)$", re.DOTALL)


def _units(passage: Passage) -> list[tuple[str, str]]:
    """(text to match, text to answer with): a question/answer pair is matched on both and answered with its
    answer; anything else sentence by sentence."""
    text = passage.text.strip()
    for candidate in (text, text.split("\n", 1)[-1]):  # with or without the heading line in front
        qa = _QA.match(candidate)
        if qa:
            return [(f"{qa['q']} {qa['a']}", qa["a"].strip())]
    return [(s.strip(), s.strip()) for s in _SENTENCE.split(text) if len(s.strip()) > 2]


def answer(question: str, passages: tuple[Passage, ...]) -> tuple[list[str], list[str], float]:
    """(sentences, chunk ids used, confidence) for a question; empty when nothing answers it."""
    query = terms(question)
    if not query:
        return [], [], 0.0
    scored: list[tuple[float, int, int, str, str]] = []
    for p_index, passage in enumerate(passages):
        for s_index, (matched, sentence) in enumerate(_units(passage)):
            score = coverage(query, matched)
            if score >= MIN_SENTENCE_COVERAGE:
                scored.append((score, -p_index, -s_index, sentence, passage.chunk_id))
    if not scored:
        return [], [], 0.0
    best = sorted(scored, reverse=True)[:MAX_SENTENCES]
    top = best[0][0]
    kept = [b for b in best if b[0] >= top * 0.6]  # drop weak companions of a strong answer
    kept.sort(key=lambda b: (-b[1], -b[2]))  # back into document order
    chosen = list(dict.fromkeys(b[3] for b in kept))
    used = list(dict.fromkeys(b[4] for b in kept))
    confidence = min(1.0, coverage(query, " ".join(chosen)))
    return chosen, used, confidence


class OfflineProvider:
    name = NAME

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        question = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        language = request.language
        talk = _small_talk(question)
        if talk:
            yield TextDelta(phrase(talk, language))
            yield Usage(0, 0)
            yield Finished("stop", confidence=1.0)
            return
        if _PERSON.search(question) and any(t.name == "handoff_to_human" for t in request.tools):
            yield ToolCall("offline-handoff", "handoff_to_human", {"reason": "the customer asked for a person"})
            yield Usage(0, 0)
            yield Finished("tool_calls", confidence=1.0)
            return
        sentences, used, confidence = answer(question, request.passages)
        if not sentences:
            yield TextDelta(request.fallback or phrase("fallback", language))
            yield Usage(0, 0)
            yield Finished("fallback", confidence=0.0)
            return
        for index, sentence in enumerate(sentences):
            yield TextDelta(sentence if index == 0 else " " + sentence)
        yield Usage(0, 0)
        yield Finished("stop", confidence=confidence, used_chunk_ids=tuple(used))

    async def check(self) -> None:
        return None
