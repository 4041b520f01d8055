"""One error hierarchy. Every error reaches clients as `{"error": code, "detail": message}`."""

from __future__ import annotations

from typing import Any


class ParleyError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(ParleyError):
    status_code = 400
    code = "bad_request"


class NotAuthenticated(ParleyError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(ParleyError):
    status_code = 403
    code = "forbidden"


class NotFound(ParleyError):
    """Also what another tenant's object looks like: missing and forbidden are indistinguishable."""

    status_code = 404
    code = "not_found"


class Conflict(ParleyError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(ParleyError):
    status_code = 413
    code = "payload_too_large"


class TooManyRequests(ParleyError):
    status_code = 429
    code = "too_many_requests"

    def __init__(self, detail: str, *, retry_after: float) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(detail, headers={"Retry-After": str(seconds)}, extra={"retry_after": seconds})


class Unavailable(ParleyError):
    status_code = 503
    code = "unavailable"


class InvalidField(ParleyError):
    """A body that is well-formed but refers to something that does not fit (an unknown knowledge base, a
    credential for another provider): 422 with the same `fields` shape as schema validation errors."""

    status_code = 422
    code = "invalid_request"

    def __init__(self, location: str, message: str) -> None:
        super().__init__(
            f"{location}: {message}",
            extra={"fields": [{"location": location, "message": message, "type": "value_error"}]},
        )
