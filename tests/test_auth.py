"""Signing in and out, sessions, throttling and password changes."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from parley.app import create_app
from parley.models import LoginThrottle, UserSession
from parley.privacy import audit
from parley.runtime import Runtime, create_runtime
from tests.factories import PASSWORD, bearer, make_org, make_token, sign_in

LOGIN = "/api/v1/auth/login"


def _second_client(app) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("198.51.100.9", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")


async def _audit_actions(runtime: Runtime) -> list[str]:
    """Platform-level events (no organisation), read as the platform admin view does."""
    async with runtime.sessionmaker() as db:
        return [e.action for e in reversed(await audit.list_platform_events(db, limit=1000))]


async def test_sign_in_sets_a_secure_session_cookie(client, runtime: Runtime):
    org = await make_org(runtime)
    response = await client.post(LOGIN, json={"email": org.owner_email.upper(), "password": PASSWORD})
    assert response.status_code == 200
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("parley_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain-HTTP localhost: a Secure cookie would be dropped by the browser
    assert response.json()["user"]["email"] == org.owner_email
    assert "auth.login" in await _audit_actions(runtime)


async def test_cookies_are_secure_outside_localhost(settings, clock):
    runtime = create_runtime(settings.model_copy(update={"public_url": "https://chat.example.com"}), clock=clock)
    try:
        org = await make_org(runtime)
        transport = httpx.ASGITransport(app=create_app(runtime=runtime))
        async with httpx.AsyncClient(transport=transport, base_url="https://chat.example.com") as c:
            response = await c.post(LOGIN, json={"email": org.owner_email, "password": PASSWORD})
        assert all("Secure" in h for h in response.headers.get_list("set-cookie"))
        assert "max-age" in response.headers["strict-transport-security"]
    finally:
        await runtime.close()


async def test_wrong_password_and_unknown_email_look_the_same(client, runtime: Runtime):
    org = await make_org(runtime)
    wrong = await client.post(LOGIN, json={"email": org.owner_email, "password": "not the password"})
    unknown = await client.post(LOGIN, json={"email": "nobody@example.com", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert (await _audit_actions(runtime)).count("auth.login_failed") == 2


async def test_repeated_failures_lock_the_address_with_growing_backoff(client, runtime: Runtime):
    org = await make_org(runtime)
    free = runtime.settings.login_free_failures
    for _ in range(free):
        assert (await client.post(LOGIN, json={"email": org.owner_email, "password": "guess"})).status_code == 401
    locked = await client.post(LOGIN, json={"email": org.owner_email, "password": PASSWORD})
    assert locked.status_code == 429 and locked.json()["error"] == "too_many_requests"
    first_wait = int(locked.headers["retry-after"])
    assert first_wait >= 1
    # From another address too: the lock is on the account's email, not only on the IP.
    async with _second_client(client._transport.app) as other:
        assert (await other.post(LOGIN, json={"email": org.owner_email, "password": PASSWORD})).status_code == 429
    runtime.clock.advance(seconds=first_wait + 1)  # type: ignore[attr-defined]
    assert (await client.post(LOGIN, json={"email": org.owner_email, "password": "guess"})).status_code == 401
    second = await client.post(LOGIN, json={"email": org.owner_email, "password": PASSWORD})
    assert second.status_code == 429 and int(second.headers["retry-after"]) > first_wait
    runtime.clock.advance(seconds=int(second.headers["retry-after"]) + 1)  # type: ignore[attr-defined]
    assert (await client.post(LOGIN, json={"email": org.owner_email, "password": PASSWORD})).status_code == 200


async def test_one_ip_guessing_many_accounts_is_throttled(client, runtime: Runtime):
    free_per_ip = runtime.settings.login_free_failures * 4
    for n in range(free_per_ip):
        await client.post(LOGIN, json={"email": f"victim{n}@example.com", "password": "guess"})
    org = await make_org(runtime)
    assert (await client.post(LOGIN, json={"email": org.owner_email, "password": PASSWORD})).status_code == 429
    async with _second_client(client._transport.app) as other:
        assert (await other.post(LOGIN, json={"email": org.owner_email, "password": PASSWORD})).status_code == 200


async def test_throttle_records_hold_no_address_in_clear(client, runtime: Runtime):
    await client.post(LOGIN, json={"email": "someone@example.com", "password": "guess"})
    async with runtime.sessionmaker() as db:
        keys = list(await db.scalars(select(LoginThrottle.key)))
    assert len(keys) == 2
    assert not any("someone" in k or "203.0.113.7" in k for k in keys)


async def test_sign_out_ends_the_session(client, runtime: Runtime):
    org = await make_org(runtime)
    csrf = await sign_in(client, org.owner_email)
    old_cookie = client.cookies.get("parley_session")
    assert (await client.post("/api/v1/auth/logout", headers=csrf)).status_code == 204
    assert (await client.get("/api/v1/auth/me")).status_code == 401
    client.cookies.set("parley_session", old_cookie)
    assert (await client.get("/api/v1/auth/me")).status_code == 401
    async with runtime.sessionmaker() as db:
        assert list(await db.scalars(select(UserSession))) == []


async def test_sessions_expire(client, runtime: Runtime):
    org = await make_org(runtime)
    await sign_in(client, org.owner_email)
    runtime.clock.advance(hours=runtime.settings.session_ttl_hours - 1)  # type: ignore[attr-defined]
    assert (await client.get("/api/v1/auth/me")).status_code == 200
    runtime.clock.advance(hours=2)  # type: ignore[attr-defined]
    response = await client.get("/api/v1/auth/me")
    assert response.status_code == 401 and response.json()["error"] == "session_expired"


async def test_password_change_signs_out_other_sessions(client, runtime: Runtime):
    org = await make_org(runtime)
    csrf = await sign_in(client, org.owner_email)
    async with _second_client(client._transport.app) as laptop:
        await sign_in(laptop, org.owner_email)
        wrong = await client.post(
            "/api/v1/auth/password",
            json={"current_password": "nope", "new_password": "a much better secret"},
            headers=csrf,
        )
        assert wrong.status_code == 400 and wrong.json()["error"] == "wrong_password"
        changed = await client.post(
            "/api/v1/auth/password",
            json={"current_password": PASSWORD, "new_password": "a much better secret"},
            headers=csrf,
        )
        assert changed.status_code == 200 and changed.json() == {"other_sessions_ended": 1}
        assert (await laptop.get("/api/v1/auth/me")).status_code == 401
    assert (await client.get("/api/v1/auth/me")).status_code == 200
    assert (await client.post(LOGIN, json={"email": org.owner_email, "password": PASSWORD})).status_code == 401
    assert (
        await client.post(LOGIN, json={"email": org.owner_email, "password": "a much better secret"})
    ).status_code == 200
    assert "auth.password_changed" in await _audit_actions(runtime)


async def test_weak_new_passwords_are_refused_with_a_field_error(client, runtime: Runtime):
    org = await make_org(runtime)
    csrf = await sign_in(client, org.owner_email)
    for weak in ("short", "aaaaaaaaaaaa"):
        response = await client.post(
            "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": weak}, headers=csrf
        )
        assert response.status_code == 422
        assert [f["location"] for f in response.json()["fields"]] == ["body.new_password"]


async def test_an_api_token_cannot_act_as_a_person(client, runtime: Runtime):
    org = await make_org(runtime)
    headers = bearer((await make_token(runtime, org.id, "owner"))[1])
    response = await client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "another fine secret"},
        headers=headers,
    )
    assert response.status_code == 403 and response.json()["error"] == "user_required"


async def test_expired_sessions_and_stale_throttles_are_purged(client, runtime: Runtime):
    from parley.kit.reconcilers import run_once

    org = await make_org(runtime)
    await sign_in(client, org.owner_email)
    await client.post(LOGIN, json={"email": "x@example.com", "password": "guess"})
    runtime.clock.advance(hours=runtime.settings.session_ttl_hours + 1)  # type: ignore[attr-defined]
    results = await run_once(runtime)
    assert results["auth.purge_expired_credentials"]["sessions"] == 1
    assert results["auth.purge_expired_credentials"]["throttles"] == 2
    assert (await run_once(runtime))["auth.purge_expired_credentials"] == {
        "sessions": 0,
        "throttles": 0,
        "invitations": 0,
    }


async def test_last_seen_is_recorded_at_most_once_a_minute(client, runtime: Runtime):
    org = await make_org(runtime)
    await sign_in(client, org.owner_email)

    async def last_seen():  # type: ignore[no-untyped-def]
        async with runtime.sessionmaker() as db:
            return (await db.scalars(select(UserSession.last_seen_at))).one()

    start = await last_seen()
    runtime.clock.advance(seconds=30)  # type: ignore[attr-defined]
    await client.get("/api/v1/auth/me")
    assert await last_seen() == start
    runtime.clock.advance(seconds=45)  # type: ignore[attr-defined]
    await client.get("/api/v1/auth/me")
    assert await last_seen() == start + timedelta(seconds=75)
