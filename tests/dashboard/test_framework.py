"""The dashboard's frame: signing in and out, CSRF on every form, organisations, profile and password."""

from __future__ import annotations

import httpx

from parley.runtime import Runtime
from tests.dashboard.support import csrf_of, dashboard_sign_in, field_error
from tests.factories import PASSWORD, make_org, make_user, new_client


async def test_a_signed_out_browser_lands_on_the_sign_in_page(client: httpx.AsyncClient):
    root = await client.get("/", headers={"accept": "text/html"})
    assert root.status_code == 307 and root.headers["location"] == "/app"
    app = await client.get("/app")
    assert app.status_code == 303 and app.headers["location"] == "/app/login?next=/app"
    deep = await client.get("/app/o/org_x")
    assert deep.headers["location"] == "/app/login?next=/app/o/org_x"
    login = await client.get("/app/login")
    assert login.status_code == 200 and 'autocomplete="current-password"' in login.text
    # Only our own files: no inline script, nothing from another origin.
    csp = login.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in login.text and "http" not in login.text.replace('href="/app', "")


async def test_the_owner_signs_in_and_reaches_their_organisation(client: httpx.AsyncClient, runtime: Runtime):
    org = await make_org(runtime, "Bistro")
    await dashboard_sign_in(client, org.owner_email)
    front = await client.get("/app")
    assert front.status_code == 303 and front.headers["location"] == f"/app/o/{org.id}"
    home = await client.get(front.headers["location"])
    assert home.status_code == 200
    assert "<h1>Bistro</h1>" in home.text and "owner" in home.text


async def test_a_wrong_password_is_shown_beside_the_field_and_audited(client: httpx.AsyncClient, runtime: Runtime):
    org = await make_org(runtime)
    form = await client.get("/app/login")
    response = await client.post(
        "/app/login",
        data={"email": org.owner_email, "password": "nope", "csrf_token": csrf_of(form.text), "next": "/app"},
    )
    assert response.status_code == 401
    assert field_error(response.text, "password") == "wrong email or password"
    assert f'value="{org.owner_email}"' in response.text  # what was typed stays
    assert "parley_session" not in response.cookies


async def test_sign_in_without_the_forms_token_is_refused(client: httpx.AsyncClient, runtime: Runtime):
    org = await make_org(runtime)
    response = await client.post("/app/login", data={"email": org.owner_email, "password": PASSWORD})
    assert response.status_code == 403
    assert "parley_session" not in response.cookies
    invalid = await client.post(
        "/app/login", data={"email": "not an email", "password": "", "csrf_token": csrf_of(response.text)}
    )
    assert invalid.status_code == 422
    assert field_error(invalid.text, "email") and field_error(invalid.text, "password")


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, runtime: Runtime
):
    org = await make_org(runtime)
    token = await dashboard_sign_in(client, org.owner_email)
    forged = await client.post("/app/profile", data={"name": "Mallory"})
    assert forged.status_code == 403 and "csrf_failed" in forged.text
    wrong = await client.post("/app/profile", data={"name": "Mallory", "csrf_token": token[:-2] + "xx"})
    assert wrong.status_code == 403
    out = await client.post("/app/logout")
    assert out.status_code == 403
    profile = await client.get("/app/profile")
    assert profile.status_code == 200 and "Mallory" not in profile.text
    # Header form (the dashboard's script) is accepted like the field.
    scripted = await client.post("/app/profile", data={"name": "Ada"}, headers={"x-csrf-token": token})
    assert scripted.status_code == 303


