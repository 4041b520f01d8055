"""Knowledge bases, their documents (files and web pages), chunk previews and a search preview."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Response, UploadFile, status

from parley.auth.dependencies import Db, RuntimeDep, require
from parley.knowledge import repository as repo
from parley.knowledge import search as knowledge_search
from parley.knowledge import service
from parley.knowledge.schemas import (
    ChunkOut,
    DocumentOut,
    KnowledgeBaseIn,
    KnowledgeBaseOut,
    KnowledgeBasePatch,
    SearchHitOut,
    UrlDocumentIn,
)
from parley.knowledge.sniff import MAX_DOCUMENT_BYTES
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope

router = APIRouter(prefix="/api/v1/orgs/{org_id}", tags=["knowledge"])

ReadKnowledge = Annotated[OrgScope, Depends(require(Permission.KNOWLEDGE_READ))]
ManageKnowledge = Annotated[OrgScope, Depends(require(Permission.KNOWLEDGE_MANAGE))]


@router.get("/knowledge-bases", response_model=list[KnowledgeBaseOut])
async def list_knowledge_bases(scope: ReadKnowledge, db: Db) -> object:
    return await repo.knowledge_bases(db, scope)


@router.post("/knowledge-bases", response_model=KnowledgeBaseOut, status_code=status.HTTP_201_CREATED)
async def create_knowledge_base(body: KnowledgeBaseIn, scope: ManageKnowledge, db: Db, runtime: RuntimeDep) -> object:
    return await service.do_create_knowledge_base(db, runtime, scope, body)


@router.get("/knowledge-bases/{knowledge_base_id}", response_model=KnowledgeBaseOut)
async def get_knowledge_base(knowledge_base_id: str, scope: ReadKnowledge, db: Db) -> object:
    return await service.access_knowledge_base(db, scope, knowledge_base_id)


@router.patch("/knowledge-bases/{knowledge_base_id}", response_model=KnowledgeBaseOut)
async def update_knowledge_base(
    knowledge_base_id: str, body: KnowledgeBasePatch, scope: ManageKnowledge, db: Db, runtime: RuntimeDep
) -> object:
    return await service.do_update_knowledge_base(db, runtime, scope, knowledge_base_id, body)


@router.delete("/knowledge-bases/{knowledge_base_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_knowledge_base(
    knowledge_base_id: str, scope: ManageKnowledge, db: Db, runtime: RuntimeDep
) -> Response:
    await service.do_delete_knowledge_base(db, runtime, scope, knowledge_base_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/knowledge-bases/{knowledge_base_id}/documents", response_model=list[DocumentOut])
async def list_documents(knowledge_base_id: str, scope: ReadKnowledge, db: Db) -> object:
    await service.access_knowledge_base(db, scope, knowledge_base_id)
    return await repo.documents(db, scope, knowledge_base_id)


@router.post(
    "/knowledge-bases/{knowledge_base_id}/documents", response_model=DocumentOut, status_code=status.HTTP_201_CREATED
)
async def upload_document(
    knowledge_base_id: str,
    file: UploadFile,
    scope: ManageKnowledge,
    db: Db,
    runtime: RuntimeDep,
    title: Annotated[str | None, Form(max_length=300)] = None,
) -> object:
    """Upload a txt, md, html, pdf, docx or question/answer csv file. The type is sniffed from the content."""
    data = await file.read(MAX_DOCUMENT_BYTES + 1)
    return await service.do_add_file(
        db,
        runtime,
        scope,
        knowledge_base_id,
        filename=file.filename,
        declared_type=file.content_type,
        data=data,
        title=title,
    )


@router.post(
    "/knowledge-bases/{knowledge_base_id}/urls", response_model=DocumentOut, status_code=status.HTTP_201_CREATED
)
async def add_url(
    knowledge_base_id: str, body: UrlDocumentIn, scope: ManageKnowledge, db: Db, runtime: RuntimeDep
) -> object:
    """Add a web page; the worker fetches and ingests it."""
    return await service.do_add_url(db, runtime, scope, knowledge_base_id, url=str(body.url), title=body.title)


@router.get("/knowledge-bases/{knowledge_base_id}/search", response_model=list[SearchHitOut])
async def search_knowledge_base(
    knowledge_base_id: str,
    scope: ReadKnowledge,
    db: Db,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[SearchHitOut]:
    """What the agent would retrieve for this question."""
    await service.access_knowledge_base(db, scope, knowledge_base_id)
    hits = await knowledge_search.search(db, scope, [knowledge_base_id], q, limit=limit)
    return [
        SearchHitOut(chunk_id=h.chunk_id, document_id=h.document_id, title=h.title, text=h.text, score=h.score)
        for h in hits
    ]


@router.get("/documents/{document_id}", response_model=DocumentOut)
async def get_document(document_id: str, scope: ReadKnowledge, db: Db) -> object:
    return await service.access_document(db, scope, document_id)


@router.get("/documents/{document_id}/chunks", response_model=list[ChunkOut])
async def list_chunks(
    document_id: str,
    scope: ReadKnowledge,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> object:
    await service.access_document(db, scope, document_id)
    return await repo.chunks(db, scope, document_id, limit=limit, offset=offset)


@router.post("/documents/{document_id}/reingest", response_model=DocumentOut)
async def reingest_document(document_id: str, scope: ManageKnowledge, db: Db, runtime: RuntimeDep) -> object:
    return await service.do_reingest(db, runtime, scope, document_id)


@router.delete("/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(document_id: str, scope: ManageKnowledge, db: Db, runtime: RuntimeDep) -> Response:
    """Removes the document, its chunks, their index entries and the stored file."""
    await service.do_delete_document(db, runtime, scope, document_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
