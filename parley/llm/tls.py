"""One TLS context for every provider client in the process."""

from __future__ import annotations

import functools
import ssl

import httpx2


@functools.cache
def tls_context() -> ssl.SSLContext:
    """Loading the CA bundle costs ~150 ms of CPU, which would block the event loop each time a client is built;
    one context, with the SDK's default trust settings, serves every client."""
    return httpx2.create_ssl_context()
