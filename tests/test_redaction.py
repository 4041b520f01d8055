"""PII redaction: what leaves for an outside model carries placeholders; the person sees their real values."""

from __future__ import annotations

import json

import pytest

from parley.privacy.redaction import Redactor, iban_valid, luhn_valid
from parley.runtime import Runtime
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replies import Reply as FakeReply
from tests.test_engine import _ask, remote_agent

EMAIL = "jane.doe@example.com"
MOBILE = "+33 6 12 34 56 78"
CARD = "4111 1111 1111 1111"
IBAN = "FR76 3000 6000 0112 3456 7890 189"
IP = "203.0.113.9"
PERSONAL = (EMAIL, MOBILE, CARD, IBAN, IP)


def test_each_kind_is_replaced_and_restored():
    text = f"I am {EMAIL}, call {MOBILE}; card {CARD}, IBAN {IBAN}, from {IP} or 2001:db8::1."
    redactor = Redactor()
    redacted = redactor.redact(text)
    assert redacted == (
        "I am [EMAIL_1], call [PHONE_1]; card [CARD_1], IBAN [IBAN_1], from [IP_1] or [IP_2]."
    )  # fmt: skip
    assert redactor.restore(redacted) == text


def test_the_same_value_keeps_its_placeholder_and_numbering_follows_reading_order():
    redactor = Redactor()
    first = redactor.redact(f"write to {EMAIL} or other@example.org")
    again = redactor.redact(f"did you get my mail at {EMAIL.upper()}?")
    assert first == "write to [EMAIL_1] or [EMAIL_2]" and again == "did you get my mail at [EMAIL_1]?"


@pytest.mark.parametrize(
    "ordinary",
    [
        "A table for 4 at 20:30 on 2026-03-12, order 12345.",
        "The card ends in 1111; booking reference 1234 5678; 4111 1111 1111 1112 fails the Luhn check.",
        "Version 1.2.3.4567 and 999.1.1.1 are not addresses.",
        "FR76 3000 6000 0112 3456 7890 188 has a wrong checksum.",
        "Our prices: 12.50, 8.00 and 15.75 euros.",
    ],
)
def test_ordinary_text_and_invalid_lookalikes_survive(ordinary: str):
    assert Redactor().redact(ordinary) == ordinary


def test_national_phone_numbers_need_a_region_or_enough_digits():
    assert Redactor(region="FR").redact("appelez le 06 12 34 56 78") == "appelez le [PHONE_1]"
    assert Redactor().redact("ring 020 7946 0958 please") == "ring [PHONE_1] please"  # nine digits or more


def test_a_phone_like_run_of_digits_is_redacted_even_unrecognised():
    """Erring on the side of the person: nine to thirteen digits written like a phone number go, whatever the
    region; longer runs (mistyped cards, account numbers that fail their checksum) are not phone numbers."""
    assert Redactor().redact("ring 0 800 555 01 99 please") == "ring [PHONE_1] please"
    assert Redactor().redact("card 4111 1111 1111 1112") == "card 4111 1111 1111 1112"


def test_checksums():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82 WEST 1234 5698 7654 33")


def test_a_placeholder_split_across_stream_deltas_is_restored_whole():
    redactor = Redactor()
    redactor.redact(f"{EMAIL} {MOBILE}")
    restorer = redactor.restorer()
    deltas = ["Sure, I will call [PHO", "NE_1] and write to [", "EMAIL_1]. See [1] and [note"]
    shown = [restorer.feed(d) for d in deltas] + [restorer.flush()]
    assert "".join(shown) == f"Sure, I will call {MOBILE} and write to {EMAIL}. See [1] and [note"
    assert not any("[PHO" in part or part.endswith("[") for part in shown[:2])


async def test_the_provider_never_receives_the_raw_values_and_the_person_sees_them(client, runtime: Runtime):
    with FakeOpenAI() as fake:
        base, headers, agent_id = await remote_agent(client, runtime, fake)
        fake.script(FakeReply.text("Thanks! We will call [PHONE_1] and email [EMAIL_1].", chunks=7))
        message = f"Please book for me: {EMAIL}, {MOBILE}, card {CARD}, IBAN {IBAN}, I write from {IP}."
        reply = await _ask(client, base, headers, agent_id, message)
        sent = json.dumps(fake.last.json)
        for value in PERSONAL:
            assert value not in sent, value
        assert "[EMAIL_1]" in sent and "[CARD_1]" in sent and "[IBAN_1]" in sent
        assert reply["reply"] == f"Thanks! We will call {MOBILE} and email {EMAIL}."


async def test_redaction_can_be_switched_off_per_agent(client, runtime: Runtime):
    with FakeOpenAI() as fake:
        base, headers, agent_id = await remote_agent(client, runtime, fake, redact_pii=False)
        fake.script(FakeReply.text("Noted."))
        await _ask(client, base, headers, agent_id, f"My email is {EMAIL}")
        assert EMAIL in json.dumps(fake.last.json)
