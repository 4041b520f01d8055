import codecs
import random

import pytest

from parley.knowledge import sniff as sniff_module
from parley.knowledge.sniff import MAX_DOCUMENT_BYTES, UnsupportedDocument, sniff
from tests.knowledge.samples import ARABIC, FRENCH, HTML_PAGE, MARKDOWN, OPENING, make_docx, make_pdf, make_zip

PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00"
ELF_HEADER = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + b"\x00" * 40


def refusal(data: bytes, filename: str | None = None, declared_type: str | None = None) -> str:
    with pytest.raises(UnsupportedDocument) as caught:
        sniff(data, filename, declared_type)
    assert str(caught.value) == caught.value.reason
    return caught.value.reason


def test_pdf_is_recognised_by_content_whatever_its_name_says() -> None:
    assert sniff(make_pdf([[("paragraph", OPENING)]]), "notes.txt", "text/plain") == "pdf"


def test_docx_is_recognised_by_the_word_document_inside_the_zip() -> None:
    assert sniff(make_docx(), "guide.bin", "application/octet-stream") == "docx"


def test_zip_renamed_to_docx_is_refused_as_a_zip_archive() -> None:
    archive = make_zip({"notes.txt": b"hello"})
    assert refusal(archive, "guide.docx", None) == "this looks like a ZIP archive, not a Word document"


def test_plain_zip_is_refused_with_advice_to_upload_its_documents() -> None:
    assert "upload the documents inside it one at a time" in refusal(make_zip({"a.txt": b"hello"}), "docs.zip")


def test_excel_workbook_is_refused_with_advice_to_export_csv() -> None:
    workbook = make_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
    assert "export the questions and answers as CSV" in refusal(workbook, "faq.xlsx")


def test_docx_that_would_inflate_past_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sniff_module, "MAX_DOCX_XML_BYTES", 1024 * 1024)
    bomb = make_zip({"word/document.xml": b"\x00" * (2 * 1024 * 1024)})
    assert len(bomb) < 10_000
    assert refusal(bomb, "bomb.docx") == "this Word document would expand to too much data to read safely"


def test_damaged_zip_is_refused_as_damaged() -> None:
    assert "damaged" in refusal(b"PK\x03\x04" + b"\x00" * 64, "guide.docx")


def test_png_is_refused_as_an_image_even_when_declared_as_text() -> None:
    reason = refusal(PNG_HEADER, "menu.txt", "text/plain")
    assert reason.startswith("this is a PNG image, not a document Parley can read")


def test_elf_executable_is_refused_as_a_program() -> None:
    assert refusal(ELF_HEADER, "guide.pdf").startswith("this is a program (ELF executable)")


def test_old_word_format_is_refused_with_advice_to_save_as_docx() -> None:
    assert "save it as .docx or PDF" in refusal(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "guide.doc")


def test_random_binary_is_refused_as_binary_data() -> None:
    noise = random.Random(7).randbytes(4096)
    assert refusal(noise, "data.txt").startswith("this is binary data, not a supported document type")


def test_oversized_input_is_refused_with_the_limit() -> None:
    reason = refusal(b"a" * (MAX_DOCUMENT_BYTES + 1), "big.txt")
    assert reason == "the file is 20.0 MB; documents can be at most 20 MB"


def test_empty_file_is_refused() -> None:
    assert refusal(b"", "empty.txt") == "the file is empty"


def test_latin1_text_is_refused_with_advice_to_save_as_utf8() -> None:
    reason = refusal("Crème brûlée à volonté, café offert.".encode("latin-1"), "menu.txt")
    assert reason == "this text file is not UTF-8 encoded; save it as UTF-8 and upload it again"


def test_html_is_recognised_from_markup_whatever_its_name() -> None:
    assert sniff(HTML_PAGE.encode(), "page.txt", "text/plain") == "html"
    assert sniff(b"<div><p>Opening hours</p><p>Nine to five.</p></div>", None, None) == "html"


def test_svg_is_refused_not_read_as_html() -> None:
    assert "XML file" in refusal(b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "logo.svg")


def test_markdown_is_recognised_from_its_headings_without_a_name() -> None:
    assert sniff(MARKDOWN.encode(), None, None) == "markdown"


def test_md_extension_makes_plain_text_markdown() -> None:
    assert sniff(OPENING.encode(), "hours.md", None) == "markdown"
    assert sniff(OPENING.encode(), None, "text/markdown; charset=utf-8") == "markdown"


def test_prose_is_text() -> None:
    assert sniff(f"{OPENING}\n\n{FRENCH}\n".encode(), "notes.txt", None) == "text"


def test_prose_with_one_comma_per_line_is_not_mistaken_for_csv() -> None:
    prose = "Hello, and welcome to the shop.\nWe open at nine, every day.\nParking is free, behind the building.\n"
    assert sniff(prose.encode(), None, None) == "text"


def test_csv_named_file_with_consistent_columns_is_csv() -> None:
    rows = 'question,answer\n"When do you open?","At nine, every day."\n"Is there parking?",Yes\n'
    assert sniff(rows.encode(), "faq.csv", "text/csv") == "csv"


def test_semicolon_csv_from_french_excel_is_csv() -> None:
    rows = "Question;Réponse\nOù êtes-vous ?;Rue de la Paix, Paris\nLivrez-vous ?;Oui, le samedi\n"
    assert sniff(rows.encode(), "faq.csv", "application/vnd.ms-excel") == "csv"


def test_csv_is_recognised_by_its_header_row_without_a_name() -> None:
    assert sniff(b"q,a\nWhen do you open?,At nine.\nParking?,Behind the shop.\n", None, None) == "csv"


def test_csv_named_file_without_consistent_columns_falls_back_to_text() -> None:
    ragged = "Our story, in short\nWe started in 1999, in Lyon, with one oven.\nToday we bake daily.\n"
    assert sniff(ragged.encode(), "story.csv", "text/csv") == "text"


def test_utf8_text_with_arabic_and_french_is_text() -> None:
    assert sniff(f"{ARABIC}\n\n{FRENCH}\n".encode(), "notes.txt", None) == "text"


def test_utf8_with_bom_and_utf16_with_bom_are_text() -> None:
    assert sniff(codecs.BOM_UTF8 + FRENCH.encode(), "notes.txt", None) == "text"
    assert sniff(f"{ARABIC}\n{FRENCH}".encode("utf-16"), "notes.txt", None) == "text"
    assert sniff(codecs.BOM_UTF16_BE + FRENCH.encode("utf-16-be"), None, None) == "text"


def test_text_full_of_control_characters_is_refused_as_binary() -> None:
    assert "binary data" in refusal(b"abc\x01\x02\x03def\x04\x05" * 50, "notes.txt")
