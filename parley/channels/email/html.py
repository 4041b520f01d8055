"""HTML mail reduced to safe plain text: no markup survives, scripts and styles are dropped, line breaks and
paragraphs are kept, links keep their text (never their target, which the model must not be led to follow),
and the quoted history mail clients wrap in known containers is cut before the text is made."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

_DROPPED = "script, style, head, title, noscript, template, svg, iframe, object, embed, img, [hidden]"
# Where Gmail, Apple Mail, Thunderbird and Outlook put the message being replied to.
_QUOTED = (
    "blockquote, .gmail_quote, .gmail_extra, .moz-cite-prefix, .yahoo_quoted, #divRplyFwdMsg, "
    "#appendonsend, [type=cite]"
)
_BLOCK = frozenset(
    (
        *("address", "article", "aside", "dd", "div", "dl", "dt", "figcaption", "figure", "footer", "form"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre"),
        *("section", "table", "tr", "ul"),
    )
)
_MAX_DEPTH = 200
_SOFT = "\x00"
_SOFT_BREAKS = re.compile(r"[ \t\u00a0]*\x00[\s\x00]*")
_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def html_to_text(html: str) -> str:
    tree = LexborHTMLParser(html)
    for node in tree.css(_DROPPED):
        node.decompose()
    for node in tree.css(_QUOTED):
        node.decompose()
    root = tree.body or tree.root
    if root is None:
        return ""
    parts: list[str] = []
    _walk(root, parts, 0)
    # A block boundary is a soft break: several in a row (nested divs) make one line break, not blank lines.
    joined = _SOFT_BREAKS.sub(lambda m: "\n\n" if "\n\n" in m[0] else "\n", "".join(parts))
    lines = (_SPACES.sub(" ", line).strip() for line in joined.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _walk(node: LexborNode, parts: list[str], depth: int) -> None:
    for child in node.iter(include_text=True):
        tag = child.tag or ""
        if tag == "-text":
            parts.append((child.text_content or "").replace("\n", " "))
        elif tag == "br":
            parts.append("\n")
        elif tag.startswith("-"):
            continue  # comments
        elif depth > _MAX_DEPTH:  # absurdly deep markup: its text, not its structure
            parts.append(child.text(separator=" "))
        elif tag in _BLOCK:
            parts.append(_SOFT if tag != "p" else "\n\n")
            if tag == "li":
                parts.append("- ")
            _walk(child, parts, depth + 1)
            parts.append(_SOFT if tag != "p" else "\n\n")
        else:
            if tag in ("td", "th"):
                parts.append(" ")
            _walk(child, parts, depth + 1)
