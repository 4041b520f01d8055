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

import csv
import io
import itertools
import math
import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import docx
from docx.document import Document as DocxDocument
from docx.table import Table
from docx.text.paragraph import Paragraph
from pypdf import PageObject, PasswordType, PdfReader
from pypdf.errors import DependencyError
from selectolax.lexbor import LexborHTMLParser, LexborNode

from parley.knowledge.sniff import UnsupportedDocument, check_docx_archive, check_size, csv_delimiter, decode_text

BlockKind = Literal["heading", "paragraph", "list_item", "table_row", "qa"]


@dataclass(frozen=True, slots=True)
class Block:
    kind: BlockKind
    text: str
    level: int = 0
    page: int | None = None


@dataclass(frozen=True, slots=True)
class ExtractedDocument:
    title: str | None
    blocks: list[Block]


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


# Deleted: NUL, soft hyphen, zero-width space, word joiner, BOM. Other control characters become spaces. Zero-width
# (non-)joiners stay: Arabic and Persian spelling needs them. Typographic ligatures from PDFs are spelled out.
_CLEAN_TABLE: dict[int, str | None] = {
    **{code: " " for code in [*range(0x01, 0x09), *range(0x0E, 0x20), 0x7F]},
    **dict.fromkeys(map(ord, "\x00\u00ad\u200b\u2060\ufeff")),
    **{ord(k): v for k, v in {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}.items()},
}
_NO_TEXT = {
    "pdf": "no text found; scanned PDFs need OCR, which Parley does not do",
    "csv": "this CSV has question and answer columns but no row with both filled in",
}


def clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text.translate(_CLEAN_TABLE)).split())


# --- PDF ---------------------------------------------------------------------------------------------------------

_PAGE_NUMBER = re.compile(r"(?:page\s+)?\d{1,4}(?:\s*(?:/|of|sur)\s*\d{1,4})?", re.IGNORECASE)
_HEADING_SIZE_RATIO = 1.15
_PARAGRAPH_GAP_RATIO = 1.5
_LINE_SPACING_RATIO = 1.4  # generous single spacing, as a multiple of the font size


@dataclass(slots=True)
class _Line:
    text: str
    size: float
    y: float
    page: int


def _extract_pdf(data: bytes) -> ExtractedDocument:
    reader = _open_pdf(data)
    lines = [line for number, page in enumerate(reader.pages, start=1) for line in _pdf_page_lines(page, number)]
    blocks = list(_pdf_blocks(lines))
    title = _pdf_metadata_title(reader) or next((b.text for b in blocks if b.kind == "heading"), None)
    return ExtractedDocument(title=title, blocks=blocks)


