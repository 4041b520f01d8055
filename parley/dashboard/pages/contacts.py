"""Contacts: the list with search, one person's identifiers, conversations and consent, and their rights
(export, erase, restrict, or file a data-subject request: `pages/requests.py`). Every view is audited
(`contacts.listed`, `contact.viewed`); the actions go through `parley.contacts.rights` and `parley.rights`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import Response

from parley.auth.dependencies import Db, RuntimeDep, audited_read, reads_only
from parley.contacts import rights, service
from parley.dashboard.context import OrgPageDep
from parley.dashboard.pages import requests as requests_page
from parley.dashboard.registry import NavItem, Page
from parley.dashboard.web import org_url, redirect, render
from parley.kit.errors import InvalidField
from parley.models.contact import RESTRICTION_GROUNDS
from parley.tenancy.permissions import Permission

page = Page(nav=[NavItem("Contacts", "contacts", Permission.CONVERSATIONS_READ, order=40)])

ERASE_WORD = "erase"


@page.router.get("/o/{org_id}/contacts", dependencies=[Depends(audited_read)])
async def contacts(
    request: Request,
    ctx: OrgPageDep,
    db: Db,
    runtime: RuntimeDep,
    q: Annotated[str | None, Query(max_length=service.MAX_QUERY_LENGTH)] = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    listing = await service.list_contacts(db, runtime, ctx.org_scope, query=q, page=page_number)
    return render(request, "contacts/list.html", ctx, listing=listing, values={"q": q or ""})


@page.router.get("/o/{org_id}/contacts/{contact_id}", dependencies=[Depends(audited_read)])
async def contact(request: Request, contact_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    return await _detail(request, ctx, db, runtime, contact_id)


async def render_detail(
    request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep, contact_id: str, *, status: int,
    errors: dict[str, str],
) -> Response:  # fmt: skip
    """The contact page again, with a form's errors (the request form of `pages/requests.py` posts from it)."""
    return await _detail(request, ctx, db, runtime, contact_id, status=status, errors=errors)


async def _detail(
    request: Request,
    ctx: OrgPageDep,
    db: Db,
    runtime: RuntimeDep,
    contact_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    confirm_erase: bool = False,
) -> Response:
    detail = await service.view_contact(db, runtime, ctx.org_scope, contact_id)
    return render(
        request, "contacts/detail.html", ctx, status=status, detail=detail, errors=errors or {},
        grounds=[(g, rights.GROUND_LABELS[g]) for g in RESTRICTION_GROUNDS], confirm_erase=confirm_erase,
        erase_word=ERASE_WORD,
        # Filing a data-subject request (pages/requests.py)
        request_kinds=list(requests_page.KIND_LABELS.items()), request_purposes=requests_page.PURPOSES,
    )  # fmt: skip


@page.router.post("/o/{org_id}/contacts/{contact_id}/export", dependencies=[Depends(audited_read)])
async def export(contact_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    archive = await rights.do_export(db, runtime, ctx.org_scope, contact_id)
    return Response(
        archive,
        media_type="application/zip",
        headers={
            "content-disposition": f'attachment; filename="parley-export-{contact_id}.zip"',
            "cache-control": "no-store",
        },
    )


@page.router.post("/o/{org_id}/contacts/{contact_id}/restriction")
async def restrict(request: Request, contact_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.PRIVACY_MANAGE)
    ground = str((await request.form()).get("ground", ""))
    try:
        await rights.do_restrict(db, runtime, ctx.org_scope, contact_id, ground)
    except InvalidField:
        return await _detail(request, ctx, db, runtime, contact_id, status=422,
                             errors={"ground": "choose why processing is restricted"})  # fmt: skip
    return redirect(org_url(ctx.org_id, "contacts", contact_id), "Processing is restricted: the AI will not answer.")


@page.router.post("/o/{org_id}/contacts/{contact_id}/restriction/lift")
async def lift(contact_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    await rights.do_lift_restriction(db, runtime, ctx.org_scope, contact_id)
    return redirect(org_url(ctx.org_id, "contacts", contact_id), "The restriction is lifted.")


@page.router.post("/o/{org_id}/contacts/{contact_id}/erase", dependencies=[Depends(reads_only)])
async def erase(request: Request, contact_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    """Irreversible, so the word `erase` must be typed; the erasure runs in transactions of its own (key store
    first), which is why this request's transaction only reads."""
    ctx.org_scope.require(Permission.PRIVACY_MANAGE)
    if str((await request.form()).get("confirm", "")).strip().lower() != ERASE_WORD:
        await rights.access(db, ctx.org_scope, contact_id)  # 404 before asking again
        return render(
            request, "contacts/erase_failed.html", ctx, status=422, contact_id=contact_id, erase_word=ERASE_WORD,
            errors={"confirm": f"type {ERASE_WORD} to confirm; nothing was erased"},
        )  # fmt: skip
    done = await rights.do_erase(runtime, ctx.org_scope, contact_id)
    return redirect(
        org_url(ctx.org_id, "contacts"),
        f"The person is erased: {done.conversations} conversation(s) and {done.messages} message(s) deleted, "
        "their key destroyed.",
    )
