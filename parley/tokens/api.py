"""API tokens of an organisation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from parley.auth.dependencies import Db, RuntimeDep, require
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope
from parley.tokens import repository as repo
from parley.tokens import service
from parley.tokens.schemas import TokenCreatedOut, TokenIn, TokenOut

router = APIRouter(prefix="/api/v1/orgs/{org_id}/tokens", tags=["api tokens"])

ReadTokens = Annotated[OrgScope, Depends(require(Permission.TOKENS_READ))]
ManageTokens = Annotated[OrgScope, Depends(require(Permission.TOKENS_MANAGE))]


@router.get("", response_model=list[TokenOut])
async def list_tokens(scope: ReadTokens, db: Db) -> object:
    return await repo.tokens(db, scope)


@router.post("", response_model=TokenCreatedOut, status_code=status.HTTP_201_CREATED)
async def create_token(body: TokenIn, scope: ManageTokens, db: Db, runtime: RuntimeDep) -> TokenCreatedOut:
    created = await service.do_create_token(
        db, runtime, scope, name=body.name, role=body.role, expires_in_days=body.expires_in_days, agent_id=body.agent_id
    )
    return TokenCreatedOut(**TokenOut.model_validate(created.token).model_dump(), secret=created.secret)


@router.get("/{token_id}", response_model=TokenOut)
async def get_token(token_id: str, scope: ReadTokens, db: Db) -> object:
    return await service.access_token(db, scope, token_id)


@router.delete("/{token_id}", response_model=TokenOut)
async def revoke_token(token_id: str, scope: ManageTokens, db: Db, runtime: RuntimeDep) -> object:
    """Revoked at once: the next request with this token is refused. The record stays for the audit trail."""
    return await service.do_revoke_token(db, runtime, scope, token_id)
