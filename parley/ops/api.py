"""Health, readiness, the landing page and offline API docs."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from swagger_ui_bundle import swagger_ui_path

from parley import __version__
from parley.runtime import Runtime

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up. Touches nothing else, so load balancers can poll it cheaply."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {}})
async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the database answers. `live` tells whether live events (staff takeover, the inbox) flow
    between server processes; a broker outage degrades them without making the server unready, because every
    server shares the broker and taking them all out of rotation would be worse than delayed live updates."""
    runtime: Runtime = request.app.state.runtime
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means "not ready"
        return JSONResponse(
            {"status": "unavailable", "database": type(exc).__name__, "live": runtime.live.status}, status_code=503
        )
    return JSONResponse({"status": "ok", "database": "ok", "live": runtime.live.status})


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index(request: Request) -> object:
    if "text/html" in request.headers.get("accept", "") and "parley_session" not in request.cookies:
        # A browser that is not signed in wants the dashboard's sign-in page, not this note.
        return RedirectResponse("/app", status_code=307)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Parley</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>Parley {__version__}</h1>
<p>Parley is running. Staff sign in to the <a href="/app">dashboard</a>.
The REST API is documented at <a href="/docs">/docs</a>
(machine-readable: <a href="/openapi.json">/openapi.json</a>).</p>
<p>Sign in through the API with <code>POST /api/v1/auth/login</code>, or create an API token with
<code>parley token create</code>.</p></body></html>"""


def mount_docs(app: FastAPI) -> None:
    """Swagger UI served from the swagger-ui-bundle package: no CDN, so the docs work offline."""
    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Parley API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )
