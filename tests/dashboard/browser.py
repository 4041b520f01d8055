"""A real Parley server for the dashboard's browser tests, whose public URL is its own loopback address (so the
install snippet the Agents page shows works when pasted into a host page), plus layout checks run in the page."""

from __future__ import annotations

import asyncio
import threading
import time

import uvicorn

from parley.app import create_app
from parley.settings import Settings
from tests.channels.widget.support import free_port

# Measures the page in the browser: horizontal overflow, and visible elements that overlap without one
# containing the other (text over text, a button over a field). Returns what it found: empty when the layout is sound.
LAYOUT_CHECK = """() => {
  const problems = [];
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width) {
    problems.push(`horizontal overflow: ${document.documentElement.scrollWidth} > ${width}`);
  }
  const selector = "a, button, input, select, textarea, label, h1, h2, h3, p, th, .badge, legend";
  const visible = [...document.querySelectorAll(selector)].filter((e) => {
    if (e.closest(".visually-hidden, [hidden], .skip")) return false;
    const style = getComputedStyle(e);
    if (style.visibility === "hidden" || style.display === "none") return false;
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  });
  const boxes = visible.map((e) => [e, e.getBoundingClientRect()]);
  for (const [e, r] of boxes) {
    if (r.right > width + 1) {
      problems.push(`${e.tagName}.${e.className} "${e.textContent.trim().slice(0, 30)}" sticks out to ${r.right}`);
    }
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      if (a.contains(b) || b.contains(a)) continue;
      const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (w > 2 && h > 2) {
        const name = (e) =>
          `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""} "${e.textContent.trim().slice(0, 25)}"`;
        problems.push(`overlap: ${name(a)} / ${name(b)}`);
      }
    }
  }
  return problems;
}"""


class DashboardServer:
    """uvicorn in a thread on a loopback port; the app builds its own runtime from the settings (as in
    production) on the test's database, with `public_url` set to where it really listens."""

    def __init__(self, settings: Settings) -> None:
        self.sock = free_port()
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings.model_copy(update={"public_url": self.url})
        config = uvicorn.Config(
            create_app(self.settings), log_config=None, lifespan="on", server_header=False, ws_ping_interval=None
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    async def __aenter__(self) -> DashboardServer:
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
