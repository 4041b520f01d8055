"""Members of an organisation: listed, given another role, removed, leaving; and the organisation renamed."""

from __future__ import annotations

import pytest

from parley.runtime import Runtime
from parley.tenancy.permissions import Role
from tests.factories import (
    audit_events,
    bearer,
    make_org,
    make_token,
    make_user,
    member_ids,
    member_roles,
    new_client,
    sign_in,
    user_id_of,
)


def iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


async def test_members_are_listed_with_their_role_name_and_email(client, runtime: Runtime):
    org = await make_org(runtime, "Blue Door Dental")
    admin = await make_user(runtime, org_id=org.id, role=Role.ADMIN, name="Ada Admin")
    agent = await make_user(runtime, org_id=org.id, role=Role.AGENT, name="Abel Agent")
    viewer = await make_user(runtime, org_id=org.id, role=Role.VIEWER, name="Vera Viewer")
    await make_user(runtime, org_id=(await make_org(runtime)).id, role=Role.ADMIN)  # elsewhere
    await sign_in(client, viewer)

    response = await client.get(f"/api/v1/orgs/{org.id}/members")

    assert response.status_code == 200, response.text
    members = sorted(
        ((m["email"], m["name"], m["role"]) for m in response.json()),
        key=lambda m: ("owner admin agent viewer").index(m[2]),
    )
    assert members == [
        (org.owner_email, "Owner of Blue Door Dental", "owner"),
        (admin, "Ada Admin", "admin"),
        (agent, "Abel Agent", "agent"),
        (viewer, "Vera Viewer", "viewer"),
    ]
    for member in response.json():
        assert member["user_id"] == await user_id_of(runtime, member["email"])
        assert member["created_at"] == iso(runtime.clock.now())
        assert "password_hash" not in member


async def test_a_member_is_read_by_id_only_within_the_organisation(client, runtime: Runtime):
    org, other = await make_org(runtime), await make_org(runtime)
    agent = await make_user(runtime, org_id=org.id, role=Role.AGENT)
    _, owner = await make_token(runtime, org.id, Role.OWNER)
    _, other_owner = await make_token(runtime, other.id, Role.OWNER)
    agent_member = (await member_ids(client, org.id, bearer(owner)))[agent]

    mine = await client.get(f"/api/v1/orgs/{org.id}/members/{agent_member}", headers=bearer(owner))
    theirs = await client.get(f"/api/v1/orgs/{other.id}/members/{agent_member}", headers=bearer(other_owner))
    unknown = await client.get(f"/api/v1/orgs/{org.id}/members/mem_doesnotexist", headers=bearer(owner))

    assert (mine.status_code, mine.json()["email"], mine.json()["role"]) == (200, agent, "agent")
    assert (theirs.status_code, theirs.json()["error"]) == (404, "not_found")
    assert (unknown.status_code, unknown.json()["error"]) == (404, "not_found")


async def test_another_organisations_member_cannot_be_changed_or_removed(client, runtime: Runtime):
    org, other = await make_org(runtime), await make_org(runtime)
    victim = await make_user(runtime, org_id=other.id, role=Role.ADMIN)
    _, owner = await make_token(runtime, org.id, Role.OWNER)
    _, other_owner = await make_token(runtime, other.id, Role.OWNER)
    victim_member = (await member_ids(client, other.id, bearer(other_owner)))[victim]

    changed = await client.patch(
        f"/api/v1/orgs/{org.id}/members/{victim_member}", json={"role": "viewer"}, headers=bearer(owner)
    )
    removed = await client.delete(f"/api/v1/orgs/{org.id}/members/{victim_member}", headers=bearer(owner))

    assert (changed.status_code, removed.status_code) == (404, 404)
    assert (await member_roles(client, other.id, bearer(other_owner)))[victim] == "admin"


# --- changing roles -----------------------------------------------------------------------------------------


