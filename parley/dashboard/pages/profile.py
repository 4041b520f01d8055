"""The signed-in staff member's own profile: display name and password."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from pydantic import Field

from parley.auth import service as auth_service
from parley.auth.dependencies import Db, RuntimeDep
from parley.auth.schemas import PasswordChangeIn
from parley.dashboard.context import StaffPageDep
from parley.dashboard.forms import validate
from parley.dashboard.registry import Page
from parley.dashboard.web import PREFIX, redirect, render
from parley.kit.errors import BadRequest
from parley.kit.schemas import RequestBody

page = Page()


class ProfileIn(RequestBody):
    name: str = Field(min_length=1, max_length=200)


@page.router.get("/profile")
async def profile(request: Request, staff: StaffPageDep) -> Response:
    return render(request, "profile.html", staff, values={"name": staff.user.name})


@page.router.post("/profile")
async def update_profile(request: Request, staff: StaffPageDep, db: Db, runtime: RuntimeDep) -> Response:
    form = await request.form()
    body, errors = validate(ProfileIn, {"name": str(form.get("name", "")).strip()})
    if body is None:
        return render(request, "profile.html", staff, status=422, values=dict(form), errors=errors)
    await auth_service.update_profile(db, runtime, user=staff.user, name=body.name, actor=staff.actor)
    return redirect(f"{PREFIX}/profile", "Your profile is saved.")


@page.router.post("/profile/password")
async def change_password(request: Request, staff: StaffPageDep, db: Db, runtime: RuntimeDep) -> Response:
    form = await request.form()
    data = {k: str(form.get(k, "")) for k in ("current_password", "new_password")}
    body, errors = validate(PasswordChangeIn, data)
    if body is not None and body.new_password != str(form.get("confirm_password", "")):
        body, errors = None, {"confirm_password": "the two new passwords differ"}
    if body is None:
        return _password_error(request, staff, errors)
    try:
        ended = await auth_service.change_password(
            db,
            runtime,
            user=staff.user,
            current_session_id=staff.session.id,
            current=body.current_password,
            new=body.new_password,
            actor=staff.actor,
        )
    except BadRequest as exc:
        return _password_error(request, staff, {"new_password": exc.detail})
    if ended is None:
        # Rendered, not raised: the throttle counter of the failed attempt must be committed.
        return _password_error(request, staff, {"current_password": "the current password is wrong"})
    others = f" {ended} other session(s) were signed out." if ended else ""
    return redirect(f"{PREFIX}/profile", f"Your password is changed.{others}")


def _password_error(request: Request, staff: StaffPageDep, errors: dict[str, str]) -> Response:
    return render(request, "profile.html", staff, status=422, values={"name": staff.user.name}, errors=errors)
