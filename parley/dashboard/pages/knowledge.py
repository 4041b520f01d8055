"""Knowledge: knowledge bases, their documents (uploaded files and web pages), live ingestion status with the
reason of any failure, a preview of the chunks an agent answers from, and deletion.

Ingestion is a reconciler (knowledge.tasks); after an upload the page starts a round at once (after the commit,
as a background task) rather than waiting for the next scheduled one, so staff see "ready" within seconds."""

from __future__ import annotations

from typing import Any

from fastapi import BackgroundTasks, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from parley.auth.dependencies import Db, RuntimeDep
from parley.dashboard.context import OrgPage, OrgPageDep
from parley.dashboard.forms import Errors, invalid_field_errors, validate
from parley.dashboard.registry import NavItem, Page
from parley.dashboard.web import org_url, redirect, render
from parley.kit.errors import InvalidField, PayloadTooLarge
from parley.knowledge import repository as repo
from parley.knowledge import service
from parley.knowledge.schemas import KnowledgeBaseIn, UrlDocumentIn
from parley.knowledge.sniff import MAX_DOCUMENT_BYTES
from parley.knowledge.tasks import ingest_pending
from parley.tenancy.permissions import Permission

page = Page(nav=[NavItem("Knowledge", "knowledge", Permission.KNOWLEDGE_READ, order=30)])

ACTIVE = ("pending", "processing")


@page.router.get("/o/{org_id}/knowledge")
async def knowledge_bases(request: Request, ctx: OrgPageDep, db: Db) -> Response:
    return await _list(request, ctx, db)


async def _list(request: Request, ctx: OrgPage, db: Db, *, status: int = 200, **form: Any) -> Response:
    kbs = await repo.knowledge_bases(db, ctx.org_scope)
    counts = {kb.id: len(await repo.document_ids(db, ctx.org_scope, kb.id)) for kb in kbs}
    return render(request, "knowledge.html", ctx, status=status, kbs=kbs, counts=counts, **form)


@page.router.post("/o/{org_id}/knowledge")
async def create_knowledge_base(request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.KNOWLEDGE_MANAGE)
    form = await request.form()
    data = {"name": str(form.get("name", "")), "description": str(form.get("description", ""))}
    body, errors = validate(KnowledgeBaseIn, data)
    if body is None:
        return await _list(request, ctx, db, status=422, values=data, errors=errors)
    kb = await service.do_create_knowledge_base(db, runtime, ctx.org_scope, body)
    return redirect(org_url(ctx.org_id, "knowledge", kb.id), f"Knowledge base “{kb.name}” created.")


