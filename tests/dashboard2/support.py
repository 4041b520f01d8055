"""Signing staff in to the dashboard for the page tests, and reading what pages show."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from parley.runtime import Runtime
from parley.tenancy.permissions import Role
from tests.factories import PASSWORD, make_user, new_client

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@asynccontextmanager
async def staff_client(
    app: object, runtime: Runtime, org_id: str, role: Role | str
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A browser signed in as a new member with `role`, with the session's CSRF token."""
    email = await make_user(runtime, org_id=org_id, role=role, name=f"A {role}")
    async with new_client(app) as client:
        yield client, await sign_in_as(client, email)


async def sign_in_as(client: httpx.AsyncClient, email: str) -> str:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def field_error(page: str, name: str) -> str | None:
    found = re.search(rf'<p class="field-error" id="{re.escape(name)}-error">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else None


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))
