"""Who is looking at a dashboard page: the signed-in staff member (session cookie), their organisations, and, on
an organisation's pages, the `OrgScope` minted by the auth layer exactly as for the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from parley.auth import repository as auth_repo
from parley.auth import service as auth_service
from parley.auth.dependencies import SAFE_METHODS, Db, Principal, RequestInfoDep, RuntimeDep, org_scope
from parley.auth.secrets import same
from parley.dashboard.registry import NavItem, SignInRequired
from parley.kit.context import Actor
from parley.kit.errors import Forbidden, NotAuthenticated
from parley.models import User, UserSession
from parley.tenancy.permissions import Permission, Role, allows
from parley.tenancy.scope import OrgScope

CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Membership:
    org_id: str
    name: str
    role: Role


@dataclass
class StaffPage:
    """Context of every signed-in page."""

    user: User
    session: UserSession
    actor: Actor
    csrf_token: str
    organizations: list[Membership]
    org: Membership | None = None
    scope: OrgScope | None = None
    nav: list[NavItem] = field(default_factory=list)

    def can(self, permission: Permission | str) -> bool:
        return self.org is not None and allows(self.org.role, Permission(permission))


@dataclass
class OrgPage(StaffPage):
    """Context of an organisation's page: `scope` and `org` are always set."""

    @property
    def org_scope(self) -> OrgScope:
        assert self.scope is not None
        return self.scope

    @property
    def org_id(self) -> str:
        assert self.org is not None
        return self.org.org_id


async def staff_page(request: Request, db: Db, runtime: RuntimeDep, info: RequestInfoDep) -> StaffPage:
    cookie = request.cookies.get("parley_session")
    if not cookie:
        raise SignInRequired
    try:
        user_session, user = await auth_service.session_user(db, runtime, cookie)
    except NotAuthenticated:
        raise SignInRequired from None
    csrf = auth_service.csrf_token_for(runtime, user_session.id)
    if request.method not in SAFE_METHODS:
        await check_csrf(request, csrf)
    memberships = [Membership(o.id, o.name, Role(m.role)) for m, o in await auth_repo.memberships_of(db, user.id)]
    return StaffPage(
        user=user,
        session=user_session,
        actor=Actor("user", user.id, info),
        csrf_token=csrf,
        organizations=memberships,
    )


async def check_csrf(request: Request, expected: str) -> None:
    """The token comes in the form (`csrf_token`) or, from the dashboard's script, in the X-CSRF-Token header."""
    sent = request.headers.get("x-csrf-token", "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else ""
    if not sent or not same(sent, expected):
        raise Forbidden(
            "this form has expired or did not come from Parley; reload the page and try again", code="csrf_failed"
        )


StaffPageDep = Annotated[StaffPage, Depends(staff_page)]


async def org_page(org_id: str, request: Request, staff: StaffPageDep, db: Db) -> OrgPage:
    principal = Principal(actor=staff.actor, user=staff.user, session=staff.session)
    scope = await org_scope(org_id, principal, db)  # 404 for an organisation the user does not belong to
    org = next(m for m in staff.organizations if m.org_id == org_id)
    nav = [item for item in request.app.state.dashboard_nav if allows(scope.role, item.permission)]
    return OrgPage(
        user=staff.user,
        session=staff.session,
        actor=staff.actor,
        csrf_token=staff.csrf_token,
        organizations=staff.organizations,
        org=Membership(org.org_id, org.name, scope.role),
        scope=scope,
        nav=nav,
    )


OrgPageDep = Annotated[OrgPage, Depends(org_page)]
