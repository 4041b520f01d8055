"""Decide what kind of document an upload is, from its bytes.

The file name and the browser's declared type are not evidence: browsers guess types from extensions, and staff
rename files. Binary formats are recognised by their magic numbers, DOCX by the part inside the ZIP that only Word
documents have, and everything else must decode as text. The name and declared type only break ties between the
text-like kinds (a `.md` file is Markdown, a `.csv` that really has columns is CSV) and make refusals clearer.

Refusals raise `UnsupportedDocument` with a sentence staff can act on.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from typing import Literal

DocumentKind = Literal["pdf", "docx", "html", "markdown", "csv", "text"]

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
# python-docx reads every part of the package into memory, so the declared sizes inside the ZIP are what a
# "zip bomb" would inflate to. zipfile never returns more than an entry's declared size (and fails the CRC check
# if the data lies), so refusing large declarations up front is enough.
MAX_DOCX_XML_BYTES = 64 * 1024 * 1024
MAX_DOCX_TOTAL_BYTES = 256 * 1024 * 1024
MAX_DOCX_ENTRIES = 5000

SUPPORTED = "PDF, Word (.docx), HTML, Markdown, CSV or plain text"
_SAMPLE_CHARS = 64 * 1024


class UnsupportedDocument(ValueError):
    """The upload cannot be read; `reason` is shown to staff as is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# (magic bytes, what staff are told it is). Order matters only where one prefix extends another.
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x7fELF", "a program (ELF executable)"),
    (b"MZ\x90\x00", "a Windows program"),
    (b"\xcf\xfa\xed\xfe", "a macOS program"),
    (b"\xca\xfe\xba\xbe", "a macOS or Java program"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\xfd7zXZ\x00", "an XZ archive"),
    (b"SQLite format 3\x00", "a SQLite database"),
    (b"ID3\x03", "an MP3 audio file"),
    (b"ID3\x04", "an MP3 audio file"),
    (b"OggS", "an Ogg audio file"),
    (b"fLaC", "a FLAC audio file"),
    (b"{\\rtf", "an RTF document (save it as .docx or PDF)"),
    (b"%!PS", "a PostScript file (save it as PDF)"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an old-format Office file (.doc/.xls) or a password-protected Office document; "
        "save it as .docx or PDF without a password",
    ),
)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# Other ZIP-based formats staff are likely to try, identified by a part only they contain.
_ZIP_FORMATS: tuple[tuple[str, str], ...] = (
    ("xl/workbook.xml", "this is an Excel workbook; export the questions and answers as CSV"),
    ("ppt/presentation.xml", "this is a PowerPoint presentation; export it as PDF"),
    ("content.xml", "this is an OpenDocument file; save it as .docx or PDF"),
    ("META-INF/container.xml", "this is an e-book (EPUB); upload it as PDF"),
)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_MAX_CONTROL_RATIO = 0.01
_TOLERATED_CONTROL_CHARS = 4  # a stray NUL or two in a short note is a glitch, not a binary file
_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?([A-Za-z0-9_-]{1,40})", re.IGNORECASE)
_HTML_STRONG = re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.IGNORECASE)
_HTML_WEAK = re.compile(r"<(?:p|div|h[1-6]|ul|ol|li|table|span|a|section|article|main|br|title|meta)[\s/>]", re.I)
_MD_SIGNAL = re.compile(r"^(?:#{1,6}[ \t]+\S|```|~~~|\|.*\|[ \t]*$|(?:={3,}|-{3,})[ \t]*$)|\]\([^()\s]{1,2000}\)", re.M)

_HINT_BY_EXTENSION = {
    "md": "markdown",
    "markdown": "markdown",
    "mdown": "markdown",
    "csv": "csv",
    "tsv": "csv",
    "txt": "text",
    "text": "text",
    "htm": "html",
    "html": "html",
    "docx": "docx",
    "pdf": "pdf",
}
_HINT_BY_TYPE = {
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/csv": "csv",
    "text/tab-separated-values": "csv",
    "application/vnd.ms-excel": "csv",  # what Windows browsers declare for .csv files
    "text/plain": "text",
    "text/html": "html",
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}


def sniff(data: bytes, filename: str | None, declared_type: str | None) -> DocumentKind:
    """The kind of document `data` really is; raises `UnsupportedDocument` when Parley cannot read it."""
    check_size(data)
    hint = _hint(filename, declared_type)
    if data[:1024].lstrip(b"\xef\xbb\xbf\x00 \t\r\n").startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(_ZIP_MAGIC):
        check_docx_archive(data, hint)
        return "docx"
    for magic, description in _BINARY_SIGNATURES:
        if data.startswith(magic):
            raise UnsupportedDocument(f"this is {description}, not a document Parley can read ({SUPPORTED})")
    return _classify_text(decode_text(data), hint)


