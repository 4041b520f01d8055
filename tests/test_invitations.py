"""Invitations: an admin invites an address with a role; the link's holder previews it without signing in,
and joins by creating an account (a newcomer) or by signing in as the invited address (an existing user)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from parley.runtime import Runtime
from parley.settings import Settings
from parley.tenancy.permissions import Role
from tests.factories import (
    PASSWORD,
    audit_events,
    bearer,
    database_text,
    make_org,
    make_token,
    make_user,
    member_roles,
    new_client,
    sign_in,
    user_id_of,
)

NEW_PASSWORD = "a fresh and long passphrase"


def iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def secret_of(created: dict) -> str:
    return created["url"].rsplit("/", 1)[1]


async def invite(client, org_id: str, headers: dict, email: str, role: str = "agent") -> dict:
    response = await client.post(
        f"/api/v1/orgs/{org_id}/invitations", json={"email": email, "role": role}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def admin_of(client, runtime: Runtime, org_id: str) -> dict[str, str]:
    """Signs the client in as a new admin of the organisation; returns the CSRF header."""
    return await sign_in(client, await make_user(runtime, org_id=org_id, role=Role.ADMIN))


async def test_an_admin_invites_an_address_and_gets_a_link(client, runtime: Runtime, settings: Settings):
    org = await make_org(runtime)
    csrf = await admin_of(client, runtime, org.id)
    now = runtime.clock.now()

    response = await client.post(
        f"/api/v1/orgs/{org.id}/invitations", json={"email": "  New.Person@Example.COM ", "role": "agent"}, headers=csrf
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["url"].startswith(f"{settings.public_url}/invite/")
    secret = secret_of(body)
    assert len(secret) >= 40
    assert body["url"].endswith(secret)
    assert body["email"] == "new.person@example.com"
    assert body["role"] == "agent"
    assert body["expires_at"] == iso(now + timedelta(hours=settings.invitation_ttl_hours))
    assert (body["accepted_at"], body["revoked_at"]) == (None, None)
    listed = (await client.get(f"/api/v1/orgs/{org.id}/invitations")).json()
    assert [i["id"] for i in listed] == [body["id"]]
    assert "url" not in listed[0]
    assert secret not in str(listed)


async def test_the_invitation_secret_is_not_stored(client, runtime: Runtime, settings: Settings):
    org = await make_org(runtime)
    csrf = await admin_of(client, runtime, org.id)
    secret = secret_of(await invite(client, org.id, csrf, "someone@example.com"))
    assert secret not in await database_text(settings)


async def test_anyone_with_the_link_can_preview_it_without_signing_in(app, client, runtime: Runtime):
    org = await make_org(runtime, "Harbour Books")
    csrf = await admin_of(client, runtime, org.id)
    created = await invite(client, org.id, csrf, "reader@example.com", role="viewer")

    async with new_client(app) as stranger:
        preview = await stranger.get(f"/api/v1/invitations/{secret_of(created)}")

    assert preview.status_code == 200, preview.text
    assert preview.json() == {
        "organization_name": "Harbour Books",
        "email": "reader@example.com",
        "role": "viewer",
        "expires_at": created["expires_at"],
        "existing_user": False,
    }


async def test_the_preview_tells_whether_the_address_has_an_account(app, client, runtime: Runtime):
    org = await make_org(runtime)
    existing = await make_user(runtime)
    csrf = await admin_of(client, runtime, org.id)
    created = await invite(client, org.id, csrf, existing)

    async with new_client(app) as stranger:
        preview = await stranger.get(f"/api/v1/invitations/{secret_of(created)}")

    assert preview.json()["existing_user"] is True


@pytest.mark.parametrize("secret", ["nope", "x" * 43])
async def test_an_unknown_link_is_not_found(client, secret: str):
    for response in (
        await client.get(f"/api/v1/invitations/{secret}"),
        await client.post(f"/api/v1/invitations/{secret}/accept", json={"name": "N", "password": NEW_PASSWORD}),
    ):
        assert (response.status_code, response.json()["error"]) == (404, "not_found")


# --- a newcomer ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "agent", "viewer"])
async def test_a_newcomer_creates_an_account_joins_with_the_role_and_is_signed_in(
    app, client, runtime: Runtime, role: str
):
    org = await make_org(runtime, "Corner Cafe")
    csrf = await admin_of(client, runtime, org.id)
    created = await invite(client, org.id, csrf, "newcomer@example.com", role=role)

    async with new_client(app) as newcomer:
        accepted = await newcomer.post(
            f"/api/v1/invitations/{secret_of(created)}/accept", json={"name": "Nia Newcomer", "password": NEW_PASSWORD}
        )
        assert accepted.status_code == 200, accepted.text
        body = accepted.json()
        assert (body["organization"]["id"], body["organization"]["name"], body["role"]) == (org.id, "Corner Cafe", role)
        assert body["session"]["user"]["email"] == "newcomer@example.com"
        assert body["session"]["user"]["name"] == "Nia Newcomer"
        assert "parley_session" in newcomer.cookies
        assert newcomer.cookies["parley_csrf"] == body["session"]["csrf_token"]
        # Signed in: the cookie works, and the CSRF token from the response works for writes.
        mine = await newcomer.get("/api/v1/orgs")
        assert [(o["id"], o["role"]) for o in mine.json()] == [(org.id, role)]
        members = await newcomer.get(f"/api/v1/orgs/{org.id}/members")
        assert members.status_code == 200
        logout = await newcomer.post("/api/v1/auth/logout", headers={"X-CSRF-Token": body["session"]["csrf_token"]})
        assert logout.status_code == 204

    assert (await member_roles(client, org.id, csrf))["newcomer@example.com"] == role
    async with new_client(app) as again:  # and the chosen password is theirs
        await sign_in(again, "newcomer@example.com", NEW_PASSWORD)


async def test_a_newcomer_must_choose_a_name_and_password(app, client, runtime: Runtime):
    org = await make_org(runtime)
    csrf = await admin_of(client, runtime, org.id)
    secret = secret_of(await invite(client, org.id, csrf, "newcomer@example.com"))

    async with new_client(app) as newcomer:
        for body in ({}, {"name": "Only Name"}, {"password": NEW_PASSWORD}):
            response = await newcomer.post(f"/api/v1/invitations/{secret}/accept", json=body)
            assert (response.status_code, response.json()["error"]) == (409, "account_required"), body
        assert "parley_session" not in newcomer.cookies
        # The link was not used up.
        assert (await newcomer.get(f"/api/v1/invitations/{secret}")).status_code == 200
    assert "newcomer@example.com" not in await member_roles(client, org.id, csrf)


@pytest.mark.parametrize(
    "password",
    ["short", "aaaaaaaaaaaaaaaa", "abcabcabcabcabc", "x" * 300],
    ids=["too-short", "one-character", "three-characters", "too-long"],
)
async def test_weak_passwords_are_refused_with_field_errors(app, client, runtime: Runtime, password: str):
    org = await make_org(runtime)
    csrf = await admin_of(client, runtime, org.id)
    secret = secret_of(await invite(client, org.id, csrf, "newcomer@example.com"))

    async with new_client(app) as newcomer:
        refused = await newcomer.post(
            f"/api/v1/invitations/{secret}/accept", json={"name": "Nia", "password": password}
        )
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert body["error"] == "invalid_request"
        assert [f["location"] for f in body["fields"]] == ["body.password"]
        assert "parley_session" not in newcomer.cookies
        # The link still works with a good password.
        accepted = await newcomer.post(
            f"/api/v1/invitations/{secret}/accept", json={"name": "Nia", "password": NEW_PASSWORD}
        )
        assert accepted.status_code == 200, accepted.text


async def test_an_empty_name_is_refused_with_a_field_error(app, client, runtime: Runtime):
    org = await make_org(runtime)
    csrf = await admin_of(client, runtime, org.id)
    secret = secret_of(await invite(client, org.id, csrf, "newcomer@example.com"))
    async with new_client(app) as newcomer:
        refused = await newcomer.post(
            f"/api/v1/invitations/{secret}/accept", json={"name": "  ", "password": NEW_PASSWORD}
        )
    assert refused.status_code == 422
    assert [f["location"] for f in refused.json()["fields"]] == ["body.name"]


# --- an existing user ---------------------------------------------------------------------------------------


async def test_an_existing_user_must_be_signed_in_to_accept(app, client, runtime: Runtime):
    org = await make_org(runtime)
    existing = await make_user(runtime)
    csrf = await admin_of(client, runtime, org.id)
    secret = secret_of(await invite(client, org.id, csrf, existing))

    async with new_client(app) as stranger:
        # Knowing the link is not enough, and choosing a password must not take the account over.
        for body in ({}, {"name": "Mallory", "password": "mallory's new password"}):
            refused = await stranger.post(f"/api/v1/invitations/{secret}/accept", json=body)
            assert refused.status_code == 401, refused.text
            assert refused.json()["error"] == "sign_in_required"
        assert "parley_session" not in stranger.cookies

    assert existing not in await member_roles(client, org.id, csrf)
    async with new_client(app) as owner_of_account:  # their password is unchanged
        await sign_in(owner_of_account, existing, PASSWORD)


async def test_an_existing_user_signed_in_as_someone_else_cannot_accept(app, client, runtime: Runtime):
    org = await make_org(runtime)
    invited, someone_else = await make_user(runtime), await make_user(runtime)
    csrf = await admin_of(client, runtime, org.id)
    secret = secret_of(await invite(client, org.id, csrf, invited))

    async with new_client(app) as other:
        other_csrf = await sign_in(other, someone_else)
        refused = await other.post(f"/api/v1/invitations/{secret}/accept", json={}, headers=other_csrf)

    assert (refused.status_code, refused.json()["error"]) == (401, "sign_in_required")
    roles = await member_roles(client, org.id, csrf)
    assert invited not in roles
    assert someone_else not in roles


async def test_an_existing_user_signed_in_must_send_the_csrf_header(app, client, runtime: Runtime):
    org = await make_org(runtime)
    existing = await make_user(runtime)
    csrf = await admin_of(client, runtime, org.id)
    secret = secret_of(await invite(client, org.id, csrf, existing, role="viewer"))

    async with new_client(app) as browser:
        user_csrf = await sign_in(browser, existing)
        forged = await browser.post(f"/api/v1/invitations/{secret}/accept", json={})
        assert (forged.status_code, forged.json()["error"]) == (403, "csrf_failed")
        assert existing not in await member_roles(client, org.id, csrf)

        accepted = await browser.post(f"/api/v1/invitations/{secret}/accept", json={}, headers=user_csrf)
        assert accepted.status_code == 200, accepted.text
        assert (accepted.json()["organization"]["id"], accepted.json()["role"]) == (org.id, "viewer")
        assert accepted.json()["session"] is None  # already signed in: no new session
        mine = await browser.get("/api/v1/orgs")
        assert org.id in [o["id"] for o in mine.json()]

    assert (await member_roles(client, org.id, csrf))[existing] == "viewer"


# --- links that no longer work --------------------------------------------------------------------------------


async def test_an_expired_invitation_cannot_be_previewed_or_accepted(app, client, runtime: Runtime, settings: Settings):
    org = await make_org(runtime)
    csrf = await admin_of(client, runtime, org.id)
    secret = secret_of(await invite(client, org.id, csrf, "late@example.com"))

    runtime.clock.advance(hours=settings.invitation_ttl_hours - 1)
    assert (await client.get(f"/api/v1/invitations/{secret}")).status_code == 200
    runtime.clock.advance(hours=1, seconds=1)

    async with new_client(app) as late:
        preview = await late.get(f"/api/v1/invitations/{secret}")
        accept = await late.post(
            f"/api/v1/invitations/{secret}/accept", json={"name": "Late", "password": NEW_PASSWORD}
        )
        assert "parley_session" not in late.cookies

    for response in (preview, accept):
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "invitation_expired"
    assert "late@example.com" not in await member_roles(client, org.id, csrf)
    async with new_client(app) as anyone:  # no account was created either
        login = await anyone.post("/api/v1/auth/login", json={"email": "late@example.com", "password": NEW_PASSWORD})
        assert login.status_code == 401


async def test_an_invitation_works_once(app, client, runtime: Runtime):
    org = await make_org(runtime)
    csrf = await admin_of(client, runtime, org.id)
    secret = secret_of(await invite(client, org.id, csrf, "once@example.com"))

    async with new_client(app) as first, new_client(app) as second:
        accepted = await first.post(
            f"/api/v1/invitations/{secret}/accept", json={"name": "A", "password": NEW_PASSWORD}
        )
        again = await second.post(
            f"/api/v1/invitations/{secret}/accept", json={"name": "B", "password": "another long passphrase"}
        )
        again_signed_in = await first.post(
            f"/api/v1/invitations/{secret}/accept", json={}, headers={"X-CSRF-Token": first.cookies["parley_csrf"]}
        )
        preview = await second.get(f"/api/v1/invitations/{secret}")

    assert accepted.status_code == 200, accepted.text
    for response in (again, again_signed_in, preview):
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "invitation_used"
    assert "parley_session" not in second.cookies
    [listed] = (await client.get(f"/api/v1/orgs/{org.id}/invitations")).json()
    assert listed["accepted_at"] is not None


async def test_a_revoked_invitation_cannot_be_accepted(app, client, runtime: Runtime):
    org = await make_org(runtime)
    csrf = await admin_of(client, runtime, org.id)
    created = await invite(client, org.id, csrf, "withdrawn@example.com")

    revoked = await client.delete(f"/api/v1/orgs/{org.id}/invitations/{created['id']}", headers=csrf)
    assert revoked.status_code == 204, revoked.text

    async with new_client(app) as invitee:
        preview = await invitee.get(f"/api/v1/invitations/{secret_of(created)}")
        accept = await invitee.post(
            f"/api/v1/invitations/{secret_of(created)}/accept", json={"name": "W", "password": NEW_PASSWORD}
        )
    for response in (preview, accept):
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "invitation_expired"
    assert "withdrawn@example.com" not in await member_roles(client, org.id, csrf)
    [listed] = (await client.get(f"/api/v1/orgs/{org.id}/invitations")).json()
    assert listed["revoked_at"] is not None


async def test_an_accepted_invitation_cannot_be_revoked(app, client, runtime: Runtime):
    org = await make_org(runtime)
    csrf = await admin_of(client, runtime, org.id)
    created = await invite(client, org.id, csrf, "joined@example.com")
    async with new_client(app) as invitee:
        accepted = await invitee.post(
            f"/api/v1/invitations/{secret_of(created)}/accept", json={"name": "J", "password": NEW_PASSWORD}
        )
        assert accepted.status_code == 200

    response = await client.delete(f"/api/v1/orgs/{org.id}/invitations/{created['id']}", headers=csrf)

    assert (response.status_code, response.json()["error"]) == (409, "accepted")


async def test_reinviting_an_address_withdraws_the_older_link(app, client, runtime: Runtime):
    org = await make_org(runtime)
    csrf = await admin_of(client, runtime, org.id)
    older = await invite(client, org.id, csrf, "twice@example.com", role="viewer")
    runtime.clock.advance(minutes=5)
    newer = await invite(client, org.id, csrf, "TWICE@example.com", role="agent")

    async with new_client(app) as invitee:
        old_preview = await invitee.get(f"/api/v1/invitations/{secret_of(older)}")
        assert (old_preview.status_code, old_preview.json()["error"]) == (409, "invitation_expired")
        accepted = await invitee.post(
            f"/api/v1/invitations/{secret_of(newer)}/accept", json={"name": "T", "password": NEW_PASSWORD}
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["role"] == "agent"

    listed = {i["id"]: i for i in (await client.get(f"/api/v1/orgs/{org.id}/invitations")).json()}
    assert listed[older["id"]]["revoked_at"] is not None
    assert listed[newer["id"]]["revoked_at"] is None
    assert listed[newer["id"]]["accepted_at"] is not None


async def test_reinviting_does_not_touch_other_addresses_or_organisations(client, runtime: Runtime):
    org, other_org = await make_org(runtime), await make_org(runtime)
    csrf = await admin_of(client, runtime, org.id)
    _, other_owner = await make_token(runtime, other_org.id, Role.OWNER)
    same_address_elsewhere = await invite(client, other_org.id, bearer(other_owner), "twice@example.com")
    other_address = await invite(client, org.id, csrf, "someone-else@example.com")

    await invite(client, org.id, csrf, "twice@example.com")
    await invite(client, org.id, csrf, "twice@example.com")

    for created in (same_address_elsewhere, other_address):
        assert (await client.get(f"/api/v1/invitations/{secret_of(created)}")).status_code == 200


async def test_inviting_an_existing_member_is_a_conflict(client, runtime: Runtime):
    org = await make_org(runtime)
    member = await make_user(runtime, org_id=org.id, role=Role.VIEWER)
    csrf = await admin_of(client, runtime, org.id)

    for email in (member, member.upper(), org.owner_email):
        response = await client.post(
            f"/api/v1/orgs/{org.id}/invitations", json={"email": email, "role": "agent"}, headers=csrf
        )
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "already_member"
    assert (await client.get(f"/api/v1/orgs/{org.id}/invitations")).json() == []


@pytest.mark.parametrize(
    "body", [{"email": "not-an-email", "role": "agent"}, {"email": "a@example.com", "role": "boss"}]
)
async def test_invalid_invitations_are_refused(client, runtime: Runtime, body: dict):
    org = await make_org(runtime)
    csrf = await admin_of(client, runtime, org.id)
    response = await client.post(f"/api/v1/orgs/{org.id}/invitations", json=body, headers=csrf)
    assert (response.status_code, response.json()["error"]) == (422, "invalid_request")


# --- audit --------------------------------------------------------------------------------------------------


async def test_invitations_are_audited_from_creation_to_membership(app, client, runtime: Runtime):
    org = await make_org(runtime)
    admin_email = await make_user(runtime, org_id=org.id, role=Role.ADMIN)
    csrf = await sign_in(client, admin_email)
    admin_id = await user_id_of(runtime, admin_email)
    created = await invite(client, org.id, csrf, "joiner@example.com", role="agent")
    withdrawn = await invite(client, org.id, csrf, "withdrawn@example.com")
    await client.delete(f"/api/v1/orgs/{org.id}/invitations/{withdrawn['id']}", headers=csrf)

    async with new_client(app) as joiner:
        accepted = await joiner.post(
            f"/api/v1/invitations/{secret_of(created)}/accept", json={"name": "Joiner", "password": NEW_PASSWORD}
        )
        assert accepted.status_code == 200, accepted.text
    joiner_id = await user_id_of(runtime, "joiner@example.com")
    member_id = next(
        m["id"] for m in (await client.get(f"/api/v1/orgs/{org.id}/members")).json() if m["user_id"] == joiner_id
    )

    events = await audit_events(client, org.id, csrf)
    by_action = {}
    for event in events:
        by_action.setdefault(event["action"], []).append(event)

    created_events = [e for e in by_action["invitation.created"] if e["target_id"] == created["id"]]
    assert [(e["actor_type"], e["actor_id"], e["target_type"], e["details"]) for e in created_events] == [
        ("user", admin_id, "invitation", {"role": "agent"})
    ]
    [revoked] = by_action["invitation.revoked"]
    assert (revoked["actor_id"], revoked["target_id"]) == (admin_id, withdrawn["id"])
    [accepted_event] = by_action["invitation.accepted"]
    assert (accepted_event["actor_type"], accepted_event["actor_id"]) == ("user", joiner_id)
    assert (accepted_event["target_type"], accepted_event["target_id"]) == ("invitation", created["id"])
    joined = [e for e in by_action["member.added"] if e["target_id"] == member_id]
    assert [(e["actor_type"], e["actor_id"], e["target_type"], e["details"]) for e in joined] == [
        ("user", joiner_id, "member", {"user_id": joiner_id, "role": "agent"})
    ]
    assert accepted_event["ip"] == "203.0.113.8"  # the joiner's address, not the admin's


async def test_accepting_the_same_link_twice_at_once_joins_once(app, client, runtime: Runtime):
    """A double click on "join": one request joins, the other is told the link was used (not a server error)."""
    org = await make_org(runtime)
    csrf = await admin_of(client, runtime, org.id)
    secret = secret_of(await invite(client, org.id, csrf, "double@example.com"))

    async with new_client(app) as first, new_client(app) as second:
        responses = await asyncio.gather(
            first.post(f"/api/v1/invitations/{secret}/accept", json={"name": "D", "password": NEW_PASSWORD}),
            second.post(f"/api/v1/invitations/{secret}/accept", json={"name": "D", "password": NEW_PASSWORD}),
        )

    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    assert next(r for r in responses if r.status_code == 409).json()["error"] == "invitation_used"
    assert list(await member_roles(client, org.id, csrf)).count("double@example.com") == 1


async def test_a_signed_in_user_accepting_twice_at_once_joins_once(app, client, runtime: Runtime):
    """Repeated over a few organisations, since an interleaving is not forced."""
    existing = await make_user(runtime)
    async with new_client(app) as browser:
        user_csrf = await sign_in(browser, existing)
        for _ in range(3):
            org = await make_org(runtime)
            _, owner = await make_token(runtime, org.id, Role.OWNER)
            secret = secret_of(await invite(client, org.id, bearer(owner), existing))

            responses = await asyncio.gather(
                *(browser.post(f"/api/v1/invitations/{secret}/accept", json={}, headers=user_csrf) for _ in range(2))
            )

            assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
            assert next(r for r in responses if r.status_code == 409).json()["error"] == "invitation_used"
            assert (await member_roles(client, org.id, bearer(owner)))[existing] == "agent"
