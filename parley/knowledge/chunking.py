"""Cut an extracted document into chunks for retrieval.

Strategy, and why:
- A chunk is what the agent quotes from, so it must read on its own: it never ends mid-sentence (unless one
  sentence alone is longer than `max_chars`, which is then cut at a word boundary), and it carries its heading path
  ("Opening hours > Holidays") so that both search and the model know where it comes from. The path is kept out of
  `text`; whoever indexes or prompts puts them together.
- Sections are the natural unit of meaning, so every heading starts a new chunk. Within a section, whole
  paragraphs are grouped up to `target_chars`; a paragraph that does not fit in what is left starts a new chunk
  rather than being split, unless it is longer than the target on its own, in which case it is packed sentence by
  sentence.
- Consecutive chunks of one section overlap by the trailing whole sentences of the previous chunk (at most
  `overlap_chars`), so a fact that straddles a boundary is still found with its context. Overlap never crosses a
  heading: text from another section would mislabel the chunk.
- A question/answer pair is a complete answer already: each is a chunk of its own, never merged with neighbours
  and only split (repeating the question) when it exceeds `max_chars`.
- `target_chars` bounds the new material in a chunk; `max_chars` bounds the whole chunk, overlap included.
- Ingestion runs this over whole knowledge bases, so it is one linear pass with no backtracking regex (see
  `_SENTENCE_END`), and a block that fits the target is handled whole: only long blocks, and the tail of a chunk
  that needs overlap, are split into sentences. Output depends only on the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from parley.knowledge.extract import Block, ExtractedDocument


@dataclass(frozen=True, slots=True)
class Chunk:
    ordinal: int
    heading: str | None
    text: str
    page: int | None = None


# A sentence ends at terminal punctuation (Latin, Arabic, Urdu, CJK), perhaps closed by a quote or bracket, followed
# by whitespace; CJK full stops need no space. The pattern is one character class then optional parts, so the regex
# engine jumps from one punctuation mark to the next and never backtracks.
_SENTENCE_END = re.compile(r"[.!?\u2026\u061f\u06d4\u3002\uff01\uff1f][\"'\u201d\u2019\u00bb)\]]?\s*")
_CJK_TERMINALS = "\u3002\uff01\uff1f"  # ideographic full stop, full-width ! and ?
_ABBREVIATIONS = frozenset(
    {"e.g.", "i.e.", "cf.", "vs.", "dr.", "mr.", "mrs.", "ms.", "st.", "no.", "approx.", "m.", "mme.", "mlle.", "p."}
)
_MAX_HEADING_CHARS = 200


def chunk(
    doc: ExtractedDocument, *, target_chars: int = 1200, max_chars: int = 2000, overlap_chars: int = 200
) -> list[Chunk]:
    """The document's chunks in reading order, numbered from 0."""
    if not 0 < target_chars <= max_chars or not 0 <= overlap_chars < target_chars:
        raise ValueError("need 0 < target_chars <= max_chars and 0 <= overlap_chars < target_chars")
    chunker = _Chunker(target_chars, max_chars, overlap_chars)
    for block in doc.blocks:
        if block.kind == "heading":
            chunker.heading(block)
        elif block.kind == "qa":
            chunker.qa(block)
        else:
            chunker.block(block)
    chunker.finish()
    return chunker.chunks