def check_size(data: bytes) -> None:
    if not data:
        raise UnsupportedDocument("the file is empty")
    if len(data) > MAX_DOCUMENT_BYTES:
        size_mib, limit_mib = len(data) / 2**20, MAX_DOCUMENT_BYTES // 2**20
        raise UnsupportedDocument(f"the file is {size_mib:.1f} MB; documents can be at most {limit_mib} MB")


def decode_text(data: bytes) -> str:
    """Text from UTF-8 (with or without BOM), UTF-16 with BOM, or HTML declaring its charset; else refuse."""
    if data.startswith(codecs.BOM_UTF8):
        text = _decode(data[len(codecs.BOM_UTF8) :], "utf-8")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _decode(data, "utf-16")
    else:
        text = _decode(data, "utf-8") or _decode(data, _declared_html_charset(data))
    if text is None and not _is_binary(data[:_SAMPLE_CHARS].decode("latin-1")):
        raise UnsupportedDocument("this text file is not UTF-8 encoded; save it as UTF-8 and upload it again")
    if text is None or _is_binary(text):
        raise UnsupportedDocument(f"this is binary data, not a supported document type ({SUPPORTED})")
    return text


def _is_binary(text: str) -> bool:
    return len(_CONTROL_CHARS.findall(text)) > max(_TOLERATED_CONTROL_CHARS, len(text) * _MAX_CONTROL_RATIO)


def csv_delimiter(text: str) -> str | None:
    """The delimiter that splits the start of `text` into 2+ columns on every row, if one does."""
    sample = text[:_SAMPLE_CHARS]
    truncated = len(text) > len(sample)
    for delimiter in (",", ";", "\t"):
        rows = _sample_rows(sample, delimiter, truncated)
        if len(rows) >= 2 and len(rows[0]) >= 2 and all(len(row) == len(rows[0]) for row in rows):
            return delimiter
    return None


def _decode(data: bytes, encoding: str | None) -> str | None:
    if encoding is None:
        return None
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _declared_html_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


def _hint(filename: str | None, declared_type: str | None) -> str | None:
    if filename and "." in filename:
        extension = filename.rsplit(".", 1)[1].strip().lower()
        if extension in _HINT_BY_EXTENSION:
            return _HINT_BY_EXTENSION[extension]
    if declared_type:
        return _HINT_BY_TYPE.get(declared_type.split(";", 1)[0].strip().lower())
    return None


def check_docx_archive(data: bytes, hint: str | None = None) -> None:
    """Refuse ZIPs that are not Word documents, and Word documents that would inflate to too much data."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
        raise UnsupportedDocument("this ZIP or Word file is damaged and cannot be opened") from exc
    by_name = {entry.filename: entry for entry in entries}
    document = by_name.get("word/document.xml")
    if document is None:
        raise UnsupportedDocument(_zip_reason(by_name, hint))
    too_many = len(entries) > MAX_DOCX_ENTRIES
    if too_many or document.file_size > MAX_DOCX_XML_BYTES or sum(e.file_size for e in entries) > MAX_DOCX_TOTAL_BYTES:
        raise UnsupportedDocument("this Word document would expand to too much data to read safely")


def _zip_reason(entries: dict[str, zipfile.ZipInfo], hint: str | None) -> str:
    for part, reason in _ZIP_FORMATS:
        if part in entries:
            return reason
    if hint == "docx":
        return "this looks like a ZIP archive, not a Word document"
    return "this is a ZIP archive; upload the documents inside it one at a time"


def _classify_text(text: str, hint: str | None) -> DocumentKind:
    sample = text[:_SAMPLE_CHARS]
    head = sample[:4096].lstrip()
    if _HTML_STRONG.search(head) or (hint not in ("markdown", "csv") and _looks_like_markup(head)):
        return "html"
    if head.startswith(("<?xml", "<svg")):
        raise UnsupportedDocument(f"this is an XML file, not a document Parley can read ({SUPPORTED})")
    if hint == "markdown":
        return "markdown"
    delimiter = csv_delimiter(text)
    if delimiter and (hint == "csv" or _has_short_header(sample, delimiter)):
        return "csv"
    if _MD_SIGNAL.search(sample):
        return "markdown"
    return "text"


def _looks_like_markup(head: str) -> bool:
    return head.startswith("<") and len(_HTML_WEAK.findall(head)) >= 2


def _has_short_header(sample: str, delimiter: str) -> bool:
    # Without a .csv name, prose with one comma per line could pass as two columns; a header row of short
    # labels is what real spreadsheets export.
    header = _sample_rows(sample, delimiter, truncated=False)[0]
    return all(0 < len(cell.strip()) <= 40 and not cell.strip().endswith(".") for cell in header)


def _sample_rows(sample: str, delimiter: str, truncated: bool) -> list[list[str]]:
    try:
        rows = [row for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if any(c.strip() for c in row)]
    except csv.Error:
        return []
    # A cut sample ends mid-row (maybe mid-quote): its last row says nothing about the column count.
    return rows[:-1] if truncated and len(rows) > 2 else rows
