"""Demo data for `make run`: one organisation and its owner, created once.

The owner's password is random, kept in `<data dir>/demo-login.txt` (mode 0600) so that every start can
print it; it is a local demo credential, never a default in production.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from parley.auth import repository as auth_repo
from parley.auth import service as auth_service
from parley.kit.context import Actor, RequestInfo
from parley.kit.db import unit_of_work
from parley.models import Organization
from parley.runtime import Runtime
from parley.tenancy import platform
from parley.tenancy.permissions import Role

DEMO_EMAIL = "demo@example.com"
DEMO_ORG = "Demo Bistro"
LOGIN_FILE = "demo-login.txt"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    org_id: str


def _password(runtime: Runtime) -> str:
    path = runtime.settings.data_dir / LOGIN_FILE
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(12)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password


async def ensure_demo(runtime: Runtime) -> DemoLogin:
    actor = Actor("system", None, RequestInfo(request_id="demo"))
    password = _password(runtime)
    async with unit_of_work(runtime.sessionmaker) as db:
        user = await auth_repo.user_by_email(db, DEMO_EMAIL)
        if user is None:
            user = await auth_service.create_user(
                db, runtime, email=DEMO_EMAIL, name="Demo Owner", password=password, actor=actor
            )
        org_id = await db.scalar(select(Organization.id).where(Organization.name == DEMO_ORG))
        if org_id is None:
            scope = await platform.create_organization(db, runtime, name=DEMO_ORG, actor=actor)
            await platform.add_member(db, runtime, scope, user, Role.OWNER)
            org_id = scope.org_id
    return DemoLogin(DEMO_EMAIL, password, org_id)
