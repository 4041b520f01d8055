"""HTML: structure comes from tags; scripts, navigation and site chrome are dropped."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser, LexborNode

from parley.knowledge.extract.model import Block, BlockKind, ExtractedDocument, clean
from parley.knowledge.sniff import decode_text

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
