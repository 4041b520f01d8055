"""Web origins (`scheme://host[:port]`) as businesses list them for their widget, and the check against the
`Origin` a browser sends."""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(value: str) -> str:
    """`https://Example.com:443/` → `https://example.com`. Raises ValueError for anything that is not an http(s)
    origin (paths, queries, credentials, wildcards)."""
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError(f"{value!r}: an origin starts with https:// (or http://)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{value!r}: an origin is scheme://host[:port], without a path")
    host = (parts.hostname or "").lower()
    if not host or "*" in host:
        raise ValueError(f"{value!r}: name the exact host (no wildcards)")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{value!r}: invalid port") from exc
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS[parts.scheme] else "")


def origin_allowed(origin: str | None, allowed: list[str]) -> bool:
    """A browser's `Origin` against the list. No `Origin` is not a cross-site browser request (the check exists
    to keep other sites' pages out); `null` (sandboxed frames, files) is refused."""
    if origin is None:
        return True
    try:
        return normalise_origin(origin) in allowed
    except ValueError:
        return False
