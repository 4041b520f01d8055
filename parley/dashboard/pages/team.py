"""Team and API tokens: members (change role, remove), invitations (the link is shown once), tokens (the secret
is shown once). Everything goes through `tenancy.service` and `tokens.service`, which enforce who may give or
take which role and write the audit rows; this page only adds the permission checks the API routes make."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import Field

from parley.auth.dependencies import Db, RuntimeDep
from parley.dashboard.context import OrgPageDep
from parley.dashboard.forms import validate
from parley.dashboard.registry import NavItem, Page
from parley.dashboard.web import org_url, redirect, render
from parley.kit.errors import Conflict, Forbidden
from parley.kit.schemas import Email, RequestBody
from parley.tenancy import repository as tenancy_repo
from parley.tenancy import service as tenancy
from parley.tenancy.permissions import Permission, Role
from parley.tenancy.schemas import MemberUpdateIn
from parley.tokens import repository as tokens_repo
from parley.tokens import service as tokens
from parley.tokens.schemas import TokenIn

page = Page(nav=[NavItem("Team and API tokens", "team", Permission.MEMBERS_READ, order=80)])


class InviteIn(RequestBody):
    email: Email
    role: Role


class TokenForm(RequestBody):
    name: str = Field(min_length=1, max_length=100)
    role: Role
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


async def _team(request: Request, ctx: OrgPageDep, db: Db, *, status: int = 200, **values: Any) -> Response:
    scope = ctx.org_scope
    return render(
        request, "team.html", ctx, status=status,
        members=await tenancy_repo.members(db, scope),
        invitations=await tenancy_repo.invitations(db, scope) if ctx.can(Permission.INVITATIONS_MANAGE) else [],
        tokens=await tokens_repo.tokens(db, scope) if ctx.can(Permission.TOKENS_READ) else [],
        assignable=[(r.value, r.value) for r in Role if scope.role.can_assign(r)],
        token_roles=[(r.value, r.value) for r in Role if r.rank <= scope.role.rank],
        now=request.app.state.runtime.clock.now(),
        **values,
    )  # fmt: skip


@page.router.get("/o/{org_id}/team")
async def team(request: Request, ctx: OrgPageDep, db: Db) -> Response:
    return await _team(request, ctx, db)


def _renamed(errors: dict[str, str], **names: str) -> dict[str, str]:
    """Errors keyed by the form's field names: two forms on the page both have a role, with distinct ids."""
    return {names.get(key, key): message for key, message in errors.items()}


def _form(raw: Any, *names: str) -> dict[str, str]:
    return {name: str(raw.get(name, "")).strip() for name in names}


@page.router.post("/o/{org_id}/team/invitations")
async def invite(request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.INVITATIONS_MANAGE)
    data = _form(await request.form(), "email", "invite_role")
    body, errors = validate(InviteIn, {"email": data["email"], "role": data["invite_role"]})
    if body is not None:
        try:
            created = await tenancy.do_invite(db, runtime, ctx.org_scope, body.email, body.role)
        except (Conflict, Forbidden) as exc:
            errors = {"email" if isinstance(exc, Conflict) else "invite_role": exc.detail}
        else:
            # Rendered, not redirected: the link holds the secret and is shown this once.
            return await _team(request, ctx, db, status=201, invitation_url=created.url, invited=body.email)
    return await _team(request, ctx, db, status=422, errors=_renamed(errors, role="invite_role"), values=data)


@page.router.post("/o/{org_id}/team/invitations/{invitation_id}/revoke")
async def revoke_invitation(invitation_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.INVITATIONS_MANAGE)
    await tenancy.do_revoke_invitation(db, runtime, ctx.org_scope, invitation_id)
    return redirect(org_url(ctx.org_id, "team"), "The invitation is withdrawn.")


@page.router.post("/o/{org_id}/team/members/{member_id}/role")
async def change_role(request: Request, member_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.MEMBERS_MANAGE)
    body, errors = validate(MemberUpdateIn, _form(await request.form(), "role"))
    if body is None:
        return await _team(request, ctx, db, status=422, errors={f"role-{member_id}": errors.get("role", "?")})
    try:
        _, user = await tenancy.do_change_role(db, runtime, ctx.org_scope, member_id, body.role)
    except Conflict as exc:
        return await _team(request, ctx, db, status=409, errors={f"role-{member_id}": exc.detail})
    return redirect(org_url(ctx.org_id, "team"), f"{user.name} is now {body.role.value}.")


@page.router.post("/o/{org_id}/team/members/{member_id}/remove")
async def remove_member(member_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.MEMBERS_MANAGE)
    try:
        await tenancy.do_remove_member(db, runtime, ctx.org_scope, member_id)
    except Conflict as exc:
        return redirect(org_url(ctx.org_id, "team"), exc.detail, kind="error")
    return redirect(org_url(ctx.org_id, "team"), "The member is removed.")


@page.router.post("/o/{org_id}/team/tokens")
async def create_token(request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.TOKENS_MANAGE)
    data = _form(await request.form(), "token_name", "token_role", "expires_in_days")
    body, errors = validate(
        TokenForm,
        {"name": data["token_name"], "role": data["token_role"], "expires_in_days": data["expires_in_days"] or None},
    )
    if body is not None:
        checked = TokenIn(name=body.name, role=body.role, expires_in_days=body.expires_in_days)
        try:
            created = await tokens.do_create_token(
                db, runtime, ctx.org_scope, name=checked.name, role=checked.role,
                expires_in_days=checked.expires_in_days,
            )  # fmt: skip
        except Forbidden as exc:
            errors = {"role": exc.detail}
        else:
            # Rendered, not redirected: only a hash is stored; this response is the one time the secret is seen.
            return await _team(request, ctx, db, status=201, new_secret=created.secret, new_token=created.token)
    errors = _renamed(errors, name="token_name", role="token_role")
    return await _team(request, ctx, db, status=422, errors=errors, values=data)


@page.router.post("/o/{org_id}/team/tokens/{token_id}/revoke")
async def revoke_token(token_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.TOKENS_MANAGE)
    token = await tokens.do_revoke_token(db, runtime, ctx.org_scope, token_id)
    return redirect(org_url(ctx.org_id, "team"), f"The token “{token.name}” is revoked.")
