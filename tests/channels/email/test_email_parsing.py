"""Reading emails: the person's new words only, safe text from HTML, attachments within limits, automated mail
recognised, bounces tied to the email they answer."""

from __future__ import annotations

from parley.channels.email.html import html_to_text
from parley.channels.email.mime import Limits, parse_email
from parley.channels.email.quotes import strip_reply
from tests.channels.email.mail import bounce, plain


def test_plain_email_gives_sender_ids_and_text() -> None:
    parsed = parse_email(plain(in_reply_to="<obx_1@bistro.test>"))
    assert parsed.sender == "ann@example.org"
    assert parsed.sender_name == "Ann Example"
    assert parsed.message_id == "<m1@example.org>"
    assert parsed.in_reply_to == ["<obx_1@bistro.test>"]
    assert parsed.recipients == ["hello@bistro.test"]
    assert parsed.text == "Hello, do you have a table for four on Friday?"
    assert parsed.automated is None and parsed.bounce is None


def test_plain_part_is_preferred_over_html() -> None:
    parsed = parse_email(plain(text="The plain words", html="<p>The <b>HTML</b> words</p>"))
    assert parsed.text == "The plain words"


def test_html_mail_is_reduced_to_safe_text() -> None:
    html = (
        "<html><head><style>p{color:red}</style><title>t</title></head><body>"
        "<p>Hello <b>team</b>,<br>we are <i>six</i> people.</p>"
        "<script>alert('x')</script><div>See <a href='https://evil.example/x'>our menu</a></div>"
        "<ul><li>starter</li><li>main</li></ul><img src='https://tracker.example/p.gif'>"
        "<div class='gmail_quote'>On Mon, Bistro wrote: old text</div></body></html>"
    )
    parsed = parse_email(plain(text="", html=html))
    assert parsed.text == "Hello team,\nwe are six people.\n\nSee our menu\n- starter\n- main"
    for unsafe in ("<", "alert", "color:red", "evil.example", "tracker", "old text"):
        assert unsafe not in parsed.text


def test_html_entities_and_blockquotes() -> None:
    assert html_to_text("<p>Fish &amp; chips&nbsp;please</p><blockquote>quoted</blockquote>") == "Fish & chips please"


def test_quoted_history_is_stripped_gmail_style() -> None:
    text = (
        "Friday at 8 works.\n\nOn Mon, 7 Dec 2026 at 10:00, Bistro <hello@bistro.test> wrote:\n"
        "> We have a table at 8.\n> Best"
    )
    assert strip_reply(text) == "Friday at 8 works."


def test_wrapped_attribution_is_stripped() -> None:
    text = "Yes please.\n\nOn Mon, 7 Dec 2026 at 10:00, Bistro Team <hello@bistro.test>\nwrote:\n\n> old"
    assert strip_reply(text) == "Yes please."


def test_outlook_history_is_stripped() -> None:
    original = "Thanks!\n\n-----Original Message-----\nFrom: Bistro\nSent: Monday\nSubject: Re: table\n\nold text"
    assert strip_reply(original) == "Thanks!"
    header_block = "Thanks!\n\nFrom: Bistro <hello@bistro.test>\nSent: Monday, 7 December 2026 10:00\nTo: Ann\n\nold"
    assert strip_reply(header_block) == "Thanks!"


def test_interleaved_quotes_and_signature_are_removed() -> None:
    text = "> Do you need a high chair?\nYes, one.\n> Any allergies?\nNuts.\n\n-- \nAnn Example\n+44 20 7946 0000"
    assert strip_reply(text) == "Yes, one.\nNuts."


def test_a_line_that_merely_starts_with_on_is_kept() -> None:
    text = "On Friday we will be six.\nThanks"
    assert strip_reply(text) == text


def test_attachments_are_extracted_within_limits() -> None:
    raw = plain(
        attachments=[
            ("menu.pdf", "application/pdf", b"%PDF-1.4 small"),
            ("../../etc/passwd", "text/plain", b"x"),
            ("big.bin", "application/octet-stream", b"0" * 2000),
        ]
    )
    parsed = parse_email(raw, Limits(max_attachments=5, max_attachment_bytes=1000))
    assert [(a.filename, a.content_type, a.data) for a in parsed.attachments] == [
        ("menu.pdf", "application/pdf", b"%PDF-1.4 small"),
        (".._.._etc_passwd", "text/plain", b"x"),
    ]
    assert parsed.attachments_dropped == 1
    assert len(parse_email(raw, Limits(max_attachments=1)).attachments) == 1


def test_automated_mail_is_recognised() -> None:
    assert parse_email(plain(headers={"Auto-Submitted": "auto-replied"})).automated == "auto-submitted: auto-replied"
    assert parse_email(plain(headers={"Precedence": "bulk"})).automated == "precedence: bulk"
    assert parse_email(plain(headers={"List-Id": "<news.example.org>"})).automated == "mailing list"
    assert parse_email(plain(headers={"Return-Path": "<>"})).automated == "empty return-path"
    assert parse_email(plain(headers={"Auto-Submitted": "no"})).automated is None


def test_bounce_names_the_email_that_failed() -> None:
    parsed = parse_email(bounce("<obx_abc@bistro.test>"))
    assert parsed.automated == "bounce"
    assert parsed.bounce is not None
    assert parsed.bounce.original_message_id == "<obx_abc@bistro.test>"
    assert parsed.bounce.recipient == "gone@example.org"
    assert parsed.bounce.status == "5.1.1"


def test_message_without_message_id_gets_a_stable_one() -> None:
    raw = b"From: ann@example.org\r\nSubject: hi\r\n\r\nhello\r\n"
    assert parse_email(raw).message_id == parse_email(raw).message_id
    assert parse_email(raw).message_id != parse_email(raw + b"more").message_id


def test_encoded_headers_and_charsets_are_decoded() -> None:
    raw = (
        b"From: =?utf-8?q?Ren=C3=A9e_M=C3=BCller?= <Renee@Example.org>\r\n"
        b"Subject: =?iso-8859-1?q?R=E9servation_pour_samedi?=\r\n"
        b"Message-ID: <enc@example.org>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Une table pour deux, s'il vous pla=EEt.\r\n"
        b"--b\r\n"
        b'Content-Type: application/pdf; name="=?utf-8?q?men=C3=BC.pdf?="\r\n'
        b'Content-Disposition: attachment; filename="=?utf-8?q?men=C3=BC.pdf?="\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        b"JVBERi0xLjQ=\r\n"
        b"--b--\r\n"
    )
    parsed = parse_email(raw)
    assert parsed.sender == "renee@example.org"
    assert parsed.sender_name == "Renée Müller"
    assert parsed.subject == "Réservation pour samedi"
    assert parsed.text == "Une table pour deux, s'il vous plaît."
    assert [(a.filename, a.data) for a in parsed.attachments] == [("menü.pdf", b"%PDF-1.4")]
