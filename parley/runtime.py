"""Everything a process needs, built once from settings: database, clock, keys, password hasher.

The web app, the worker and the CLI each build one; tests build one with a FrozenClock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from parley.auth.passwords import Passwords
from parley.conversations.live import InProcessHub, LiveHub
from parley.conversations.live_factory import build_hub
from parley.kit.clock import Clock, SystemClock
from parley.kit.db import create_engine, make_sessionmaker, scrub
from parley.kit.keys import PSEUDONYM_KEY_INFO, MasterKeys, derive_key, load_master_keys
from parley.llm.factory import BreakerRegistry, ProviderCache
from parley.privacy.keystore import Keystore
from parley.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    passwords: Passwords
    masters: MasterKeys = field(repr=False)
    # Organisation and person keys, in their own database (see privacy/keystore.py).
    keystore: Keystore = field(repr=False)
    csrf_key: bytes = field(repr=False)
    pseudonym_key: bytes = field(repr=False)
    # LLM provider clients and their circuit breakers, per credential: process-wide, like the failures counted.
    providers: ProviderCache = field(repr=False)
    # Live conversation events (staff takeover) for open widget sockets; in-process in embedded mode, Redis or
    # PostgreSQL between server processes (PARLEY_LIVE_BACKEND). The app's lifespan starts it.
    live: LiveHub = field(default_factory=InProcessHub, repr=False)

    @property
    def breakers(self) -> BreakerRegistry:
        return self.providers.breakers

    @property
    def master_key(self) -> bytes:
        return self.masters.current

    async def scrub_deleted(self) -> bool:
        """After an erasure or a deletion sweep: push deleted rows (and destroyed keys) off the disk (SQLite)."""
        main = await scrub(self.engine)
        keys = await scrub(self.keystore.engine)
        return main and keys

    async def close(self) -> None:
        await self.live.close()
        await self.providers.aclose()
        await self.keystore.close()
        await self.engine.dispose()


def create_runtime(settings: Settings, *, clock: Clock | None = None) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    masters = load_master_keys(settings)
    master = masters.current
    engine = create_engine(settings.effective_database_url, pool_size=settings.database_pool_size)
    clock = clock or SystemClock()
    pseudonym_key = derive_key(master, "parley/pseudonym/v1")
    return Runtime(
        settings=settings,
        engine=engine,
        sessionmaker=make_sessionmaker(engine, info={PSEUDONYM_KEY_INFO: pseudonym_key}),
        clock=clock,
        passwords=Passwords(settings),
        masters=masters,
        keystore=Keystore(
            settings.effective_keystore_url, masters, clock, reload_masters=lambda: load_master_keys(settings)
        ),
        csrf_key=derive_key(master, "parley/csrf/v1"),
        pseudonym_key=pseudonym_key,
        providers=ProviderCache(BreakerRegistry(clock=clock)),
        live=build_hub(settings, masters),
    )
