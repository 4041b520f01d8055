"""A local Twilio REST server for text messages: `POST /2010-04-01/Accounts/{sid}/Messages.json`, form-encoded,
HTTP Basic auth with the account SID and auth token, answering with Twilio's message resource (201) or its error
shape (`code`, `message`, `more_info`, `status`). Driven by the official `twilio` library in the tests.

Numbers in `invalid_numbers` get Twilio's error 21211 (invalid 'To' number), as the real API answers.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import FakeServer


@dataclass
class SentSms:
    to: str
    from_: str
    body: str


class FakeTwilioSms(FakeServer):
    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "fake-twilio-token") -> None:
        super().__init__(api_key=auth_token, models=[])
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sent: list[SentSms] = []
        self.invalid_numbers: set[str] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self) -> list[Route]:
        return [Route("/2010-04-01/Accounts/{sid}/Messages.json", self.create_message, methods=["POST"])]

    def _authorised(self, request: Request, sid: str) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return sid == self.account_sid and request.headers.get("authorization") == f"Basic {expected}"

    async def create_message(self, request: Request) -> Response:
        sid = request.path_params["sid"]
        if not self._authorised(request, sid):
            return _error(401, 20003, "Authenticate")
        form = await request.form()
        to, from_, body = (str(form.get(k, "")) for k in ("To", "From", "Body"))
        if not to or not (body or form.get("MediaUrl")):
            return _error(400, 21604 if not to else 21602, "A 'To' phone number and a 'Body' are required.")
        if to in self.invalid_numbers:
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        self.sent.append(SentSms(to, from_, body))
        message_sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True)
        resource: dict[str, Any] = {
            "account_sid": sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": message_sid,
            "status": "queued",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}/Media.json"},
            "to": to,
            "uri": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}.json",
        }
        return JSONResponse(resource, status_code=201)


def _error(status: int, code: int, message: str) -> Response:
    return JSONResponse(
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
        status_code=status,
    )
