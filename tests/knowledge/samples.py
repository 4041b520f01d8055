"""Factories for real sample documents: PDFs made with fpdf2, Word files with python-docx, ZIPs with zipfile."""

from __future__ import annotations

import io
import zipfile

import docx
from fpdf import FPDF

OPENING = "We are open from nine to five on weekdays. On Saturdays we open at ten and close at four."
PARKING = "Free parking is available behind the building. Ask at the desk for a visitor badge."
HOLIDAYS = "We close on public holidays. During the summer break the shop opens only in the mornings."
FRENCH = "Nous sommes ouverts du lundi au vendredi. Le café est offert à l'accueil, même le week-end."
ARABIC = "نحن مفتوحون من التاسعة إلى الخامسة. هل لديكم موقف للسيارات؟"


def make_pdf(
    pages: list[list[tuple[str, str]]], *, encryption: dict[str, str] | None = None, page_numbers: bool = False
) -> bytes:
    """One page per list; each item is ("heading" | "subheading" | "paragraph", text)."""
    pdf = FPDF()
    pdf.set_auto_page_break(auto=False)
    for number, items in enumerate(pages, start=1):
        pdf.add_page()
        for kind, text in items:
            size = {"heading": 18, "subheading": 14}.get(kind, 11)
            pdf.set_font("Helvetica", "B" if size > 11 else "", size)
            pdf.multi_cell(0, 6 if size == 11 else 10, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(5)
        if page_numbers:
            pdf.set_font("Helvetica", size=9)
            pdf.set_y(-15)
            pdf.cell(0, 10, f"Page {number} of {len(pages)}", align="C")
    if encryption:
        pdf.set_encryption(**encryption)  # type: ignore[arg-type]
    return bytes(pdf.output())


def make_pdf_without_text() -> bytes:
    """What a scanner produces, as far as text extraction is concerned: pages of drawings, no text layer."""
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 120, 80, style="F")
    return bytes(pdf.output())


def make_docx(*, core_title: str | None = None) -> bytes:
    document = docx.Document()
    if core_title:
        document.core_properties.title = core_title
    document.add_paragraph("Café Lune staff guide", style="Title")
    document.add_heading("Opening hours", level=1)
    document.add_paragraph(OPENING)
    document.add_heading("Holidays", level=2)
    document.add_paragraph(HOLIDAYS)
    document.add_heading("What we serve", level=1)
    for item in ("Espresso and filter coffee", "Crème brûlée on Sundays", "Mint tea"):
        document.add_paragraph(item, style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [("Day", "Hours"), ("Monday", "9-17")], strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.add_paragraph(FRENCH)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


HTML_PAGE = """<!DOCTYPE html>
<html lang="fr">
<head>
  <meta charset="utf-8">
  <title>Café Lune — Infos pratiques</title>
  <style>body { color: red; }</style>
  <script>window.tracking = "SECRET-TRACKER";</script>
</head>
<body>
  <header><a href="/">Logo</a> Site header banner</header>
  <nav><ul><li><a href="/menu">Menu link</a></li><li><a href="/contact">Contact link</a></li></ul></nav>
  <main>
    <h1>Informations pratiques</h1>
    <p>Nous sommes ouverts <strong>du lundi au vendredi</strong>. Le café est offert à l'accueil.</p>
    <h2>Accès</h2>
    <ul><li>Métro ligne 4</li><li>Bus 38</li></ul>
    <table><tr><th>Jour</th><th>Horaires</th></tr><tr><td>Samedi</td><td>10h-16h</td></tr></table>
    <form><label>Newsletter</label><input name="email"><button>Subscribe now</button></form>
    <noscript>Enable JavaScript banner</noscript>
  </main>
  <aside>Related posts sidebar</aside>
  <footer>© 2026 Café Lune footer</footer>
</body>
</html>
"""

MARKDOWN = """---
title: Staff handbook
---
# Opening hours

We are open from nine to five. See [our site](https://cafe.example/hours) for **holiday** hours.

Holidays
--------

- Closed on May 1st
- Open on Sundays
  in December

| Day | Hours |
|-----|-------|
| Mon | 9-17 |

```
do not parse # this
```
"""
