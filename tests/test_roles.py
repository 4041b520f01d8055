"""The permission matrix, end to end through the API, for every role, as a signed-in person and as an API token.

Expectations for each route are derived from `MATRIX` (so the tests follow the matrix), and a few key ones are
also written out by hand (so that a wrong change to the matrix fails here too). The rules that are not a simple
permission (nobody grants above their own role, admins leave owners alone, an organisation keeps an owner, anyone
may leave) are tested one by one.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

import httpx
import pytest

from parley.runtime import Runtime
from parley.tenancy.permissions import MATRIX, Permission, Role
from tests.factories import (
    audit_events,
    bearer,
    make_org,
    make_token,
    make_user,
    member_ids,
    member_roles,
    sign_in,
)

ROLES = [Role.OWNER, Role.ADMIN, Role.AGENT, Role.VIEWER]
KINDS = ["session", "token"]


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str
    permission: Permission
    json: dict[str, object] | None = None
    ok: int = 200

    @property
    def writes(self) -> bool:
        return self.method != "GET"


# Which permission each route needs: the API's contract, written out. The expected outcome per role comes from
# MATRIX. Targets ({member}, {invitation}, {token}) are set up so that any role allowed to act may act on them.
ROUTES = [
    Route("read org", "GET", "/orgs/{org}", Permission.ORG_READ),
    Route("rename org", "PATCH", "/orgs/{org}", Permission.ORG_UPDATE, json={"name": "Renamed Business"}),
    Route("list members", "GET", "/orgs/{org}/members", Permission.MEMBERS_READ),
    Route("read member", "GET", "/orgs/{org}/members/{member}", Permission.MEMBERS_READ),
    Route(
        "change member role", "PATCH", "/orgs/{org}/members/{member}", Permission.MEMBERS_MANAGE, json={"role": "agent"}
    ),
    Route("remove member", "DELETE", "/orgs/{org}/members/{member}", Permission.MEMBERS_MANAGE, ok=204),
    Route("list invitations", "GET", "/orgs/{org}/invitations", Permission.INVITATIONS_MANAGE),
    Route(
        "invite",
        "POST",
        "/orgs/{org}/invitations",
        Permission.INVITATIONS_MANAGE,
        json={"email": "newcomer@example.com", "role": "viewer"},
        ok=201,
    ),
    Route("revoke invitation", "DELETE", "/orgs/{org}/invitations/{invitation}", Permission.INVITATIONS_MANAGE, ok=204),
    Route("list tokens", "GET", "/orgs/{org}/tokens", Permission.TOKENS_READ),
    Route("read token", "GET", "/orgs/{org}/tokens/{token}", Permission.TOKENS_READ),
    Route(
        "create token",
        "POST",
        "/orgs/{org}/tokens",
        Permission.TOKENS_MANAGE,
        json={"name": "zapier", "role": "viewer"},
        ok=201,
    ),
    Route("revoke token", "DELETE", "/orgs/{org}/tokens/{token}", Permission.TOKENS_MANAGE),
    Route("read audit", "GET", "/orgs/{org}/audit", Permission.AUDIT_READ),
]
ROUTE_BY_NAME = {r.name: r for r in ROUTES}


@dataclass
class World:
    """An organisation with one member of each role, a spare viewer to act on, a pending viewer invitation,
    a viewer token, and an owner token (`observer`) used to look at the state without being under test."""

    org_id: str
    emails: dict[Role, str]
    target_email: str
    member_ids: dict[str, str]
    invitation_id: str
    token_id: str
    observer: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)

    def path(self, route: Route) -> str:
        return "/api/v1" + route.path.format(
            org=self.org_id,
            member=self.member_ids[self.target_email],
            invitation=self.invitation_id,
            token=self.token_id,
        )


async def build_world(client: httpx.AsyncClient, runtime: Runtime) -> World:
    org = await make_org(runtime)
    emails = {Role.OWNER: org.owner_email}
    for role in (Role.ADMIN, Role.AGENT, Role.VIEWER):
        emails[role] = await make_user(runtime, org_id=org.id, role=role)
    target = await make_user(runtime, org_id=org.id, role=Role.VIEWER, name="Target Person")
    _, observer_secret = await make_token(runtime, org.id, Role.OWNER)
    observer = bearer(observer_secret)
    token_id, _ = await make_token(runtime, org.id, Role.VIEWER)
    invited = await client.post(
        f"/api/v1/orgs/{org.id}/invitations", json={"email": "pending@example.com", "role": "viewer"}, headers=observer
    )
    assert invited.status_code == 201, invited.text
    return World(
        org_id=org.id,
        emails=emails,
        target_email=target,
        member_ids=await member_ids(client, org.id, observer),
        invitation_id=invited.json()["id"],
        token_id=token_id,
        observer=observer,
    )


async def credentials(client: httpx.AsyncClient, runtime: Runtime, world: World, role: Role, kind: str) -> dict:
    """Headers that make the client act with `role`: a signed-in member (cookie + CSRF) or a token."""
    if kind == "session":
        return await sign_in(client, world.emails[role])
    _, secret = await make_token(runtime, world.org_id, role)
    return bearer(secret)


async def audit_count(client: httpx.AsyncClient, world: World) -> int:
    return len(await audit_events(client, world.org_id, world.observer))


# --- the matrix ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("role", ROLES, ids=str)
async def test_each_route_is_allowed_exactly_for_the_roles_the_matrix_gives_its_permission(
    client, runtime: Runtime, role: Role, kind: str, route: Route
):
    world = await build_world(client, runtime)
    headers = await credentials(client, runtime, world, role, kind)
    before = await audit_count(client, world)

    response = await client.request(route.method, world.path(route), json=route.json, headers=headers)

    if route.permission in MATRIX[role]:
        assert response.status_code == route.ok, response.text
        # Every change is audited; a read is not.
        assert await audit_count(client, world) == before + (1 if route.writes else 0)
    else:
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "forbidden"
        # A refused request changes nothing.
        assert await audit_count(client, world) == before


# Written out by hand: if the matrix changes in one of these ways, this test must be updated on purpose.
KEY_EXPECTATIONS = [
    (Role.VIEWER, "read audit", 403),
    (Role.AGENT, "read audit", 403),
    (Role.ADMIN, "read audit", 200),
    (Role.OWNER, "read audit", 200),
    (Role.VIEWER, "list members", 200),
    (Role.VIEWER, "read org", 200),
    (Role.VIEWER, "rename org", 403),
    (Role.AGENT, "rename org", 403),
    (Role.ADMIN, "rename org", 200),
    (Role.VIEWER, "list tokens", 403),
    (Role.AGENT, "list tokens", 403),
    (Role.AGENT, "create token", 403),
    (Role.ADMIN, "create token", 201),
    (Role.AGENT, "invite", 403),
    (Role.ADMIN, "invite", 201),
    (Role.AGENT, "remove member", 403),
    (Role.ADMIN, "remove member", 204),
    (Role.VIEWER, "change member role", 403),
    (Role.OWNER, "change member role", 200),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("role", "route_name", "expected"), KEY_EXPECTATIONS, ids=[f"{r}-{n}" for r, n, _ in KEY_EXPECTATIONS]
)
async def test_key_permissions(client, runtime: Runtime, role: Role, route_name: str, expected: int, kind: str):
    world = await build_world(client, runtime)
    headers = await credentials(client, runtime, world, role, kind)
    route = ROUTE_BY_NAME[route_name]
    response = await client.request(route.method, world.path(route), json=route.json, headers=headers)
    assert response.status_code == expected, response.text
    if expected == 403:
        assert response.json()["error"] == "forbidden"


def test_the_matrix_grows_with_rank_and_only_owners_manage_owners():
    ranked = sorted(ROLES, key=lambda r: r.rank)
    assert ranked == [Role.VIEWER, Role.AGENT, Role.ADMIN, Role.OWNER]
    for lower, higher in itertools.pairwise(ranked):
        assert MATRIX[lower] <= MATRIX[higher], (lower, higher)
    assert [r for r in ROLES if Permission.OWNERS_MANAGE in MATRIX[r]] == [Role.OWNER]
    assert [r for r in ROLES if Permission.AUDIT_READ in MATRIX[r]] == [Role.OWNER, Role.ADMIN]
    assert all({Permission.ORG_READ, Permission.MEMBERS_READ} <= MATRIX[r] for r in ROLES)


async def test_cookie_writes_without_the_csrf_header_are_refused(client, runtime: Runtime):
    world = await build_world(client, runtime)
    csrf = await sign_in(client, world.emails[Role.OWNER])

    missing = await client.patch(f"/api/v1/orgs/{world.org_id}", json={"name": "Hijacked"})
    wrong = await client.patch(
        f"/api/v1/orgs/{world.org_id}", json={"name": "Hijacked"}, headers={"X-CSRF-Token": "0" * 64}
    )

    assert (missing.status_code, missing.json()["error"]) == (403, "csrf_failed")
    assert (wrong.status_code, wrong.json()["error"]) == (403, "csrf_failed")
    name = (await client.get(f"/api/v1/orgs/{world.org_id}", headers=csrf)).json()["name"]
    assert name != "Hijacked"


# --- nobody grants a role above their own ----------------------------------------------------------------


async def test_admin_cannot_make_anyone_an_owner(client, runtime: Runtime):
    world = await build_world(client, runtime)
    for kind in KINDS:
        headers = await credentials(client, runtime, world, Role.ADMIN, kind)
        promote = await client.patch(
            f"/api/v1/orgs/{world.org_id}/members/{world.member_ids[world.target_email]}",
            json={"role": "owner"},
            headers=headers,
        )
        invite = await client.post(
            f"/api/v1/orgs/{world.org_id}/invitations",
            json={"email": "would-be-owner@example.com", "role": "owner"},
            headers=headers,
        )
        token = await client.post(
            f"/api/v1/orgs/{world.org_id}/tokens", json={"name": "too strong", "role": "owner"}, headers=headers
        )
        for response in (promote, invite, token):
            assert response.status_code == 403, (kind, response.text)
            assert response.json()["error"] == "forbidden"
    assert (await member_roles(client, world.org_id, world.observer))[world.target_email] == "viewer"
    invitations = (await client.get(f"/api/v1/orgs/{world.org_id}/invitations", headers=world.observer)).json()
    assert [i["email"] for i in invitations] == ["pending@example.com"]
    tokens = (await client.get(f"/api/v1/orgs/{world.org_id}/tokens", headers=world.observer)).json()
    assert [t for t in tokens if t["name"] == "too strong"] == []


@pytest.mark.parametrize("kind", KINDS)
async def test_admin_can_grant_roles_up_to_admin(client, runtime: Runtime, kind: str):
    world = await build_world(client, runtime)
    headers = await credentials(client, runtime, world, Role.ADMIN, kind)
    member = world.member_ids[world.target_email]

    promoted = await client.patch(
        f"/api/v1/orgs/{world.org_id}/members/{member}", json={"role": "admin"}, headers=headers
    )
    invited = await client.post(
        f"/api/v1/orgs/{world.org_id}/invitations",
        json={"email": "helper@example.com", "role": "admin"},
        headers=headers,
    )
    token = await client.post(
        f"/api/v1/orgs/{world.org_id}/tokens", json={"name": "admin bot", "role": "admin"}, headers=headers
    )

    assert (promoted.status_code, promoted.json()["role"]) == (200, "admin")
    assert (invited.status_code, invited.json()["role"]) == (201, "admin")
    assert (token.status_code, token.json()["role"]) == (201, "admin")


@pytest.mark.parametrize("kind", KINDS)
async def test_owner_can_grant_owner(client, runtime: Runtime, kind: str):
    world = await build_world(client, runtime)
    headers = await credentials(client, runtime, world, Role.OWNER, kind)

    promoted = await client.patch(
        f"/api/v1/orgs/{world.org_id}/members/{world.member_ids[world.emails[Role.ADMIN]]}",
        json={"role": "owner"},
        headers=headers,
    )
    invited = await client.post(
        f"/api/v1/orgs/{world.org_id}/invitations",
        json={"email": "partner@example.com", "role": "owner"},
        headers=headers,
    )
    token = await client.post(
        f"/api/v1/orgs/{world.org_id}/tokens", json={"name": "owner bot", "role": "owner"}, headers=headers
    )

    assert (promoted.status_code, promoted.json()["role"]) == (200, "owner")
    assert (invited.status_code, invited.json()["role"]) == (201, "owner")
    assert (token.status_code, token.json()["role"]) == (201, "owner")


# --- admins leave owners alone ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_admin_cannot_demote_or_remove_an_owner(client, runtime: Runtime, kind: str):
    world = await build_world(client, runtime)
    # A second owner, so that "last owner" cannot be the reason for a refusal.
    second_owner = await make_user(runtime, org_id=world.org_id, role=Role.OWNER)
    headers = await credentials(client, runtime, world, Role.ADMIN, kind)
    ids = await member_ids(client, world.org_id, world.observer)

    demote = await client.patch(
        f"/api/v1/orgs/{world.org_id}/members/{ids[second_owner]}", json={"role": "viewer"}, headers=headers
    )
    remove = await client.delete(f"/api/v1/orgs/{world.org_id}/members/{ids[second_owner]}", headers=headers)

    for response in (demote, remove):
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "forbidden"
    roles = await member_roles(client, world.org_id, world.observer)
    assert roles[second_owner] == roles[world.emails[Role.OWNER]] == "owner"


@pytest.mark.parametrize("kind", KINDS)
async def test_admin_cannot_revoke_an_owner_invitation_or_token(client, runtime: Runtime, kind: str):
    world = await build_world(client, runtime)
    owner_invite = await client.post(
        f"/api/v1/orgs/{world.org_id}/invitations",
        json={"email": "co-owner@example.com", "role": "owner"},
        headers=world.observer,
    )
    owner_token_id, owner_token = await make_token(runtime, world.org_id, Role.OWNER)
    headers = await credentials(client, runtime, world, Role.ADMIN, kind)

    revoke_invite = await client.delete(
        f"/api/v1/orgs/{world.org_id}/invitations/{owner_invite.json()['id']}", headers=headers
    )
    revoke_token = await client.delete(f"/api/v1/orgs/{world.org_id}/tokens/{owner_token_id}", headers=headers)

    for response in (revoke_invite, revoke_token):
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "forbidden"
    assert (await client.get(f"/api/v1/orgs/{world.org_id}", headers=bearer(owner_token))).status_code == 200
    secret = owner_invite.json()["url"].rsplit("/", 1)[1]
    assert (await client.get(f"/api/v1/invitations/{secret}")).status_code == 200


@pytest.mark.parametrize("kind", KINDS)
async def test_admin_cannot_replace_an_owner_invitation_by_inviting_the_same_email_again(
    client, runtime: Runtime, kind: str
):
    """Re-inviting an address withdraws its older link. An admin may not withdraw an owner's invitation
    directly, so they must not be able to do it (and downgrade it) by re-inviting the address either."""
    world = await build_world(client, runtime)
    owner_invite = await client.post(
        f"/api/v1/orgs/{world.org_id}/invitations",
        json={"email": "co-owner@example.com", "role": "owner"},
        headers=world.observer,
    )
    headers = await credentials(client, runtime, world, Role.ADMIN, kind)

    replaced = await client.post(
        f"/api/v1/orgs/{world.org_id}/invitations",
        json={"email": "co-owner@example.com", "role": "viewer"},
        headers=headers,
    )

    assert replaced.status_code == 403, replaced.text
    assert replaced.json()["error"] == "forbidden"
    secret = owner_invite.json()["url"].rsplit("/", 1)[1]
    preview = await client.get(f"/api/v1/invitations/{secret}")
    assert preview.status_code == 200, preview.text
    assert preview.json()["role"] == "owner"


# --- an organisation keeps an owner ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_the_last_owner_cannot_be_demoted(client, runtime: Runtime, kind: str):
    world = await build_world(client, runtime)
    headers = await credentials(client, runtime, world, Role.OWNER, kind)
    owner_member = world.member_ids[world.emails[Role.OWNER]]

    response = await client.patch(
        f"/api/v1/orgs/{world.org_id}/members/{owner_member}", json={"role": "admin"}, headers=headers
    )

    assert response.status_code == 409, response.text
    assert response.json()["error"] == "last_owner"
    assert (await member_roles(client, world.org_id, world.observer))[world.emails[Role.OWNER]] == "owner"


@pytest.mark.parametrize("kind", KINDS)
async def test_the_last_owner_cannot_be_removed(client, runtime: Runtime, kind: str):
    """As a person this is leaving (removing oneself); as an owner token it is removing the only owner."""
    world = await build_world(client, runtime)
    headers = await credentials(client, runtime, world, Role.OWNER, kind)
    owner_member = world.member_ids[world.emails[Role.OWNER]]

    response = await client.delete(f"/api/v1/orgs/{world.org_id}/members/{owner_member}", headers=headers)

    assert response.status_code == 409, response.text
    assert response.json()["error"] == "last_owner"
    assert world.emails[Role.OWNER] in await member_roles(client, world.org_id, world.observer)


async def test_an_owner_can_step_down_once_there_is_another_owner(client, runtime: Runtime):
    world = await build_world(client, runtime)
    headers = await sign_in(client, world.emails[Role.OWNER])
    ids = world.member_ids
    first, admin = world.emails[Role.OWNER], world.emails[Role.ADMIN]

    promoted = await client.patch(
        f"/api/v1/orgs/{world.org_id}/members/{ids[admin]}", json={"role": "owner"}, headers=headers
    )
    stepped_down = await client.patch(
        f"/api/v1/orgs/{world.org_id}/members/{ids[first]}", json={"role": "admin"}, headers=headers
    )

    assert promoted.status_code == 200, promoted.text
    assert stepped_down.status_code == 200, stepped_down.text
    assert (await member_roles(client, world.org_id, world.observer))[first] == "admin"
    # Now the former admin is the only owner, and cannot be demoted by the observer (an owner token) either.
    last = await client.patch(
        f"/api/v1/orgs/{world.org_id}/members/{ids[admin]}", json={"role": "viewer"}, headers=world.observer
    )
    assert (last.status_code, last.json()["error"]) == (409, "last_owner")


async def test_an_owner_can_leave_when_another_owner_remains(client, runtime: Runtime):
    world = await build_world(client, runtime)
    other_owner = await make_user(runtime, org_id=world.org_id, role=Role.OWNER)
    headers = await sign_in(client, world.emails[Role.OWNER])

    left = await client.delete(
        f"/api/v1/orgs/{world.org_id}/members/{world.member_ids[world.emails[Role.OWNER]]}", headers=headers
    )

    assert left.status_code == 204, left.text
    roles = await member_roles(client, world.org_id, world.observer)
    assert world.emails[Role.OWNER] not in roles
    assert [email for email, role in roles.items() if role == "owner"] == [other_owner]


async def test_simultaneous_demotions_of_both_owners_leave_one_owner(client, runtime: Runtime):
    """The last-owner rule must hold under concurrency: of two simultaneous requests demoting the two owners,
    one must be refused, whatever the interleaving. Repeated a few times, as an interleaving is not forced."""
    world = await build_world(client, runtime)
    first, second = world.emails[Role.OWNER], await make_user(runtime, org_id=world.org_id, role=Role.OWNER)
    ids = await member_ids(client, world.org_id, world.observer)
    tokens = [bearer((await make_token(runtime, world.org_id, Role.OWNER))[1]) for _ in range(2)]
    for _ in range(5):
        responses = await asyncio.gather(
            *(
                client.patch(f"/api/v1/orgs/{world.org_id}/members/{ids[email]}", json={"role": "admin"}, headers=h)
                for email, h in zip((first, second), tokens, strict=True)
            )
        )
        roles = await member_roles(client, world.org_id, world.observer)
        assert [e for e in (first, second) if roles[e] == "owner"] != [], [r.text for r in responses]
        assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
        refused = next(r for r in responses if r.status_code == 409)
        assert refused.json()["error"] == "last_owner"
        demoted = next(e for e in (first, second) if roles[e] == "admin")
        restored = await client.patch(
            f"/api/v1/orgs/{world.org_id}/members/{ids[demoted]}", json={"role": "owner"}, headers=world.observer
        )
        assert restored.status_code == 200, restored.text


# --- anyone may leave ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AGENT, Role.VIEWER], ids=str)
async def test_any_member_can_leave(client, runtime: Runtime, role: Role):
    world = await build_world(client, runtime)
    headers = await sign_in(client, world.emails[role])

    left = await client.delete(
        f"/api/v1/orgs/{world.org_id}/members/{world.member_ids[world.emails[role]]}", headers=headers
    )

    assert left.status_code == 204, left.text
    assert world.emails[role] not in await member_roles(client, world.org_id, world.observer)
    gone = await client.get(f"/api/v1/orgs/{world.org_id}", headers=headers)
    assert (gone.status_code, gone.json()["error"]) == (404, "not_found")
    [event] = await audit_events(client, world.org_id, world.observer, action="member.removed")
    assert event["details"]["left"] is True


@pytest.mark.parametrize("role", [Role.AGENT, Role.VIEWER], ids=str)
async def test_members_without_manage_rights_cannot_remove_others(client, runtime: Runtime, role: Role):
    world = await build_world(client, runtime)
    headers = await sign_in(client, world.emails[role])

    for victim in (world.target_email, world.emails[Role.ADMIN], world.emails[Role.OWNER]):
        response = await client.delete(
            f"/api/v1/orgs/{world.org_id}/members/{world.member_ids[victim]}", headers=headers
        )
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "forbidden"
    assert len(await member_roles(client, world.org_id, world.observer)) == 5
