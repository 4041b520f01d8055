import itertools
import re

import pytest

from parley.knowledge.chunking import Chunk, chunk, split_sentences
from parley.knowledge.extract import Block, ExtractedDocument, extract
from parley.knowledge.sniff import sniff
from tests.knowledge.samples import HOLIDAYS, OPENING, make_docx, make_pdf


def sentences(count: int, start: int = 0) -> list[str]:
    return [f"Sentence {i} explains opening rule number {i * 7} for the shop." for i in range(start, start + count)]


def paragraph(count: int, start: int = 0) -> Block:
    return Block("paragraph", " ".join(sentences(count, start)))


def heading(text: str, level: int) -> Block:
    return Block("heading", text, level=level)


def document(*blocks: Block) -> ExtractedDocument:
    return ExtractedDocument(title=None, blocks=list(blocks))


def overlap(previous: Chunk, current: Chunk) -> str:
    """The longest run of leading sentences of `current` that `previous` ends with."""
    ends = [match.start() + 1 for match in re.finditer(r"[.!?]\s", current.text)]
    return max((current.text[:end] for end in ends if previous.text.endswith(current.text[:end])), key=len, default="")


def fresh_part(previous: Chunk, current: Chunk) -> str:
    return current.text[len(overlap(previous, current)) :].lstrip()


def test_each_heading_starts_a_chunk_labelled_with_its_heading_path() -> None:
    chunks = chunk(
        document(
            heading("Opening hours", 1),
            paragraph(2),
            heading("Holidays", 2),
            paragraph(2, 10),
            heading("Summer", 3),
            paragraph(1, 20),
            heading("Parking", 1),
            paragraph(1, 30),
        )
    )
    assert [(c.ordinal, c.heading, c.text) for c in chunks] == [
        (0, "Opening hours", " ".join(sentences(2))),
        (1, "Opening hours > Holidays", " ".join(sentences(2, 10))),
        (2, "Opening hours > Holidays > Summer", " ".join(sentences(1, 20))),
        (3, "Parking", " ".join(sentences(1, 30))),
    ]


def test_text_before_any_heading_has_no_heading_path() -> None:
    assert chunk(document(paragraph(1), heading("Later", 1), paragraph(1, 5)))[0].heading is None


def test_short_paragraphs_are_grouped_up_to_the_target() -> None:
    chunks = chunk(document(*[paragraph(2, i * 2) for i in range(60)]), target_chars=1200, max_chars=2000)
    assert len(chunks) > 3
    assert all(len(c.text) <= 2000 for c in chunks)
    assert all(len(c.text) >= 800 for c in chunks[:-1])
    assert all(overlap(a, b) and len(fresh_part(a, b)) <= 1200 for a, b in itertools.pairwise(chunks))
    assert chunks[0].text.count("\n") >= 5  # paragraphs inside a chunk stay on their own lines


def test_a_paragraph_that_fits_a_chunk_is_never_split() -> None:
    first, second = paragraph(12), paragraph(12, 100)  # each ~730 characters: together over the target
    chunks = chunk(document(first, second), overlap_chars=0)
    assert [c.text for c in chunks] == [first.text, second.text]


def test_chunks_never_end_mid_sentence() -> None:
    all_sentences = set(sentences(400))
    chunks = chunk(document(*[paragraph(40, i * 40) for i in range(10)]), target_chars=500, max_chars=800)
    for piece in chunks:
        assert set(split_sentences(piece.text)) <= all_sentences


def test_consecutive_chunks_overlap_by_whole_trailing_sentences() -> None:
    chunks = chunk(document(paragraph(200)), target_chars=1200, max_chars=2000, overlap_chars=200)
    assert len(chunks) > 5
    for previous, current in itertools.pairwise(chunks):
        repeated = overlap(previous, current)
        assert repeated, "no overlap"
        assert len(repeated) <= 200
        assert split_sentences(repeated) == split_sentences(previous.text)[-len(split_sentences(repeated)) :]
        assert len(current.text) <= 2000


def test_overlap_never_crosses_a_heading() -> None:
    chunks = chunk(document(heading("A", 1), paragraph(40), heading("B", 1), paragraph(3, 100)))
    section_b = [c for c in chunks if c.heading == "B"]
    assert [c.text for c in section_b] == [" ".join(sentences(3, 100))]


def test_overlap_can_be_turned_off() -> None:
    chunks = chunk(document(paragraph(100)), overlap_chars=0)
    assert " ".join(c.text for c in chunks) == paragraph(100).text


