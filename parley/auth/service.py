"""Signing in and out, password changes, and resolving a request's credentials to a user or a token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from parley.auth import repository as repo
from parley.auth.secrets import TOKEN_PREFIX, hash_secret, keyed_digest, new_secret
from parley.auth.throttle import LoginThrottler
from parley.kit.context import Actor, RequestInfo
from parley.kit.errors import BadRequest, Conflict, NotAuthenticated
from parley.kit.ids import new_id
from parley.models import User, UserSession
from parley.privacy import audit
from parley.runtime import Runtime

# Recording every request's "last seen" would turn each read into a write; once a minute is precise enough.
TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: UserSession
    secret: str
    csrf_token: str


def normalise_email(email: str) -> str:
    return email.strip().lower()


def csrf_token_for(runtime: Runtime, session_id: str) -> str:
    return keyed_digest(runtime.csrf_key, session_id)


async def login(
    db: AsyncSession, runtime: Runtime, *, email: str, password: str, request: RequestInfo
) -> SignedIn | None:
    """Returns None for a wrong email or password; the failure is recorded and must be committed."""
    now = runtime.clock.now()
    email = normalise_email(email)
    throttler = LoginThrottler(runtime.settings, runtime.pseudonym_key)
    keys = throttler.keys(email, request.ip)
    await throttler.check(db, keys, now)
    user = await repo.user_by_email(db, email)
    if not await runtime.passwords.verify(user.password_hash if user else None, password) or user is None:
        await throttler.failed(db, keys, now)
        await audit.record(
            db,
            runtime.clock,
            actor=Actor("anonymous", None, request),
            action="auth.login_failed",
            org_id=None,
            target_type="user" if user else None,
            target_id=user.id if user else None,
        )
        return None
    await throttler.succeeded(db, keys)
    if runtime.passwords.needs_rehash(user.password_hash):
        user.password_hash = await runtime.passwords.hash(password)
    user.last_login_at = now
    signed_in = await start_session(db, runtime, user, request)
    await audit.record(
        db,
        runtime.clock,
        actor=Actor("user", user.id, request),
        action="auth.login",
        org_id=None,
        target_type="user",
        target_id=user.id,
    )
    return signed_in


async def start_session(db: AsyncSession, runtime: Runtime, user: User, request: RequestInfo) -> SignedIn:
    now = runtime.clock.now()
    secret = new_secret()
    row = UserSession(
        id=new_id("ses"),
        user_id=user.id,
        token_hash=hash_secret(secret),
        created_at=now,
        expires_at=now + timedelta(hours=runtime.settings.session_ttl_hours),
        last_seen_at=now,
        ip=request.ip,
        user_agent=(request.user_agent or "")[:400] or None,
    )
    db.add(row)
    await db.flush()
    return SignedIn(user=user, session=row, secret=secret, csrf_token=csrf_token_for(runtime, row.id))


async def logout(db: AsyncSession, runtime: Runtime, *, session_id: str, actor: Actor) -> None:
    await repo.delete_session(db, session_id)
    await audit.record(
        db,
        runtime.clock,
        actor=actor,
        action="auth.logout",
        org_id=None,
        target_type="user",
        target_id=actor.user_id,
    )


async def change_password(
    db: AsyncSession,
    runtime: Runtime,
    *,
    user: User,
    current_session_id: str,
    current: str,
    new: str,
    actor: Actor,
) -> int | None:
    """Changes the password and signs out every other session; returns how many were signed out, or None
    when the current password is wrong (the failure is recorded and must be committed)."""
    now = runtime.clock.now()
    throttler = LoginThrottler(runtime.settings, runtime.pseudonym_key)
    keys = throttler.keys(user.email, actor.request.ip)
    await throttler.check(db, keys, now)
    if not await runtime.passwords.verify(user.password_hash, current):
        await throttler.failed(db, keys, now)
        return None
    if current == new:
        raise BadRequest("the new password must differ from the current one", code="same_password")
    user.password_hash = await runtime.passwords.hash(new)
    user.password_changed_at = now
    ended = await repo.delete_sessions_of(db, user.id, except_id=current_session_id)
    await audit.record(
        db,
        runtime.clock,
        actor=actor,
        action="auth.password_changed",
        org_id=None,
        target_type="user",
        target_id=user.id,
        details={"other_sessions_ended": ended},
    )
    return ended


async def update_profile(db: AsyncSession, runtime: Runtime, *, user: User, name: str, actor: Actor) -> None:
    """A staff member changes their own display name (the dashboard's profile page)."""
    user.name = name
    await audit.record(
        db,
        runtime.clock,
        actor=actor,
        action="user.profile_updated",
        org_id=None,
        target_type="user",
        target_id=user.id,
    )


async def session_user(db: AsyncSession, runtime: Runtime, secret: str) -> tuple[UserSession, User]:
    found = await repo.session_with_user(db, hash_secret(secret))
    if found is None or found[0].expires_at <= runtime.clock.now():
        raise NotAuthenticated("your session has ended; sign in again", code="session_expired")
    return found


async def api_token(db: AsyncSession, runtime: Runtime, secret: str) -> repo.TokenAuth:
    """The live token for a secret. Revocation and expiry are read from the row on every request."""
    if not secret.startswith(TOKEN_PREFIX):
        raise NotAuthenticated("this is not a Parley API token", code="invalid_token")
    token = await repo.token_by_hash(db, hash_secret(secret))
    now = runtime.clock.now()
    if token is None or token.revoked_at is not None:
        raise NotAuthenticated("this API token is not valid", code="invalid_token")
    if token.expires_at is not None and token.expires_at <= now:
        raise NotAuthenticated("this API token has expired", code="token_expired")
    return token


def due_for_touch(last: datetime | None, now: datetime) -> bool:
    return last is None or now - last >= TOUCH_INTERVAL


async def create_user(
    db: AsyncSession,
    runtime: Runtime,
    *,
    email: str,
    name: str,
    password: str,
    actor: Actor,
    superadmin: bool = False,
) -> User:
    email = normalise_email(email)
    if await repo.user_by_email(db, email) is not None:
        raise Conflict("an account with this email already exists", code="email_taken")
    user = User(
        id=new_id("usr"),
        email=email,
        name=name,
        password_hash=await runtime.passwords.hash(password),
        is_superadmin=superadmin,
        created_at=runtime.clock.now(),
    )
    db.add(user)
    await db.flush()
    await audit.record(
        db,
        runtime.clock,
        actor=actor,
        action="user.created",
        org_id=None,
        target_type="user",
        target_id=user.id,
        details={"superadmin": superadmin},
    )
    return user
