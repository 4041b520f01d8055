"""The live hub the settings ask for."""

from __future__ import annotations

from parley.conversations.live import InProcessHub, LiveHub
from parley.conversations.live_wire import Sealer
from parley.kit.keys import MasterKeys
from parley.settings import Settings


def build_hub(settings: Settings, masters: MasterKeys) -> LiveHub:
    if settings.live_backend == "redis":
        from parley.conversations.live_redis import RedisHub

        return RedisHub(settings.redis_url, Sealer(masters), settings.live_channel_prefix)
    if settings.live_backend == "postgres":
        from parley.conversations.live_postgres import PostgresHub

        url = settings.live_postgres_url or settings.effective_database_url
        if not url.startswith("postgresql"):
            raise ValueError("PARLEY_LIVE_BACKEND=postgres needs PostgreSQL (PARLEY_LIVE_POSTGRES_URL)")
        return PostgresHub(url, Sealer(masters), settings.live_channel_prefix)
    return InProcessHub()
