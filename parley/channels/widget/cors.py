"""CORS for the widget's endpoints: only an origin the agent's widget allows gets `Access-Control-Allow-Origin`,
and never with credentials (the widget sends none: no cookies, its visitor secret travels in a header).

The route's dependency decides (it knows the agent's list) and leaves the origin in the request state; this
middleware adds the headers to whatever response follows, error responses included, so the widget can read a
rate-limit message. Preflight requests are answered by a route of their own (api.py)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATE_KEY = "widget_cors_origin"
PREFIX = "/widget/"
ALLOWED_HEADERS = "content-type, x-parley-visitor"
EXPOSED_HEADERS = "retry-after, x-request-id"


def cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
    ]


class WidgetCorsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"vary", b"Origin"))
                origin = scope.get("state", {}).get(STATE_KEY)
                if origin:
                    headers.extend(cors_headers(origin))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cors)
