"""Staff configure messaging channels (admins) and merge or un-merge contacts; staff see what was delivered."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from sqlalchemy import select

from parley.auth.dependencies import Db, RuntimeDep, require
from parley.channels.messaging import connections, contacts
from parley.channels.messaging.schemas import ChannelIn, ChannelOut, ChannelPatch, MergeIn, MergeOut
from parley.conversations.service import access_conversation
from parley.kit.schemas import ResponseBody
from parley.models import ChannelOutbound
from parley.privacy.keys import Keyring
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope

router = APIRouter(prefix="/api/v1/orgs/{org_id}", tags=["channels"])

ManageChannels = Annotated[OrgScope, Depends(require(Permission.CREDENTIALS_MANAGE))]
ReplyToConversations = Annotated[OrgScope, Depends(require(Permission.CONVERSATIONS_REPLY))]
ReadConversations = Annotated[OrgScope, Depends(require(Permission.CONVERSATIONS_READ))]


@router.get("/channels", response_model=list[ChannelOut])
async def list_channels(scope: ManageChannels, db: Db, runtime: RuntimeDep) -> list[ChannelOut]:
    ring = Keyring(runtime.keystore, scope.org_id)
    return [
        connections.out(runtime.settings, c, list(await connections.open_secrets(ring, c)))
        for c in await connections.list_connections(db, scope)
    ]


@router.post("/channels", response_model=ChannelOut, status_code=status.HTTP_201_CREATED)
async def create_channel(body: ChannelIn, scope: ManageChannels, db: Db, runtime: RuntimeDep) -> ChannelOut:
    """Connects an agent to a channel. Give the provider the `webhook_url` of the answer."""
    return await connections.do_create(db, runtime, scope, body)


@router.get("/channels/{connection_id}", response_model=ChannelOut)
async def get_channel(connection_id: str, scope: ManageChannels, db: Db, runtime: RuntimeDep) -> ChannelOut:
    connection = await connections.access_connection(db, scope, connection_id)
    secrets = await connections.open_secrets(Keyring(runtime.keystore, scope.org_id), connection)
    return connections.out(runtime.settings, connection, list(secrets))


@router.patch("/channels/{connection_id}", response_model=ChannelOut)
async def update_channel(
    connection_id: str, body: ChannelPatch, scope: ManageChannels, db: Db, runtime: RuntimeDep
) -> ChannelOut:
    return await connections.do_update(db, runtime, scope, connection_id, body)


@router.delete("/channels/{connection_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_channel(connection_id: str, scope: ManageChannels, db: Db, runtime: RuntimeDep) -> Response:
    await connections.do_delete(db, runtime, scope, connection_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/contacts/{contact_id}/merge", response_model=MergeOut)
async def merge_contact(
    contact_id: str, body: MergeIn, scope: ReplyToConversations, db: Db, runtime: RuntimeDep
) -> MergeOut:
    """Merges this contact into `into_contact_id` (the same person, seen on two channels). Reversible."""
    merge = await contacts.do_merge(db, runtime, scope, contact_id, body.into_contact_id)
    return MergeOut.model_validate(merge)


@router.post("/contacts/{contact_id}/unmerge", response_model=MergeOut)
async def unmerge_contact(contact_id: str, scope: ReplyToConversations, db: Db, runtime: RuntimeDep) -> MergeOut:
    """Undoes this contact's merge: what moved with it moves back."""
    merge = await contacts.do_unmerge(db, runtime, scope, contact_id)
    return MergeOut.model_validate(merge)


class DeliveryOut(ResponseBody):
    id: str
    message_id: str | None
    state: str
    delivery: str
    attempts: int
    error_code: str | None
    last_error: str | None
    created_at: datetime
    settled_at: datetime | None


@router.get("/conversations/{conversation_id}/deliveries", response_model=list[DeliveryOut])
async def list_deliveries(conversation_id: str, scope: ReadConversations, db: Db) -> list[DeliveryOut]:
    """What was sent in this conversation through its channel, and what became of it (no content)."""
    await access_conversation(db, scope, conversation_id)
    rows = await db.scalars(
        select(ChannelOutbound)
        .where(ChannelOutbound.org_id == scope.org_id, ChannelOutbound.conversation_id == conversation_id)
        .order_by(ChannelOutbound.created_at, ChannelOutbound.id)
    )
    return [DeliveryOut.model_validate(r) for r in rows]
