"""Helpers for the widget tests: a business with an agent that answers from a small FAQ and has its widget on,
a real Parley server on a loopback port, and a host site on another port (another origin)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import uvicorn

from parley.app import create_app
from parley.kit.reconcilers import run_once
from parley.runtime import Runtime
from parley.settings import Settings
from tests.factories import bearer, make_org, make_token

FAQ = b"""# Opening hours
We are open from Tuesday to Sunday. The kitchen opens at noon and closes at 10 pm.
On Mondays the restaurant is closed.

# Reservations
Tables can be reserved up to thirty days in advance. Groups larger than eight people must call the restaurant.

# Booking online
Book online at https://bistro.example/book or read [the booking terms](javascript:alert(1)) first.
"""
QUESTION = "When does the kitchen open?"
ANSWER = "The kitchen opens at noon and closes at 10 pm."
SITE = "https://bistro.example"


@dataclass
class WidgetAgent:
    org_id: str
    agent_id: str
    headers: dict[str, str]  # an owner's API token

    @property
    def api(self) -> str:
        return f"/widget/v1/agents/{self.agent_id}"

    @property
    def settings_url(self) -> str:
        return f"/api/v1/orgs/{self.org_id}/agents/{self.agent_id}/widget"


async def make_widget_agent(
    client: httpx.AsyncClient,
    runtime: Runtime,
    *,
    origins: list[str] | None = None,
    org_name: str = "Bistro Example",
    **widget: Any,
) -> WidgetAgent:
    """An organisation whose agent answers from the FAQ, with its widget on for `origins`."""
    org = await make_org(runtime, org_name)
    headers = bearer((await make_token(runtime, org.id, "owner"))[1])
    base = f"/api/v1/orgs/{org.id}"
    kb = (await client.post(f"{base}/knowledge-bases", json={"name": "FAQ"}, headers=headers)).json()
    upload = await client.post(
        f"{base}/knowledge-bases/{kb['id']}/documents",
        files={"file": ("faq.md", FAQ, "text/markdown")},
        data={"title": "Bistro FAQ"},
        headers=headers,
    )
    assert upload.status_code == 201, upload.text
    await run_once(runtime)
    agent = await client.post(
        f"{base}/agents",
        json={"name": "Bistro helper", "greeting": "Hello! Ask me anything.", "knowledge_base_ids": [kb["id"]]},
        headers=headers,
    )
    assert agent.status_code == 201, agent.text
    made = WidgetAgent(org.id, agent.json()["id"], headers)
    turned_on = await client.put(
        made.settings_url, json={"allowed_origins": origins or [SITE], **widget}, headers=headers
    )
    assert turned_on.status_code == 200, turned_on.text
    return made


async def new_visitor(client: httpx.AsyncClient, agent: WidgetAgent, origin: str = SITE) -> dict[str, str]:
    """A visitor's headers: the site's origin and the visitor credentials the widget keeps in localStorage."""
    response = await client.post(f"{agent.api}/visitors", headers={"origin": origin})
    assert response.status_code == 201, response.text
    body = response.json()
    return {"origin": origin, "x-parley-visitor": f"{body['visitor_id']}:{body['visitor_secret']}"}


def sse_events(text: str) -> list[dict[str, Any]]:
    import json

    return [json.loads(line[6:]) for line in text.split("\n") if line.startswith("data: ")]


def free_port() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class LiveServer:
    """`parley serve` in a thread: uvicorn on a loopback port, the app building its own runtime from settings
    (as in production), on the same database as the test."""

    def __init__(self, settings: Settings) -> None:
        self.sock = free_port()
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings), log_config=None, lifespan="on", server_header=False, ws_ping_interval=None
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    async def __aenter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the Parley server did not start")
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *_: object) -> None:
        self.server.should_exit = True
        await asyncio.to_thread(self.thread.join, 10)
        self.sock.close()


class HostSite:
    """A business's website on another port (so another origin), serving pages the test writes."""

    def __init__(self) -> None:
        pages: dict[str, bytes] = {}
        self.pages = pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?")[0])
                self.send_response(200 if body else 404)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body or b"not found")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def page(self, path: str, html: str) -> str:
        self.pages[path] = html.encode()
        return self.origin + path

    def __enter__(self) -> HostSite:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
