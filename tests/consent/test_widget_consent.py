"""The widget's analytics banner goes through the consent ledger: only consenting visitors are counted, in daily
totals without identifiers, and withdrawing is one call from the same widget."""

from __future__ import annotations

from parley.runtime import Runtime
from parley.settings import Settings
from tests.channels.widget.support import SITE, make_widget_agent, new_visitor
from tests.consent.support import allows
from tests.factories import database_rows, raw_scalars


async def _ask(client, agent, visitor, text: str = "When does the kitchen open?") -> None:  # type: ignore[no-untyped-def]
    response = await client.post(f"{agent.api}/messages", json={"text": text}, headers=visitor)
    assert response.status_code == 200, response.text


async def _counted(client, agent) -> int:  # type: ignore[no-untyped-def]
    days = (await client.get(f"{agent.settings_url}/analytics", headers=agent.headers)).json()
    return sum(d["count"] for d in days if d["metric"] == "messages")


async def test_only_consenting_visitors_are_counted_until_they_withdraw(client, runtime: Runtime, settings: Settings):
    agent = await make_widget_agent(client, runtime, analytics_enabled=True)
    config = (await client.get(f"{agent.api}/config", headers={"origin": SITE})).json()
    shown = config["analytics_consent_text"]
    assert shown["version"] == 1 and "analytics" in shown["body"]
    yes, no = await new_visitor(client, agent), await new_visitor(client, agent)

    accepted = await client.post(f"{agent.api}/consent", json={"granted": True, "text_id": shown["id"]}, headers=yes)
    assert accepted.status_code == 201, accepted.text
    assert (await client.post(f"{agent.api}/consent", json={"granted": False}, headers=no)).status_code == 201
    await _ask(client, agent, yes)
    await _ask(client, agent, no)
    await _ask(client, agent, yes)
    assert await _counted(client, agent) == 2  # the visitor who declined is not counted

    withdrawn = await client.delete(f"{agent.api}/consent/analytics", headers=yes)
    assert withdrawn.status_code == 200 and withdrawn.json()["granted"] is False
    await _ask(client, agent, yes)
    assert await _counted(client, agent) == 2  # withdrawal stops counting at once

    contact_id = (
        await raw_scalars(runtime, agent.org_id, "SELECT contact_id FROM consent_events ORDER BY occurred_at")
    )[0]
    assert not await allows(runtime, agent.org_id, str(contact_id), "analytics")
    # The totals hold no identifier: only agent, day, metric and a count.
    rows = (await database_rows(settings))["widget_analytics_daily"]
    assert set(rows[0]) == {"id", "org_id", "agent_id", "day", "metric", "count"}
    # The proof cites the exact banner text and how the choice was made.
    export = (await client.get(f"{agent.api}/conversation/export", headers=yes)).json()
    assert [(c["purpose"], c["granted"]) for c in export["consents"]] == [("analytics", True), ("analytics", False)]
    proof = await client.get(f"/api/v1/orgs/{agent.org_id}/contacts/{contact_id}/consents", headers=agent.headers)
    events = proof.json()["events"]
    assert events[0]["text"]["body"] == shown["body"] and events[0]["evidence"]["kind"] == "banner"
    assert events[1]["evidence"]["kind"] == "withdraw" and events[1]["text"] is None


async def test_the_banner_shows_the_organisations_newest_text_in_the_agents_language(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime, analytics_enabled=True)
    base = f"/api/v1/orgs/{agent.org_id}"
    written = await client.post(
        f"{base}/consent/texts",
        json={"purpose": "analytics", "language": "en", "body": "Count my visits anonymously?"},
        headers=agent.headers,
    )
    assert written.status_code == 201 and written.json()["version"] == 2  # v1 was the default, kept
    config = (await client.get(f"{agent.api}/config", headers={"origin": SITE})).json()
    assert config["analytics_consent_text"]["body"] == "Count my visits anonymously?"
    visitor = await new_visitor(client, agent)
    await client.post(f"{agent.api}/consent", json={"granted": True}, headers=visitor)
    texts = await raw_scalars(runtime, agent.org_id, "SELECT text_id FROM consent_events")
    assert texts == [written.json()["id"]]


async def test_widget_consent_validation(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime, analytics_enabled=True)
    visitor = await new_visitor(client, agent)
    bad = [
        await client.post(f"{agent.api}/consent", json={"granted": True, "purpose": "marketing"}, headers=visitor),
        await client.post(f"{agent.api}/consent", json={"granted": True, "text_id": "ctx_nope"}, headers=visitor),
        await client.delete(f"{agent.api}/consent/marketing", headers=visitor),
    ]
    assert [r.status_code for r in bad] == [422, 422, 422]
    assert all(r.json()["error"] == "invalid_request" for r in bad)
    stranger = {"origin": SITE, "x-parley-visitor": "vis_nope:secret"}
    assert (await client.delete(f"{agent.api}/consent/analytics", headers=stranger)).status_code == 404
    assert await raw_scalars(runtime, agent.org_id, "SELECT count(*) FROM consent_events") == [0]
