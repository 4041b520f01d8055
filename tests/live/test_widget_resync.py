"""The widget in a real headless Chromium, on a server whose live fan-out goes through Redis: when the server's
Redis connection is killed, a staff message whose live event was lost in the meantime still reaches the
visitor, because the hub tells the socket to resync and the widget reloads the conversation."""

from __future__ import annotations

import os
import re

import httpx
from playwright.async_api import async_playwright, expect
from redis.asyncio import Redis

from parley.runtime import Runtime
from parley.settings import Settings
from tests.channels.widget.browser import CHROMIUM_FLAGS, chromium_path
from tests.channels.widget.support import QUESTION, HostSite, LiveServer, make_widget_agent
from tests.channels.widget.test_widget_browser import HOST_PAGE, WIDGET
from tests.factories import bearer, make_token
from tests.live.support import REDIS_URL, prefix

expect.set_options(timeout=15_000)


async def test_the_widget_reloads_what_it_missed_while_redis_was_away(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    scaled = settings.model_copy(
        update={"live_backend": "redis", "redis_url": REDIS_URL, "live_channel_prefix": prefix()}
    )
    redis = Redis.from_url(REDIS_URL)
    with HostSite() as host:
        agent = await make_widget_agent(client, runtime, origins=[host.origin])
        staff = bearer((await make_token(runtime, agent.org_id, "agent"))[1])
        async with LiveServer(scaled) as server, async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page()
                await page.goto(host.page("/p", HOST_PAGE.format(server=server.url, agent=agent.agent_id, attrs="")))
                await page.locator(f"{WIDGET} .launch").click()
                await page.locator(f"{WIDGET} textarea").fill(QUESTION)
                await page.locator(f"{WIDGET} textarea").press("Enter")
                await expect(page.locator(f"{WIDGET} .msg.assistant").nth(1)).to_contain_text("noon")
                conversation = (await client.get(f"/api/v1/orgs/{agent.org_id}/conversations", headers=staff)).json()
                conversation_id = conversation["conversations"][0]["id"]
                # Written through another server (this test's app, fanning out in its own process only): the
                # live event never reaches the server holding the visitor's socket.
                reply = await client.post(
                    f"/api/v1/orgs/{agent.org_id}/conversations/{conversation_id}/messages",
                    json={"text": "Hi, this is Sam from the bistro."},
                    headers=staff,
                )
                assert reply.status_code == 201, reply.text
                await page.wait_for_timeout(300)
                await expect(page.locator(f"{WIDGET} .msg.staff")).to_have_count(0)
                killed = 0
                for connection in await redis.client_list():
                    if connection["name"] == f"parley-live-{os.getpid()}" and "P" in connection["flags"]:
                        killed += await redis.client_kill_filter(_id=connection["id"])
                assert killed == 1
                await expect(page.locator(f"{WIDGET} .msg.staff")).to_have_text(re.compile("this is Sam"))
            finally:
                await browser.close()
    await redis.aclose()
