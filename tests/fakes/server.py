"""The plumbing every fake provider shares: a real HTTP server on 127.0.0.1 in a background thread, a queue of
scripted replies, a record of every request, and a streaming response that can be cut mid-way.

The server runs its own event loop in its own thread so that the SDK clients under test talk to it over a real
socket, exactly as they would to the provider: connection handling, SSE parsing and timeouts are all exercised.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, Self

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.fakes.replies import RecordedRequest, Reply


class FakeServer:
    """Base for the fakes: `script()` replies, read `requests`, use as a context manager or call start/stop."""

    def __init__(self, *, api_key: str, models: Sequence[str]) -> None:
        self.api_key = api_key
        self.models = list(models)
        self.requests: list[RecordedRequest] = []
        self._replies: deque[Reply] = deque()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def routes(self) -> list[Route]:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        raise NotImplementedError

    def script(self, *replies: Reply) -> None:
        """Queues replies; each request (to any endpoint) takes the next one."""
        self._replies.extend(replies)

    def reset(self) -> None:
        self._replies.clear()
        self.requests.clear()

    @property
    def pending(self) -> int:
        """Scripted replies not yet taken — a test can assert that all of its script was used."""
        return len(self._replies)

    @property
    def last(self) -> RecordedRequest:
        assert self.requests, "the fake received no request"
        return self.requests[-1]

    def next_reply(self, default: Reply) -> Reply:
        return self._replies.popleft() if self._replies else default

    async def record(self, request: Request) -> RecordedRequest:
        raw = await request.body()
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            headers={name.lower(): value for name, value in request.headers.items()},
            body=json.loads(raw) if raw else None,
        )
        self.requests.append(recorded)
        return recorded

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            Starlette(routes=self.routes()),
            lifespan="off",
            http="h11",
            log_config=None,  # leave the test process's logging alone
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 5
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake provider server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def wait_unless_disconnected(request: Request, seconds: float) -> bool:
    """Sleeps like a slow provider; returns False early if the client gave up (so the server can shut down)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return False
        await anyio.sleep(0.01)
    return True


class EventStream(Response):
    """A `text/event-stream` body sent piece by piece, optionally dropping the connection before the end."""

    def __init__(
        self, events: Sequence[bytes], *, delay: float = 0.0, cut_after: int | None = None, headers: Any = None
    ) -> None:
        # Not `Response.__init__`: it would declare `content-length: 0`; a stream is sent chunked.
        self.status_code = 200
        self.media_type = "text/event-stream"
        self.background = None
        self.init_headers({"cache-control": "no-cache", **(headers or {})})
        self.events = list(events)
        self.delay = delay
        self.cut_after = cut_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Stop as soon as the client hangs up, as a real server would, instead of trickling into the void.
        async with anyio.create_task_group() as group:

            async def watch_for_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(watch_for_disconnect)
            await self._send(send)
            group.cancel_scope.cancel()

    async def _send(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        for i, event in enumerate(self.events):
            if self.cut_after is not None and i >= self.cut_after:
                # Returning without the final empty body makes uvicorn close the socket mid-response, which
                # clients see as an incomplete chunked body: the same as a provider connection dying.
                return
            if self.delay and i:
                await anyio.sleep(self.delay)
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
