"""`/widget.js`: the script businesses embed. Read once, gzipped once, served with an ETag and a long cache;
`Cross-Origin-Resource-Policy: cross-origin` lets other sites load it."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import Response

SCRIPT = "widget.js"
# A day fresh, then a week of serving the cached copy while revalidating: a business's pages never wait for
# Parley, and a new version reaches every site within a day.
CACHE_CONTROL = "public, max-age=86400, stale-while-revalidate=604800"


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str


@cache
def widget_script() -> Asset:
    body = files("parley.channels.widget").joinpath("static", SCRIPT).read_bytes()
    return Asset(body, gzip.compress(body, 9, mtime=0), '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def serve_script(request: Request) -> Response:
    asset = widget_script()
    headers = {
        "etag": asset.etag,
        "cache-control": CACHE_CONTROL,
        "cross-origin-resource-policy": "cross-origin",
        "vary": "Accept-Encoding",
    }
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["content-encoding"] = "gzip"
        return Response(asset.gzipped, media_type="text/javascript; charset=utf-8", headers=headers)
    return Response(asset.body, media_type="text/javascript; charset=utf-8", headers=headers)
