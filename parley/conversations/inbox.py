"""What staff do with a conversation from the inbox besides writing (`service.do_staff_reply`): take it over
without writing yet, hand it back to the AI, close it, leave internal notes. Each change is audited in the same
transaction; the caller announces it (`events.announce`) once the transaction has committed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations import repository as repo
from parley.conversations.service import access_conversation
from parley.kit.ids import new_id
from parley.models import Conversation, ConversationNote
from parley.privacy import audit
from parley.privacy.keys import Erased, keyring
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope


def note_record(note_id: str) -> str:
    return f"conversation_note:{note_id}:body"


async def do_take_over(db: AsyncSession, runtime: Runtime, scope: OrgScope, conversation_id: str) -> bool:
    """The staff member takes the conversation: the AI stops answering and colleagues see who has it. Returns
    whether anything changed (taking one's own conversation again is a no-op)."""
    conversation = await access_conversation(db, scope, conversation_id)
    if conversation.handed_off and conversation.assignee_user_id == scope.actor.user_id:
        return False
    conversation.handed_off = True
    conversation.assignee_user_id = scope.actor.user_id
    await audit.record_in_scope(
        db, runtime.clock, scope, "conversation.taken_over", target_type="conversation", target_id=conversation_id
    )
    return True


def claim(conversation: Conversation, scope: OrgScope) -> None:
    """A staff reply also makes its author the assignee when nobody has the conversation yet."""
    if conversation.assignee_user_id is None:
        conversation.assignee_user_id = scope.actor.user_id


async def do_hand_back(db: AsyncSession, runtime: Runtime, scope: OrgScope, conversation_id: str) -> Conversation:
    from parley.conversations.service import do_release

    conversation = await do_release(db, runtime, scope, conversation_id)
    conversation.assignee_user_id = None
    return conversation


async def do_close(db: AsyncSession, runtime: Runtime, scope: OrgScope, conversation_id: str) -> Conversation:
    """Closed conversations leave the open inbox; the person's next message starts a new conversation."""
    conversation = await access_conversation(db, scope, conversation_id)
    if conversation.status != "closed":
        conversation.status = "closed"
        conversation.closed_at = runtime.clock.now()
        conversation.needs_attention = False
        await audit.record_in_scope(
            db, runtime.clock, scope, "conversation.closed", target_type="conversation", target_id=conversation_id
        )
    return conversation


async def do_add_note(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, conversation_id: str, text: str
) -> ConversationNote:
    conversation = await access_conversation(db, scope, conversation_id)
    note = ConversationNote(
        id=new_id("cnn"),
        org_id=scope.org_id,
        conversation_id=conversation_id,
        author_user_id=scope.actor.user_id,
        created_at=runtime.clock.now(),
    )
    # Sealed with the person's key, like the messages: erasing them makes the note unreadable, backups included.
    cipher = await keyring(runtime, scope).subject(conversation.contact_id)
    note.body_sealed = cipher.encrypt_text(text, record=note_record(note.id))
    db.add(note)
    await db.flush()
    await audit.record_in_scope(
        db, runtime.clock, scope, "conversation.note_added", target_type="conversation", target_id=conversation_id
    )
    return note


async def read_notes(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, conversation_id: str
) -> list[tuple[ConversationNote, str | None]]:
    """Notes with their text (None once the person's key is destroyed). Read with the transcript, whose read is
    what the audit log records."""
    ring = keyring(runtime, scope)
    opened = []
    for note in await repo.notes(db, scope, conversation_id):
        body = await ring.open_text(note.body_sealed, record=note_record(note.id))
        opened.append((note, None if isinstance(body, Erased) else body))
    return opened
