"""Envelope encryption with crypto-shredding: master key → organisation key → person key → their messages.

Keys live in the key store (a database of its own); the main database and its backups hold only ciphertext.
"""

from __future__ import annotations

import base64
import json
import os

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from parley.conversations import repository as repo
from parley.conversations import service
from parley.kit.clock import SystemClock
from parley.kit.crypto import DecryptionError
from parley.kit.keys import MasterKeys
from parley.models import Contact, ContactIdentifier, Conversation, Message
from parley.privacy.erasure import erase_contact
from parley.privacy.keys import ERASED, keyring
from parley.privacy.keystore import Keystore
from parley.runtime import Runtime
from parley.settings import Settings
from parley.tenancy.scope import scoped_unit_of_work
from tests.factories import database_rows, database_text
from tests.privacy_support import say, start_chat, subject_key_ids

SECRET_WORDS = "my locker code is ZEBRA-4471"


async def _bodies(runtime: Runtime, chat) -> list[object]:  # type: ignore[no-untyped-def]
    async with scoped_unit_of_work(runtime.sessionmaker, chat.scope, write=False) as db:
        ring = keyring(runtime, chat.scope)
        return [await service.open_body(ring, m) for m in await repo.messages(db, chat.scope, chat.conversation_id)]


async def test_messages_are_sealed_with_the_persons_own_key(client, runtime: Runtime, settings: Settings):
    chat = await start_chat(client, runtime)
    await say(runtime, chat, SECRET_WORDS)
    assert SECRET_WORDS in await _bodies(runtime, chat)
    assert "ZEBRA-4471" not in await database_text(settings)
    assert await subject_key_ids(runtime, chat.org_id) == [chat.contact_id]
    # The header of every sealed body names the person's key, not the organisation's.
    async with scoped_unit_of_work(runtime.sessionmaker, chat.scope, write=False) as db:
        messages = await repo.messages(db, chat.scope, chat.conversation_id)
    key_ids = {bytes(m.body_sealed)[3 : 3 + bytes(m.body_sealed)[2]].decode() for m in messages}
    assert len(key_ids) == 1 and next(iter(key_ids)).startswith("skey_")


async def test_the_main_database_holds_no_key_material(client, runtime: Runtime, settings: Settings):
    chat = await start_chat(client, runtime)
    await say(runtime, chat, SECRET_WORDS)
    _, person_key = await runtime.keystore.subject_key(chat.org_id, chat.contact_id)
    _, org_key = await runtime.keystore.org_key(chat.org_id)
    rows = await database_rows(settings)
    assert "org_keys" not in rows and "subject_keys" not in rows
    dump = await database_text(settings)
    for key in (person_key, org_key, runtime.master_key):
        assert key.decode("latin-1") not in dump and key.hex() not in dump


async def test_erasing_a_person_destroys_their_key_and_their_rows(client, runtime: Runtime, settings: Settings):
    chat = await start_chat(client, runtime)
    other = await start_chat(client, runtime, phone="+33699999999")
    await say(runtime, chat, SECRET_WORDS)
    await say(runtime, other, "When does the kitchen open?")
    erasure = await erase_contact(runtime, chat.scope, chat.contact_id)
    assert erasure.key_destroyed and erasure.conversations == 1 and erasure.messages == 2
    assert await subject_key_ids(runtime, chat.org_id) == []
    assert await subject_key_ids(runtime, other.org_id) == [other.contact_id]
    dump = await database_text(settings)
    assert "+33612345678" not in dump  # the identifier is gone; the audit row names the contact by id only
    assert "When does the kitchen open?" in await _bodies(runtime, other)  # the other person is untouched