def split_sentences(text: str) -> list[str]:
    """Sentences of `text`, trimmed, in order; abbreviations ("e.g.", "Dr.", initials) do not end one."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if not text[end - 1].isspace() and text[match.start()] not in _CJK_TERMINALS:
            continue  # "3.5", "example.com", "?!": not the end of a sentence yet
        sentence = text[start:end].strip()
        if sentence.endswith(".") and _ends_with_abbreviation(sentence):
            continue
        if sentence:
            sentences.append(sentence)
        start = end
    if tail := text[start:].strip():
        sentences.append(tail)
    return sentences


def _ends_with_abbreviation(sentence: str) -> bool:
    word = sentence[sentence.rfind(" ", max(len(sentence) - 8, 0)) + 1 :]
    return word.lower() in _ABBREVIATIONS or (len(word) == 2 and word[0].isupper())


def _cut_long(sentence: str, max_chars: int) -> list[str]:
    """Pieces of at most `max_chars`, cut at the last space that keeps a piece at least half full."""
    pieces: list[str] = []
    while len(sentence) > max_chars:
        cut = sentence.rfind(" ", max_chars // 2, max_chars + 1)
        cut = cut if cut > 0 else max_chars
        pieces.append(sentence[:cut].rstrip())
        sentence = sentence[cut:].lstrip()
    if sentence:
        pieces.append(sentence)
    return pieces


@dataclass(slots=True)
class _Unit:
    """A whole block that fits the target, or one sentence of a longer block, or a piece of an over-long sentence
    (not `whole`, so never repeated as overlap)."""

    text: str
    starts_block: bool
    whole: bool
    page: int | None


class _Chunker:
    def __init__(self, target_chars: int, max_chars: int, overlap_chars: int) -> None:
        self.target, self.max, self.overlap = target_chars, max_chars, overlap_chars
        self.chunks: list[Chunk] = []
        self.path: list[tuple[int, str]] = []
        self.heading_path: str | None = None
        self.section_has_body = True
        self.units: list[_Unit] = []
        self.length = 0  # of the chunk being built, separators included
        self.fresh_length = 0  # of its units that are not overlap from the previous chunk
        self.fresh = 0

    def heading(self, block: Block) -> None:
        self._close(carry_overlap=False)
        level = max(block.level, 1)
        if not self.section_has_body and self.path and self.path[-1][0] >= level:
            self._emit(self.path[-1][1], None)  # a heading with nothing under it is still knowledge
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        text = block.text if len(block.text) <= _MAX_HEADING_CHARS else block.text[: _MAX_HEADING_CHARS - 1] + "…"
        self.path.append((level, text))
        self.heading_path = " > ".join(heading for _, heading in self.path)
        self.section_has_body = False

    def qa(self, block: Block) -> None:
        self._close(carry_overlap=False)
        self.section_has_body = True
        for piece in self._qa_pieces(block.text):
            self._emit(piece, block.page)

    def block(self, block: Block) -> None:
        text = f"- {block.text}" if block.kind == "list_item" else block.text
        if len(text) > self.target:
            for unit in self._sentence_units(text, block.page):
                self._add(unit)
            return
        if self.fresh and self.fresh_length + 1 + len(text) > self.target:
            self._close(carry_overlap=True)  # keep the block whole in the next chunk
        self._add(_Unit(text, True, True, block.page))

    def finish(self) -> None:
        self._close(carry_overlap=False)
        if not self.section_has_body and self.path:
            self._emit(self.path[-1][1], None)

    def _sentence_units(self, text: str, page: int | None) -> list[_Unit]:
        units: list[_Unit] = []
        for sentence in split_sentences(text):
            pieces = [sentence] if len(sentence) <= self.max else _cut_long(sentence, self.max)
            units.extend(_Unit(piece, not units, len(pieces) == 1, page) for piece in pieces)
        return units

    def _add(self, unit: _Unit) -> None:
        self.section_has_body = True
        grown = len(unit.text) + (1 if self.units else 0)
        if self.fresh and (self.fresh_length + grown > self.target or self.length + grown > self.max):
            self._close(carry_overlap=True)
        while self.units and self.length + 1 + len(unit.text) > self.max:
            dropped = self.units.pop(0)  # only overlap is left here: make room for new material
            self.length -= len(dropped.text) + (1 if self.units else 0)
        self.length += len(unit.text) + (1 if self.units else 0)
        self.fresh_length += len(unit.text) + (1 if self.fresh else 0)
        self.fresh += 1
        self.units.append(unit)

    def _close(self, *, carry_overlap: bool) -> None:
        if self.fresh:
            parts = [self.units[0].text]
            for unit in self.units[1:]:
                parts.append("\n" if unit.starts_block else " ")
                parts.append(unit.text)
            self._emit("".join(parts), self.units[0].page)
        carried = self._overlap() if carry_overlap and self.fresh else []
        self.units = carried
        self.length = sum(len(unit.text) for unit in carried) + max(len(carried) - 1, 0)
        self.fresh = self.fresh_length = 0

    def _overlap(self) -> list[_Unit]:
        """The trailing whole sentences of the chunk just closed, at most `overlap` characters in all."""
        carried: list[_Unit] = []
        room = self.overlap
        for unit in reversed(self.units):
            if not unit.whole:
                break
            if len(unit.text) + (1 if carried else 0) <= room:
                carried.append(unit)
                room -= len(unit.text) + (1 if len(carried) > 1 else 0)
                continue
            for sentence in reversed(split_sentences(unit.text)):  # a whole block: take its last sentences
                if len(sentence) + (1 if carried else 0) > room:
                    break
                room -= len(sentence) + (1 if carried else 0)
                carried.append(_Unit(sentence, False, True, unit.page))
            break
        return carried[::-1]

    def _emit(self, text: str, page: int | None) -> None:
        self.chunks.append(Chunk(len(self.chunks), self.heading_path, text, page))

    def _qa_pieces(self, text: str) -> list[str]:
        if len(text) <= self.max:
            return [text]
        question, _, answer = text.partition("\n")
        if len(question) > self.max // 2:
            return _pack(split_sentences(text), self.max)
        return [f"{question}\n{piece}" for piece in _pack(split_sentences(answer), self.max - len(question) - 1)]


def _pack(sentences: list[str], budget: int) -> list[str]:
    """Greedy groups of whole sentences (over-long ones cut) of at most `budget` characters."""
    pieces: list[str] = []
    current = ""
    for piece in (piece for sentence in sentences for piece in _cut_long(sentence, budget)):
        if current and len(current) + 1 + len(piece) > budget:
            pieces.append(current)
            current = ""
        current = f"{current} {piece}" if current else piece
    return [*pieces, current] if current else pieces
