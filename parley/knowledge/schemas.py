from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, HttpUrl, StringConstraints

from parley.kit.schemas import RequestBody, ResponseBody

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class KnowledgeBaseIn(RequestBody):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    description: str = Field(default="", max_length=2_000)


class KnowledgeBasePatch(RequestBody):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    description: str | None = Field(default=None, max_length=2_000)


class KnowledgeBaseOut(ResponseBody):
    id: str
    name: str
    description: str
    created_at: datetime


class UrlDocumentIn(RequestBody):
    url: HttpUrl
    title: Title | None = None


class DocumentOut(ResponseBody):
    id: str
    knowledge_base_id: str
    title: str
    source: str
    filename: str | None
    url: str | None
    kind: str | None
    size_bytes: int
    status: str = Field(description="pending, processing, ready or failed")
    error: str | None = Field(description="Why ingestion failed, in words staff can act on.")
    chunk_count: int
    created_at: datetime
    updated_at: datetime
    ingested_at: datetime | None


class ChunkOut(ResponseBody):
    id: str
    ordinal: int
    heading: str | None
    text: str


class SearchHitOut(ResponseBody):
    chunk_id: str
    document_id: str
    title: str
    text: str
    score: float
