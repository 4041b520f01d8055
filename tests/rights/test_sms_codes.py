"""Codes by text message, through the official Twilio library against a local fake of Twilio's REST API."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from parley.runtime import Runtime
from tests.channels.widget.support import make_widget_agent
from tests.fakes.twilio_sms_fake import FakeTwilioSms
from tests.privacy_support import chat_in, say


@pytest.fixture
def twilio(runtime: Runtime) -> Iterator[FakeTwilioSms]:
    with FakeTwilioSms() as fake:
        runtime.settings = runtime.settings.model_copy(
            update={
                "twilio_account_sid": fake.account_sid,
                "twilio_auth_token": SecretStr(fake.auth_token),
                "twilio_from_number": "+15005550006",
                "twilio_api_base": fake.base_url,
            }
        )
        yield fake


async def test_a_whatsapp_customer_proves_their_number_by_sms_and_files_a_request(
    client, runtime: Runtime, twilio: FakeTwilioSms
):
    agent = await make_widget_agent(client, runtime)
    base = f"/api/v1/orgs/{agent.org_id}"
    chat = await chat_in(runtime, base, agent.headers, agent.org_id, agent.agent_id, phone="+33612345678")
    await say(runtime, chat, "Hello from WhatsApp")
    page = f"/privacy/{agent.org_id}/requests"
    assert "<option value=phone>text message</option>" in (await client.get(page)).text
    sent = await client.post(
        f"{page}/codes", json={"kind": "access", "channel": "phone", "identifier": "+33 6 12 34 56 78"}
    )
    assert sent.status_code == 201, sent.text
    assert [(s.to, s.from_) for s in twilio.sent] == [("+33612345678", "+15005550006")]
    code = re.search(r"is (\d{6})", twilio.sent[0].body)
    assert code
    filed = await client.post(
        page, json={"challenge_id": sent.json()["challenge_id"], "identifier": "+33612345678", "code": code.group(1)}
    )
    assert filed.status_code == 201, filed.text
    request = (await client.get(f"{base}/privacy/requests/{filed.json()['request_id']}", headers=agent.headers)).json()
    assert request["contact_id"] == chat.contact_id
    assert request["events"][1]["evidence"]["method"] == "phone_code"


async def test_a_number_twilio_refuses_is_a_clear_error_and_stores_no_code(
    client, runtime: Runtime, twilio: FakeTwilioSms
):
    agent = await make_widget_agent(client, runtime)
    twilio.invalid_numbers.add("+33600000000")
    page = f"/privacy/{agent.org_id}/requests"
    refused = await client.post(
        f"{page}/codes", json={"kind": "access", "channel": "phone", "identifier": "+33600000000"}
    )
    assert refused.status_code == 422 and "cannot receive text messages" in refused.text
    assert twilio.sent == []
    bad_format = await client.post(f"{page}/codes", json={"kind": "access", "channel": "phone", "identifier": "0612"})
    assert bad_format.status_code == 422 and "international format" in bad_format.text


async def test_without_a_provider_codes_by_sms_are_refused(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    refused = await client.post(
        f"/privacy/{agent.org_id}/requests/codes",
        json={"kind": "access", "channel": "phone", "identifier": "+33612345678"},
    )
    assert refused.status_code == 422 and "use e-mail" in refused.text
    assert "text message" not in (await client.get(f"/privacy/{agent.org_id}/requests")).text