async def test_an_admin_changes_a_members_role_and_it_is_audited(client, runtime: Runtime):
    org = await make_org(runtime)
    admin = await make_user(runtime, org_id=org.id, role=Role.ADMIN)
    agent = await make_user(runtime, org_id=org.id, role=Role.AGENT)
    csrf = await sign_in(client, admin)
    agent_member = (await member_ids(client, org.id, csrf))[agent]

    response = await client.patch(
        f"/api/v1/orgs/{org.id}/members/{agent_member}", json={"role": "viewer"}, headers=csrf
    )

    assert response.status_code == 200, response.text
    assert (response.json()["id"], response.json()["email"], response.json()["role"]) == (agent_member, agent, "viewer")
    assert (await member_roles(client, org.id, csrf))[agent] == "viewer"
    [event] = await audit_events(client, org.id, csrf, action="member.role_changed")
    assert (event["actor_type"], event["actor_id"]) == ("user", await user_id_of(runtime, admin))
    assert (event["target_type"], event["target_id"]) == ("member", agent_member)
    assert event["details"] == {"user_id": await user_id_of(runtime, agent), "from": "agent", "to": "viewer"}


async def test_setting_the_same_role_changes_nothing(client, runtime: Runtime):
    org = await make_org(runtime)
    agent = await make_user(runtime, org_id=org.id, role=Role.AGENT)
    csrf = await sign_in(client, org.owner_email)
    agent_member = (await member_ids(client, org.id, csrf))[agent]

    response = await client.patch(f"/api/v1/orgs/{org.id}/members/{agent_member}", json={"role": "agent"}, headers=csrf)

    assert (response.status_code, response.json()["role"]) == (200, "agent")
    assert await audit_events(client, org.id, csrf, action="member.role_changed") == []


@pytest.mark.parametrize("body", [{"role": "superuser"}, {"role": None}, {}, {"role": "agent", "extra": 1}])
async def test_an_invalid_role_change_is_refused(client, runtime: Runtime, body: dict):
    org = await make_org(runtime)
    agent = await make_user(runtime, org_id=org.id, role=Role.AGENT)
    csrf = await sign_in(client, org.owner_email)
    agent_member = (await member_ids(client, org.id, csrf))[agent]

    response = await client.patch(f"/api/v1/orgs/{org.id}/members/{agent_member}", json=body, headers=csrf)

    assert (response.status_code, response.json()["error"]) == (422, "invalid_request")
    assert (await member_roles(client, org.id, csrf))[agent] == "agent"


async def test_a_new_role_applies_to_the_members_next_request(app, client, runtime: Runtime):
    org = await make_org(runtime)
    person = await make_user(runtime, org_id=org.id, role=Role.AGENT)
    owner_csrf = await sign_in(client, org.owner_email)
    person_member = (await member_ids(client, org.id, owner_csrf))[person]

    async with new_client(app) as browser:
        await sign_in(browser, person)
        assert (await browser.get(f"/api/v1/orgs/{org.id}/audit")).status_code == 403

        promoted = await client.patch(
            f"/api/v1/orgs/{org.id}/members/{person_member}", json={"role": "admin"}, headers=owner_csrf
        )
        assert promoted.status_code == 200
        assert (await browser.get(f"/api/v1/orgs/{org.id}/audit")).status_code == 200
        assert [o["role"] for o in (await browser.get("/api/v1/orgs")).json()] == ["admin"]

        demoted = await client.patch(
            f"/api/v1/orgs/{org.id}/members/{person_member}", json={"role": "viewer"}, headers=owner_csrf
        )
        assert demoted.status_code == 200
        refused = await browser.get(f"/api/v1/orgs/{org.id}/audit")
        assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")


# --- removing and leaving -----------------------------------------------------------------------------------


