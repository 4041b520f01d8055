from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from parley.auth.passwords import MAX_LENGTH, check_strength
from parley.kit.schemas import Email, RequestBody, ResponseBody
from parley.tenancy.permissions import Role

NewPassword = Annotated[str, AfterValidator(check_strength)]


class LoginIn(RequestBody):
    email: Email
    password: str = Field(min_length=1, max_length=MAX_LENGTH)


class PasswordChangeIn(RequestBody):
    current_password: str = Field(min_length=1, max_length=MAX_LENGTH)
    new_password: NewPassword


class UserOut(ResponseBody):
    id: str
    email: str
    name: str
    is_superadmin: bool
    created_at: datetime
    last_login_at: datetime | None


class OrganizationRoleOut(ResponseBody):
    id: str
    name: str
    slug: str
    role: Role


class SessionOut(ResponseBody):
    user: UserOut
    organizations: list[OrganizationRoleOut]
    csrf_token: str = Field(description="Send as the X-CSRF-Token header on cookie-authenticated writes.")
    expires_at: datetime


class PasswordChangedOut(ResponseBody):
    other_sessions_ended: int
