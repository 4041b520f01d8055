"""Sign in, sign out, who am I, change password."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from parley.auth import repository as repo
from parley.auth import service
from parley.auth.dependencies import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Db,
    RequestInfoDep,
    RuntimeDep,
    SignedInUserDep,
)
from parley.auth.schemas import (
    LoginIn,
    OrganizationRoleOut,
    PasswordChangedOut,
    PasswordChangeIn,
    SessionOut,
    UserOut,
)
from parley.kit.errors import BadRequest, NotAuthenticated
from parley.kit.http import error_response
from parley.models import User, UserSession
from parley.runtime import Runtime
from parley.tenancy.permissions import Role

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


async def session_out(db: AsyncSession, runtime: Runtime, user: User, session: UserSession) -> SessionOut:
    memberships = await repo.memberships_of(db, user.id)
    return SessionOut(
        user=UserOut.model_validate(user),
        organizations=[
            OrganizationRoleOut(id=o.id, name=o.name, slug=o.slug, role=Role(m.role)) for m, o in memberships
        ],
        csrf_token=service.csrf_token_for(runtime, session.id),
        expires_at=session.expires_at,
    )


def set_session_cookies(response: Response, runtime: Runtime, secret: str, csrf: str) -> None:
    max_age = runtime.settings.session_ttl_hours * 3600
    secure = runtime.settings.secure_cookies
    response.set_cookie(SESSION_COOKIE, secret, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/")
    # Readable by the dashboard's script, which echoes it in the X-CSRF-Token header.
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="strict", secure=secure, path="/")


@router.post("/login", response_model=SessionOut, responses={401: {}, 429: {}})
async def login(body: LoginIn, db: Db, runtime: RuntimeDep, info: RequestInfoDep, response: Response) -> object:
    signed_in = await service.login(db, runtime, email=body.email, password=body.password, request=info)
    if signed_in is None:
        # Returned, not raised: the failed attempt (throttle counter, audit row) must be committed.
        return error_response(NotAuthenticated("wrong email or password", code="invalid_credentials"), info)
    out = await session_out(db, runtime, signed_in.user, signed_in.session)
    set_session_cookies(response, runtime, signed_in.secret, signed_in.csrf_token)
    return out


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(me: SignedInUserDep, db: Db, runtime: RuntimeDep) -> Response:
    await service.logout(db, runtime, session_id=me.session.id, actor=me.actor)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/me", response_model=SessionOut)
async def me(me: SignedInUserDep, db: Db, runtime: RuntimeDep) -> SessionOut:
    return await session_out(db, runtime, me.user, me.session)


@router.post("/password", response_model=PasswordChangedOut, responses={400: {}, 429: {}})
async def change_password(
    body: PasswordChangeIn, me: SignedInUserDep, db: Db, runtime: RuntimeDep, info: RequestInfoDep
) -> object:
    ended = await service.change_password(
        db,
        runtime,
        user=me.user,
        current_session_id=me.session.id,
        current=body.current_password,
        new=body.new_password,
        actor=me.actor,
    )
    if ended is None:
        # Returned, not raised, like a failed sign-in: the throttle counter must be committed.
        return error_response(BadRequest("the current password is wrong", code="wrong_password"), info)
    return PasswordChangedOut(other_sessions_ended=ended)
