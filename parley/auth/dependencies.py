"""FastAPI dependencies: the request's transaction, who is calling, and the tenant scope they act in.

Order matters and is the same everywhere: authenticate (401), then find the organisation among the caller's
(404, whether it does not exist or belongs to someone else), then check the role (403).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from parley.auth import repository as repo
from parley.auth import service
from parley.auth.repository import TokenAuth
from parley.auth.secrets import same
from parley.kit.context import Actor, RequestInfo
from parley.kit.db import set_pg_setting, unit_of_work
from parley.kit.errors import Forbidden, NotAuthenticated, NotFound
from parley.models import User, UserSession
from parley.runtime import Runtime
from parley.tenancy.permissions import Permission, Role
from parley.tenancy.scope import OrgScope, _mint

SESSION_COOKIE = "parley_session"
CSRF_COOKIE = "parley_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Dependencies are `async def` even when they do not await: FastAPI runs plain `def` dependencies in a thread
# pool, a hop that costs more than the work they do.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _writes(request: Request) -> bool:
    if getattr(request.state, "audited_read", False):
        return True
    return request.method not in SAFE_METHODS and not getattr(request.state, "reads_only", False)


async def reads_only(request: Request) -> None:
    """Route dependency (`dependencies=[Depends(reads_only)]`) for a POST whose request transaction only reads
    and that writes in short transactions of its own: a conversation turn, which must not hold SQLite's write
    lock while a model thinks. Route-level dependencies run before the others, so the flag is set in time."""
    request.state.reads_only = True


async def audited_read(request: Request) -> None:
    """Route dependency for a GET that records who read what (a transcript): its transaction writes the audit
    row, so it starts as a write transaction. On SQLite a read transaction that writes later fails outright if
    another connection committed in between (it cannot upgrade a stale snapshot); starting with the write lock
    avoids that."""
    request.state.audited_read = True


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One request, one transaction: committed before the response is sent, rolled back on any error."""
    runtime: Runtime = request.app.state.runtime
    async with unit_of_work(runtime.sessionmaker, write=_writes(request)) as session:
        yield session


# scope="function": the commit happens before the response leaves, so a failed commit is a failed request.
Db = Annotated[AsyncSession, Depends(db_session, scope="function")]


async def request_info(request: Request) -> RequestInfo:
    return RequestInfo(
        request_id=getattr(request.state, "request_id", None),
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


RequestInfoDep = Annotated[RequestInfo, Depends(request_info)]


@dataclass(frozen=True)
class Principal:
    actor: Actor
    user: User | None = None
    session: UserSession | None = None
    token: TokenAuth | None = None


async def principal(request: Request, db: Db, runtime: RuntimeDep, info: RequestInfoDep) -> Principal:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret:
            raise NotAuthenticated("use 'Authorization: Bearer <token>'", code="invalid_token")
        token = await service.api_token(db, runtime, secret.strip())
        await _touch(request, db, runtime, token)
        return Principal(actor=Actor("token", token.id, info), token=token)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise NotAuthenticated("sign in or send an API token")
    user_session, user = await service.session_user(db, runtime, cookie)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not same(sent, service.csrf_token_for(runtime, user_session.id)):
            raise Forbidden(f"missing or wrong {CSRF_HEADER} header", code="csrf_failed")
    await _touch(request, db, runtime, user_session)
    return Principal(actor=Actor("user", user.id, info), user=user, session=user_session)


async def _touch(request: Request, db: AsyncSession, runtime: Runtime, row: TokenAuth | UserSession) -> None:
    """Record last use, at most once a minute. A read request's transaction does not write (on SQLite that
    would serialise all reads), so its touch commits on its own; a write request's joins its transaction."""
    now = runtime.clock.now()
    last = row.last_used_at if isinstance(row, TokenAuth) else row.last_seen_at
    if not service.due_for_touch(last, now):
        return
    if _writes(request):
        await _apply_touch(db, row, now)
        return
    async with unit_of_work(runtime.sessionmaker) as own:
        await _apply_touch(own, row, now)


async def _apply_touch(db: AsyncSession, row: TokenAuth | UserSession, now: datetime) -> None:
    if isinstance(row, TokenAuth):
        await repo.touch_token(db, row.org_id, row.id, now)
    else:
        await repo.touch_session(db, row.id, now)


PrincipalDep = Annotated[Principal, Depends(principal)]


@dataclass(frozen=True)
class SignedInUser:
    user: User
    session: UserSession
    actor: Actor


async def signed_in_user(caller: PrincipalDep) -> SignedInUser:
    """For what only a person may do (their own password, their sessions): API tokens are refused."""
    if caller.user is None or caller.session is None:
        raise Forbidden("this needs a signed-in user, not an API token", code="user_required")
    return SignedInUser(caller.user, caller.session, caller.actor)


SignedInUserDep = Annotated[SignedInUser, Depends(signed_in_user)]


async def org_scope(org_id: str, caller: PrincipalDep, db: Db) -> OrgScope:
    if caller.token is not None:
        if caller.token.org_id != org_id:
            raise NotFound("organisation not found")
        if caller.token.agent_id is not None:
            raise Forbidden("this token may only talk to its agent (POST /v1/chat/completions)", code="agent_token")
        role = Role(caller.token.role)
    else:
        assert caller.user is not None
        member = await repo.membership(db, org_id, caller.user.id)
        if member is None:
            raise NotFound("organisation not found")
        role = Role(member.role)
    await set_pg_setting(db, "app.org_id", org_id)
    return _mint(org_id, role, caller.actor)


ScopeDep = Annotated[OrgScope, Depends(org_scope)]


async def token_agent_scope(caller: Principal, db: AsyncSession) -> tuple[OrgScope, str]:
    """The scope of an agent-bound API token (the OpenAI-compatible endpoint), and its agent."""
    if caller.token is None or caller.token.agent_id is None:
        raise Forbidden("use an API token created for an agent", code="agent_token_required")
    await set_pg_setting(db, "app.org_id", caller.token.org_id)
    return _mint(caller.token.org_id, Role(caller.token.role), caller.actor), caller.token.agent_id


def require(permission: Permission) -> Callable[[OrgScope], Awaitable[OrgScope]]:
    """`scope: Annotated[OrgScope, Depends(require(Permission.X))]` — the scope, once the role allows X."""

    async def check(scope: ScopeDep) -> OrgScope:
        scope.require(permission)
        return scope

    check.__name__ = f"require_{permission.name.lower()}"
    return check


async def superadmin(caller: PrincipalDep) -> Principal:
    if caller.user is None or not caller.user.is_superadmin:
        raise NotFound("not found")
    return caller


SuperadminDep = Annotated[Principal, Depends(superadmin)]
