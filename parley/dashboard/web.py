"""Rendering: the Jinja2 environment, pages with their security headers, flash messages and redirects."""

from __future__ import annotations

import json
from functools import cache
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from parley.dashboard.context import CSRF_FIELD, StaffPage
from parley.kit.errors import ParleyError
from parley.tenancy.permissions import Permission

PREFIX = "/app"
FLASH_COOKIE = "parley_flash"
# Only our own files: no inline script or style, nothing from another origin.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {"content-security-policy": CSP, "cache-control": "no-store"}


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("parley.dashboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["Permission"] = Permission
    return env


def flashes(request: Request) -> list[tuple[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        items = json.loads(unquote(raw))
        return [(str(kind), str(text)) for kind, text in items][:5]
    except (ValueError, TypeError):
        return []


def render(
    request: Request, template: str, ctx: StaffPage | None = None, *, status: int = 200, **values: Any
) -> HTMLResponse:
    messages = flashes(request)
    csrf_token = ctx.csrf_token if ctx else values.pop("csrf_token", "")
    body = (
        environment()
        .get_template(template)
        .render(
            request=request,
            ctx=ctx,
            flashes=messages,
            csrf_field=CSRF_FIELD,
            csrf_token=csrf_token,
            errors=values.pop("errors", {}),
            values=values.pop("values", {}),
            **values,
        )
    )
    response = HTMLResponse(body, status_code=status, headers=HEADERS)
    if messages:
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)
    return response


def redirect(url: str, flash: str | None = None, *, kind: str = "ok") -> RedirectResponse:
    response = RedirectResponse(url, status_code=303, headers={"cache-control": "no-store"})
    if flash:
        add_flash(response, flash, kind=kind)
    return response


def add_flash(response: Response, text: str, *, kind: str = "ok") -> None:
    value = quote(json.dumps([[kind, text]]))
    response.set_cookie(FLASH_COOKIE, value, max_age=60, httponly=True, samesite="lax", path=PREFIX)


def safe_next(target: str | None) -> str:
    """Only a path inside the dashboard: `next=` must not send a signed-in user to another site."""
    if target and target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = PREFIX
    if request.headers.get("accept", "").startswith("text/event-stream"):
        return Response(status_code=401)
    return RedirectResponse(f"{PREFIX}/login?next={quote(target)}", status_code=303)


def error_page(request: Request, exc: ParleyError) -> Response:
    body = (
        environment()
        .get_template("error.html")
        .render(request=request, ctx=None, flashes=[], status=exc.status_code, code=exc.code, detail=exc.detail)
    )
    return HTMLResponse(body, status_code=exc.status_code, headers={**HEADERS, **exc.headers})


def org_url(org_id: str, *parts: str) -> str:
    return "/".join([f"{PREFIX}/o/{org_id}", *parts]).rstrip("/")
