"""The Contacts page over HTTP: who may see and act, validation beside the field, audit rows, other tenants."""

from __future__ import annotations

import io
import zipfile

from parley.runtime import Runtime
from parley.tenancy.permissions import Role
from tests.dashboard2.seed import make_agent, seed_contacts
from tests.dashboard2.support import field_error, staff_client, text_of
from tests.factories import make_org, raw_scalars


async def _org_with_people(runtime: Runtime) -> tuple[str, list[str]]:
    org = await make_org(runtime)
    agent_id = await make_agent(runtime, org.id, "Front desk")
    seeded = await seed_contacts(runtime, org.id, 3, agent_id=agent_id, sealed_messages=2,
                                 name="Zoé {i}", email="zoe{i}@example.com")  # fmt: skip
    return org.id, seeded.contact_ids


async def test_agents_list_search_and_open_a_contact_and_every_view_is_audited(app, runtime: Runtime):
    org_id, contacts = await _org_with_people(runtime)
    async with staff_client(app, runtime, org_id, Role.AGENT) as (client, _):
        listing = await client.get(f"/app/o/{org_id}/contacts")
        assert listing.status_code == 200, listing.text
        assert "Zoé 2" in listing.text and "zoe0@example.com" in listing.text
        found = await client.get(f"/app/o/{org_id}/contacts", params={"q": "ZOE1@"})
        assert "zoe1@example.com" in found.text and "zoe2@example.com" not in found.text
        assert "1 contact matching" in text_of(found.text)
        detail = await client.get(f"/app/o/{org_id}/contacts/{contacts[0]}")
        assert detail.status_code == 200, detail.text
        page = text_of(detail.text)
        assert "Front desk" in page and "zoe0@example.com" in page and "No consent choice recorded" in page
        assert "Only admins and owners can export" in page and "Download export" not in page
    assert len(await raw_scalars(runtime, org_id, "SELECT id FROM audit_events WHERE action = 'contacts.listed'")) == 2
    viewed = await raw_scalars(runtime, org_id, "SELECT target_id FROM audit_events WHERE action = 'contact.viewed'")
    assert viewed == [contacts[0]]


async def test_viewers_cannot_see_contacts_and_agents_cannot_act_on_them(app, runtime: Runtime):
    org_id, contacts = await _org_with_people(runtime)
    async with staff_client(app, runtime, org_id, Role.VIEWER) as (viewer, _):
        assert (await viewer.get(f"/app/o/{org_id}/contacts")).status_code == 403
        assert (await viewer.get(f"/app/o/{org_id}/contacts/{contacts[0]}")).status_code == 403
        assert "/contacts" not in (await viewer.get(f"/app/o/{org_id}/usage")).text  # not in the navigation
    async with staff_client(app, runtime, org_id, Role.AGENT) as (agent, csrf):
        base = f"/app/o/{org_id}/contacts/{contacts[0]}"
        assert (await agent.post(f"{base}/export", data={"csrf_token": csrf})).status_code == 403
        restrict = await agent.post(f"{base}/restriction", data={"csrf_token": csrf, "ground": "accuracy"})
        assert restrict.status_code == 403
        assert (await agent.post(f"{base}/erase", data={"csrf_token": csrf, "confirm": "erase"})).status_code == 403
    assert len(await raw_scalars(runtime, org_id, f"SELECT id FROM contacts WHERE org_id = '{org_id}'")) == 3
    assert (
        await raw_scalars(runtime, org_id, "SELECT restricted_at FROM contacts WHERE restricted_at IS NOT NULL") == []
    )


async def test_admins_export_restrict_and_erase_with_csrf_and_confirmation(app, runtime: Runtime):
    org_id, contacts = await _org_with_people(runtime)
    base = f"/app/o/{org_id}/contacts/{contacts[0]}"
    async with staff_client(app, runtime, org_id, Role.ADMIN) as (admin, csrf):
        # Without the form's token nothing happens.
        assert (await admin.post(f"{base}/restriction", data={"ground": "accuracy"})).status_code == 403
        assert (await admin.post(f"{base}/erase", data={"confirm": "erase"})).status_code == 403
        assert (await admin.post(f"{base}/export")).status_code == 403

        export = await admin.post(f"{base}/export", data={"csrf_token": csrf})
        assert export.status_code == 200 and export.headers["content-type"] == "application/zip"
        data = zipfile.ZipFile(io.BytesIO(export.content)).read("data.json").decode()
        assert "zoe0@example.com" in data and "zoe1@example.com" not in data

        bad = await admin.post(f"{base}/restriction", data={"csrf_token": csrf, "ground": "whim"})
        assert bad.status_code == 422 and field_error(bad.text, "ground") == "choose why processing is restricted"
        done = await admin.post(f"{base}/restriction", data={"csrf_token": csrf, "ground": "accuracy"})
        assert done.status_code == 303
        assert "processing restricted (accuracy)" in text_of((await admin.get(base)).text)
        assert (await admin.post(f"{base}/restriction/lift", data={"csrf_token": csrf})).status_code == 303

        unconfirmed = await admin.post(f"{base}/erase", data={"csrf_token": csrf, "confirm": "yes"})
        assert unconfirmed.status_code == 422
        assert field_error(unconfirmed.text, "confirm") == "type erase to confirm; nothing was erased"
        assert len(await raw_scalars(runtime, org_id, f"SELECT id FROM contacts WHERE org_id = '{org_id}'")) == 3
        erased = await admin.post(f"{base}/erase", data={"csrf_token": csrf, "confirm": " Erase "})
        assert erased.status_code == 303, erased.text
        assert (await admin.get(base)).status_code == 404
    assert len(await raw_scalars(runtime, org_id, "SELECT id FROM contacts")) == 2
    actions = await raw_scalars(runtime, org_id, "SELECT action FROM audit_events WHERE target_id IS NOT NULL")
    assert {"contact.exported", "contact.restricted", "contact.restriction_lifted", "contact.erased"} <= {
        str(a) for a in actions
    }


async def test_another_organisations_contacts_are_not_found(app, runtime: Runtime):
    org_id, _ = await _org_with_people(runtime)
    other_id, theirs = await _org_with_people(runtime)
    async with staff_client(app, runtime, org_id, Role.OWNER) as (admin, csrf):
        assert (await admin.get(f"/app/o/{org_id}/contacts/{theirs[0]}")).status_code == 404
        erase = await admin.post(
            f"/app/o/{org_id}/contacts/{theirs[0]}/erase", data={"csrf_token": csrf, "confirm": "erase"}
        )
        assert erase.status_code == 404
        assert (await admin.get(f"/app/o/{other_id}/contacts")).status_code == 404
        listing = await admin.get(f"/app/o/{org_id}/contacts", params={"q": "zoe"})
        assert theirs[0] not in listing.text and "3 contacts" in text_of(listing.text)
    assert len(await raw_scalars(runtime, other_id, f"SELECT id FROM contacts WHERE org_id = '{other_id}'")) == 3
