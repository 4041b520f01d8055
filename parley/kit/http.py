"""HTTP plumbing: request ids, body limits, security headers, access logs, and the one error format.

The middlewares are plain ASGI (not BaseHTTPMiddleware), which keeps per-request overhead to a few
microseconds; every request pays for them.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.kit.context import RequestInfo
from parley.kit.errors import ParleyError

log = logging.getLogger("parley.http")
access_log = logging.getLogger("parley.access")

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), geolocation=(), microphone=()"),
]
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
DOCS_CSP = (
    b"content-security-policy",
    b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    b"script-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
)


def error_body(code: str, detail: str, request_id: str | None, **extra: Any) -> dict[str, Any]:
    return {"error": code, "detail": detail, "request_id": request_id, **extra}


def error_response(exc: ParleyError, info: RequestInfo) -> JSONResponse:
    return JSONResponse(
        error_body(exc.code, exc.detail, info.request_id, **exc.extra),
        status_code=exc.status_code,
        headers=exc.headers,
    )


class RequestContextMiddleware:
    """Gives every request an id (kept from X-Request-ID when well-formed), echoes it, adds the security
    headers, refuses oversized bodies with 413, and writes one structured access-log line."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int, hsts: bool) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_holder = [500]
        path: str = scope["path"]
        csp = DOCS_CSP if path.startswith("/docs") else API_CSP

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(SECURITY_HEADERS)
                if not any(name == b"content-security-policy" for name, _ in headers):
                    headers.append(csp)
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                message = {**message, "headers": headers}
            await send(message)

        # File uploads (multipart) get the larger upload limit; every other body the ordinary one.
        limit = self.max_upload_bytes if _is_multipart(scope) else self.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(limit, request_id, send_wrapper)
        else:
            await self.app(scope, self._limited(receive, limit), send_wrapper)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": path,
                    "status": status_holder[0],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )

    def _limited(self, receive: Receive, limit: int) -> Receive:
        """Counts streamed body bytes too: a chunked upload without Content-Length is cut off at the limit."""
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException passes through FastAPI's body parsing unchanged (others become 400).
                    raise StarletteHTTPException(413, f"request bodies are limited to {limit} bytes")
            return message

        return limited_receive


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SAFE_REQUEST_ID.match(candidate):
                return candidate
    return uuid.uuid4().hex


def _is_multipart(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return bool(value.startswith(b"multipart/form-data"))
    return False


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(limit: int, request_id: str, send: Send) -> None:
    response = JSONResponse(
        error_body("payload_too_large", f"request bodies are limited to {limit} bytes", request_id),
        status_code=413,
    )
    await response({"type": "http"}, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _info(request: Request) -> RequestInfo:
    return RequestInfo(request_id=getattr(request.state, "request_id", None))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ParleyError)
    async def parley_error(request: Request, exc: ParleyError) -> JSONResponse:
        return error_response(exc, _info(request))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        request_id = _info(request).request_id
        if any(error.get("type") == "json_invalid" for error in errors):
            return JSONResponse(
                error_body("malformed_json", "the request body is not valid JSON", request_id),
                status_code=400,
            )
        fields = [
            {
                "location": ".".join(str(part) for part in error.get("loc", ())),
                "message": error.get("msg", ""),
                "type": error.get("type", ""),
            }
            for error in errors
        ]
        summary = "; ".join(f"{f['location']}: {f['message']}" for f in fields[:5])
        return JSONResponse(error_body("invalid_request", summary, request_id, fields=fields), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body(code, str(exc.detail), _info(request).request_id),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The trace goes to the log with the request id; the client gets the id and nothing else.
        request_id = _info(request).request_id
        log.exception("unhandled error", extra={"request_id": request_id})
        return JSONResponse(
            error_body("internal_error", "something went wrong on our side; quote the request id", request_id),
            status_code=500,
        )
