"""The rules around requests: deadlines, extensions, restriction, code limits, tenant isolation."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

from parley.kit.clock import FrozenClock
from parley.kit.reconcilers import run_once
from parley.rights.deadlines import add_months
from parley.runtime import Runtime
from tests.channels.widget.support import QUESTION, make_widget_agent, new_visitor
from tests.factories import bearer, make_org, make_token, raw_scalars
from tests.privacy_support import chat_in, say
from tests.rights.support import mails_to


def test_the_deadline_is_one_calendar_month():
    assert add_months(datetime(2026, 1, 31, 10, tzinfo=UTC), 1) == datetime(2026, 2, 28, 10, tzinfo=UTC)
    assert add_months(datetime(2028, 1, 31, tzinfo=UTC), 1) == datetime(2028, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 15, tzinfo=UTC), 2) == datetime(2027, 1, 15, tzinfo=UTC)


async def test_a_restricted_visitor_gets_no_ai_reply_and_staff_see_why(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    visitor = await new_visitor(client, agent)
    assert (await client.post(f"{agent.api}/messages", json={"text": QUESTION}, headers=visitor)).status_code == 200
    filed = await client.post(f"{agent.api}/privacy/requests", json={"kind": "restriction"}, headers=visitor)
    assert filed.status_code == 201, filed.text
    anonymous = {"origin": visitor["origin"]}
    refused = await client.post(f"{agent.api}/privacy/requests", json={"kind": "restriction"}, headers=anonymous)
    assert refused.status_code == 404  # the widget answers a missing or wrong secret as "not found"
    base = f"/api/v1/orgs/{agent.org_id}/privacy/requests/{filed.json()['request_id']}"
    done = await client.post(f"{base}/fulfil", json={"ground": "accuracy"}, headers=agent.headers)
    assert done.status_code == 200 and done.json()["outcome"] == {"restricted": True, "ground": "accuracy"}
    assert done.json()["events"][1]["evidence"]["method"] == "visitor_secret"

    await client.post(f"{agent.api}/messages", json={"text": "And on Sunday?"}, headers=visitor)
    history = (await client.get(f"{agent.api}/conversation", headers=visitor)).json()["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user"]
    reasons = await raw_scalars(runtime, agent.org_id, "SELECT attention_reason FROM conversations")
    assert "restricted" in str(reasons[0])


async def test_an_unanswered_request_is_flagged_and_admins_are_emailed_once(
    client, runtime: Runtime, clock: FrozenClock
):
    agent = await make_widget_agent(client, runtime)
    visitor = await new_visitor(client, agent)
    filed = await client.post(f"{agent.api}/privacy/requests", json={"kind": "access"}, headers=visitor)
    url = f"/api/v1/orgs/{agent.org_id}/privacy/requests/{filed.json()['request_id']}"
    owners = await raw_scalars(runtime, agent.org_id, "SELECT to_address FROM outbox")
    assert owners == []
    clock.advance(days=25)
    await run_once(runtime)
    assert (await client.get(url, headers=agent.headers)).json()["deadline_flag"] == "soon"
    clock.advance(days=10)
    await run_once(runtime)
    await run_once(runtime)
    request = (await client.get(url, headers=agent.headers)).json()
    assert request["deadline_flag"] == "overdue"
    subjects = [str(s) for s in await raw_scalars(runtime, agent.org_id, "SELECT subject FROM outbox")]
    assert sum("overdue" in s for s in subjects) == 1 and sum("due soon" in s for s in subjects) == 1
    assert [e["evidence"].get("deadline") for e in request["events"]][-2:] == ["soon", "overdue"]


async def test_an_extension_needs_a_reason_and_is_at_most_two_months(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    base = f"/api/v1/orgs/{agent.org_id}/privacy/requests"
    contact = await client.post(
        base, json={"kind": "access", "identifier": {"kind": "email", "value": "x@example.org"}}, headers=agent.headers
    )
    assert contact.status_code == 201, contact.text
    url = f"{base}/{contact.json()['id']}/extend"
    assert (await client.post(url, json={"months": 1}, headers=agent.headers)).status_code == 422
    assert (await client.post(url, json={"months": 1, "reason": "  "}, headers=agent.headers)).status_code == 422
    reason = "Complex request spanning five years of records"
    extended = await client.post(url, json={"months": 2, "reason": reason}, headers=agent.headers)
    assert extended.status_code == 200, extended.text
    assert extended.json()["extended_due_at"].startswith("2026-04-05")
    assert extended.json()["extension_reason"] == reason and extended.json()["status"] == "extended"
    again = await client.post(url, json={"months": 1, "reason": reason}, headers=agent.headers)
    assert again.status_code == 422


async def test_wrong_codes_are_limited_and_so_are_codes_per_address(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    email = "guess@example.org"
    page = f"/privacy/{agent.org_id}/requests"
    sent = await client.post(f"{page}/codes", json={"kind": "access", "identifier": email})
    assert sent.status_code == 201
    code = (await mails_to(runtime, agent.org_id, email))[-1].split(" is ")[1][:6]
    wrong = "000000" if code != "000000" else "111111"
    attempt = {"challenge_id": sent.json()["challenge_id"], "identifier": email}
    for _ in range(runtime.settings.rights_code_attempts):
        assert (await client.post(page, json={**attempt, "code": wrong})).status_code == 422
    assert (await client.post(page, json={**attempt, "code": code})).status_code == 429
    for _ in range(runtime.settings.rights_codes_per_identifier_hour - 1):
        assert (await client.post(f"{page}/codes", json={"kind": "access", "identifier": email})).status_code == 201
    flooded = await client.post(f"{page}/codes", json={"kind": "access", "identifier": email})
    assert flooded.status_code == 429 and "retry-after" in flooded.headers
    stored = [str(v) for v in await raw_scalars(runtime, agent.org_id, "SELECT code_hash FROM privacy_challenges")]
    assert code not in stored and all(len(h) == 64 for h in stored)


async def test_requests_are_invisible_to_other_organisations(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    visitor = await new_visitor(client, agent)
    filed = await client.post(f"{agent.api}/privacy/requests", json={"kind": "erasure"}, headers=visitor)
    request_id = filed.json()["request_id"]
    other = await make_org(runtime)
    headers = bearer((await make_token(runtime, other.id, "owner"))[1])
    for url in (
        f"/api/v1/orgs/{other.id}/privacy/requests/{request_id}",
        f"/api/v1/orgs/{agent.org_id}/privacy/requests",
    ):
        assert (await client.get(url, headers=headers)).status_code == 404
    assert (await client.get(f"/api/v1/orgs/{other.id}/privacy/requests", headers=headers)).json()["requests"] == []
    email = "iso@example.org"
    sent = await client.post(f"/privacy/{agent.org_id}/requests/codes", json={"kind": "access", "identifier": email})
    code = (await mails_to(runtime, agent.org_id, email))[-1].split(" is ")[1][:6]
    crossed = await client.post(
        f"/privacy/{other.id}/requests",
        json={"challenge_id": sent.json()["challenge_id"], "identifier": email, "code": code},
    )
    assert crossed.status_code == 404


async def test_an_objection_to_ai_processing_stops_the_assistant(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    visitor = await new_visitor(client, agent)
    await client.post(f"{agent.api}/messages", json={"text": QUESTION}, headers=visitor)
    filed = await client.post(
        f"{agent.api}/privacy/requests", json={"kind": "objection", "purposes": ["ai_processing"]}, headers=visitor
    )
    url = f"/api/v1/orgs/{agent.org_id}/privacy/requests/{filed.json()['request_id']}"
    done = await client.post(f"{url}/fulfil", json={}, headers=agent.headers)
    assert done.json()["outcome"] == {"objecting_to": ["ai_processing"], "restricted": True}
    assert await raw_scalars(runtime, agent.org_id, "SELECT restriction_ground FROM contacts") == ["objection"]
    again = await client.post(f"{url}/fulfil", json={}, headers=agent.headers)
    assert again.status_code == 409 and again.json()["error"] == "request_closed"


async def test_the_page_works_without_javascript(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    form = f"/privacy/{agent.org_id}/requests/form"
    email = "form@example.org"
    step_one = await client.post(form, data={"kind": "erasure", "channel": "email", "identifier": email})
    assert step_one.status_code == 200 and "We sent a code to form@example.org" in step_one.text
    challenge_id = step_one.text.split("name=challenge_id value='")[1].split("'")[0]
    code = (await mails_to(runtime, agent.org_id, email))[-1].split(" is ")[1][:6]
    wrong = await client.post(form, data={"challenge_id": challenge_id, "identifier": email, "code": "12345"})
    assert wrong.status_code == 422 and "wrong code" in wrong.text
    step_two = await client.post(form, data={"challenge_id": challenge_id, "identifier": email, "code": code})
    assert step_two.status_code == 200 and "Your request is filed" in step_two.text and "2026-02-05" in step_two.text
    bad = await client.post(form, data={"kind": "erasure", "identifier": "<script>"})
    assert bad.status_code == 422 and "<script>" not in bad.text


async def test_the_download_link_expires_and_the_file_is_deleted(
    client, runtime: Runtime, clock: FrozenClock, settings
):
    agent = await make_widget_agent(client, runtime)
    visitor = await new_visitor(client, agent)
    await client.post(f"{agent.api}/messages", json={"text": QUESTION}, headers=visitor)
    filed = await client.post(f"{agent.api}/privacy/requests", json={"kind": "access"}, headers=visitor)
    url = f"/api/v1/orgs/{agent.org_id}/privacy/requests/{filed.json()['request_id']}"
    done = (await client.post(f"{url}/fulfil", json={}, headers=agent.headers)).json()
    assert done["download_available_until"].startswith("2026-01-12")
    assert (await client.get(f"{url}/download", headers=agent.headers)).status_code == 200
    assert list((settings.data_dir / "exports").rglob("*.zip"))
    clock.advance(days=8)
    assert (await run_once(runtime))["rights.delete_expired_exports"] == {"exports_deleted": 1}
    assert list((settings.data_dir / "exports").rglob("*.zip")) == []
    assert (await client.get(f"{url}/download", headers=agent.headers)).status_code == 404


async def test_rectification_cannot_take_another_persons_identifier(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    base = f"/api/v1/orgs/{agent.org_id}"
    other = await chat_in(runtime, base, agent.headers, agent.org_id, agent.agent_id, phone="+33655555555")
    await say(runtime, other, "Hello")
    visitor = await new_visitor(client, agent)
    await client.post(f"{agent.api}/messages", json={"text": QUESTION}, headers=visitor)
    filed = await client.post(f"{agent.api}/privacy/requests", json={"kind": "rectification"}, headers=visitor)
    url = f"{base}/privacy/requests/{filed.json()['request_id']}/fulfil"
    assert (await client.post(url, json={}, headers=agent.headers)).status_code == 422
    taken = await client.post(
        url, json={"add_identifiers": [{"kind": "whatsapp", "value": "+33655555555"}]}, headers=agent.headers
    )
    assert taken.status_code == 409 and taken.json()["error"] == "identifier_taken"
    renamed = await client.post(url, json={"display_name": "Zoé K."}, headers=agent.headers)
    assert renamed.status_code == 200 and renamed.json()["outcome"] == {"changed": ["display_name"]}
    names = await raw_scalars(runtime, agent.org_id, "SELECT display_name FROM contacts WHERE display_name IS NOT NULL")
    assert names == ["Zoé K."]


async def test_a_consent_withdrawal_request_stops_the_purpose_in_the_consent_ledger(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    visitor = await new_visitor(client, agent)
    await client.post(f"{agent.api}/messages", json={"text": QUESTION}, headers=visitor)
    [contact_id] = await raw_scalars(runtime, agent.org_id, "SELECT id FROM contacts")
    base = f"/api/v1/orgs/{agent.org_id}"
    text = await client.post(
        f"{base}/consent/texts",
        json={"purpose": "marketing", "language": "en", "body": "May we send you news?"},
        headers=agent.headers,
    )
    granted = await client.post(
        f"{base}/contacts/{contact_id}/consents",
        json={"purpose": "marketing", "granted": True, "channel": "staff", "text_id": text.json()["id"]},
        headers=agent.headers,
    )
    assert granted.status_code == 201, granted.text
    filed = await client.post(
        f"{agent.api}/privacy/requests", json={"kind": "consent_withdrawal", "purposes": ["marketing"]}, headers=visitor
    )
    done = await client.post(
        f"{base}/privacy/requests/{filed.json()['request_id']}/fulfil", json={}, headers=agent.headers
    )
    assert done.status_code == 200, done.text
    proof = (await client.get(f"{base}/contacts/{contact_id}/consents", headers=agent.headers)).json()
    assert proof["current"]["marketing"]["granted"] is False
    withdrawal = proof["events"][-1]
    assert withdrawal["granted"] is False
    assert withdrawal["evidence"] == {
        "kind": "privacy_request",
        "request_id": filed.json()["request_id"],
        "request_kind": "consent_withdrawal",
    }


async def test_widget_requests_are_rate_limited_per_visitor(client, runtime: Runtime):
    """Each request is staff work with a legal deadline: one visitor's secret cannot file them without end."""
    agent = await make_widget_agent(client, runtime)
    visitor, other = await new_visitor(client, agent), await new_visitor(client, agent)
    url = f"{agent.api}/privacy/requests"
    codes = [(await client.post(url, json={"kind": "access"}, headers=visitor)).status_code for _ in range(8)]
    burst = runtime.settings.widget_visitor_burst
    assert codes[:burst] == [201] * burst and codes[-1] == 429, codes
    refused = await client.post(url, json={"kind": "erasure"}, headers=visitor)
    assert refused.status_code == 429 and refused.json()["error"] == "too_many_requests"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["access-control-allow-origin"] == visitor["origin"]  # so the widget can read it
    # Another visitor, and the same visitor's chat messages, have buckets of their own.
    assert (await client.post(url, json={"kind": "access"}, headers=other)).status_code == 201
    assert (await client.post(f"{agent.api}/messages", json={"text": QUESTION}, headers=visitor)).status_code == 200
    filed = await raw_scalars(runtime, agent.org_id, "SELECT id FROM privacy_requests")
    assert len(filed) == burst + 1


