"""One error format, the right status codes, request ids everywhere, and no stack trace ever reaches a client."""

from __future__ import annotations

import httpx

from parley.app import create_app
from parley.auth.dependencies import Db
from parley.kit.errors import Conflict
from parley.models import Organization
from parley.runtime import Runtime
from tests.factories import bearer, make_org, make_token, sign_in


def _error(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body) >= {"error", "detail", "request_id"}
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_malformed_json_is_a_400(client, runtime: Runtime):
    response = await client.post(
        "/api/v1/auth/login",
        content=b'{"email": "a@example.com", "password": ',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert _error(response)["error"] == "malformed_json"


async def test_unknown_fields_and_wrong_types_are_422_with_field_errors(client, runtime: Runtime):
    org = await make_org(runtime)
    headers = bearer((await make_token(runtime, org.id, "owner"))[1])
    response = await client.post(
        f"/api/v1/orgs/{org.id}/tokens",
        json={"name": "ci", "role": "viewer", "expires_in_days": "soon", "colour": 1},
        headers=headers,
    )
    assert response.status_code == 422
    body = _error(response)
    assert body["error"] == "invalid_request"
    fields = {f["location"]: f["type"] for f in body["fields"]}  # type: ignore[attr-defined]
    assert fields == {"body.expires_in_days": "int_parsing", "body.colour": "extra_forbidden"}


async def test_an_invalid_role_names_the_field(client, runtime: Runtime):
    org = await make_org(runtime)
    headers = bearer((await make_token(runtime, org.id, "owner"))[1])
    response = await client.post(f"/api/v1/orgs/{org.id}/tokens", json={"name": "ci", "role": "god"}, headers=headers)
    assert response.status_code == 422
    assert [f["location"] for f in response.json()["fields"]] == ["body.role"]


async def test_oversized_bodies_are_refused_with_413(client, runtime: Runtime):
    big = b'{"email": "a@example.com", "password": "' + b"x" * (runtime.settings.max_body_bytes + 10) + b'"}'
    response = await client.post("/api/v1/auth/login", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert _error(response)["error"] == "payload_too_large"


async def test_oversized_streamed_bodies_without_length_are_cut_off(client, runtime: Runtime):
    chunk = b"x" * 65536

    async def stream():  # type: ignore[no-untyped-def]
        for _ in range(runtime.settings.max_body_bytes // len(chunk) + 2):
            yield chunk

    response = await client.post("/api/v1/auth/login", content=stream(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert _error(response)["error"] == "payload_too_large"


async def test_unknown_route_and_wrong_method(client):
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and _error(missing)["error"] == "not_found"
    wrong = await client.put("/healthz")
    assert wrong.status_code == 405 and _error(wrong)["error"] == "method_not_allowed"


async def test_unauthenticated_is_401_and_every_response_has_security_headers(client, runtime: Runtime):
    org = await make_org(runtime)
    response = await client.get(f"/api/v1/orgs/{org.id}")
    assert response.status_code == 401 and _error(response)["error"] == "not_authenticated"
    for name in ("x-content-type-options", "x-frame-options", "content-security-policy", "referrer-policy"):
        assert name in response.headers


async def test_a_well_formed_request_id_is_kept(client):
    response = await client.get("/healthz", headers={"X-Request-ID": "edge-1234"})
    assert response.headers["x-request-id"] == "edge-1234"
    forged = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert forged.headers["x-request-id"] != "bad id\twith spaces"


async def test_an_unexpected_error_is_a_500_without_internals(runtime: Runtime):
    app = create_app(runtime=runtime)

    async def explode() -> None:
        raise RuntimeError("secret internal detail at /srv/parley/app.py line 12")

    app.add_api_route("/test-explode", explode)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
        response = await c.get("/test-explode")
    assert response.status_code == 500
    body = _error(response)
    assert body["error"] == "internal_error"
    assert "secret internal detail" not in response.text and "Traceback" not in response.text
    assert "x-content-type-options" in response.headers


async def test_a_request_that_fails_commits_nothing(runtime: Runtime):
    """One request, one transaction: what a handler wrote before raising is rolled back."""
    app = create_app(runtime=runtime)

    async def write_then_fail(db: Db) -> None:
        db.add(Organization(id="org_rolledback", name="Half-made", slug="half-made", created_at=runtime.clock.now()))
        await db.flush()
        raise Conflict("changed my mind")

    async def write(db: Db) -> dict[str, str]:
        db.add(Organization(id="org_committed", name="Made", slug="made", created_at=runtime.clock.now()))
        return {"ok": "yes"}

    app.add_api_route("/test-fail", write_then_fail, methods=["POST"])
    app.add_api_route("/test-write", write, methods=["POST"])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
        assert (await c.post("/test-fail")).status_code == 409
        assert (await c.post("/test-write")).status_code == 200
    async with runtime.sessionmaker() as db:
        assert await db.get(Organization, "org_rolledback") is None
        assert await db.get(Organization, "org_committed") is not None


async def test_cookie_writes_without_csrf_header_are_refused(client, runtime: Runtime):
    org = await make_org(runtime)
    csrf = await sign_in(client, org.owner_email)
    no_header = await client.patch(f"/api/v1/orgs/{org.id}", json={"name": "Renamed"})
    assert no_header.status_code == 403 and no_header.json()["error"] == "csrf_failed"
    wrong = await client.patch(f"/api/v1/orgs/{org.id}", json={"name": "Renamed"}, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    assert (await client.get(f"/api/v1/orgs/{org.id}")).json()["name"] != "Renamed"
    ok = await client.patch(f"/api/v1/orgs/{org.id}", json={"name": "Renamed"}, headers=csrf)
    assert ok.status_code == 200 and ok.json()["name"] == "Renamed"
