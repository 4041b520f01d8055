"""Organisations, members and invitations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from parley.auth import repository as auth_repo
from parley.auth import service as auth_service
from parley.auth.api import session_out, set_session_cookies
from parley.auth.dependencies import (
    CSRF_HEADER,
    SESSION_COOKIE,
    Db,
    PrincipalDep,
    RequestInfoDep,
    RuntimeDep,
    require,
)
from parley.auth.schemas import OrganizationRoleOut
from parley.auth.secrets import same
from parley.kit.errors import Forbidden, NotAuthenticated
from parley.models import Membership, User
from parley.tenancy import platform, service
from parley.tenancy import repository as repo
from parley.tenancy.permissions import Permission, Role
from parley.tenancy.schemas import (
    InvitationAcceptedOut,
    InvitationAcceptIn,
    InvitationCreatedOut,
    InvitationIn,
    InvitationOut,
    InvitationPreviewOut,
    MemberOut,
    MemberUpdateIn,
    OrganizationOut,
    OrganizationUpdateIn,
)
from parley.tenancy.scope import OrgScope

router = APIRouter(prefix="/api/v1", tags=["organisations"])

ReadOrg = Annotated[OrgScope, Depends(require(Permission.ORG_READ))]
UpdateOrg = Annotated[OrgScope, Depends(require(Permission.ORG_UPDATE))]
ReadMembers = Annotated[OrgScope, Depends(require(Permission.MEMBERS_READ))]
ManageMembers = Annotated[OrgScope, Depends(require(Permission.MEMBERS_MANAGE))]
ManageInvitations = Annotated[OrgScope, Depends(require(Permission.INVITATIONS_MANAGE))]


def _member_out(member: Membership, user: User) -> MemberOut:
    return MemberOut(
        id=member.id,
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=Role(member.role),
        created_at=member.created_at,
    )


@router.get("/orgs", response_model=list[OrganizationRoleOut])
async def list_my_organizations(caller: PrincipalDep, db: Db) -> list[OrganizationRoleOut]:
    """The organisations the caller can act in: a user's memberships, or a token's one organisation."""
    if caller.token is not None:
        scope_org = await auth_repo.organization_of_token(db, caller.token)
        return [
            OrganizationRoleOut(id=scope_org.id, name=scope_org.name, slug=scope_org.slug, role=Role(caller.token.role))
        ]
    assert caller.user is not None
    return [
        OrganizationRoleOut(id=o.id, name=o.name, slug=o.slug, role=Role(m.role))
        for m, o in await auth_repo.memberships_of(db, caller.user.id)
    ]


@router.get("/orgs/{org_id}", response_model=OrganizationOut)
async def get_organization(scope: ReadOrg, db: Db) -> object:
    return await repo.organization(db, scope)


@router.patch("/orgs/{org_id}", response_model=OrganizationOut)
async def update_organization(body: OrganizationUpdateIn, scope: UpdateOrg, db: Db, runtime: RuntimeDep) -> object:
    return await service.do_rename_organization(db, runtime, scope, body.name)


@router.get("/orgs/{org_id}/members", response_model=list[MemberOut])
async def list_members(scope: ReadMembers, db: Db) -> list[MemberOut]:
    return [_member_out(m, u) for m, u in await repo.members(db, scope)]


@router.get("/orgs/{org_id}/members/{member_id}", response_model=MemberOut)
async def get_member(member_id: str, scope: ReadMembers, db: Db) -> MemberOut:
    return _member_out(*await service.access_member(db, scope, member_id))


@router.patch("/orgs/{org_id}/members/{member_id}", response_model=MemberOut)
async def change_member_role(
    member_id: str, body: MemberUpdateIn, scope: ManageMembers, db: Db, runtime: RuntimeDep
) -> MemberOut:
    return _member_out(*await service.do_change_role(db, runtime, scope, member_id, body.role))


@router.delete("/orgs/{org_id}/members/{member_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(member_id: str, scope: ReadMembers, db: Db, runtime: RuntimeDep) -> Response:
    """Admins remove others; anyone may remove themselves (leave), except the last owner."""
    found = await service.access_member(db, scope, member_id)
    if found[1].id != scope.actor.user_id:
        scope.require(Permission.MEMBERS_MANAGE)
    await service.do_remove_member(db, runtime, scope, member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/orgs/{org_id}/invitations", response_model=list[InvitationOut])
async def list_invitations(scope: ManageInvitations, db: Db) -> object:
    return await repo.invitations(db, scope)


@router.post("/orgs/{org_id}/invitations", response_model=InvitationCreatedOut, status_code=status.HTTP_201_CREATED)
async def create_invitation(body: InvitationIn, scope: ManageInvitations, db: Db, runtime: RuntimeDep) -> object:
    created = await service.do_invite(db, runtime, scope, body.email, body.role)
    return InvitationCreatedOut(**InvitationOut.model_validate(created.invitation).model_dump(), url=created.url)


@router.delete("/orgs/{org_id}/invitations/{invitation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_invitation(invitation_id: str, scope: ManageInvitations, db: Db, runtime: RuntimeDep) -> Response:
    await service.do_revoke_invitation(db, runtime, scope, invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/invitations/{secret}", response_model=InvitationPreviewOut, tags=["invitations"])
async def preview_invitation(secret: str, db: Db, runtime: RuntimeDep) -> InvitationPreviewOut:
    """Public: what the link invites to, so the page can ask for a password or a sign-in."""
    invitation, org = await platform.live_invitation(db, runtime, secret)
    return InvitationPreviewOut(
        organization_name=org.name,
        email=invitation.email,
        role=Role(invitation.role),
        expires_at=invitation.expires_at,
        existing_user=await auth_repo.user_by_email(db, invitation.email) is not None,
    )


@router.post("/invitations/{secret}/accept", response_model=InvitationAcceptedOut, tags=["invitations"])
async def accept_invitation(
    secret: str,
    body: InvitationAcceptIn,
    request: Request,
    response: Response,
    db: Db,
    runtime: RuntimeDep,
    info: RequestInfoDep,
) -> InvitationAcceptedOut:
    signed_in_user = None
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        try:
            user_session, signed_in_user = await auth_service.session_user(db, runtime, cookie)
        except NotAuthenticated:
            signed_in_user = None
        else:
            # The cookie speaks for the user here, so the same CSRF rule as every cookie write applies.
            sent = request.headers.get(CSRF_HEADER, "")
            if not same(sent, auth_service.csrf_token_for(runtime, user_session.id)):
                raise Forbidden(f"missing or wrong {CSRF_HEADER} header", code="csrf_failed")
    joined = await platform.accept_invitation(
        db,
        runtime,
        secret=secret,
        name=body.name,
        password=body.password,
        signed_in_user=signed_in_user,
        request=info,
    )
    new_session = None
    if joined.signed_in is not None:
        set_session_cookies(response, runtime, joined.signed_in.secret, joined.signed_in.csrf_token)
        new_session = await session_out(db, runtime, joined.signed_in.user, joined.signed_in.session)
    return InvitationAcceptedOut(
        organization=OrganizationOut.model_validate(joined.organization),
        role=Role(joined.membership.role),
        session=new_session,
    )