async def test_a_widget_visitor_downloads_their_copy_with_their_secret_only(
    client, runtime: Runtime, clock: FrozenClock
):
    """The copy of an anonymous visitor (no e-mail address to send a link to) is fetched with the visitor secret."""
    agent = await make_widget_agent(client, runtime)
    visitor, other = await new_visitor(client, agent), await new_visitor(client, agent)
    await client.post(f"{agent.api}/messages", json={"text": QUESTION}, headers=visitor)
    filed = (await client.post(f"{agent.api}/privacy/requests", json={"kind": "access"}, headers=visitor)).json()
    download = f"{agent.api}/privacy/requests/{filed['request_id']}/download"
    early = await client.get(download, headers=visitor)
    assert early.status_code == 404 and "not ready" in early.json()["detail"]
    staff = f"/api/v1/orgs/{agent.org_id}/privacy/requests/{filed['request_id']}"
    done = await client.post(f"{staff}/fulfil", json={}, headers=agent.headers)
    assert done.status_code == 200, done.text
    assert await raw_scalars(runtime, agent.org_id, "SELECT to_address FROM outbox") == []  # no address: no mail

    got = await client.get(download, headers=visitor)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/zip"
    assert got.headers["access-control-allow-origin"] == visitor["origin"]
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        assert any(QUESTION in archive.read(name).decode() for name in archive.namelist() if not name.endswith("/"))
    # Another visitor of the same widget, or nobody at all, gets nothing.
    assert (await client.get(download, headers=other)).status_code == 404
    assert (await client.get(download, headers={"origin": visitor["origin"]})).status_code == 404
    # A request filed by staff about this visitor is not the widget's to hand out.
    by_staff = await client.post(
        f"/api/v1/orgs/{agent.org_id}/privacy/requests",
        json={"kind": "access", "identifier": {"kind": "visitor", "value": visitor["x-parley-visitor"].split(":")[0]}},
        headers=agent.headers,
    )
    assert by_staff.status_code == 201, by_staff.text
    await client.post(f"/api/v1/orgs/{agent.org_id}/privacy/requests/{by_staff.json()['id']}/fulfil", json={},
                      headers=agent.headers)  # fmt: skip
    staff_download = f"{agent.api}/privacy/requests/{by_staff.json()['id']}/download"
    assert (await client.get(staff_download, headers=visitor)).status_code == 404
    # And the link expires with the export.
    clock.advance(days=runtime.settings.rights_export_days + 1)
    assert (await client.get(download, headers=visitor)).status_code == 404
