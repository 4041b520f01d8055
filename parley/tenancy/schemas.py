from __future__ import annotations

from datetime import datetime

from pydantic import Field

from parley.auth.schemas import NewPassword, SessionOut
from parley.kit.schemas import Email, Name, RequestBody, ResponseBody
from parley.tenancy.permissions import Role


class OrganizationOut(ResponseBody):
    id: str
    name: str
    slug: str
    created_at: datetime
    conversation_retention_days: int
    deletion_due_at: datetime | None = Field(
        description="set while a deletion of the organisation is pending: show a countdown; it can be cancelled"
    )


class OrganizationUpdateIn(RequestBody):
    name: Name


class MemberOut(ResponseBody):
    id: str
    user_id: str
    email: str
    name: str
    role: Role
    created_at: datetime


class MemberUpdateIn(RequestBody):
    role: Role


class InvitationIn(RequestBody):
    email: Email
    role: Role


class InvitationOut(ResponseBody):
    id: str
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None


class InvitationCreatedOut(InvitationOut):
    url: str = Field(description="The invitation link. Shown once: only a hash of its secret is stored.")


class InvitationPreviewOut(ResponseBody):
    organization_name: str
    email: str
    role: Role
    expires_at: datetime
    existing_user: bool


class InvitationAcceptIn(RequestBody):
    name: Name | None = None
    password: NewPassword | None = None


class InvitationAcceptedOut(ResponseBody):
    organization: OrganizationOut
    role: Role
    session: SessionOut | None = None


class PlatformOrganizationIn(RequestBody):
    name: Name
    owner_email: Email


class PlatformOrganizationCreatedOut(ResponseBody):
    organization: OrganizationOut
    owner_invitation_url: str | None = Field(
        default=None, description="Set when the owner has no account yet: the link to create it and join."
    )
