"""Sending through the Graph API (`POST /{version}/{phone-number-id}/messages`) and fetching media (`GET
/{media-id}` for a short-lived URL, then the bytes from it, both with the access token).

Which errors are worth retrying comes from Meta's error codes: throttling (130429, 131048, 131056, 4, 80007),
temporary unavailability (131016, 1, 2) and any 5xx are; the 24-hour window (131047), an invalid or expired
token (190), bad parameters, templates that do not exist are not."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from parley.channels.messaging.shapes import FetchedMedia, LiveConnection, MediaRef, OutboundBody, SendError, Sent
from parley.llm.tls import tls_context
from parley.runtime import Runtime

RETRYABLE_CODES = frozenset({1, 2, 4, 80007, 130429, 131016, 131048, 131056})
OUTSIDE_WINDOW = 131047
TIMEOUT = httpx.Timeout(20.0, connect=5.0)


class WhatsAppSender:
    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.base = f"{settings.whatsapp_graph_url.rstrip('/')}/{settings.whatsapp_graph_version}"

    async def send(self, connection: LiveConnection, to: str, body: OutboundBody, *, key: str) -> Sent:
        url = f"{self.base}/{connection.config['phone_number_id']}/messages"
        payload = message_payload(to, body)
        data = await self._call("POST", url, connection, json=payload)
        try:
            return Sent(str(data["messages"][0]["id"]))
        except (KeyError, IndexError, TypeError) as exc:
            raise SendError("the Graph API accepted the message but returned no id", retryable=False) from exc

    async def fetch_media(self, connection: LiveConnection, media: MediaRef) -> FetchedMedia:
        meta = await self._call("GET", f"{self.base}/{media.ref}", connection)
        url = meta.get("url")
        if not isinstance(url, str):
            raise SendError("the Graph API gave no URL for the media", retryable=False)
        headers = {"Authorization": f"Bearer {connection.secrets['access_token']}"}
        try:
            async with httpx.AsyncClient(verify=tls_context(), timeout=TIMEOUT, follow_redirects=True) as client:
                response = await client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise SendError(f"media download failed: {exc}", retryable=True) from exc
        if response.status_code != 200:
            raise SendError(
                f"media download failed: HTTP {response.status_code}", retryable=response.status_code >= 500
            )
        expected = meta.get("sha256")
        if expected and hashlib.sha256(response.content).hexdigest() != expected:
            raise SendError("media download was corrupted (sha256 mismatch)", retryable=True)
        return FetchedMedia(response.content, meta.get("mime_type") or response.headers.get("content-type"))

    async def _call(self, method: str, url: str, connection: LiveConnection, **kwargs: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {connection.secrets['access_token']}"}
        try:
            async with httpx.AsyncClient(verify=tls_context(), timeout=TIMEOUT) as client:
                response = await client.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise SendError(f"could not reach the Graph API: {exc}", retryable=True) from exc
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code < 400 and isinstance(data, dict) and "error" not in data:
            return data
        raise error_of(response.status_code, data)


def message_payload(to: str, body: OutboundBody) -> dict[str, Any]:
    payload: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to.lstrip("+")}
    if body.template:
        template: dict[str, Any] = {"name": body.template, "language": {"code": body.language or "en"}}
        if body.parameters:
            parameters = [{"type": "text", "text": p} for p in body.parameters]
            template["components"] = [{"type": "body", "parameters": parameters}]
        payload.update(type="template", template=template)
    else:
        payload.update(type="text", text={"preview_url": False, "body": body.text[:4096]})
    return payload


def error_of(status: int, data: object) -> SendError:
    error = data.get("error") if isinstance(data, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    message = str(error.get("message") or f"HTTP {status}")
    details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
    reason = f"Graph API error {code}: {message}" + (f" ({details})" if details else "")
    if code == OUTSIDE_WINDOW:
        return SendError(reason, code=str(code), retryable=False, outside_window=True)
    retryable = status >= 500 or status == 429 or code in RETRYABLE_CODES
    return SendError(reason, code=str(code) if code is not None else str(status), retryable=retryable)
