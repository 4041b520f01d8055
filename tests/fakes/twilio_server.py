"""A fake Twilio REST API (Messages) speaking the real wire protocol, for the official `twilio` client.

    with FakeTwilio() as fake:                       # or the `fake_twilio` fixture
        fake.add_media("ME1", b"...", "image/png")   # served at fake.media_url("ME1")
        fake.fail_next(429, 20429, "Too Many Requests")

`POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (form: To, From, Body or ContentSid, StatusCallback)
answers 201 with a Message resource (`sid` "SM…", `status` "queued"); HTTP basic auth must be the account sid and
auth token, else the real 20003 error. Errors use Twilio's envelope `{"code", "message", "more_info", "status"}`.
`GET /2010-04-01/Accounts/{AccountSid}/Messages/{sid}/Media/{media}` serves media bytes, with the same auth.
"""

from __future__ import annotations

import base64
import itertools
from collections import deque
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import FakeServer

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "fake-twilio-auth-token"


class FakeTwilio(FakeServer):
    def __init__(self, *, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        super().__init__(api_key=auth_token, models=())
        self.account_sid = account_sid
        self.media: dict[str, tuple[bytes, str]] = {}
        self.failures: deque[tuple[int, int, str]] = deque()
        self.sent: list[dict[str, str]] = []
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self) -> list[Route]:
        return [
            Route("/2010-04-01/Accounts/{account}/Messages.json", self.create_message, methods=["POST"]),
            Route("/2010-04-01/Accounts/{account}/Messages/{sid}/Media/{media}", self.media_bytes, methods=["GET"]),
        ]

    def reset(self) -> None:
        super().reset()
        self.media.clear()
        self.failures.clear()
        self.sent.clear()

    def add_media(self, media_id: str, content: bytes, mime_type: str) -> None:
        self.media[media_id] = (content, mime_type)

    def media_url(self, media_id: str, message_sid: str = "MM0001") -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages/{message_sid}/Media/{media_id}"

    def fail_next(self, status: int, code: int, message: str, *, times: int = 1) -> None:
        self.failures.extend([(status, code, message)] * times)

    def _authorised(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.api_key}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    async def create_message(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.requests.append(_recorded(request, form))
        if not self._authorised(request) or request.path_params["account"] != self.account_sid:
            return error(401, 20003, "Authenticate")
        if self.failures:
            return error(*self.failures.popleft())
        if not form.get("To") or not form.get("From") or not (form.get("Body") or form.get("ContentSid")):
            return error(400, 21602, "Message body is required.")
        self.sent.append(form)
        sid = f"SM{next(self._ids):032x}"
        return JSONResponse(
            {
                "account_sid": self.account_sid,
                "api_version": "2010-04-01",
                "body": form.get("Body", ""),
                "date_created": "Mon, 05 Jan 2026 09:00:00 +0000",
                "date_sent": None,
                "date_updated": "Mon, 05 Jan 2026 09:00:00 +0000",
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": form["From"],
                "messaging_service_sid": None,
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "queued",
                "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
                "to": form["To"],
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            },
            status_code=201,
        )

    async def media_bytes(self, request: Request) -> Response:
        self.requests.append(_recorded(request, None))
        if not self._authorised(request):
            return error(401, 20003, "Authenticate")
        found = self.media.get(request.path_params["media"])
        if found is None:
            return error(404, 20404, "The requested resource was not found")
        return Response(found[0], media_type=found[1])


def _recorded(request: Request, form: dict[str, str] | None) -> Any:
    from tests.fakes.replies import RecordedRequest

    headers = {name.lower(): value for name, value in request.headers.items()}
    return RecordedRequest(method=request.method, path=request.url.path, headers=headers, body=form)


def error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
        status_code=status,
    )