async def test_an_admin_removes_a_member_who_then_loses_access(app, client, runtime: Runtime):
    org = await make_org(runtime, "Kept Business")
    admin = await make_user(runtime, org_id=org.id, role=Role.ADMIN)
    agent = await make_user(runtime, org_id=org.id, role=Role.AGENT)
    csrf = await sign_in(client, admin)
    agent_member = (await member_ids(client, org.id, csrf))[agent]

    async with new_client(app) as removed_browser:
        removed_csrf = await sign_in(removed_browser, agent)
        assert (await removed_browser.get(f"/api/v1/orgs/{org.id}")).status_code == 200

        response = await client.delete(f"/api/v1/orgs/{org.id}/members/{agent_member}", headers=csrf)
        assert response.status_code == 204, response.text
        assert response.content == b""

        # Their session still works, but the organisation is gone for them, for reads and writes alike.
        for method, path, body in [
            ("GET", f"/api/v1/orgs/{org.id}", None),
            ("GET", f"/api/v1/orgs/{org.id}/members", None),
            ("PATCH", f"/api/v1/orgs/{org.id}", {"name": "Revenge"}),
            ("DELETE", f"/api/v1/orgs/{org.id}/members/{agent_member}", None),
        ]:
            gone = await removed_browser.request(method, path, json=body, headers=removed_csrf)
            assert (gone.status_code, gone.json()["error"]) == (404, "not_found"), (method, path)
        assert (await removed_browser.get("/api/v1/orgs")).json() == []
        assert (await removed_browser.get("/api/v1/auth/me")).status_code == 200

    assert agent not in await member_roles(client, org.id, csrf)
    assert (await client.get(f"/api/v1/orgs/{org.id}")).json()["name"] == "Kept Business"
    [event] = await audit_events(client, org.id, csrf, action="member.removed")
    assert (event["actor_type"], event["actor_id"]) == ("user", await user_id_of(runtime, admin))
    assert (event["target_type"], event["target_id"]) == ("member", agent_member)
    assert event["details"] == {"user_id": await user_id_of(runtime, agent), "role": "agent", "left": False}


async def test_a_token_can_remove_a_member(client, runtime: Runtime):
    org = await make_org(runtime)
    viewer = await make_user(runtime, org_id=org.id, role=Role.VIEWER)
    token_id, secret = await make_token(runtime, org.id, Role.ADMIN)
    viewer_member = (await member_ids(client, org.id, bearer(secret)))[viewer]

    response = await client.delete(f"/api/v1/orgs/{org.id}/members/{viewer_member}", headers=bearer(secret))

    assert response.status_code == 204, response.text
    assert viewer not in await member_roles(client, org.id, bearer(secret))
    [event] = await audit_events(client, org.id, bearer(secret), action="member.removed")
    assert (event["actor_type"], event["actor_id"], event["details"]["left"]) == ("token", token_id, False)


async def test_removing_an_unknown_member_is_not_found(client, runtime: Runtime):
    org = await make_org(runtime)
    csrf = await sign_in(client, org.owner_email)
    response = await client.delete(f"/api/v1/orgs/{org.id}/members/mem_doesnotexist", headers=csrf)
    assert (response.status_code, response.json()["error"]) == (404, "not_found")


async def test_removing_a_member_twice_is_not_found_the_second_time(client, runtime: Runtime):
    org = await make_org(runtime)
    agent = await make_user(runtime, org_id=org.id, role=Role.AGENT)
    csrf = await sign_in(client, org.owner_email)
    agent_member = (await member_ids(client, org.id, csrf))[agent]

    first = await client.delete(f"/api/v1/orgs/{org.id}/members/{agent_member}", headers=csrf)
    second = await client.delete(f"/api/v1/orgs/{org.id}/members/{agent_member}", headers=csrf)

    assert (first.status_code, second.status_code) == (204, 404)
    assert len(await audit_events(client, org.id, csrf, action="member.removed")) == 1


async def test_a_member_leaves_and_can_be_invited_back(app, client, runtime: Runtime):
    org = await make_org(runtime)
    viewer = await make_user(runtime, org_id=org.id, role=Role.VIEWER)
    owner_csrf = await sign_in(client, org.owner_email)
    viewer_member = (await member_ids(client, org.id, owner_csrf))[viewer]

    async with new_client(app) as browser:
        csrf = await sign_in(browser, viewer)
        left = await browser.delete(f"/api/v1/orgs/{org.id}/members/{viewer_member}", headers=csrf)
        assert left.status_code == 204, left.text
        assert (await browser.get(f"/api/v1/orgs/{org.id}")).status_code == 404

        [event] = await audit_events(client, org.id, owner_csrf, action="member.removed")
        assert (event["actor_id"], event["details"]["left"]) == (await user_id_of(runtime, viewer), True)

        invited = await client.post(
            f"/api/v1/orgs/{org.id}/invitations", json={"email": viewer, "role": "agent"}, headers=owner_csrf
        )
        assert invited.status_code == 201, invited.text
        secret = invited.json()["url"].rsplit("/", 1)[1]
        back = await browser.post(f"/api/v1/invitations/{secret}/accept", json={}, headers=csrf)
        assert back.status_code == 200, back.text
        assert (await browser.get(f"/api/v1/orgs/{org.id}")).status_code == 200

    assert (await member_roles(client, org.id, owner_csrf))[viewer] == "agent"


