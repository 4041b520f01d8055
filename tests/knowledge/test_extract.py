import codecs

import pytest

from parley.knowledge import sniff as sniff_module
from parley.knowledge.extract import Block, ExtractedDocument, extract
from parley.knowledge.sniff import UnsupportedDocument
from tests.knowledge.samples import (
    ARABIC,
    FRENCH,
    HOLIDAYS,
    HTML_PAGE,
    MARKDOWN,
    OPENING,
    PARKING,
    make_docx,
    make_pdf,
    make_pdf_without_text,
    make_zip,
)

GUIDE_PAGES = [
    [("heading", "Opening hours"), ("paragraph", OPENING), ("paragraph", PARKING)],
    [("subheading", "Holidays"), ("paragraph", HOLIDAYS), ("paragraph", "Crème brûlée is served on Sundays.")],
]


def refusal(data: bytes, kind: str) -> str:
    with pytest.raises(UnsupportedDocument) as caught:
        extract(data, kind)
    return caught.value.reason


def kinds(document: ExtractedDocument) -> list[tuple[str, str, int]]:
    return [(block.kind, block.text, block.level) for block in document.blocks]


def full_text(document: ExtractedDocument) -> str:
    return "\n".join(block.text for block in document.blocks)


# --- PDF ---


def test_pdf_keeps_headings_by_font_size_and_paragraphs_by_spacing() -> None:
    document = extract(make_pdf(GUIDE_PAGES), "pdf")
    assert kinds(document) == [
        ("heading", "Opening hours", 1),
        ("paragraph", OPENING, 0),
        ("paragraph", PARKING, 0),
        ("heading", "Holidays", 2),
        ("paragraph", HOLIDAYS, 0),
        ("paragraph", "Crème brûlée is served on Sundays.", 0),
    ]
    assert document.title == "Opening hours"


def test_pdf_blocks_know_their_page() -> None:
    document = extract(make_pdf(GUIDE_PAGES), "pdf")
    assert {block.text: block.page for block in document.blocks}[HOLIDAYS] == 2
    assert {block.text: block.page for block in document.blocks}[OPENING] == 1


def test_pdf_paragraph_wrapped_over_many_lines_reads_as_one_paragraph() -> None:
    long_paragraph = " ".join([OPENING, PARKING, HOLIDAYS] * 3)
    document = extract(make_pdf([[("paragraph", long_paragraph)]]), "pdf")
    assert kinds(document) == [("paragraph", long_paragraph, 0)]


def test_pdf_page_numbers_are_left_out() -> None:
    document = extract(make_pdf(GUIDE_PAGES, page_numbers=True), "pdf")
    assert "Page 1 of 2" not in full_text(document)
    assert OPENING in full_text(document)


def test_pdf_without_a_text_layer_is_refused_as_needing_ocr() -> None:
    assert refusal(make_pdf_without_text(), "pdf") == "no text found; scanned PDFs need OCR, which Parley does not do"


def test_password_protected_pdf_is_refused() -> None:
    locked = make_pdf(GUIDE_PAGES, encryption={"owner_password": "owner", "user_password": "secret"})
    assert refusal(locked, "pdf") == "this PDF is password-protected; upload a copy without a password"


def test_pdf_encrypted_only_against_editing_is_read() -> None:
    restricted = make_pdf(GUIDE_PAGES, encryption={"owner_password": "owner"})
    assert OPENING in full_text(extract(restricted, "pdf"))