def _open_pdf(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        # Many PDFs are encrypted with an empty user password (only editing is restricted); those open fine.
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise UnsupportedDocument("this PDF is password-protected; upload a copy without a password")
        if not reader.pages:
            raise UnsupportedDocument("this PDF has no pages")
    except UnsupportedDocument:
        raise
    except DependencyError as exc:
        raise UnsupportedDocument("this PDF uses an encryption Parley cannot open; upload a copy without it") from exc
    except Exception as exc:  # pypdf reports malformed files through many unrelated exception types
        raise UnsupportedDocument("this PDF is damaged and cannot be read") from exc
    return reader


def _pdf_page_lines(page: PageObject, number: int) -> list[_Line]:
    segments: list[tuple[str, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, font_size: float) -> None:
        scale = math.sqrt(abs(tm[0] * tm[3] - tm[1] * tm[2]) * abs(cm[0] * cm[3] - cm[1] * cm[2]))
        segments.append((text, font_size * scale, tm[4] * cm[1] + tm[5] * cm[3] + cm[5]))

    try:
        page.extract_text(visitor_text=visit)
    except Exception:  # one broken page content stream should not cost the whole document
        return []
    return list(_assemble_lines(segments, number))


def _assemble_lines(segments: list[tuple[str, float, float]], page: int) -> Iterator[_Line]:
    parts: list[str] = []
    size, y = 0.0, 0.0
    for text, segment_size, segment_y in segments:
        for index, piece in enumerate(text.split("\n")):
            if index and parts:
                yield _Line(clean("".join(parts)), size, y, page)
                parts, size = [], 0.0
            if piece.strip():
                y = segment_y if not parts else y
                parts.append(piece)
                size = max(size, segment_size)
    if parts:
        yield _Line(clean("".join(parts)), size, y, page)


def _pdf_blocks(lines: list[_Line]) -> Iterator[Block]:
    lines = [line for line in lines if line.text and not _PAGE_NUMBER.fullmatch(line.text)]
    body = _pdf_body_size(lines)
    levels, spacing = _pdf_heading_levels(lines, body), _pdf_line_spacing(lines, body)
    paragraph: list[_Line] = []
    for line in lines:
        level = levels.get(_size_key(line.size)) if len(line.text) <= 150 else None
        if paragraph and (level or _starts_paragraph(paragraph[-1], line, spacing)):
            yield Block("paragraph", _join_pdf_lines(paragraph), page=paragraph[0].page)
            paragraph = []
        if level:
            yield Block("heading", line.text, level=level, page=line.page)
        else:
            paragraph.append(line)
    if paragraph:
        yield Block("paragraph", _join_pdf_lines(paragraph), page=paragraph[0].page)


def _size_key(size: float) -> float:
    return round(size * 2) / 2


def _pdf_body_size(lines: list[_Line]) -> float:
    """The font size most of the text is set in."""
    chars_by_size: Counter[float] = Counter()
    for line in lines:
        chars_by_size[_size_key(line.size)] += len(line.text)
    return chars_by_size.most_common(1)[0][0] if chars_by_size else 0.0


def _pdf_heading_levels(lines: list[_Line], body: float) -> dict[float, int]:
    """Font sizes clearly larger than the body text's, largest first, mapped to heading levels 1-6."""
    larger = sorted({_size_key(line.size) for line in lines if line.size > body * _HEADING_SIZE_RATIO}, reverse=True)
    return {size: level for level, size in enumerate(larger[:6], start=1)}


def _pdf_line_spacing(lines: list[_Line], body: float) -> dict[int, float]:
    """The distance between lines of one paragraph on each page: the usual gap, unless the usual gap is itself a
    paragraph break (pages of one-line paragraphs), which the body font size gives away."""
    gaps: dict[int, list[float]] = {}
    for above, below in itertools.pairwise(lines):
        if above.page == below.page and above.y > below.y:
            gaps.setdefault(above.page, []).append(above.y - below.y)
    ceiling = body * _LINE_SPACING_RATIO if body else math.inf
    return {page: min(statistics.median(page_gaps), ceiling) for page, page_gaps in gaps.items()}


def _starts_paragraph(previous: _Line, line: _Line, spacing: dict[int, float]) -> bool:
    if previous.page != line.page:
        return False
    gap = previous.y - line.y
    return gap <= 0 or gap > spacing.get(line.page, math.inf) * _PARAGRAPH_GAP_RATIO


def _join_pdf_lines(lines: list[_Line]) -> str:
    parts = [lines[0].text]
    for line in lines[1:]:
        # Undo end-of-line hyphenation ("informa-" + "tion") but keep real hyphens before capitals and digits.
        previous = parts[-1]
        if previous.endswith("-") and len(previous) > 1 and previous[-2].isalpha() and line.text[:1].islower():
            parts[-1] = previous[:-1]
        else:
            parts.append(" ")
        parts.append(line.text)
    return "".join(parts)


def _pdf_metadata_title(reader: PdfReader) -> str | None:
    try:
        title = clean(str(reader.metadata.title or "")) if reader.metadata else ""
    except Exception:  # metadata of a damaged PDF is optional
        return None
    return title if title and not title.lower().startswith("microsoft word") else None


# --- DOCX --------------------------------------------------------------------------------------------------------

_DOCX_HEADING = re.compile(r"heading ([1-9])")


def _extract_docx(data: bytes) -> ExtractedDocument:
    check_docx_archive(data)  # again: extraction must be safe even when called without `sniff`
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx surfaces broken ZIPs, XML and content types as unrelated exceptions
        raise UnsupportedDocument("this Word document is damaged or is not a real .docx file") from exc
    return _docx_content(document)


def _docx_content(document: DocxDocument) -> ExtractedDocument:
    title = clean(document.core_properties.title or "") or None
    blocks: list[Block] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.extend(_docx_table(item))
            continue
        text, level = clean(item.text), _docx_heading_level(item)
        if level == 0:
            title = title or text
        elif level is not None:
            blocks.append(Block("heading", text, level=level))
        else:
            blocks.append(Block("list_item" if _docx_is_list(item) else "paragraph", text))
    return ExtractedDocument(title=title, blocks=blocks)


def _docx_heading_level(paragraph: Paragraph) -> int | None:
    """1-9 for Heading styles (or styles based on them), 0 for the Title style, None for body text."""
    style = paragraph.style
    for _ in range(8):  # custom styles usually derive from a built-in heading within a step or two
        if style is None:
            return None
        name = (style.name or "").lower()
        if name == "title":
            return 0
        if match := _DOCX_HEADING.fullmatch(name):
            return int(match.group(1))
        style = style.base_style
    return None


def _docx_is_list(paragraph: Paragraph) -> bool:
    properties = paragraph._p.pPr
    numbered = properties is not None and properties.numPr is not None
    return numbered or (paragraph.style is not None and (paragraph.style.name or "").startswith("List"))


def _docx_table(table: Table) -> Iterator[Block]:
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = clean(cell.text)
            if text and (not cells or cells[-1] != text):  # merged cells repeat their text
                cells.append(text)
        yield Block("table_row", " | ".join(cells))


# --- HTML --------------------------------------------------------------------------------------------------------

_HTML_NOISE = (
    "script, style, nav, aside, noscript, template, svg, iframe, dialog, button, select, input, textarea, "
    "[hidden], [aria-hidden=true], [role=navigation]"
)
# Site chrome, unless it belongs to the content (an article's own header holds its title). Forms are widgets, except
# that some sites (ASP.NET WebForms) wrap the whole page in one: a form holding headings or the content is kept.
_HTML_CHROME = "header, footer, form, [role=banner], [role=contentinfo]"
_HTML_CONTENT = frozenset({"main", "article"})
_HTML_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_HTML_INLINE = frozenset(
    (
        *("a", "abbr", "b", "bdi", "bdo", "big", "br", "cite", "code", "data", "del", "dfn", "em", "font", "i", "img"),
        *("ins", "kbd", "label", "mark", "nobr", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup"),
        *("time", "tt", "u", "var", "wbr"),
    )
)
_HTML_MAX_DEPTH = 120


def _extract_html(data: bytes) -> ExtractedDocument:
    tree = LexborHTMLParser(decode_text(data))
    title_node = tree.css_first("title")
    title = clean(title_node.text()) if title_node else ""
    for node in tree.css(_HTML_NOISE):
        node.decompose()
    for node in tree.css(_HTML_CHROME):
        if node.tag == "form":
            keep = node.css_first("main, article, h1, h2, h3") is not None
        else:
            keep = _has_ancestor(node, _HTML_CONTENT)
        if not keep:
            node.decompose()
    blocks = _html_blocks(_html_content_roots(tree))
    if not blocks and tree.body is not None:
        blocks = _html_blocks([tree.body])
    title = title or next((b.text for b in blocks if b.kind == "heading" and b.level == 1), "")
    return ExtractedDocument(title=title or None, blocks=blocks)


def _html_content_roots(tree: LexborHTMLParser) -> list[LexborNode]:
    main = tree.css_first("main, [role=main]")
    if main is not None:
        return [main]
    articles = [node for node in tree.css("article") if not _has_ancestor(node, {"article"})]
    return articles or ([tree.body] if tree.body is not None else [])


def _has_ancestor(node: LexborNode, tags: set[str] | frozenset[str]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag in tags:
            return True
        parent = parent.parent
    return False


def _html_blocks(roots: list[LexborNode]) -> list[Block]:
    walker = _HtmlWalker()
    for root in roots:
        walker.walk(root, 0)
        walker.flush()
    return walker.blocks


class _HtmlWalker:
    """Inline text accumulates until a block-level element starts; text inside list items and headings keeps
    their kind."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.inline: list[str] = []
        self.kind: BlockKind = "paragraph"
        self.level = 0

    def flush(self) -> None:
        if self.inline:
            self.blocks.append(Block(self.kind, clean("".join(self.inline)), level=self.level))
            self.inline = []

    def walk(self, node: LexborNode, depth: int) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag or ""
            if tag == "-text":
                self.inline.append(child.text_content or "")
            elif depth > _HTML_MAX_DEPTH:  # absurdly deep markup: keep its text, not its structure
                self.inline.append(child.text(separator=" "))
            elif tag in _HTML_INLINE:
                self.inline.append(" " if tag == "br" else "")
                self.walk(child, depth + 1)
            elif not tag.startswith("-"):
                self.flush()
                self._block(child, tag, depth)
                self.flush()

    def _block(self, node: LexborNode, tag: str, depth: int) -> None:
        if tag == "tr" and len(cells := [c for c in node.iter() if c.tag in ("td", "th")]) > 1:
            self.blocks.append(Block("table_row", " | ".join(t for c in cells if (t := clean(c.text(separator=" "))))))
        elif tag == "li" or tag in _HTML_HEADINGS:
            outer = self.kind, self.level
            self.kind, self.level = ("list_item", 0) if tag == "li" else ("heading", _HTML_HEADINGS[tag])
            self.walk(node, depth + 1)
            self.flush()
            self.kind, self.level = outer
        else:
            self.walk(node, depth + 1)


# --- Markdown and plain text ---------------------------------------------------------------------------------------

_MD_ATX = re.compile(r"(#{1,6})[ \t]+(.*)")
_LIST_ITEM = re.compile(r"(?:[-*+•‣◦]|\d{1,9}[.)])[ \t]+(.*)")
_MD_LINK = re.compile(r"(!?)\[([^\[\]]{0,500})\]\(([^()\s]{0,2000})(?:[ \t]+\"[^\"]{0,300}\")?\)")
_MD_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]{1,2000})>")
_MD_TABLE_RULE_CHARS = frozenset("|:- \t")


def _extract_markdown(data: bytes) -> ExtractedDocument:
    text, title = _front_matter(decode_text(data))
    parser = _LineParser(markdown=True)
    blocks = parser.parse(text)
    title = title or next((b.text for b in blocks if b.kind == "heading" and b.level == 1), None)
    return ExtractedDocument(title=title, blocks=blocks)


def _extract_text(data: bytes) -> ExtractedDocument:
    return ExtractedDocument(title=None, blocks=_LineParser(markdown=False).parse(decode_text(data)))


def _front_matter(text: str) -> tuple[str, str | None]:
    """Strip a leading YAML front-matter block, keeping its `title:` if it has one."""
    if not text.startswith("---\n"):
        return text, None
    end = text.find("\n---", 3, 16384)
    if end < 0:
        return text, None
    titles = [line[6:].strip(" \"'") for line in text[4:end].splitlines() if line.startswith("title:")]
    return text[end + 4 :], (clean(titles[0]) or None) if titles else None


def _md_inline(text: str) -> str:
    if "](" in text:
        text = _MD_LINK.sub(_md_link, text)
    if "<" in text:
        text = _MD_AUTOLINK.sub(r"\1", text)
    return text.replace("**", "").replace("__", "").replace("`", "")


def _md_link(match: re.Match[str]) -> str:
    """Images become their alt text; links keep their address, which customers may need."""
    image, label, url = match.groups()
    if image or not url.startswith(("http", "mailto:", "tel:")) or url == label:
        return label
    return f"{label} ({url})"


class _LineParser:
    """Line-based Markdown reader (ATX/setext headings, lists, tables, quotes, fences) that degrades to paragraphs
    and bullet lists for plain text. One pass, no backtracking regexes."""

    def __init__(self, *, markdown: bool) -> None:
        self.markdown = markdown
        self.blocks: list[Block] = []
        self.buffer: list[str] = []
        self.kind: BlockKind = "paragraph"
        self.fenced = False

    def parse(self, text: str) -> list[Block]:
        for line in text.splitlines():
            self._feed(line.strip())
        self._flush()
        return self.blocks

    def _flush(self) -> None:
        if self.buffer:
            self._emit(self.kind, " ".join(self.buffer))
        self.buffer, self.kind = [], "paragraph"

    def _emit(self, kind: BlockKind, text: str, level: int = 0) -> None:
        self.blocks.append(Block(kind, clean(_md_inline(text) if self.markdown else text), level=level))

    def _feed(self, line: str) -> None:
        if self.markdown and line.startswith(("```", "~~~")):
            self._flush()
            self.fenced = not self.fenced
        elif self.fenced:
            self.buffer.append(line)
        elif not line:
            self._flush()
        elif not (self.markdown and self._markdown_line(line)):
            if item := _LIST_ITEM.fullmatch(line):
                self._flush()
                self.kind = "list_item"
                line = item.group(1)
            self.buffer.append(line)

    def _markdown_line(self, line: str) -> bool:
        """Handles headings, rules, tables and quotes; False for text that continues or starts a paragraph."""
        compact = line.replace(" ", "")
        if self.buffer and self.kind == "paragraph" and compact in ("=" * len(compact), "-" * len(compact)):
            text, self.buffer = " ".join(self.buffer), []
            self._emit("heading", text, level=1 if compact[0] == "=" else 2)
        elif len(compact) >= 3 and compact[0] in "-*_" and compact == compact[0] * len(compact):
            self._flush()
        elif heading := _MD_ATX.fullmatch(line):
            self._flush()
            self._emit("heading", heading.group(2).rstrip("#").rstrip(), level=len(heading.group(1)))
        elif line.startswith("|"):
            self._flush()
            if not (set(line) <= _MD_TABLE_RULE_CHARS and "-" in line):
                self._emit("table_row", " | ".join(cell.strip() for cell in line.strip("|").split("|")))
        elif line.startswith(">"):
            self._feed(line.lstrip("> \t"))
        else:
            return False
        return True


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


_EXTRACTORS: dict[str, Callable[[bytes], ExtractedDocument]] = {
    "pdf": _extract_pdf,
    "docx": _extract_docx,
    "html": _extract_html,
    "markdown": _extract_markdown,
    "csv": _extract_csv,
    "text": _extract_text,
}
