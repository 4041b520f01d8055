"""API tokens: shown once, stored only as a hash, refused at once when revoked or expired, confined to their
organisation, and audited."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from parley.runtime import Runtime
from parley.settings import Settings
from parley.tenancy.permissions import Role
from tests.factories import (
    PASSWORD,
    audit_events,
    bearer,
    database_rows,
    database_text,
    make_org,
    make_token,
    make_user,
    new_client,
    set_token_expiry,
    sign_in,
    user_id_of,
)

PREFIX = "prl_"


async def me(client, headers=None) -> dict:
    response = await client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_new_token_shows_its_secret_once(client, runtime: Runtime):
    org = await make_org(runtime)
    csrf = await sign_in(client, org.owner_email)

    created = await client.post(
        f"/api/v1/orgs/{org.id}/tokens", json={"name": "CRM sync", "role": "agent"}, headers=csrf
    )

    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["secret"]
    assert secret.startswith(PREFIX)
    assert len(secret) >= len(PREFIX) + 40  # 256 random bits
    assert body["hint"] == secret[-4:]
    assert (body["name"], body["role"], body["revoked_at"], body["expires_at"]) == ("CRM sync", "agent", None, None)
    assert body["created_by_user_id"] == (await me(client))["user"]["id"]
    # Never shown again: not in the list, not in the token's own page.
    listed = await client.get(f"/api/v1/orgs/{org.id}/tokens")
    single = await client.get(f"/api/v1/orgs/{org.id}/tokens/{body['id']}")
    assert listed.status_code == single.status_code == 200
    assert [t["id"] for t in listed.json()] == [body["id"]]
    assert all("secret" not in t for t in listed.json())
    assert "secret" not in single.json()
    for response in (listed, single):
        assert secret not in response.text
        assert secret[len(PREFIX) :] not in response.text


async def test_a_new_token_works_with_its_role(client, app, runtime: Runtime):
    org = await make_org(runtime, "Token Bakery")
    csrf = await sign_in(client, org.owner_email)
    created = await client.post(
        f"/api/v1/orgs/{org.id}/tokens", json={"name": "reader", "role": "viewer"}, headers=csrf
    )
    token = bearer(created.json()["secret"])

    async with new_client(app) as machine:  # no cookies: the token alone
        orgs = await machine.get("/api/v1/orgs", headers=token)
        members = await machine.get(f"/api/v1/orgs/{org.id}/members", headers=token)
        audit = await machine.get(f"/api/v1/orgs/{org.id}/audit", headers=token)

    assert orgs.status_code == 200
    assert [(o["id"], o["role"]) for o in orgs.json()] == [(org.id, "viewer")]
    assert members.status_code == 200
    assert (audit.status_code, audit.json()["error"]) == (403, "forbidden")


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
async def test_token_names_are_validated(client, runtime: Runtime, name: str):
    org = await make_org(runtime)
    csrf = await sign_in(client, org.owner_email)
    response = await client.post(f"/api/v1/orgs/{org.id}/tokens", json={"name": name, "role": "viewer"}, headers=csrf)
    assert (response.status_code, response.json()["error"]) == (422, "invalid_request")
    assert (await client.get(f"/api/v1/orgs/{org.id}/tokens")).json() == []


async def test_a_revoked_token_is_refused_on_the_very_next_request(client, runtime: Runtime):
    org = await make_org(runtime)
    token_id, secret = await make_token(runtime, org.id, Role.ADMIN)
    assert (await client.get(f"/api/v1/orgs/{org.id}", headers=bearer(secret))).status_code == 200
    csrf = await sign_in(client, org.owner_email)

    revoked = await client.delete(f"/api/v1/orgs/{org.id}/tokens/{token_id}", headers=csrf)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None

    after = await client.get(f"/api/v1/orgs/{org.id}", headers=bearer(secret))
    assert after.status_code == 401, after.text
    assert after.json()["error"] == "invalid_token"
    # Still listed (for the audit trail), marked revoked.
    [listed] = (await client.get(f"/api/v1/orgs/{org.id}/tokens")).json()
    assert (listed["id"], listed["revoked_at"]) == (token_id, revoked.json()["revoked_at"])


async def test_a_token_can_revoke_itself(client, runtime: Runtime):
    org = await make_org(runtime)
    token_id, secret = await make_token(runtime, org.id, Role.ADMIN)

    revoked = await client.delete(f"/api/v1/orgs/{org.id}/tokens/{token_id}", headers=bearer(secret))

    assert revoked.status_code == 200, revoked.text
    assert (await client.get(f"/api/v1/orgs/{org.id}", headers=bearer(secret))).status_code == 401


async def test_a_token_with_an_expiry_can_be_created(client, runtime: Runtime):
    org = await make_org(runtime)
    csrf = await sign_in(client, org.owner_email)
    now = runtime.clock.now()

    created = await client.post(
        f"/api/v1/orgs/{org.id}/tokens", json={"name": "temp", "role": "viewer", "expires_in_days": 30}, headers=csrf
    )

    assert created.status_code == 201, created.text
    assert created.json()["expires_at"] == (now + timedelta(days=30)).isoformat().replace("+00:00", "Z")
    [event] = await audit_events(client, org.id, csrf, action="token.created")
    assert event["target_id"] == created.json()["id"]


async def test_a_token_created_to_expire_is_refused_once_it_has(client, runtime: Runtime):
    org = await make_org(runtime)
    csrf = await sign_in(client, org.owner_email)
    created = await client.post(
        f"/api/v1/orgs/{org.id}/tokens", json={"name": "temp", "role": "viewer", "expires_in_days": 1}, headers=csrf
    )
    assert created.status_code == 201, created.text
    token = bearer(created.json()["secret"])

    runtime.clock.advance(hours=23, minutes=59)
    assert (await client.get(f"/api/v1/orgs/{org.id}", headers=token)).status_code == 200
    runtime.clock.advance(minutes=2)
    expired = await client.get(f"/api/v1/orgs/{org.id}", headers=token)

    assert expired.status_code == 401, expired.text
    assert expired.json()["error"] == "token_expired"


async def test_an_expired_token_is_refused_on_the_next_request(client, runtime: Runtime):
    """Expiry is read from the token's row on every request (the expiry is set directly here, so that this
    behaviour is tested independently of creating a token with an expiry through the API)."""
    org = await make_org(runtime)
    token_id, secret = await make_token(runtime, org.id, Role.ADMIN)
    await set_token_expiry(runtime, org.id, token_id, runtime.clock.now() + timedelta(hours=1))

    assert (await client.get(f"/api/v1/orgs/{org.id}/members", headers=bearer(secret))).status_code == 200
    runtime.clock.advance(hours=1, seconds=1)
    response = await client.get(f"/api/v1/orgs/{org.id}/members", headers=bearer(secret))

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "token_expired"
    writes = await client.patch(f"/api/v1/orgs/{org.id}", json={"name": "Nope"}, headers=bearer(secret))
    assert (writes.status_code, writes.json()["error"]) == (401, "token_expired")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/orgs/{org}", None),
        ("PATCH", "/orgs/{org}", {"name": "Taken over"}),
        ("GET", "/orgs/{org}/members", None),
        ("GET", "/orgs/{org}/tokens", None),
        ("POST", "/orgs/{org}/tokens", {"name": "backdoor", "role": "viewer"}),
        ("GET", "/orgs/{org}/invitations", None),
        ("POST", "/orgs/{org}/invitations", {"email": "spy@example.com", "role": "admin"}),
        ("GET", "/orgs/{org}/audit", None),
    ],
)
async def test_a_token_of_one_organisation_sees_nothing_of_another(client, runtime: Runtime, method, path, body):
    org_a, org_b = await make_org(runtime), await make_org(runtime)
    _, secret_a = await make_token(runtime, org_a.id, Role.OWNER)
    _, secret_b = await make_token(runtime, org_b.id, Role.OWNER)
    before = await audit_events(client, org_b.id, bearer(secret_b))

    response = await client.request(method, "/api/v1" + path.format(org=org_b.id), json=body, headers=bearer(secret_a))

    assert response.status_code == 404, response.text
    assert response.json()["error"] == "not_found"
    assert await audit_events(client, org_b.id, bearer(secret_b)) == before
    assert (await client.get(f"/api/v1/orgs/{org_b.id}", headers=bearer(secret_b))).json()["name"] != "Taken over"


async def test_a_token_cannot_reach_another_organisations_token_by_id(client, runtime: Runtime):
    org_a, org_b = await make_org(runtime), await make_org(runtime)
    _, secret_a = await make_token(runtime, org_a.id, Role.OWNER)
    b_token_id, b_secret = await make_token(runtime, org_b.id, Role.VIEWER)

    read = await client.get(f"/api/v1/orgs/{org_a.id}/tokens/{b_token_id}", headers=bearer(secret_a))
    revoke = await client.delete(f"/api/v1/orgs/{org_a.id}/tokens/{b_token_id}", headers=bearer(secret_a))

    assert (read.status_code, revoke.status_code) == (404, 404)
    assert (await client.get(f"/api/v1/orgs/{org_b.id}", headers=bearer(b_secret))).status_code == 200


async def test_last_used_at_is_recorded(client, runtime: Runtime):
    org = await make_org(runtime)
    token_id, secret = await make_token(runtime, org.id, Role.VIEWER)
    _, owner_secret = await make_token(runtime, org.id, Role.OWNER)
    owner = bearer(owner_secret)

    async def last_used() -> str | None:
        response = await client.get(f"/api/v1/orgs/{org.id}/tokens/{token_id}", headers=owner)
        assert response.status_code == 200, response.text
        return response.json()["last_used_at"]

    assert await last_used() is None
    first_use = runtime.clock.advance(minutes=5)
    assert (await client.get(f"/api/v1/orgs/{org.id}/members", headers=bearer(secret))).status_code == 200
    assert await last_used() == first_use.isoformat().replace("+00:00", "Z")

    later = runtime.clock.advance(hours=3)
    assert (await client.get(f"/api/v1/orgs/{org.id}", headers=bearer(secret))).status_code == 200
    assert await last_used() == later.isoformat().replace("+00:00", "Z")


async def test_last_used_at_is_recorded_for_writes_too(client, runtime: Runtime):
    org = await make_org(runtime)
    token_id, secret = await make_token(runtime, org.id, Role.ADMIN)
    used = runtime.clock.advance(minutes=5)

    renamed = await client.patch(f"/api/v1/orgs/{org.id}", json={"name": "Renamed by bot"}, headers=bearer(secret))

    assert renamed.status_code == 200, renamed.text
    runtime.clock.advance(seconds=30)  # within the minute: this read does not record a use of its own
    token = (await client.get(f"/api/v1/orgs/{org.id}/tokens/{token_id}", headers=bearer(secret))).json()
    assert token["last_used_at"] == used.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Basic dXNlcjpwYXNzd29yZA==",
        "Token {secret}",
        "{secret}",
        "Bearer{secret}",
        "Bearer not-a-parley-token",
        "Bearer prl_",
        "Bearer prl_thisisnotarealtokenthisisnotarealtoken00",
        "Bearer {secret}x",
        "Bearer {secret} {secret}",
    ],
)
async def test_malformed_or_unknown_authorization_is_refused(client, runtime: Runtime, authorization: str):
    org = await make_org(runtime)
    _, secret = await make_token(runtime, org.id, Role.OWNER)

    response = await client.get(
        f"/api/v1/orgs/{org.id}", headers={"Authorization": authorization.format(secret=secret)}
    )

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_token"


async def test_a_bad_authorization_header_does_not_fall_back_to_the_session_cookie(client, runtime: Runtime):
    org = await make_org(runtime)
    await sign_in(client, org.owner_email)
    response = await client.get(f"/api/v1/orgs/{org.id}", headers={"Authorization": "Bearer nonsense"})
    assert (response.status_code, response.json()["error"]) == (401, "invalid_token")


async def test_the_bearer_scheme_is_case_insensitive(client, runtime: Runtime):
    org = await make_org(runtime)
    _, secret = await make_token(runtime, org.id, Role.VIEWER)
    response = await client.get(f"/api/v1/orgs/{org.id}", headers={"Authorization": f"bearer {secret}"})
    assert response.status_code == 200, response.text


async def test_token_creation_and_revocation_are_audited_with_actor_and_target(client, runtime: Runtime):
    org = await make_org(runtime)
    csrf = await sign_in(client, org.owner_email)
    owner_id = await user_id_of(runtime, org.owner_email)

    created = await client.post(f"/api/v1/orgs/{org.id}/tokens", json={"name": "ci", "role": "admin"}, headers=csrf)
    token_id = created.json()["id"]
    # A token creates and revokes another one: the actor is then the token.
    by_token = await client.post(
        f"/api/v1/orgs/{org.id}/tokens",
        json={"name": "child", "role": "viewer"},
        headers=bearer(created.json()["secret"]),
    )
    child_id = by_token.json()["id"]
    await client.delete(f"/api/v1/orgs/{org.id}/tokens/{child_id}", headers=bearer(created.json()["secret"]))
    revoked = await client.delete(f"/api/v1/orgs/{org.id}/tokens/{token_id}", headers=csrf)
    assert revoked.status_code == 200, revoked.text

    events = await audit_events(client, org.id, csrf)
    tokens = [
        (e["action"], e["actor_type"], e["actor_id"], e["target_type"], e["target_id"])
        for e in reversed(events)
        if e["action"].startswith("token.")
    ]
    assert tokens == [
        ("token.created", "user", owner_id, "token", token_id),
        ("token.created", "token", token_id, "token", child_id),
        ("token.revoked", "token", token_id, "token", child_id),
        ("token.revoked", "user", owner_id, "token", token_id),
    ]
    [first] = [e for e in events if e["target_id"] == token_id and e["action"] == "token.created"]
    assert first["details"]["role"] == "admin"
    assert first["ip"] == "203.0.113.7"


async def test_revoking_twice_is_harmless_and_audited_once(client, runtime: Runtime):
    org = await make_org(runtime)
    token_id, _ = await make_token(runtime, org.id, Role.VIEWER)
    csrf = await sign_in(client, org.owner_email)

    first = await client.delete(f"/api/v1/orgs/{org.id}/tokens/{token_id}", headers=csrf)
    runtime.clock.advance(minutes=1)
    second = await client.delete(f"/api/v1/orgs/{org.id}/tokens/{token_id}", headers=csrf)

    assert first.status_code == second.status_code == 200
    assert first.json()["revoked_at"] == second.json()["revoked_at"]
    assert len(await audit_events(client, org.id, csrf, action="token.revoked")) == 1


# --- secrets at rest ---------------------------------------------------------------------------------------------


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def test_token_secrets_are_nowhere_in_the_database(client, runtime: Runtime, settings: Settings):
    org = await make_org(runtime)
    csrf = await sign_in(client, org.owner_email)
    secrets: list[str] = []
    for role in ("owner", "admin", "viewer"):
        created = await client.post(f"/api/v1/orgs/{org.id}/tokens", json={"name": role, "role": role}, headers=csrf)
        assert created.status_code == 201, created.text
        secrets.append(created.json()["secret"])
    secrets.append((await make_token(runtime, org.id, Role.AGENT))[1])
    # Use them (last_used_at, audit rows), and revoke one through another.
    for secret in secrets:
        runtime.clock.advance(minutes=2)
        assert (await client.get(f"/api/v1/orgs/{org.id}/members", headers=bearer(secret))).status_code == 200
    viewer_id = next(
        t["id"] for t in (await client.get(f"/api/v1/orgs/{org.id}/tokens")).json() if t["name"] == "viewer"
    )
    assert (await client.delete(f"/api/v1/orgs/{org.id}/tokens/{viewer_id}", headers=bearer(secrets[0]))).is_success

    dump = await database_text(settings)

    for secret in secrets:
        assert secret.startswith(PREFIX)
        assert secret not in dump
        assert secret[len(PREFIX) :] not in dump
        # The scan does see the tokens table: the secret's hash is there.
        assert sha256(secret) in dump
    session_cookie = client.cookies["parley_session"]
    assert session_cookie not in dump
    assert sha256(session_cookie) in dump


async def test_passwords_are_nowhere_in_the_database_and_hashed_with_argon2id(
    client, app, runtime: Runtime, settings: Settings
):
    org = await make_org(runtime)
    member = await make_user(runtime, org_id=org.id, role=Role.AGENT)
    csrf = await sign_in(client, org.owner_email)
    # A password set through an invitation, one changed through the API, and a wrong one tried at sign-in.
    invited_password = "Invited-Person-Password-7731"
    invitation = await client.post(
        f"/api/v1/orgs/{org.id}/invitations", json={"email": "invitee@example.com", "role": "viewer"}, headers=csrf
    )
    secret = invitation.json()["url"].rsplit("/", 1)[1]
    async with new_client(app) as invitee:
        accepted = await invitee.post(
            f"/api/v1/invitations/{secret}/accept", json={"name": "Invitee", "password": invited_password}
        )
        assert accepted.status_code == 200, accepted.text
    changed_password = "Changed-Member-Password-4410"
    async with new_client(app) as other:
        member_csrf = await sign_in(other, member)
        changed = await other.post(
            "/api/v1/auth/password",
            json={"current_password": PASSWORD, "new_password": changed_password},
            headers=member_csrf,
        )
        assert changed.status_code == 200, changed.text
        wrong_guess = "Wrong-Guess-Password-0098"
        failed = await other.post("/api/v1/auth/login", json={"email": member, "password": wrong_guess})
        assert failed.status_code == 401

    dump = await database_text(settings)
    rows = await database_rows(settings)

    for password in (PASSWORD, invited_password, changed_password, wrong_guess):
        assert password not in dump, password
    users = rows["users"]
    assert {u["email"] for u in users} >= {org.owner_email, member, "invitee@example.com"}
    for user in users:
        assert str(user["password_hash"]).startswith("$argon2id$"), user["email"]
    assert len({u["password_hash"] for u in users}) == len(users)  # salted: no two hashes alike
    # And the hashes are real: each person signs in with their password.
    for email, password in ((member, changed_password), ("invitee@example.com", invited_password)):
        async with new_client(app) as fresh:
            assert (await fresh.post("/api/v1/auth/login", json={"email": email, "password": password})).is_success
