"""CSV of questions and answers: one question/answer block per row with both filled in."""

from __future__ import annotations

import csv
import io
import unicodedata

from parley.knowledge.extract.model import Block, ExtractedDocument, clean
from parley.knowledge.sniff import UnsupportedDocument, csv_delimiter, decode_text

# --- CSV of questions and answers ------------------------------------------------------------------------------

_QUESTION_HEADERS = frozenset({"question", "questions", "q", "pregunta", "frage", "domanda", "pergunta"})
_ANSWER_HEADERS = frozenset({"answer", "answers", "a", "reponse", "reponses", "respuesta", "antwort", "risposta"})


def _extract_csv(data: bytes) -> ExtractedDocument:
    text = decode_text(data)
    try:
        rows = [row for row in csv.reader(io.StringIO(text), delimiter=csv_delimiter(text) or ",") if any(row)]
    except csv.Error as exc:
        raise UnsupportedDocument(f"this CSV file is malformed ({exc})") from exc
    header = [_header_key(cell) for cell in rows[0]] if rows else []
    question = next((i for i, name in enumerate(header) if name in _QUESTION_HEADERS), None)
    answer = next((i for i, name in enumerate(header) if name in _ANSWER_HEADERS), None)
    if question is None or answer is None:
        found = ", ".join(f"'{clean(cell)}'" for cell in rows[0][:8]) if rows else "none"
        raise UnsupportedDocument(
            f"this CSV has no question and answer columns (its columns: {found}); the first row must name a "
            "'question' column and an 'answer' column ('q' and 'a', or 'question' and 'réponse', also work)"
        )
    blocks = [_qa_block(row, question, answer) for row in rows[1:]]
    return ExtractedDocument(title=None, blocks=[block for block in blocks if block is not None])


def _header_key(cell: str) -> str:
    decomposed = unicodedata.normalize("NFKD", cell.strip().strip(":*").strip().lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _qa_block(row: list[str], question: int, answer: int) -> Block | None:
    q = clean(row[question]) if question < len(row) else ""
    a = clean(row[answer]) if answer < len(row) else ""
    return Block("qa", f"Q: {q}\nA: {a}") if q and a else None