async def _detail(
    request: Request,
    ctx: OrgPage,
    db: Db,
    kb_id: str,
    *,
    status: int = 200,
    errors: Errors | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    kb = await service.access_knowledge_base(db, ctx.org_scope, kb_id)
    documents = await repo.documents(db, ctx.org_scope, kb_id)
    return render(
        request,
        "knowledge_base.html",
        ctx,
        status=status,
        kb=kb,
        documents=documents,
        active=any(d.status in ACTIVE for d in documents),
        errors=errors or {},
        values=values or {},
    )


@page.router.get("/o/{org_id}/knowledge/{kb_id}")
async def knowledge_base(kb_id: str, request: Request, ctx: OrgPageDep, db: Db) -> Response:
    return await _detail(request, ctx, db, kb_id)


@page.router.get("/o/{org_id}/knowledge/{kb_id}/status")
async def ingestion_status(kb_id: str, ctx: OrgPageDep, db: Db) -> JSONResponse:
    """What the page polls while documents are being ingested."""
    await service.access_knowledge_base(db, ctx.org_scope, kb_id)
    documents = await repo.documents(db, ctx.org_scope, kb_id)
    return JSONResponse(
        {
            "documents": [
                {"id": d.id, "status": d.status, "error": d.error, "chunk_count": d.chunk_count} for d in documents
            ],
            "active": any(d.status in ACTIVE for d in documents),
        },
        headers={"cache-control": "no-store"},
    )


@page.router.post("/o/{org_id}/knowledge/{kb_id}/files")
async def upload(
    kb_id: str, request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep, background: BackgroundTasks
) -> Response:
    ctx.org_scope.require(Permission.KNOWLEDGE_MANAGE)
    form = await request.form()
    file, title = form.get("file"), str(form.get("title", "")).strip()
    values = {"title": title}
    if not isinstance(file, UploadFile) or not file.filename:
        return await _detail(request, ctx, db, kb_id, status=422, values=values, errors={"file": "choose a file"})
    if len(title) > 300:
        return await _detail(
            request, ctx, db, kb_id, status=422, values=values, errors={"title": "at most 300 characters"}
        )
    data = await file.read(MAX_DOCUMENT_BYTES + 1)
    try:
        document = await service.do_add_file(
            db,
            runtime,
            ctx.org_scope,
            kb_id,
            filename=file.filename,
            declared_type=file.content_type,
            data=data,
            title=title or None,
        )
    except InvalidField as exc:
        errors = {("file" if k == "__all__" else k): v for k, v in invalid_field_errors(exc).items()}
        return await _detail(request, ctx, db, kb_id, status=422, values=values, errors=errors)
    except PayloadTooLarge as exc:
        return await _detail(request, ctx, db, kb_id, status=413, values=values, errors={"file": exc.detail})
    background.add_task(ingest_pending, runtime)
    return redirect(org_url(ctx.org_id, "knowledge", kb_id), f"“{document.title}” uploaded; reading it now.")


@page.router.post("/o/{org_id}/knowledge/{kb_id}/urls")
async def add_url(
    kb_id: str, request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep, background: BackgroundTasks
) -> Response:
    ctx.org_scope.require(Permission.KNOWLEDGE_MANAGE)
    form = await request.form()
    data = {"url": str(form.get("url", "")).strip(), "title": str(form.get("url_title", "")).strip() or None}
    body, errors = validate(UrlDocumentIn, data)
    if body is None:
        errors = {("url_title" if k == "title" else k): v for k, v in errors.items()}
        values = {"url": data["url"], "url_title": data["title"] or ""}
        return await _detail(request, ctx, db, kb_id, status=422, values=values, errors=errors)
    document = await service.do_add_url(db, runtime, ctx.org_scope, kb_id, url=str(body.url), title=body.title)
    background.add_task(ingest_pending, runtime)
    return redirect(org_url(ctx.org_id, "knowledge", kb_id), f"“{document.title}” added; fetching it now.")


@page.router.post("/o/{org_id}/knowledge/{kb_id}/delete")
async def delete_knowledge_base(kb_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.KNOWLEDGE_MANAGE)
    kb = await service.access_knowledge_base(db, ctx.org_scope, kb_id)
    await service.do_delete_knowledge_base(db, runtime, ctx.org_scope, kb_id)
    return redirect(org_url(ctx.org_id, "knowledge"), f"Knowledge base “{kb.name}” deleted.")


@page.router.get("/o/{org_id}/documents/{document_id}")
async def document(document_id: str, request: Request, ctx: OrgPageDep, db: Db) -> Response:
    """The chunks an agent retrieves from, in order: what staff check when an answer looks wrong."""
    found = await service.access_document(db, ctx.org_scope, document_id)
    chunks = await repo.chunks(db, ctx.org_scope, document_id, limit=100, offset=0)
    return render(request, "document.html", ctx, document=found, chunks=chunks)


@page.router.post("/o/{org_id}/documents/{document_id}/reingest")
async def reingest(
    document_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep, background: BackgroundTasks
) -> Response:
    ctx.org_scope.require(Permission.KNOWLEDGE_MANAGE)
    found = await service.do_reingest(db, runtime, ctx.org_scope, document_id)
    background.add_task(ingest_pending, runtime)
    return redirect(org_url(ctx.org_id, "knowledge", found.knowledge_base_id), f"Reading “{found.title}” again.")


@page.router.post("/o/{org_id}/documents/{document_id}/delete")
async def delete_document(document_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.KNOWLEDGE_MANAGE)
    found = await service.access_document(db, ctx.org_scope, document_id)
    await service.do_delete_document(db, runtime, ctx.org_scope, document_id)
    return redirect(org_url(ctx.org_id, "knowledge", found.knowledge_base_id), f"“{found.title}” deleted.")