async def test_sign_out_ends_the_session(client: httpx.AsyncClient, runtime: Runtime):
    org = await make_org(runtime)
    token = await dashboard_sign_in(client, org.owner_email)
    out = await client.post("/app/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/app/login"
    login = await client.get("/app/login")
    assert "You are signed out." in login.text
    again = await client.get("/app/profile")
    assert again.status_code == 303 and again.headers["location"].startswith("/app/login")


async def test_another_organisations_pages_are_not_found(client: httpx.AsyncClient, runtime: Runtime):
    mine = await make_org(runtime)
    other = await make_org(runtime)
    await dashboard_sign_in(client, mine.owner_email)
    response = await client.get(f"/app/o/{other.id}")
    assert response.status_code == 404 and "Not found" in response.text
    switched = await client.get("/app/switch", params={"org": other.id})
    assert switched.headers["location"] == "/app"


async def test_the_switcher_lists_every_organisation_of_the_user(client: httpx.AsyncClient, runtime: Runtime):
    first = await make_org(runtime, "Alpha Cafe")
    second = await make_org(runtime, "Beta Bakery")
    email = await make_user(runtime, org_id=first.id, role="admin")
    await make_user_membership(runtime, second.id, email)
    await dashboard_sign_in(client, email)
    home = await client.get(f"/app/o/{first.id}")
    assert "Alpha Cafe (admin)" in home.text and "Beta Bakery (viewer)" in home.text
    switched = await client.get("/app/switch", params={"org": second.id})
    assert switched.headers["location"] == f"/app/o/{second.id}"
    viewer_home = await client.get(switched.headers["location"])
    assert "You can see the configuration but not change it." in viewer_home.text


async def make_user_membership(runtime: Runtime, org_id: str, email: str) -> None:
    from parley.auth import repository as auth_repo
    from parley.kit.db import unit_of_work
    from parley.tenancy import platform
    from parley.tenancy.permissions import Role
    from tests.factories import ACTOR

    async with unit_of_work(runtime.sessionmaker) as db:
        user = await auth_repo.user_by_email(db, email)
        assert user is not None
        scope = await platform.system_scope(db, org_id, ACTOR)
        await platform.add_member(db, runtime, scope, user, Role.VIEWER)


async def test_profile_name_errors_show_beside_the_field(client: httpx.AsyncClient, runtime: Runtime):
    org = await make_org(runtime)
    token = await dashboard_sign_in(client, org.owner_email)
    empty = await client.post("/app/profile", data={"name": "  ", "csrf_token": token})
    assert empty.status_code == 422 and field_error(empty.text, "name")
    assert 'aria-invalid="true"' in empty.text and 'aria-describedby="name-error"' in empty.text
    saved = await client.post("/app/profile", data={"name": "Ada Lovelace", "csrf_token": token})
    assert saved.status_code == 303
    page = await client.get("/app/profile")
    assert "Your profile is saved." in page.text and 'value="Ada Lovelace"' in page.text
    again = await client.get("/app/profile")
    assert "Your profile is saved." not in again.text  # a flash is shown once


async def test_password_change_checks_the_current_one_and_ends_other_sessions(
    client: httpx.AsyncClient, runtime: Runtime
):
    org = await make_org(runtime)
    token = await dashboard_sign_in(client, org.owner_email)
    async with new_client(client._transport.app) as other:  # type: ignore[attr-defined]
        await dashboard_sign_in(other, org.owner_email)
        new = "a much longer passphrase 42"
        wrong = await client.post(
            "/app/profile/password",
            data={"current_password": "wrong", "new_password": new, "confirm_password": new, "csrf_token": token},
        )
        assert wrong.status_code == 422
        assert field_error(wrong.text, "current_password") == "the current password is wrong"
        differ = await client.post(
            "/app/profile/password",
            data={"current_password": PASSWORD, "new_password": new, "confirm_password": "x", "csrf_token": token},
        )
        assert field_error(differ.text, "confirm_password") == "the two new passwords differ"
        weak = await client.post(
            "/app/profile/password",
            data={
                "current_password": PASSWORD,
                "new_password": "short",
                "confirm_password": "short",
                "csrf_token": token,
            },
        )
        assert weak.status_code == 422 and field_error(weak.text, "new_password")
        done = await client.post(
            "/app/profile/password",
            data={"current_password": PASSWORD, "new_password": new, "confirm_password": new, "csrf_token": token},
        )
        assert done.status_code == 303
        page = await client.get("/app/profile")
        assert "1 other session(s) were signed out." in page.text
        assert (await other.get("/app/profile")).status_code == 303
