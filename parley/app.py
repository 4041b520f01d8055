"""The ASGI application."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from parley import __version__
from parley.agents.api import router as agents_router
from parley.auth.api import router as auth_router
from parley.channels.email.api import router as email_router  # email channel
from parley.channels.messaging.api import router as channels_router  # messaging channels
from parley.channels.twilio.api import router as twilio_router  # messaging channels
from parley.channels.whatsapp.api import router as whatsapp_router  # messaging channels
from parley.channels.widget.api import install as install_widget
from parley.consent.api import router as consent_router
from parley.conversations.api import router as conversations_router
from parley.dashboard.install import install as install_dashboard
from parley.kit import reconcilers
from parley.kit.http import RequestContextMiddleware, install_error_handlers
from parley.knowledge.api import router as knowledge_router
from parley.ops.api import mount_docs
from parley.ops.api import router as ops_router
from parley.outbox.api import router as outbox_router
from parley.privacy.api import router as privacy_router
from parley.privacy.breaches_api import router as breaches_router
from parley.privacy.controls_api import router as privacy_controls_router
from parley.privacy.notice_api import router as privacy_notice_router
from parley.rights.api import router as rights_router
from parley.rights.public import router as rights_public_router
from parley.runtime import Runtime, create_runtime
from parley.settings import Settings
from parley.tenancy.admin_api import router as admin_router
from parley.tenancy.api import router as tenancy_router
from parley.tokens.api import router as tokens_router


class ParleyApp(FastAPI):
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 21 * 1_048_576
    hsts: bool = False

    def build_middleware_stack(self) -> ASGIApp:
        # Outermost, around Starlette's error middleware, so that even a 500 carries the request id and the
        # security headers.
        return RequestContextMiddleware(
            super().build_middleware_stack(),
            max_body_bytes=self.max_body_bytes,
            max_upload_bytes=self.max_upload_bytes,
            hsts=self.hsts,
        )


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """`runtime` is for tests, which own it (and its clock); otherwise the app builds and closes its own."""
    settings = runtime.settings if runtime else (settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = runtime is None
        app.state.runtime = runtime or create_runtime(settings)
        await app.state.runtime.live.start()  # live fan-out: connects to Redis/PostgreSQL when scaled
        stop = asyncio.Event()
        worker = None
        if own and settings.embedded_worker:
            worker = asyncio.create_task(reconcilers.run_forever(app.state.runtime, stop))
        try:
            yield
        finally:
            stop.set()
            if worker:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            if own:
                await app.state.runtime.close()

    app = ParleyApp(
        title="Parley",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="AI agents for a business's customers, private by construction. "
        'Errors are `{"error": code, "detail": message, "request_id": id}`.',
    )
    app.max_body_bytes = settings.max_body_bytes
    app.max_upload_bytes = settings.max_upload_bytes
    app.hsts = settings.secure_cookies
    if runtime is not None:
        app.state.runtime = runtime
    install_error_handlers(app)
    for router in (
        # Providers' webhooks first: they are the highest-rate routes, and routes are matched in this order (each
        # router passed costs its regex matches, which was half the CPU time of an accepted WhatsApp webhook).
        whatsapp_router,  # messaging channels
        twilio_router,  # messaging channels
        email_router,  # email channel
        ops_router,
        auth_router,
        tenancy_router,
        tokens_router,
        privacy_router,
        privacy_controls_router,
        privacy_notice_router,
        breaches_router,
        admin_router,
        agents_router,
        knowledge_router,
        conversations_router,
        outbox_router,
        rights_router,  # data-subject requests (staff)
        rights_public_router,  # data-subject requests (public page, widget)
        consent_router,  # consent branch
        channels_router,  # messaging channels
    ):
        app.include_router(router)
    install_widget(app)
    install_dashboard(app)  # the operator dashboard under /app
    mount_docs(app)
    return app
