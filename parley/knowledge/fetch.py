"""Fetching web pages for the knowledge base, carefully: http(s) only, bounded size and time, and no requests
to private or loopback addresses (a URL must not become a way into the server's own network) unless the
operator allows it (`PARLEY_KNOWLEDGE_FETCH_ALLOW_PRIVATE`, for intranets and tests)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from anyio import to_thread

from parley.knowledge.sniff import MAX_DOCUMENT_BYTES

TIMEOUT_SECONDS = 20.0
MAX_REDIRECTS = 5


class FetchFailed(Exception):
    """Why a page could not be fetched, in words staff can act on. `retryable` for passing failures."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.retryable = retryable


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str | None
    final_url: str


async def _check_host(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchFailed("only http and https addresses can be added", retryable=False)
    if allow_private:
        return
    try:
        infos = await to_thread.run_sync(socket.getaddrinfo, parts.hostname, parts.port or 443)
    except socket.gaierror as exc:
        raise FetchFailed(f"the address {parts.hostname} could not be resolved", retryable=True) from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
            raise FetchFailed(f"{parts.hostname} points to a private network address", retryable=False)


async def fetch(url: str, *, allow_private: bool) -> Fetched:
    current = url
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            await _check_host(current, allow_private)  # every hop, so a redirect cannot reach inside either
            try:
                async with client.stream("GET", current, headers={"User-Agent": "Parley knowledge fetcher"}) as resp:
                    if resp.is_redirect and "location" in resp.headers:
                        current = str(resp.url.join(resp.headers["location"]))
                        continue
                    if resp.status_code >= 500 or resp.status_code == 429:
                        raise FetchFailed(f"the site answered {resp.status_code}; will retry", retryable=True)
                    if resp.status_code >= 400:
                        raise FetchFailed(f"the site answered {resp.status_code}", retryable=False)
                    body = bytearray()
                    async for piece in resp.aiter_bytes():
                        body.extend(piece)
                        if len(body) > MAX_DOCUMENT_BYTES:
                            raise FetchFailed("the page is larger than documents may be", retryable=False)
                    return Fetched(bytes(body), resp.headers.get("content-type"), str(resp.url))
            except httpx.TimeoutException as exc:
                raise FetchFailed("the site did not answer in time; will retry", retryable=True) from exc
            except httpx.TransportError as exc:
                raise FetchFailed(
                    f"the site could not be reached ({type(exc).__name__}); will retry", retryable=True
                ) from exc
    raise FetchFailed("too many redirects", retryable=False)
