"""A fake Meta Graph API (WhatsApp Cloud API) speaking the real wire protocol.

    with FakeGraph() as fake:                       # or the `fake_graph` fixture
        fake.add_media("media-1", b"...jpeg...", "image/jpeg")
        fake.fail_next(429, 130429, "Rate limit hit")
        ...
        assert fake.sent[0]["text"]["body"] == "Hello"

Endpoints: `POST /{version}/{phone-number-id}/messages` (answers `{"messaging_product", "contacts", "messages":
[{"id": "wamid…"}]}`), `GET /{version}/{media-id}` (media metadata with a short-lived `url`, `mime_type`,
`sha256`, `file_size`) and `GET /media-bytes/{media-id}` (the bytes). Every call needs `Authorization: Bearer
<access token>`; a wrong token gets the real code-190 OAuthException envelope. `fail_next` queues error envelopes
(`{"error": {"message", "type", "code", "error_data", "fbtrace_id"}}`) for the next calls of any endpoint.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import deque
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import FakeServer

ACCESS_TOKEN = "EAAG-fake-access-token"


class FakeGraph(FakeServer):
    def __init__(self, *, access_token: str = ACCESS_TOKEN) -> None:
        super().__init__(api_key=access_token, models=())
        self.media: dict[str, tuple[bytes, str]] = {}
        self.failures: deque[tuple[int, int, str]] = deque()
        self.sent: list[dict[str, Any]] = []  # message payloads the fake accepted
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self) -> list[Route]:
        return [
            Route("/{version}/{phone_number_id}/messages", self.messages, methods=["POST"]),
            Route("/media-bytes/{media_id}", self.media_bytes, methods=["GET"]),
            Route("/{version}/{media_id}", self.media_metadata, methods=["GET"]),
        ]

    def reset(self) -> None:
        super().reset()
        self.media.clear()
        self.failures.clear()
        self.sent.clear()

    def add_media(self, media_id: str, content: bytes, mime_type: str) -> None:
        self.media[media_id] = (content, mime_type)

    def fail_next(self, status: int, code: int, message: str, *, times: int = 1) -> None:
        self.failures.extend([(status, code, message)] * times)

    def _refuse(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return error(401, 190, "Invalid OAuth access token - Cannot parse access token", "OAuthException")
        if self.failures:
            status, code, message = self.failures.popleft()
            return error(status, code, message)
        return None

    async def messages(self, request: Request) -> Response:
        body = (await self.record(request)).json
        if (refused := self._refuse(request)) is not None:
            return refused
        if (
            body.get("messaging_product") != "whatsapp"
            or not body.get("to")
            or body.get("type")
            not in (
                "text",
                "template",
            )
        ):
            return error(400, 100, "(#100) Invalid parameter")
        self.sent.append(body)
        wamid = f"wamid.FAKE{next(self._ids):06d}"
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": wamid}],
            }
        )

    async def media_metadata(self, request: Request) -> Response:
        await self.record(request)
        if (refused := self._refuse(request)) is not None:
            return refused
        media_id = request.path_params["media_id"]
        if media_id not in self.media:
            return error(400, 100, "(#100) Invalid parameter")
        content, mime_type = self.media[media_id]
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": f"{self.base_url}/media-bytes/{media_id}",
                "mime_type": mime_type,
                "sha256": hashlib.sha256(content).hexdigest(),
                "file_size": len(content),
                "id": media_id,
            }
        )

    async def media_bytes(self, request: Request) -> Response:
        await self.record(request)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return Response(status_code=401)
        found = self.media.get(request.path_params["media_id"])
        if found is None:
            return Response(status_code=404)
        return Response(found[0], media_type=found[1])


def error(status: int, code: int, message: str, kind: str = "OAuthException") -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "message": message,
                "type": kind,
                "code": code,
                "error_data": {"messaging_product": "whatsapp", "details": message},
                "fbtrace_id": "AbCdEfFakeTrace",
            }
        },
        status_code=status,
    )
