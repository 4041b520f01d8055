"""An organisation's start page: where to go next, and what this role may do."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from parley.dashboard.context import OrgPageDep
from parley.dashboard.registry import Page
from parley.dashboard.web import render

page = Page()


@page.router.get("/o/{org_id}")
async def home(request: Request, ctx: OrgPageDep) -> Response:
    return render(request, "home.html", ctx)
