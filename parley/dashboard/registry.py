"""Pluggable pages: each module of `parley.dashboard.pages` exposes `page = Page(...)`; `discover()` finds them."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from parley.kit.errors import NotFound, ParleyError
from parley.tenancy.permissions import Permission


@dataclass(frozen=True)
class NavItem:
    """An entry of the side navigation: `/app/o/{org_id}/{slug}`, shown to roles that have `permission`."""

    label: str
    slug: str
    permission: Permission
    order: int = 50


class SignInRequired(Exception):
    """Raised by the dashboard's dependencies when no valid session cookie came with the request."""


class DashboardRoute(APIRoute):
    """Errors become pages rather than the API's JSON: a missing session redirects to the sign-in page, a
    `ParleyError` (403, 404, 409, …) renders the error page with its status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            from parley.dashboard.web import error_page, sign_in_redirect

            try:
                return await handler(request)
            except SignInRequired:
                return sign_in_redirect(request)
            except ParleyError as exc:
                return error_page(request, exc)
            except RequestValidationError:
                # A malformed id or query parameter in a URL: as good as a page that does not exist.
                return error_page(request, NotFound("this page does not exist"))

        return handle


def new_router() -> APIRouter:
    return APIRouter(route_class=DashboardRoute, include_in_schema=False)


@dataclass
class Page:
    """What a page module contributes: routes (mounted under /app) and navigation entries."""

    nav: list[NavItem] = field(default_factory=list)
    router: APIRouter = field(default_factory=new_router)


def discover() -> list[Page]:
    from parley.dashboard import pages

    found: list[Page] = []
    for module in sorted(pkgutil.iter_modules(pages.__path__), key=lambda m: m.name):
        loaded = importlib.import_module(f"{pages.__name__}.{module.name}")
        page = getattr(loaded, "page", None)
        if isinstance(page, Page):
            found.append(page)
    return found


def navigation(found: list[Page]) -> list[NavItem]:
    return sorted((item for page in found for item in page.nav), key=lambda item: (item.order, item.label))
