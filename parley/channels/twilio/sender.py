"""Replies through Twilio's REST Messages API with the official client, and inbound media downloads.

The client is given the library's own HTTP client, subclassed to send requests for `https://api.twilio.com` to
`twilio_api_base` when that is set — a regional proxy, or a local test server — so the library builds,
authenticates and parses every request exactly as it does against Twilio. The client is synchronous (its async
variant relies on a deprecated aiohttp API), so a send runs in a worker thread, never on the event loop.

Retried: rate limits (429, 20429), Twilio's 5xx, network failures. Final: bad numbers, an unsubscribed recipient
(21610: they sent STOP to Twilio), WhatsApp's 24-hour window (63016), authentication (20003)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import httpx
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from parley.channels.messaging.connections import webhook_url
from parley.channels.messaging.shapes import FetchedMedia, LiveConnection, MediaRef, OutboundBody, SendError, Sent
from parley.llm.tls import tls_context
from parley.runtime import Runtime

TWILIO_API = "https://api.twilio.com"
RETRYABLE_CODES = frozenset({20429, 20500, 20503, 30001})
OUTSIDE_WINDOW = 63016
UNSUBSCRIBED = 21610  # the person sent STOP to Twilio itself
TIMEOUT = 20.0


class _RebasedHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The library's HTTP client, pointed at `base` instead of api.twilio.com."""

    def __init__(self, base: str) -> None:
        super().__init__(pool_connections=False, timeout=TIMEOUT)
        self.base = base.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if self.base and url.startswith(TWILIO_API):
            url = self.base + url[len(TWILIO_API) :]
        response: Response = super().request(method, url, *args, **kwargs)
        return response


class TwilioSender:
    def __init__(self, runtime: Runtime) -> None:
        self.settings = runtime.settings
        self.base = runtime.settings.twilio_api_base.rstrip("/")

    def _client(self, connection: LiveConnection) -> Client:
        return Client(
            connection.config["account_sid"],
            connection.secrets["auth_token"],
            http_client=_RebasedHttpClient(self.base),
        )

    async def send(self, connection: LiveConnection, to: str, body: OutboundBody, *, key: str) -> Sent:
        whatsapp = connection.kind == "twilio_whatsapp"
        address = (lambda n: f"whatsapp:{n}") if whatsapp else (lambda n: n)
        params: dict[str, Any] = {
            "to": address(to),
            "from_": address(connection.config["from_number"]),
            "status_callback": webhook_url(self.settings, connection) + "/status",
        }
        content_sid = body.extra.get("content_sid")
        if body.template and content_sid:  # an approved WhatsApp template, as Twilio Content
            params["content_sid"] = content_sid
        else:
            params["body"] = body.text[:1600]
        try:
            message = await asyncio.to_thread(self._client(connection).messages.create, **params)
        except TwilioRestException as exc:
            raise error_of(exc) from exc
        except (requests.RequestException, OSError) as exc:
            raise SendError(f"could not reach Twilio: {exc}", retryable=True) from exc
        if not message.sid:
            raise SendError("Twilio accepted the message but returned no sid", retryable=False)
        return Sent(str(message.sid))

    async def fetch_media(self, connection: LiveConnection, media: MediaRef) -> FetchedMedia:
        url = media.ref
        if self.base and url.startswith(TWILIO_API):
            url = self.base + url[len(TWILIO_API) :]
        allowed = {"api.twilio.com", urlsplit(self.base).hostname}
        if urlsplit(url).hostname not in allowed:  # only Twilio's own media URLs (no fetching of arbitrary hosts)
            raise SendError("media URL is not Twilio's", retryable=False)
        auth = (connection.config["account_sid"], connection.secrets["auth_token"])
        try:
            async with httpx.AsyncClient(
                verify=tls_context(), timeout=TIMEOUT, follow_redirects=True, auth=auth
            ) as client:
                response = await client.get(url)
        except httpx.HTTPError as exc:
            raise SendError(f"media download failed: {exc}", retryable=True) from exc
        if response.status_code != 200:
            raise SendError(
                f"media download failed: HTTP {response.status_code}", retryable=response.status_code >= 500
            )
        return FetchedMedia(response.content, response.headers.get("content-type") or media.mime_type)


def error_of(exc: TwilioRestException) -> SendError:
    code = exc.code
    reason = f"Twilio error {code}: {exc.msg}" if code else f"Twilio error: HTTP {exc.status} {exc.msg}"
    if code == OUTSIDE_WINDOW:
        return SendError(reason, code=str(code), retryable=False, outside_window=True)
    if code == UNSUBSCRIBED:
        return SendError(reason, code=str(code), retryable=False, opted_out=True)
    retryable = exc.status == 429 or exc.status >= 500 or code in RETRYABLE_CODES
    return SendError(reason, code=str(code or exc.status), retryable=retryable)
