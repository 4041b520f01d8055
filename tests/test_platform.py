"""Platform administration for multi-tenant hosting: super-admins manage organisations, not their content."""

from __future__ import annotations

from parley.runtime import Runtime
from tests.factories import make_org, make_user, sign_in


async def test_superadmin_creates_an_organisation_for_an_existing_user(client, runtime: Runtime):
    admin = await make_user(runtime, superadmin=True)
    owner = await make_user(runtime)
    csrf = await sign_in(client, admin)
    response = await client.post("/api/v1/admin/orgs", json={"name": "Chez Nous", "owner_email": owner}, headers=csrf)
    assert response.status_code == 201
    assert response.json()["owner_invitation_url"] is None
    org = response.json()["organization"]
    assert org["slug"] == "chez-nous"
    listed = await client.get("/api/v1/admin/orgs")
    assert [o["name"] for o in listed.json()] == ["Chez Nous"]
    # Creating it grants the super-admin no access to the organisation's data.
    assert (await client.get(f"/api/v1/orgs/{org['id']}/members")).status_code == 404


async def test_a_new_owner_gets_an_invitation_link(client, runtime: Runtime):
    admin = await make_user(runtime, superadmin=True)
    csrf = await sign_in(client, admin)
    response = await client.post(
        "/api/v1/admin/orgs", json={"name": "Chez Nous", "owner_email": "new.owner@example.com"}, headers=csrf
    )
    url = response.json()["owner_invitation_url"]
    secret = url.rsplit("/", 1)[-1]
    preview = await client.get(f"/api/v1/invitations/{secret}")
    assert preview.json()["role"] == "owner" and preview.json()["email"] == "new.owner@example.com"


async def test_slugs_stay_unique(client, runtime: Runtime):
    admin = await make_user(runtime, superadmin=True)
    csrf = await sign_in(client, admin)
    slugs = []
    for _ in range(3):
        response = await client.post(
            "/api/v1/admin/orgs", json={"name": "Café Été", "owner_email": "o@example.com"}, headers=csrf
        )
        slugs.append(response.json()["organization"]["slug"])
    assert slugs == ["cafe-ete", "cafe-ete-2", "cafe-ete-3"]


async def test_platform_audit_shows_sign_ins_to_superadmins_only(client, runtime: Runtime):
    org = await make_org(runtime)
    await sign_in(client, org.owner_email)
    assert (await client.get("/api/v1/admin/audit")).status_code == 404
    assert (await client.get("/api/v1/admin/orgs")).status_code == 404
    admin = await make_user(runtime, superadmin=True)
    await sign_in(client, admin)
    events = (await client.get("/api/v1/admin/audit")).json()["events"]
    assert [e["action"] for e in events if e["action"].startswith("auth.")] == ["auth.login", "auth.login"]
    assert events[0]["ip"] == "203.0.113.7"
