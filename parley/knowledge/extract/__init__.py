"""Turn a sniffed document into ordered structural blocks: headings (with levels), paragraphs, list items, table
rows and question/answer pairs.

Structure is kept because chunking and retrieval use it: a heading path tells the agent which part of the
document a passage comes from. Each format gives structure differently — Word styles, HTML tags, Markdown
markers; PDFs have none, so headings are lines set in a larger font than the body text and paragraphs are split
where the vertical gap between lines is wider than the page's usual line spacing.

Text is normalised (NFC, whitespace collapsed, NUL and invisible characters removed) but never transliterated:
accents and Arabic survive. Anything unreadable raises `UnsupportedDocument` with a reason staff can act on.
"""

from __future__ import annotations

from collections.abc import Callable

from parley.knowledge.extract.csv_pairs import _extract_csv
from parley.knowledge.extract.docx_text import _extract_docx
from parley.knowledge.extract.html_text import _extract_html
from parley.knowledge.extract.markdown_text import _extract_markdown, _extract_text
from parley.knowledge.extract.model import Block, BlockKind, ExtractedDocument, clean
from parley.knowledge.extract.pdf_text import _extract_pdf
from parley.knowledge.sniff import UnsupportedDocument, check_size

__all__ = ["Block", "BlockKind", "ExtractedDocument", "clean", "extract"]


def extract(data: bytes, kind: str) -> ExtractedDocument:
    """The title and blocks of a document whose kind `sniff` decided."""
    check_size(data)
    extractor = _EXTRACTORS.get(kind)
    if extractor is None:
        raise ValueError(f"unknown document kind {kind!r}")
    document = extractor(data)
    blocks = [block for block in document.blocks if block.text]
    if not blocks:
        raise UnsupportedDocument(_NO_TEXT.get(kind, "no text found in this document"))
    return ExtractedDocument(title=document.title or None, blocks=blocks)


_NO_TEXT = {
    "pdf": "no text found; scanned PDFs need OCR, which Parley does not do",
    "csv": "this CSV has question and answer columns but no row with both filled in",
}


_EXTRACTORS: dict[str, Callable[[bytes], ExtractedDocument]] = {
    "pdf": _extract_pdf,
    "docx": _extract_docx,
    "html": _extract_html,
    "markdown": _extract_markdown,
    "csv": _extract_csv,
    "text": _extract_text,
}