async def test_leaving_needs_the_csrf_header(client, runtime: Runtime):
    org = await make_org(runtime)
    viewer = await make_user(runtime, org_id=org.id, role=Role.VIEWER)
    await sign_in(client, viewer)
    viewer_member = (await member_ids(client, org.id, {}))[viewer]

    response = await client.delete(f"/api/v1/orgs/{org.id}/members/{viewer_member}")

    assert (response.status_code, response.json()["error"]) == (403, "csrf_failed")
    assert viewer in await member_roles(client, org.id, {})


# --- the organisation ---------------------------------------------------------------------------------------


async def test_renaming_the_organisation_is_audited_with_from_and_to(client, runtime: Runtime):
    org = await make_org(runtime, "Old Name Ltd")
    admin = await make_user(runtime, org_id=org.id, role=Role.ADMIN)
    csrf = await sign_in(client, admin)

    response = await client.patch(f"/api/v1/orgs/{org.id}", json={"name": "  New Name Ltd  "}, headers=csrf)

    assert response.status_code == 200, response.text
    assert (response.json()["id"], response.json()["name"]) == (org.id, "New Name Ltd")
    assert (await client.get(f"/api/v1/orgs/{org.id}")).json()["name"] == "New Name Ltd"
    assert [o["name"] for o in (await client.get("/api/v1/orgs")).json()] == ["New Name Ltd"]
    [event] = await audit_events(client, org.id, csrf, action="org.renamed")
    assert (event["actor_type"], event["actor_id"]) == ("user", await user_id_of(runtime, admin))
    assert (event["target_type"], event["target_id"]) == ("organization", org.id)
    assert event["details"] == {"from": "Old Name Ltd", "to": "New Name Ltd"}


async def test_renaming_to_the_same_name_records_nothing(client, runtime: Runtime):
    org = await make_org(runtime, "Same Name")
    csrf = await sign_in(client, org.owner_email)
    response = await client.patch(f"/api/v1/orgs/{org.id}", json={"name": "Same Name"}, headers=csrf)
    assert (response.status_code, response.json()["name"]) == (200, "Same Name")
    assert await audit_events(client, org.id, csrf, action="org.renamed") == []


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "   "}, {"name": "x" * 201}, {}, {"name": "Ok", "slug": "x"}])
async def test_an_invalid_rename_is_refused(client, runtime: Runtime, body: dict):
    org = await make_org(runtime, "Unchanged")
    csrf = await sign_in(client, org.owner_email)
    response = await client.patch(f"/api/v1/orgs/{org.id}", json=body, headers=csrf)
    assert (response.status_code, response.json()["error"]) == (422, "invalid_request")
    assert (await client.get(f"/api/v1/orgs/{org.id}")).json()["name"] == "Unchanged"


async def test_an_organisation_one_does_not_belong_to_is_not_found(client, runtime: Runtime):
    mine, theirs = await make_org(runtime), await make_org(runtime)
    csrf = await sign_in(client, mine.owner_email)
    for method, path in [
        ("GET", f"/api/v1/orgs/{theirs.id}"),
        ("PATCH", f"/api/v1/orgs/{theirs.id}"),
        ("GET", f"/api/v1/orgs/{theirs.id}/members"),
        ("GET", "/api/v1/orgs/org_doesnotexist"),
    ]:
        response = await client.request(method, path, json={"name": "Mine now"}, headers=csrf)
        assert (response.status_code, response.json()["error"]) == (404, "not_found"), (method, path)
    _, their_token = await make_token(runtime, theirs.id, Role.VIEWER)
    assert (await client.get(f"/api/v1/orgs/{theirs.id}", headers=bearer(their_token))).json()["name"] != "Mine now"
