"""Base classes for request and response bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints


class RequestBody(BaseModel):
    """Unknown fields are an error (422), never silently ignored: a typo must not look like success."""

    model_config = ConfigDict(extra="forbid")


class ResponseBody(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _lower(value: str) -> str:
    return value.strip().lower()


Email = Annotated[EmailStr, Field(max_length=320), AfterValidator(_lower)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
