"""The key store: organisation keys and person (data subject) keys, in a database of their own.

    master key (settings or KMS) ──wraps──▶ organisation key ──wraps──▶ person key ──seals──▶ their messages

Why a separate database: crypto-shredding only works if a destroyed key stays destroyed. A backup of the main
database taken before a person was erased, restored after, would otherwise bring their key back with their
messages. Keys live here (`<data_dir>/keys.db`, or `<name>_keys` beside the PostgreSQL database), so the main
database and its backups hold only ciphertext. The key store is small; operators back it up on its own, with a
short retention, and restoring it is the one thing that can undo an erasure (say so in the runbook).

Transactions here are separate from the main database's: a key is created (committed) before the row it seals,
and destroyed (committed) before the rows it sealed are deleted, so a crash in between leaves only unreadable
ciphertext or an unused key, never readable data of an erased person.

Unwrapped keys are cached in process for `CACHE_SECONDS`; destroying a key evicts it here at once. Another process
may keep using a destroyed key it had cached for at most that long (only to seal new data of an erased person,
which then becomes unreadable, or to read what is being deleted anyway).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import LargeBinary, MetaData, String, UniqueConstraint, delete, inspect, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool

from parley.kit.clock import Clock
from parley.kit.crypto import DecryptionError, new_data_key, unwrap_key, wrap_key
from parley.kit.db import NAMING_CONVENTION, UTCDateTime, create_engine, insert_ignoring_conflict, unit_of_work
from parley.kit.ids import new_id
from parley.kit.keys import KeyProvider, LocalKeyProvider, MasterKeys
from parley.privacy.datamap import system
from parley.settings import Settings

CACHE_SECONDS = 300.0


class KeystoreBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class OrgKeyRow(KeystoreBase):
    """An organisation's data key, wrapped by a master key. Deleting it crypto-shreds the organisation."""

    __tablename__ = "org_keys"

    org_id: Mapped[str] = mapped_column(String(40), primary_key=True, info=system("system.tenant"))
    key_id: Mapped[str] = mapped_column(String(40), unique=True, info=system("system.encryption"))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary, info=system("system.encryption"))
    master_key_id: Mapped[str] = mapped_column(String(40), info=system("system.encryption"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())


class SubjectKeyRow(KeystoreBase):
    """A person's data key, wrapped by their organisation's key. Deleting it crypto-shreds the person."""

    __tablename__ = "subject_keys"
    __table_args__ = (UniqueConstraint("org_id", "subject_id"),)

    key_id: Mapped[str] = mapped_column(String(40), primary_key=True, info=system("system.encryption"))
    org_id: Mapped[str] = mapped_column(String(40), index=True, info=system("system.tenant"))
    subject_id: Mapped[str] = mapped_column(String(40), info=system(note="the contact id; no personal data"))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary, info=system("system.encryption"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())


class KeyDestroyed(DecryptionError):
    """The key that sealed this record was destroyed: the person or the organisation was erased."""


def _org_owner(org_id: str) -> str:
    return f"org:{org_id}"


def _subject_owner(org_id: str, subject_id: str) -> str:
    return f"subject:{org_id}:{subject_id}"


class Keystore:
    def __init__(
        self,
        url: str,
        masters: MasterKeys | KeyProvider,
        clock: Clock,
        *,
        pool_size: int = 5,
        reload_masters: Callable[[], MasterKeys] | None = None,
    ) -> None:
        self.engine: AsyncEngine = create_engine(url, pool_size=pool_size)
        # Local master keys, or any KeyProvider (a KMS). A rotation by another process wraps keys under a master key
        # this process may not know yet: the local provider reloads its keys once before giving up.
        self.provider: KeyProvider = (
            LocalKeyProvider(masters, reload_masters) if isinstance(masters, MasterKeys) else masters
        )
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._clock = clock
        # key id -> (org id, key, cached at); (org id, subject id) -> key id
        self._keys: dict[str, tuple[str, bytes, float]] = {}
        self._org_key_ids: dict[str, str] = {}
        self._subject_key_ids: dict[tuple[str, str], str] = {}

    async def close(self) -> None:
        await self.engine.dispose()

    # --- reading and creating -----------------------------------------------------------------------------

    async def org_key(self, org_id: str) -> tuple[str, bytes]:
        """The organisation's key id and key, created on first use (two first uses at once agree on one)."""
        cached = self._cached(self._org_key_ids.get(org_id))
        if cached is not None:
            return cached
        async with unit_of_work(self._sessions, write=False) as db:
            row = await db.get(OrgKeyRow, org_id)
        if row is None:
            async with unit_of_work(self._sessions) as db:
                await insert_ignoring_conflict(
                    db,
                    OrgKeyRow.__table__,
                    {
                        "org_id": org_id,
                        "key_id": new_id("okey"),
                        "wrapped_key": await self.provider.wrap(new_data_key(), owner=_org_owner(org_id)),
                        "master_key_id": self.provider.current_id,
                        "created_at": self._clock.now(),
                    },
                )
                row = await db.get(OrgKeyRow, org_id)
            assert row is not None
        key = await self.provider.unwrap(row.wrapped_key, owner=_org_owner(org_id), master_key_id=row.master_key_id)
        self._remember(row.key_id, org_id, key)
        self._org_key_ids[org_id] = row.key_id
        return row.key_id, key

    async def subject_key(self, org_id: str, subject_id: str) -> tuple[str, bytes]:
        """The person's key id and key, created on first use."""
        cached = self._cached(self._subject_key_ids.get((org_id, subject_id)))
        if cached is not None:
            return cached
        _, org_key = await self.org_key(org_id)
        query = select(SubjectKeyRow).where(SubjectKeyRow.org_id == org_id, SubjectKeyRow.subject_id == subject_id)
        async with unit_of_work(self._sessions, write=False) as db:
            row = await db.scalar(query)
        if row is None:
            async with unit_of_work(self._sessions) as db:
                await insert_ignoring_conflict(
                    db,
                    SubjectKeyRow.__table__,
                    {
                        "key_id": new_id("skey"),
                        "org_id": org_id,
                        "subject_id": subject_id,
                        "wrapped_key": wrap_key(org_key, new_data_key(), owner=_subject_owner(org_id, subject_id)),
                        "created_at": self._clock.now(),
                    },
                )
                row = await db.scalar(query)
            assert row is not None
        key = unwrap_key(org_key, row.wrapped_key, owner=_subject_owner(org_id, subject_id))
        self._remember(row.key_id, org_id, key)
        self._subject_key_ids[(org_id, subject_id)] = row.key_id
        return row.key_id, key

    async def key_by_id(self, org_id: str, key_id: str) -> bytes:
        """The key named in a sealed record's header, or KeyDestroyed if it no longer exists."""
        cached = self._cached(key_id)
        if cached is not None:
            if self._keys[key_id][0] != org_id:
                raise DecryptionError("the record's key belongs to another organisation")
            return cached[1]
        if key_id.startswith("okey_"):
            async with unit_of_work(self._sessions, write=False) as db:
                row = await db.scalar(select(OrgKeyRow).where(OrgKeyRow.key_id == key_id, OrgKeyRow.org_id == org_id))
            if row is None:
                raise KeyDestroyed(f"organisation key {key_id} was destroyed")
            return (await self.org_key(org_id))[1]
        async with unit_of_work(self._sessions, write=False) as db:
            subject = await db.scalar(
                select(SubjectKeyRow).where(SubjectKeyRow.key_id == key_id, SubjectKeyRow.org_id == org_id)
            )
        if subject is None:
            raise KeyDestroyed(f"person key {key_id} was destroyed")
        return (await self.subject_key(org_id, subject.subject_id))[1]

    # --- destroying ---------------------------------------------------------------------------------------

    async def destroy_subject(self, org_id: str, subject_id: str) -> bool:
        """Crypto-shreds one person: everything sealed with their key becomes unreadable, backups included."""
        async with unit_of_work(self._sessions) as db:
            key_id = await db.scalar(
                select(SubjectKeyRow.key_id).where(
                    SubjectKeyRow.org_id == org_id, SubjectKeyRow.subject_id == subject_id
                )
            )
            if key_id is None:
                return False
            await db.execute(delete(SubjectKeyRow).where(SubjectKeyRow.key_id == key_id))
        self._forget(key_id)
        self._subject_key_ids.pop((org_id, subject_id), None)
        return True

    async def destroy_subjects(self, org_id: str, subject_ids: list[str]) -> int:
        """Crypto-shreds several people of one organisation in one transaction (retention sweeps)."""
        if not subject_ids:
            return 0
        async with unit_of_work(self._sessions) as db:
            key_ids = list(
                await db.scalars(
                    select(SubjectKeyRow.key_id).where(
                        SubjectKeyRow.org_id == org_id, SubjectKeyRow.subject_id.in_(subject_ids)
                    )
                )
            )
            if key_ids:
                await db.execute(delete(SubjectKeyRow).where(SubjectKeyRow.key_id.in_(key_ids)))
        for key_id in key_ids:
            self._forget(key_id)
        for subject_id in subject_ids:
            self._subject_key_ids.pop((org_id, subject_id), None)
        return len(key_ids)

    async def destroy_organization(self, org_id: str) -> int:
        """Crypto-shreds an organisation: its key and every person key under it. Returns keys destroyed."""
        async with unit_of_work(self._sessions) as db:
            subject_ids = list(await db.scalars(select(SubjectKeyRow.key_id).where(SubjectKeyRow.org_id == org_id)))
            org_key_id = await db.scalar(select(OrgKeyRow.key_id).where(OrgKeyRow.org_id == org_id))
            await db.execute(delete(SubjectKeyRow).where(SubjectKeyRow.org_id == org_id))
            await db.execute(delete(OrgKeyRow).where(OrgKeyRow.org_id == org_id))
        for key_id in [*subject_ids, *([org_key_id] if org_key_id else [])]:
            self._forget(key_id)
        self._org_key_ids.pop(org_id, None)
        self._subject_key_ids = {k: v for k, v in self._subject_key_ids.items() if k[0] != org_id}
        return len(subject_ids) + (1 if org_key_id else 0)

    # --- master key rotation ------------------------------------------------------------------------------

    async def rotate_master(self, *, batch: int = 200) -> int:
        """Re-wraps every organisation key still wrapped by an older master key under the current one, in
        small committed batches, while the service runs (readers unwrap with either key meanwhile). Person keys
        are wrapped by organisation keys, which do not change, so they need nothing. Returns keys re-wrapped."""
        done = 0
        current_id = self.provider.current_id
        while True:
            async with unit_of_work(self._sessions) as db:
                rows = list(
                    await db.scalars(select(OrgKeyRow).where(OrgKeyRow.master_key_id != current_id).limit(batch))
                )
                for row in rows:
                    owner = _org_owner(row.org_id)
                    key = await self.provider.unwrap(row.wrapped_key, owner=owner, master_key_id=row.master_key_id)
                    await db.execute(
                        update(OrgKeyRow)
                        .where(OrgKeyRow.org_id == row.org_id, OrgKeyRow.master_key_id == row.master_key_id)
                        .values(
                            wrapped_key=await self.provider.wrap(key, owner=owner),
                            master_key_id=current_id,
                        )
                    )
            done += len(rows)
            if len(rows) < batch:
                return done

    async def wrapped_by(self) -> dict[str, int]:
        """How many organisation keys each master key wraps (rotation progress)."""
        async with unit_of_work(self._sessions, write=False) as db:
            rows = await db.execute(text("SELECT master_key_id, count(*) FROM org_keys GROUP BY master_key_id"))
            return {str(k): int(n) for k, n in rows}

    async def import_org_key(self, org_id: str, key_id: str, wrapped_key: bytes, created_at: datetime) -> None:
        """Adopts an organisation key from the main database (installations from before the key store).
        The old rows were wrapped by the current master key with the same owner binding."""
        async with unit_of_work(self._sessions) as db:
            await insert_ignoring_conflict(
                db,
                OrgKeyRow.__table__,
                {
                    "org_id": org_id,
                    "key_id": key_id,
                    "wrapped_key": wrapped_key,
                    "master_key_id": self.provider.current_id,
                    "created_at": created_at,
                },
            )

    async def session(self) -> AsyncSession:  # for tests and tooling that inspect the store
        return self._sessions()

    # --- cache --------------------------------------------------------------------------------------------

    def _remember(self, key_id: str, org_id: str, key: bytes) -> None:
        self._keys[key_id] = (org_id, key, time.monotonic())

    def _cached(self, key_id: str | None) -> tuple[str, bytes] | None:
        if key_id is None:
            return None
        entry = self._keys.get(key_id)
        if entry is None or time.monotonic() - entry[2] > CACHE_SECONDS:
            return None
        return key_id, entry[1]

    def _forget(self, key_id: str) -> None:
        self._keys.pop(key_id, None)


# --- schema ---------------------------------------------------------------------------------------------------


async def prepare(settings: Settings, masters: MasterKeys) -> None:
    """Creates the key store's database and tables if missing (run by `parley migrate`, as the owner), grants
    the app role its use, and adopts organisation keys from the main database of installations that predate
    the key store (the migration that follows drops them there)."""
    owner_url = settings.effective_keystore_owner_url
    if make_url(owner_url).get_backend_name() == "postgresql":
        await _create_pg_database(owner_url)
    engine = create_async_engine(owner_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(KeystoreBase.metadata.create_all)
            role = settings.database_app_role
            if conn.dialect.name == "postgresql" and role:
                quoted = conn.dialect.identifier_preparer.quote(role)
                for table in KeystoreBase.metadata.sorted_tables:
                    await conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table.name} TO {quoted}"))
    finally:
        await engine.dispose()
    await _adopt_legacy_org_keys(settings, masters)


async def _create_pg_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_async_engine(parsed.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database})
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        await admin.dispose()


async def _adopt_legacy_org_keys(settings: Settings, masters: MasterKeys) -> None:
    main = create_async_engine(settings.effective_owner_url, poolclass=NullPool)
    try:
        async with main.connect() as conn:
            present = await conn.run_sync(lambda c: inspect(c).has_table("org_keys"))
            rows = (
                list(await conn.execute(text("SELECT org_id, key_id, wrapped_key, created_at FROM org_keys")))
                if present
                else []
            )
    finally:
        await main.dispose()
    if not rows:
        return
    from parley.kit.clock import SystemClock

    store = Keystore(settings.effective_keystore_owner_url, masters, SystemClock(), pool_size=1)
    try:
        for org_id, key_id, wrapped, created_at in rows:
            created = created_at if isinstance(created_at, datetime) else datetime.fromisoformat(str(created_at))
            await store.import_org_key(org_id, key_id, bytes(wrapped), created.replace(tzinfo=created.tzinfo or UTC))
    finally:
        await store.close()
