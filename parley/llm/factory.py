"""Builds a ready-to-use remote provider from a credential's settings: the SDK-backed provider for its kind,
wrapped in retries, a deadline and the circuit breaker shared by every request that uses the same credential.

Breakers live in a `BreakerRegistry` that outlives requests (one per process, held by the runtime), because a
breaker only helps if the next request sees the failures of the previous ones. The offline provider needs no
network and is built elsewhere (`parley/llm/offline.py`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

from parley.kit.clock import Clock, SystemClock
from parley.llm.base import Provider
from parley.llm.resilience import CircuitBreaker, ResilientProvider

# The SDK timeout bounds each wait for a byte; the deadline bounds the whole answer, retries included.
DEADLINE_PER_TIMEOUT = 4


@dataclass(frozen=True, kw_only=True)
class ProviderConfig:
    kind: Literal["openai", "anthropic"]
    model: str
    api_key: str = field(repr=False)  # never in logs or error reports
    base_url: str | None = None
    timeout_seconds: float = 30.0
    breaker_key: str  # whose failures open the breaker together: the credential id


class BreakerRegistry:
    """One circuit breaker per key, created on first use."""

    def __init__(self, *, failure_threshold: int = 5, reset_after: float = 30.0, clock: Clock | None = None) -> None:
        self._failure_threshold = failure_threshold
        self._reset_after = reset_after
        self._clock = clock or SystemClock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, key: str) -> CircuitBreaker:
        if key not in self._breakers:
            self._breakers[key] = CircuitBreaker(
                key, failure_threshold=self._failure_threshold, reset_after=self._reset_after, clock=self._clock
            )
        return self._breakers[key]

    def forget(self, key: str) -> None:
        """Drops a breaker, e.g. when its credential is deleted or its key replaced."""
        self._breakers.pop(key, None)


def build_remote_provider(
    config: ProviderConfig, breakers: BreakerRegistry, *, clock: Clock | None = None
) -> ResilientProvider:
    # The SDKs are imported on first use: together they take seconds to import, which every process start
    # (CLI commands included) would otherwise pay, whether or not any agent uses a remote provider.
    from parley.llm.anthropic_provider import AnthropicProvider
    from parley.llm.openai_provider import OpenAIProvider

    inner: Provider
    if config.kind == "openai":
        inner = OpenAIProvider(
            api_key=config.api_key, base_url=config.base_url, timeout_seconds=config.timeout_seconds, clock=clock
        )
    elif config.kind == "anthropic":
        inner = AnthropicProvider(
            api_key=config.api_key,
            model=config.model,
            base_url=config.base_url,
            timeout_seconds=config.timeout_seconds,
            clock=clock,
        )
    else:
        raise ValueError(f"not a remote provider kind: {config.kind!r}")
    return ResilientProvider(
        inner,
        breaker=breakers.get(config.breaker_key),
        deadline_seconds=config.timeout_seconds * DEADLINE_PER_TIMEOUT,
        clock=clock,
    )


class ProviderCache:
    """One provider per credential, key and model for the whole process: building a client costs CPU (TLS
    setup) and each client keeps a connection pool, so turns reuse them. The key's digest is part of the cache
    key, so a replaced key gets a fresh client."""

    def __init__(self, breakers: BreakerRegistry) -> None:
        self.breakers = breakers
        self._providers: dict[tuple[str, str, str, str | None, str], ResilientProvider] = {}

    def get(self, config: ProviderConfig) -> ResilientProvider:
        digest = hashlib.sha256(config.api_key.encode()).hexdigest()
        key = (config.breaker_key, config.kind, config.model, config.base_url, digest)
        if key not in self._providers:
            self._providers[key] = build_remote_provider(config, self.breakers)
        return self._providers[key]

    async def aclose(self) -> None:
        providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            await provider.aclose()
