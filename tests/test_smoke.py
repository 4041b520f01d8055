from parley.runtime import Runtime
from tests.factories import bearer, make_org, make_token, sign_in


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json()["database"] == "ok"


async def test_owner_signs_in_and_sees_their_organisation(client, runtime: Runtime):
    org = await make_org(runtime, "Cafe Lumiere")
    await sign_in(client, org.owner_email)
    response = await client.get("/api/v1/orgs")
    assert response.status_code == 200
    assert [o["name"] for o in response.json()] == ["Cafe Lumiere"]


async def test_token_reads_members(client, runtime: Runtime):
    org = await make_org(runtime)
    _, secret = await make_token(runtime, org.id)
    response = await client.get(f"/api/v1/orgs/{org.id}/members", headers=bearer(secret))
    assert response.status_code == 200, response.text
    assert [m["role"] for m in response.json()] == ["owner"]
