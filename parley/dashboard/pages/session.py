"""Signing in and out, the dashboard's front door, and switching organisation."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response

from parley.auth import service as auth_service
from parley.auth.api import set_session_cookies
from parley.auth.dependencies import CSRF_COOKIE, SESSION_COOKIE, Db, RequestInfoDep, RuntimeDep
from parley.auth.schemas import LoginIn
from parley.auth.secrets import same
from parley.dashboard.context import CSRF_FIELD, StaffPageDep
from parley.dashboard.forms import validate
from parley.dashboard.registry import Page
from parley.dashboard.web import PREFIX, org_url, redirect, render, safe_next
from parley.kit.errors import TooManyRequests

page = Page()

# Before there is a session there is no session-bound CSRF token: the sign-in form carries a random value that
# must match a cookie only this site can set (double submit), so another site cannot sign a browser in.
LOGIN_CSRF_COOKIE = "parley_login_csrf"


def _login_form(request: Request, *, status: int = 200, **values: Any) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", status=status, csrf_token=token, **values)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path=f"{PREFIX}/login")
    return response


@page.router.get("/login")
async def login_form(request: Request, next: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    return _login_form(request, next=safe_next(next))


@page.router.post("/login")
async def login(request: Request, db: Db, runtime: RuntimeDep, info: RequestInfoDep) -> Response:
    form = await request.form()
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    target = safe_next(data.get("next"))
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not same(data.get(CSRF_FIELD, ""), cookie):
        return _login_form(
            request,
            status=403,
            next=target,
            values=data,
            errors={"__all__": "this form has expired; please sign in again"},
        )
    body, errors = validate(LoginIn, {"email": data.get("email", ""), "password": data.get("password", "")})
    if body is None:
        return _login_form(request, status=422, next=target, values=data, errors=errors)
    try:
        signed_in = await auth_service.login(db, runtime, email=body.email, password=body.password, request=info)
    except TooManyRequests as exc:
        return _login_form(request, status=429, next=target, values=data, errors={"__all__": exc.detail})
    if signed_in is None:
        # Returned, not raised: the failed attempt (throttle counter, audit row) must be committed.
        return _login_form(
            request, status=401, next=target, values=data, errors={"password": "wrong email or password"}
        )
    response = redirect(target)
    set_session_cookies(response, runtime, signed_in.secret, signed_in.csrf_token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=f"{PREFIX}/login")
    return response


@page.router.post("/logout")
async def logout(staff: StaffPageDep, db: Db, runtime: RuntimeDep) -> Response:
    await auth_service.logout(db, runtime, session_id=staff.session.id, actor=staff.actor)
    response = redirect(f"{PREFIX}/login", "You are signed out.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@page.router.get("")
async def front_door(request: Request, staff: StaffPageDep) -> Response:
    """The first organisation's inbox-or-overview; a user without any organisation sees why."""
    if staff.organizations:
        return redirect(org_url(staff.organizations[0].org_id))
    return render(request, "no_orgs.html", staff)


@page.router.get("/switch")
async def switch(staff: StaffPageDep, org: Annotated[str, Query(max_length=40)] = "") -> Response:
    """The organisation switcher is a plain GET form, so it works without script; membership is checked by the
    organisation's pages themselves."""
    if org in {m.org_id for m in staff.organizations}:
        return redirect(org_url(org))
    return redirect(PREFIX, "You are not a member of that organisation.", kind="error")
