"""Text messages for one-time codes: an `SmsSender` interface, and Twilio through its official library.

The provider is chosen by settings (`PARLEY_TWILIO_ACCOUNT_SID`, `PARLEY_TWILIO_AUTH_TOKEN`,
`PARLEY_TWILIO_FROM_NUMBER`); without them, codes by SMS are refused and the page offers e-mail only.
`PARLEY_TWILIO_API_BASE_URL` points the client elsewhere than api.twilio.com (a regional proxy; the tests' fake).
"""

from __future__ import annotations

from typing import Protocol

import anyio
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from parley.kit.errors import InvalidField, Unavailable
from parley.settings import Settings


class SmsSender(Protocol):
    async def send(self, to: str, text: str) -> str:
        """Send `text` to the E.164 number `to`; returns the provider's message id."""
        ...


class TwilioSmsSender:
    def __init__(self, account_sid: str, auth_token: str, from_number: str, *, base_url: str = "") -> None:
        self._account_sid, self._auth_token, self._from = account_sid, auth_token, from_number
        self._base_url = base_url

    async def send(self, to: str, text: str) -> str:
        # The library's own async client goes through aiohttp's deprecated BasicAuth; its plain client (requests)
        # runs in a worker thread instead, so the event loop never blocks on Twilio.
        return await anyio.to_thread.run_sync(self._send, to, text)

    def _send(self, to: str, text: str) -> str:
        client = Client(self._account_sid, self._auth_token, http_client=TwilioHttpClient(timeout=10))
        if self._base_url:
            client.api.base_url = self._base_url.rstrip("/")
        try:
            message = client.messages.create(to=to, from_=self._from, body=text)
        except TwilioRestException as error:
            if 400 <= error.status < 500:  # Twilio refused the number (invalid, unreachable, opted out)
                raise InvalidField("body.identifier", "this phone number cannot receive text messages") from error
            raise Unavailable("the text message provider is unavailable; try again later") from error
        except (TwilioException, requests.RequestException) as error:  # no answer at all
            raise Unavailable("the text message provider is unavailable; try again later") from error
        return str(message.sid)


def sms_sender(settings: Settings) -> SmsSender | None:
    if not (settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number):
        return None
    return TwilioSmsSender(
        settings.twilio_account_sid,
        settings.twilio_auth_token.get_secret_value(),
        settings.twilio_from_number,
        base_url=settings.twilio_api_base,
    )
