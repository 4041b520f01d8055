"""The operator dashboard: server-rendered pages (Jinja2) under `/app`, signed in with the same session cookie as
the API, the same roles (`tenancy.permissions`) and the same services.

Adding a page is adding a file. Every module in `parley/dashboard/pages/` is imported at start-up; a module that
defines `page = Page(...)` has its routes mounted under `/app` and its navigation entries shown to the roles that
may use them. A minimal page:

    # parley/dashboard/pages/usage.py
    from fastapi import Request
    from fastapi.responses import HTMLResponse

    from parley.dashboard.context import OrgPageDep
    from parley.dashboard.registry import NavItem, Page
    from parley.dashboard.web import render
    from parley.tenancy.permissions import Permission

    page = Page(nav=[NavItem("Usage", "usage", Permission.ORG_READ, order=60)])

    @page.router.get("/o/{org_id}/usage")
    async def usage(request: Request, ctx: OrgPageDep) -> HTMLResponse:
        return render(request, "usage.html", ctx)  # templates/usage.html extends "base.html"

Conventions every page follows:
- Organisation pages live at `/app/o/{org_id}/…` and take `OrgPageDep`, which signs the user in (or redirects to
  the sign-in page), checks membership (another organisation's pages are 404, as in the API) and carries the
  `OrgScope` that services need. `ctx.scope.require(Permission.X)` before any change: a viewer sees, cannot change.
- Every form posts a `csrf_token` field (`{{ csrf() }}` in a template); POSTs without it are refused before the
  handler runs. Script-driven requests send the same token in the `X-CSRF-Token` header.
- Invalid input re-renders the form with `errors` (field name → message, shown beside the field by the
  `field` macro in `templates/macros.html`) and status 422; success redirects (303) with a flash message.
- A page that shows a conversation or a contact is a write transaction (`dependencies=[Depends(audited_read)]`)
  and records the view with `parley.dashboard.audit.staff_viewed`.
- Errors raised by services (`ParleyError`) become an error page with the same status as the API's.
"""
