"""Markdown and plain text: one line-based reader, with Markdown markers recognised only for Markdown."""

from __future__ import annotations

import re

from parley.knowledge.extract.model import Block, BlockKind, ExtractedDocument, clean
from parley.knowledge.sniff import decode_text

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
