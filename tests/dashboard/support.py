"""Helpers for the dashboard's non-browser tests: sign in through the sign-in form, read the CSRF token the page
carries, and post forms with it."""

from __future__ import annotations

import re

import httpx

from tests.factories import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def dashboard_sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Signs in through /app/login like a browser; returns the session's CSRF token (read from a page)."""
    form = await client.get("/app/login")
    assert form.status_code == 200, form.text
    response = await client.post(
        "/app/login", data={"email": email, "password": password, "csrf_token": csrf_of(form.text), "next": "/app"}
    )
    assert response.status_code == 303, response.text
    page = await client.get("/app/profile")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def field_error(html: str, name: str) -> str | None:
    """The error shown beside a field, as the `field` macro renders it."""
    found = re.search(rf'<p class="field-error" id="{re.escape(name)}-error">([^<]*)</p>', html)
    return found.group(1) if found else None
