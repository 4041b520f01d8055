"""Mounts the dashboard on the app: its static files and every page module's routes under /app."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from parley.dashboard.registry import discover, navigation
from parley.dashboard.web import PREFIX


def install(app: FastAPI) -> None:
    pages = discover()
    app.state.dashboard_nav = navigation(pages)
    static = files("parley.dashboard").joinpath("static")
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(static)), name="dashboard-static")
    for page in pages:
        app.include_router(page.router, prefix=PREFIX)
