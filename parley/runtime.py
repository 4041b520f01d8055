"""Everything a process needs, built once from settings: database, clock, keys, password hasher.

The web app, the worker and the CLI each build one; tests build one with a FrozenClock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from parley.auth.passwords import Passwords
from parley.conversations.live import InProcessHub, LiveHub
from parley.kit.clock import Clock, SystemClock
from parley.kit.db import create_engine, make_sessionmaker
from parley.kit.keys import derive_key, load_master_key
from parley.llm.factory import BreakerRegistry, ProviderCache
from parley.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    passwords: Passwords
    master_key: bytes = field(repr=False)
    csrf_key: bytes = field(repr=False)
    pseudonym_key: bytes = field(repr=False)
    # LLM provider clients and their circuit breakers, per credential: process-wide, like the failures counted.
    providers: ProviderCache = field(repr=False)
    # Live conversation events (staff takeover) for open widget sockets; in-process in embedded mode.
    live: LiveHub = field(default_factory=InProcessHub, repr=False)

    @property
    def breakers(self) -> BreakerRegistry:
        return self.providers.breakers

    async def close(self) -> None:
        await self.providers.aclose()
        await self.engine.dispose()


def create_runtime(settings: Settings, *, clock: Clock | None = None) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    master = load_master_key(settings)
    engine = create_engine(settings.effective_database_url, pool_size=settings.database_pool_size)
    clock = clock or SystemClock()
    return Runtime(
        settings=settings,
        engine=engine,
        sessionmaker=make_sessionmaker(engine),
        clock=clock,
        passwords=Passwords(settings),
        master_key=master,
        csrf_key=derive_key(master, "parley/csrf/v1"),
        pseudonym_key=derive_key(master, "parley/pseudonym/v1"),
        providers=ProviderCache(BreakerRegistry(clock=clock)),
    )