async def test_a_backup_restored_after_an_erasure_cannot_reveal_the_persons_messages(
    client, runtime: Runtime, settings: Settings
):
    chat = await start_chat(client, runtime)
    await say(runtime, chat, SECRET_WORDS)
    backup = await database_rows(settings)  # a full dump of the main database, taken before the erasure

    await erase_contact(runtime, chat.scope, chat.contact_id)

    # Restore the person's rows from the backup, as an operator restoring last night's dump would.
    engine = create_async_engine(settings.effective_owner_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            for model in (Contact, ContactIdentifier, Conversation, Message):
                name = model.__tablename__
                rows = [r for r in backup[name] if r["org_id"] == chat.org_id]
                await conn.execute(text(f"DELETE FROM {name} WHERE org_id = :o"), {"o": chat.org_id})
                for row in sorted(rows, key=lambda r: r.get("reply_to_id") is not None):  # answered ones first
                    columns = ", ".join(row)
                    values = ", ".join(
                        f"CAST(:{c} AS JSON)" if isinstance(v, list | dict) else f":{c}" for c, v in row.items()
                    )
                    params = {c: json.dumps(v) if isinstance(v, list | dict) else v for c, v in row.items()}
                    await conn.execute(text(f"INSERT INTO {name} ({columns}) VALUES ({values})"), params)
    finally:
        await engine.dispose()

    bodies = await _bodies(runtime, chat)
    assert len(bodies) == 2 and all(b is ERASED for b in bodies)
    # Staff reading the restored conversation see it marked erased, not an error page.
    response = await client.get(f"{chat.base}/conversations/{chat.conversation_id}", headers=chat.headers)
    assert response.status_code == 200, response.text
    assert [(m["body"], m["erased"]) for m in response.json()["messages"]] == [(None, True), (None, True)]


async def test_a_sealed_record_does_not_open_in_another_organisation(client, runtime: Runtime):
    chat = await start_chat(client, runtime)
    other = await start_chat(client, runtime, phone="+33600000000")
    await say(runtime, chat, SECRET_WORDS)
    async with scoped_unit_of_work(runtime.sessionmaker, chat.scope, write=False) as db:
        sealed = (await repo.messages(db, chat.scope, chat.conversation_id))[0]
    with pytest.raises(DecryptionError):
        await keyring(runtime, other.scope).open(sealed.body_sealed, record=service.message_record(sealed.id))


async def test_rotating_the_master_key_rewraps_organisation_keys(client, runtime: Runtime, settings: Settings):
    chat = await start_chat(client, runtime)
    await say(runtime, chat, SECRET_WORDS)
    old = runtime.master_key
    new = os.urandom(32)
    rotating = Keystore(settings.effective_keystore_url, MasterKeys(current=new, previous=(old,)), SystemClock())
    try:
        assert await rotating.rotate_master() >= 1
        assert await rotating.wrapped_by() == {MasterKeys(new).current_id: await _org_key_count(settings)}
        assert await rotating.rotate_master() == 0  # nothing left to do: idempotent
    finally:
        await rotating.close()

    only_new = Keystore(settings.effective_keystore_url, MasterKeys(current=new), SystemClock())
    only_old = Keystore(settings.effective_keystore_url, MasterKeys(current=old), SystemClock())
    try:
        _key_id, key = await only_new.subject_key(chat.org_id, chat.contact_id)
        assert key == (await runtime.keystore.subject_key(chat.org_id, chat.contact_id))[1]
        with pytest.raises(DecryptionError):
            await only_old.org_key(chat.org_id)
    finally:
        await only_new.close()
        await only_old.close()


async def _org_key_count(settings: Settings) -> int:
    engine = create_async_engine(settings.effective_keystore_owner_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(text("SELECT count(*) FROM org_keys")) or 0)
    finally:
        await engine.dispose()


def test_master_key_ids_are_stable_and_reveal_nothing():
    key = base64.urlsafe_b64decode(base64.urlsafe_b64encode(os.urandom(32)))
    assert MasterKeys(key).current_id == MasterKeys(key).current_id
    assert key.hex()[:16] not in MasterKeys(key).current_id


class _RemoteKeyService:
    """A key provider in the shape a KMS has: it holds its own key and only answers wrap/unwrap requests."""

    def __init__(self) -> None:
        self._key = os.urandom(32)
        self.calls: list[str] = []

    @property
    def current_id(self) -> str:
        return "kms_test_key"

    async def wrap(self, key: bytes, *, owner: str) -> bytes:
        from parley.kit.crypto import wrap_key

        self.calls.append(f"wrap {owner}")
        return wrap_key(self._key, key, owner=owner)

    async def unwrap(self, wrapped: bytes, *, owner: str, master_key_id: str) -> bytes:
        from parley.kit.crypto import unwrap_key

        assert master_key_id == self.current_id
        self.calls.append(f"unwrap {owner}")
        return unwrap_key(self._key, wrapped, owner=owner)


async def test_a_kms_can_hold_the_master_key_through_the_key_provider_interface(settings: Settings):
    kms = _RemoteKeyService()
    store = Keystore(settings.effective_keystore_url, kms, SystemClock())
    other = Keystore(settings.effective_keystore_url, _RemoteKeyService(), SystemClock())  # a different KMS key
    try:
        key_id, _ = await store.org_key("org_kms")
        assert kms.calls == ["wrap org:org_kms", "unwrap org:org_kms"]
        assert await store.wrapped_by() == {"kms_test_key": 1}
        person_id, _ = await store.subject_key("org_kms", "con_1")
        assert person_id.startswith("skey_") and key_id.startswith("okey_")
        with pytest.raises(DecryptionError):
            await other.org_key("org_kms")
    finally:
        await store.close()
        await other.close()
