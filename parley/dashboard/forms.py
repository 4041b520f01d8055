"""Turning a submitted form into a validated request model, with errors keyed by the field that caused them."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from parley.kit.errors import InvalidField

M = TypeVar("M", bound=BaseModel)
Errors = dict[str, str]


def validate(model: type[M], data: dict[str, Any]) -> tuple[M | None, Errors]:
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        return None, errors_of(exc)


def errors_of(exc: ValidationError) -> Errors:
    errors: Errors = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "__all__"
        message = error["msg"].removeprefix("Value error, ")
        errors.setdefault(name, message)
    return errors


def invalid_field_errors(exc: InvalidField) -> Errors:
    """A service's `InvalidField` ("body.knowledge_base_ids.0: …") as the form field it is about."""
    errors: Errors = {}
    for item in exc.extra.get("fields", []):
        parts = [p for p in str(item["location"]).split(".") if p not in ("body", "query") and not p.isdigit()]
        errors.setdefault(parts[0] if parts else "__all__", str(item["message"]))
    return errors or {"__all__": exc.detail}


def lines(value: str) -> list[str]:
    """A textarea with one item per line (or comma-separated) as a list, blanks dropped."""
    return [item.strip() for item in value.replace(",", "\n").splitlines() if item.strip()]
