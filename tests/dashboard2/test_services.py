"""The services behind the Contacts and Usage pages, against a real database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from parley.consent import service as consent_service
from parley.contacts import rights, service
from parley.kit.db import unit_of_work
from parley.kit.errors import InvalidField, NotFound
from parley.kit.ids import new_id
from parley.runtime import Runtime
from parley.tenancy import platform
from parley.usage import service as usage
from parley.usage.charts import bar_chart
from tests.dashboard2.seed import make_agent, seed_contacts, seed_daily_activity
from tests.factories import ACTOR, make_org, raw_scalars


async def test_search_finds_people_by_name_and_by_any_identifier_value_within_the_organisation(runtime: Runtime):
    org, other = await make_org(runtime), await make_org(runtime)
    await seed_contacts(runtime, org.id, 60)
    await seed_contacts(runtime, other.id, 5, name="Outsider {i}", email="person{i}@example.com")
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org.id, ACTOR)
        everyone = await service.list_contacts(db, runtime, scope)
        assert (everyone.total, everyone.pages, len(everyone.rows)) == (60, 2, 50)
        assert everyone.rows[0].contact.display_name == "Person 59"  # newest first
        by_email = await service.list_contacts(db, runtime, scope, query="PERSON7@example")
        assert [r.contact.display_name for r in by_email.rows] == ["Person 7"]
        assert by_email.rows[0].identifiers[0].value == "person7@example.com"
        by_name = await service.list_contacts(db, runtime, scope, query="son 1")
        assert by_name.total == 11  # Person 1 and Person 10..19
        # LIKE wildcards typed by staff are literal characters, not patterns.
        assert (await service.list_contacts(db, runtime, scope, query="%")).total == 0
        assert (await service.list_contacts(db, runtime, scope, query="person_1@")).total == 0
        page_two = await service.list_contacts(db, runtime, scope, page=2)
        assert len(page_two.rows) == 10
    listed = await raw_scalars(runtime, org.id, "SELECT details FROM audit_events WHERE action = 'contacts.listed'")
    assert len(listed) == 6
    assert all("example" not in str(d) for d in listed)  # the search term is never written to the audit log


async def test_a_contact_page_shows_identifiers_conversations_and_current_consent_and_is_audited(runtime: Runtime):
    org = await make_org(runtime)
    agent_id = await make_agent(runtime, org.id, "Front desk")
    seeded = await seed_contacts(runtime, org.id, 1, agent_id=agent_id, sealed_messages=2)
    contact_id = seeded.contact_ids[0]
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org.id, ACTOR)
        from parley.models import ContactIdentifier

        db.add(ContactIdentifier(id=new_id("cid"), org_id=org.id, contact_id=contact_id, kind="visitor",
                                 value="vis_abc", created_at=runtime.clock.now()))  # fmt: skip
        text = await consent_service.do_add_text(db, runtime, scope, purpose="analytics", language="en",
                                                 body="May we count your visit, anonymously?")  # fmt: skip
        await consent_service.do_record(db, runtime, scope, contact_id=contact_id, purpose="analytics",
                                        granted=True, channel="widget", text_id=text.id)  # fmt: skip
        runtime.clock.advance(minutes=5)  # type: ignore[attr-defined]
        await consent_service.do_record(db, runtime, scope, contact_id=contact_id, purpose="analytics",
                                        granted=False, channel="widget")  # fmt: skip
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org.id, ACTOR)
        detail = await service.view_contact(db, runtime, scope, contact_id)
    assert [i.kind for i in detail.identifiers] == ["email", "visitor"]
    assert [(c.channel, name) for c, name in detail.conversations] == [("email", "Front desk")]
    assert [(c.purpose, c.granted) for c in detail.consent] == [("analytics", False)]  # the withdrawal wins
    assert len(detail.consent_history) == 2
    viewed = await raw_scalars(runtime, org.id, "SELECT target_id FROM audit_events WHERE action = 'contact.viewed'")
    assert viewed == [contact_id]


async def test_another_organisations_contact_is_not_found(runtime: Runtime):
    org, other = await make_org(runtime), await make_org(runtime)
    theirs = (await seed_contacts(runtime, other.id, 1)).contact_ids[0]
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org.id, ACTOR)
        with pytest.raises(NotFound):
            await service.view_contact(db, runtime, scope, theirs)
        with pytest.raises(NotFound):
            await rights.do_restrict(db, runtime, scope, theirs, "accuracy")
        with pytest.raises(NotFound):
            await rights.do_export(db, runtime, scope, theirs)


async def test_rights_restrict_lift_export_and_erase_through_mains_services(runtime: Runtime):
    org = await make_org(runtime)
    agent_id = await make_agent(runtime, org.id, "Desk")
    contact_id = (await seed_contacts(runtime, org.id, 1, agent_id=agent_id, sealed_messages=3)).contact_ids[0]
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org.id, ACTOR)
        with pytest.raises(InvalidField):
            await rights.do_restrict(db, runtime, scope, contact_id, "boredom")
        restricted = await rights.do_restrict(db, runtime, scope, contact_id, "objection")
        assert restricted.restriction_ground == "objection" and restricted.restricted_at is not None
        archive = await rights.do_export(db, runtime, scope, contact_id)
        assert archive[:2] == b"PK"
        lifted = await rights.do_lift_restriction(db, runtime, scope, contact_id)
        assert lifted.restricted_at is None
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        scope = await platform.system_scope(db, org.id, ACTOR)
    done = await rights.do_erase(runtime, scope, contact_id)
    assert (done.conversations, done.messages, done.key_destroyed) == (1, 3, True)
    actions = await raw_scalars(runtime, org.id, "SELECT action FROM audit_events WHERE target_id IS NOT NULL")
    assert {"contact.restricted", "contact.exported", "contact.restriction_lifted", "contact.erased"} <= set(
        map(str, actions)
    )
    assert await raw_scalars(runtime, org.id, "SELECT id FROM contacts") == []
    # Each exercise of a right by staff is a data-subject request in the queue, completed, with its history;
    # after the erasure none of them points at the person any more.
    requests = await raw_scalars(
        runtime,
        org.id,
        "SELECT kind || ',' || source || ',' || status || ',' || COALESCE(contact_id, '-') FROM privacy_requests",
    )
    assert sorted(str(r).split(",") for r in requests) == [
        ["access", "staff", "completed", "-"],
        ["erasure", "staff", "completed", "-"],
        ["restriction", "staff", "completed", "-"],
    ]
    steps = await raw_scalars(runtime, org.id, "SELECT status FROM privacy_request_events")
    assert sorted(map(str, steps)).count("completed") == 3


async def test_usage_is_counted_per_day_and_per_agent_and_zero_filled(runtime: Runtime, clock):
    org, other = await make_org(runtime), await make_org(runtime)
    desk, bar = await make_agent(runtime, org.id, "Desk"), await make_agent(runtime, org.id, "Bar")
    await seed_daily_activity(runtime, org.id, desk, 40, per_day=2, tokens_per_day=100)
    await seed_daily_activity(runtime, org.id, bar, 3, per_day=1, tokens_per_day=7)
    elsewhere = await make_agent(runtime, other.id, "Theirs")
    await seed_daily_activity(runtime, other.id, elsewhere, 5, per_day=50, tokens_per_day=9999)
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        scope = await platform.system_scope(db, org.id, ACTOR)
        month = await usage.report(db, runtime, scope, days=30)
        quarter = await usage.report(db, runtime, scope, days=90)
        only_bar = await usage.report(db, runtime, scope, days=30, agent_id=bar)
        with pytest.raises(InvalidField):
            await usage.report(db, runtime, scope, days=7)
    assert len(month.days) == 30 and month.days[-1] == clock.now().date()
    assert month.conversations[-1] == 3 and month.messages[-1] == 6 and month.tokens[-1] == 107
    assert month.totals == {"conversations": 30 * 2 + 3, "messages": (30 * 2 + 3) * 2, "tokens": 30 * 100 + 21}
    assert quarter.totals["conversations"] == 40 * 2 + 3 and quarter.conversations[0] == 0  # zero-filled
    assert [(a.name, a.conversations, a.tokens) for a in month.agents] == [("Desk", 60, 3000), ("Bar", 3, 21)]
    assert only_bar.totals == {"conversations": 3, "messages": 6, "tokens": 21}
    assert len(only_bar.agents) == 2  # the table still compares every agent


def test_the_chart_is_accessible_svg_with_one_bar_per_day_and_escaped_text():
    from datetime import date

    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(30)]
    svg = bar_chart("c1", "Messages <per> day", days, list(range(30)))
    assert svg.startswith("<svg") and svg.count('<rect class="bar"') == 30
    assert 'role="img"' in svg and "Messages &lt;per&gt; day" in svg and "435 in total" in svg
    assert ">50<" in svg  # the axis tops out at a round number above the highest day (29)