def test_truncated_pdf_is_refused_as_damaged() -> None:
    pdf = make_pdf(GUIDE_PAGES)
    assert refusal(pdf[: len(pdf) // 3], "pdf") == "this PDF is damaged and cannot be read"


# --- DOCX ---


def test_docx_keeps_heading_levels_paragraphs_lists_and_tables() -> None:
    document = extract(make_docx(), "docx")
    assert kinds(document) == [
        ("heading", "Opening hours", 1),
        ("paragraph", OPENING, 0),
        ("heading", "Holidays", 2),
        ("paragraph", HOLIDAYS, 0),
        ("heading", "What we serve", 1),
        ("list_item", "Espresso and filter coffee", 0),
        ("list_item", "Crème brûlée on Sundays", 0),
        ("list_item", "Mint tea", 0),
        ("table_row", "Day | Hours", 0),
        ("table_row", "Monday | 9-17", 0),
        ("paragraph", FRENCH, 0),
    ]


def test_docx_title_comes_from_properties_then_the_title_style() -> None:
    assert extract(make_docx(), "docx").title == "Café Lune staff guide"
    assert extract(make_docx(core_title="Guide 2026"), "docx").title == "Guide 2026"


def test_corrupt_docx_is_refused_as_damaged() -> None:
    broken = make_zip({"[Content_Types].xml": b"<Types", "word/document.xml": b"<w:document><oops"})
    assert refusal(broken, "docx") == "this Word document is damaged or is not a real .docx file"


# --- HTML ---


def test_html_keeps_main_content_and_drops_navigation_scripts_and_forms() -> None:
    document = extract(HTML_PAGE.encode(), "html")
    assert kinds(document) == [
        ("heading", "Informations pratiques", 1),
        ("paragraph", "Nous sommes ouverts du lundi au vendredi. Le café est offert à l'accueil.", 0),
        ("heading", "Accès", 2),
        ("list_item", "Métro ligne 4", 0),
        ("list_item", "Bus 38", 0),
        ("table_row", "Jour | Horaires", 0),
        ("table_row", "Samedi | 10h-16h", 0),
    ]
    assert document.title == "Café Lune — Infos pratiques"


def test_html_without_main_reads_the_body_without_its_noise() -> None:
    page = b"<html><body><nav>Menu link</nav><div><h1>Hours</h1>Open <em>daily</em>.<p>Closed in August.</p></div>"
    document = extract(page + b"<footer>Footer text</footer><script>x()</script></body></html>", "html")
    assert kinds(document) == [
        ("heading", "Hours", 1),
        ("paragraph", "Open daily.", 0),
        ("paragraph", "Closed in August.", 0),
    ]
    assert document.title == "Hours"


def test_html_in_a_declared_legacy_charset_is_decoded() -> None:
    page = '<html><head><meta charset="iso-8859-1"></head><body><p>Crème brûlée à volonté.</p></body></html>'
    assert full_text(extract(page.encode("latin-1"), "html")) == "Crème brûlée à volonté."


# --- Markdown and text ---


def test_markdown_keeps_headings_lists_tables_and_link_targets() -> None:
    document = extract(MARKDOWN.encode(), "markdown")
    assert kinds(document) == [
        ("heading", "Opening hours", 1),
        ("paragraph", "We are open from nine to five. See our site (https://cafe.example/hours) for holiday hours.", 0),
        ("heading", "Holidays", 2),
        ("list_item", "Closed on May 1st", 0),
        ("list_item", "Open on Sundays in December", 0),
        ("table_row", "Day | Hours", 0),
        ("table_row", "Mon | 9-17", 0),
        ("paragraph", "do not parse # this", 0),
    ]
    assert document.title == "Staff handbook"


def test_text_keeps_arabic_and_french_and_splits_paragraphs_on_blank_lines() -> None:
    text = f"{ARABIC}\n\n{FRENCH[:40]}\n{FRENCH[40:]}\n\n- first point\n- second point\n"
    document = extract(text.encode(), "text")
    assert kinds(document) == [
        ("paragraph", ARABIC, 0),
        ("paragraph", FRENCH[:40].strip() + " " + FRENCH[40:].strip(), 0),
        ("list_item", "first point", 0),
        ("list_item", "second point", 0),
    ]
    assert document.title is None


def test_utf16_text_with_bom_is_read() -> None:
    assert full_text(extract(f"{ARABIC}\n\n{FRENCH}".encode("utf-16"), "text")) == f"{ARABIC}\n{FRENCH}"


def test_whitespace_is_normalised_and_invisible_characters_removed() -> None:
    messy = codecs.BOM_UTF8 + "Caf\u00e9\u00a0\u00a0au   lait,\tzero\u200bwidth\x00 and e\u0301 decomposed.".encode()
    assert full_text(extract(messy, "text")) == "Café au lait, zerowidth and é decomposed."


def test_empty_text_is_refused_as_having_no_text() -> None:
    assert refusal(b"  \n\n \t\n", "text") == "no text found in this document"


# --- CSV of questions and answers ---


def test_csv_rows_become_question_answer_blocks() -> None:
    rows = 'Question,Answer,Category\n"When do you open?","At nine,\nevery day.",hours\nIs there parking?,Yes,access\n'
    document = extract(rows.encode(), "csv")
    assert document.blocks == [
        Block("qa", "Q: When do you open?\nA: At nine, every day."),
        Block("qa", "Q: Is there parking?\nA: Yes"),
    ]


def test_french_csv_with_semicolons_and_accented_headers_is_read() -> None:
    rows = "Réponse;QUESTION\nRue de la Paix, à Paris.;Où êtes-vous ?\nOui, le samedi.;Livrez-vous ?\n"
    document = extract(rows.encode(), "csv")
    assert [block.text for block in document.blocks] == [
        "Q: Où êtes-vous ?\nA: Rue de la Paix, à Paris.",
        "Q: Livrez-vous ?\nA: Oui, le samedi.",
    ]


def test_csv_with_q_and_a_headers_skips_rows_missing_an_answer() -> None:
    document = extract(b"q,a\nOpen on Sunday?,No.\nDogs allowed?,\n", "csv")
    assert [block.text for block in document.blocks] == ["Q: Open on Sunday?\nA: No."]


def test_csv_without_question_and_answer_columns_says_which_headers_are_expected() -> None:
    reason = refusal(b"name,price\nEspresso,2.50\nLatte,3.80\n", "csv")
    assert reason.startswith("this CSV has no question and answer columns (its columns: 'name', 'price')")
    assert "'question' column and an 'answer' column" in reason
    assert "réponse" in reason


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown document kind"):
        extract(b"hello", "xlsx")


def test_pdf_words_hyphenated_across_lines_are_rejoined() -> None:
    document = extract(make_pdf([[("paragraph", "We share informa-\ntion about well-\nKnown dishes daily.")]]), "pdf")
    assert full_text(document) == "We share information about well- Known dishes daily."


def test_deeply_nested_html_keeps_its_text_without_crashing() -> None:
    page = (
        "<html><body>" + "<div>" * 3000 + "<p>Deep fact.</p>" + "</div>" * 3000 + "<p>Shallow fact.</p></body></html>"
    )
    assert full_text(extract(page.encode(), "html")) == "Deep fact.\nShallow fact."


def test_docx_bomb_is_refused_even_without_sniffing_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sniff_module, "MAX_DOCX_XML_BYTES", 1024 * 1024)
    bomb = make_zip({"word/document.xml": b"\x00" * (2 * 1024 * 1024)})
    assert refusal(bomb, "docx") == "this Word document would expand to too much data to read safely"


def test_html_articles_are_read_when_there_is_no_main() -> None:
    page = b"<html><body><div class=menu>Menu noise</div><article><h2>Hours</h2><p>Nine to five.</p></article></body>"
    assert kinds(extract(page + b"</html>", "html")) == [("heading", "Hours", 2), ("paragraph", "Nine to five.", 0)]


def test_html_article_header_is_content_but_the_site_header_is_not() -> None:
    page = "<html><body><header>Site banner</header><article><header><h1>Our menu</h1></header><p>Soup.</p></article>"
    assert kinds(extract(page.encode(), "html")) == [("heading", "Our menu", 1), ("paragraph", "Soup.", 0)]


def test_html_page_wrapped_in_one_form_is_still_read() -> None:
    page = '<html><body><form id="aspnetForm"><h1>Hours</h1><p>Nine to <b>five</b>.</p><input name="q"></form></body>'
    assert kinds(extract(page.encode(), "html")) == [("heading", "Hours", 1), ("paragraph", "Nine to five.", 0)]