def test_each_question_and_answer_is_its_own_intact_chunk() -> None:
    pairs = [Block("qa", f"Q: Question {i}?\nA: Answer {i}. It has two sentences.") for i in range(5)]
    chunks = chunk(document(paragraph(2), *pairs, paragraph(2, 50)))
    assert [c.text for c in chunks] == [paragraph(2).text, *[p.text for p in pairs], paragraph(2, 50).text]


def test_an_oversized_question_and_answer_is_split_repeating_the_question() -> None:
    answer = " ".join(sentences(60))
    chunks = chunk(document(Block("qa", f"Q: What are the rules?\nA: {answer}")), max_chars=1000, target_chars=800)
    assert len(chunks) >= 3
    assert all(c.text.startswith("Q: What are the rules?\n") and len(c.text) <= 1000 for c in chunks)
    assert " ".join(c.text.split("\n", 1)[1] for c in chunks) == f"A: {answer}"


def test_a_giant_single_sentence_is_cut_at_max_chars_on_word_boundaries() -> None:
    words = [f"word{i}" for i in range(1000)]
    chunks = chunk(document(Block("paragraph", " ".join(words))), target_chars=1200, max_chars=2000)
    assert all(len(c.text) <= 2000 for c in chunks)
    assert max(len(c.text) for c in chunks) > 1500
    assert " ".join(c.text for c in chunks).split() == words


def test_a_giant_word_is_cut_hard_at_max_chars() -> None:
    chunks = chunk(document(Block("paragraph", "x" * 5000)), target_chars=1000, max_chars=2000)
    assert [len(c.text) for c in chunks] == [2000, 2000, 1000]


def test_list_items_stay_recognisable() -> None:
    items = [Block("list_item", f"Item {i}.") for i in range(3)]
    assert chunk(document(paragraph(1), *items))[0].text == f"{paragraph(1).text}\n- Item 0.\n- Item 1.\n- Item 2."


def test_a_heading_with_nothing_under_it_is_kept_as_a_chunk() -> None:
    chunks = chunk(document(heading("Menu", 1), heading("Closed on Mondays", 2), heading("Contact", 1), paragraph(1)))
    assert [(c.heading, c.text) for c in chunks] == [
        ("Menu > Closed on Mondays", "Closed on Mondays"),
        ("Contact", paragraph(1).text),
    ]


def test_chunks_remember_the_page_they_start_on() -> None:
    blocks = [Block("paragraph", " ".join(sentences(15, page * 15)), page=page) for page in (1, 2, 3)]
    assert [c.page for c in chunk(document(*blocks), overlap_chars=0)] == [1, 2, 3]


def test_chunking_is_deterministic() -> None:
    doc = extract(make_docx(), "docx")
    assert chunk(doc) == chunk(doc)
    assert [c.heading for c in chunk(doc)] == ["Opening hours", "Opening hours > Holidays", "What we serve"]
    assert chunk(doc)[0].text == OPENING and chunk(doc)[1].text == HOLIDAYS


def test_pathological_punctuation_is_handled_in_linear_time() -> None:
    # Each of these makes a backtracking sentence regex take minutes; here they finish instantly.
    for text in ("." * 200_000, ". " * 100_000, "!" * 100_000 + " end", "a" * 200_000):
        pieces = chunk(document(Block("paragraph", text)), target_chars=1200, max_chars=2000)
        assert all(len(c.text) <= 2000 for c in pieces)


def test_sentence_splitting_respects_abbreviations_quotes_and_other_scripts() -> None:
    text = 'Dr. Martin said "Come at 9.30." Then e.g. coffee! هل أنتم مفتوحون؟ نعم. 我们开门。欢迎\uff01'
    assert split_sentences(text) == [
        'Dr. Martin said "Come at 9.30."',
        "Then e.g. coffee!",
        "هل أنتم مفتوحون؟",
        "نعم.",
        "我们开门。",
        "欢迎\uff01",
    ]


def test_inconsistent_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="target_chars"):
        chunk(document(paragraph(1)), target_chars=3000, max_chars=2000)
    with pytest.raises(ValueError, match="overlap_chars"):
        chunk(document(paragraph(1)), target_chars=500, overlap_chars=500)


def test_a_real_pdf_chunks_along_its_headings_and_pages() -> None:
    pages = [
        [("heading", "Opening hours"), ("paragraph", OPENING)],
        [("subheading", "Holidays"), ("paragraph", HOLIDAYS)],
    ]
    data = make_pdf(pages)
    chunks = chunk(extract(data, sniff(data, "guide.pdf", "application/pdf")))
    assert [(c.heading, c.text, c.page) for c in chunks] == [
        ("Opening hours", OPENING, 1),
        ("Opening hours > Holidays", HOLIDAYS, 2),
    ]
