"""Consent texts: the exact words people are shown for each purpose and language, versioned. A new version never
overwrites the old one (consent proof cites the version shown); a version can be deleted only while nobody was
shown it. Same services and roles as the REST API (`parley.consent.api`): any member reads, `privacy:manage`
adds and deletes."""

from __future__ import annotations

from itertools import groupby

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.auth.dependencies import Db, RuntimeDep
from parley.consent import repository as repo
from parley.consent import service
from parley.consent.purposes import PURPOSES
from parley.consent.schemas import ConsentTextIn
from parley.dashboard.context import OrgPage, OrgPageDep
from parley.dashboard.forms import Errors, validate
from parley.dashboard.registry import NavItem, Page
from parley.dashboard.web import org_url, redirect, render
from parley.kit.errors import Conflict
from parley.models import ConsentEvent
from parley.tenancy.permissions import Permission

page = Page(nav=[NavItem("Consent texts", "consent-texts", Permission.ORG_READ, order=71)])

MESSAGES = {
    "purpose": "choose a purpose",
    "language": "a language tag such as en, fr or pt-BR",
    "body": "write the words people are shown (up to 5,000 characters)",
}


async def _page(request: Request, ctx: OrgPage, db: AsyncSession, *, status: int = 200,
                errors: Errors | None = None, values: dict[str, str] | None = None) -> Response:  # fmt: skip
    texts = await repo.texts(db, ctx.org_scope)
    ids = [t.id for t in texts]
    shown = (
        set(
            await db.scalars(
                select(ConsentEvent.text_id).where(ConsentEvent.org_id == ctx.org_id, ConsentEvent.text_id.in_(ids))
            )
        )
        if ids
        else set()
    )
    # Oldest first per purpose and language from the repository; newest first reads better, and the last is current.
    groups = [(key, list(reversed(list(rows)))) for key, rows in groupby(texts, key=lambda t: (t.purpose, t.language))]
    return render(
        request, "consent/texts.html", ctx, status=status, errors=errors or {}, values=values or {"language": "en"},
        groups=groups, shown=shown, purposes=PURPOSES,
        purpose_options=[("", "Choose…")] + [(p.key, p.title) for p in PURPOSES.values()],
    )  # fmt: skip


@page.router.get("/o/{org_id}/consent-texts")
async def texts(request: Request, ctx: OrgPageDep, db: Db) -> Response:
    return await _page(request, ctx, db)


@page.router.post("/o/{org_id}/consent-texts")
async def add_text(request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.PRIVACY_MANAGE)
    form = {k: str(v) for k, v in (await request.form()).items() if k in MESSAGES}
    body, errors = validate(ConsentTextIn, {k: form.get(k, "").strip() for k in MESSAGES})
    if body is None:
        return await _page(request, ctx, db, status=422, values=form,
                           errors={name: MESSAGES.get(name, text) for name, text in errors.items()})  # fmt: skip
    text = await service.do_add_text(db, runtime, ctx.org_scope, purpose=body.purpose, language=body.language,
                                     body=body.body)  # fmt: skip
    return redirect(
        org_url(ctx.org_id, "consent-texts"),
        f"Version {text.version} of “{PURPOSES[text.purpose].title}” ({text.language}) is now the one shown.",
    )


@page.router.post("/o/{org_id}/consent-texts/{text_id}/delete")
async def delete_text(request: Request, text_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.PRIVACY_MANAGE)
    try:
        await service.do_delete_text(db, runtime, ctx.org_scope, text_id)
    except Conflict as exc:
        return await _page(request, ctx, db, status=exc.status_code, errors={f"delete-{text_id}": exc.detail})
    return redirect(org_url(ctx.org_id, "consent-texts"), "The version is deleted.")
