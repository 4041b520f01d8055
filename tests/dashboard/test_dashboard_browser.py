"""The dashboard in a real headless Chromium (Debian's, driven by Playwright), against a real server: the whole
journey from signing in to a live takeover in a visitor's widget on another site, roles and CSRF as a browser
meets them, and every page's layout on a laptop and a tablet."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from parley.demo import DemoLogin, ensure_demo
from parley.runtime import Runtime
from parley.settings import Settings
from tests.channels.widget.browser import CHROMIUM_FLAGS, chromium_path
from tests.channels.widget.support import ANSWER, FAQ, QUESTION, HostSite
from tests.dashboard.browser import LAYOUT_CHECK, DashboardServer
from tests.factories import PASSWORD, make_user

expect.set_options(timeout=15_000)
WIDGET = "[data-parley-widget]"


@dataclass
class World:
    server: DashboardServer
    host: HostSite
    browser: Browser
    demo: DemoLogin


@pytest.fixture
async def world(runtime: Runtime, settings: Settings) -> AsyncIterator[World]:
    executable = chromium_path()
    demo = await ensure_demo(runtime)
    with HostSite() as host:
        async with DashboardServer(settings) as server, async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, timeout=30_000)
            try:
                yield World(server, host, browser, demo)
            finally:
                await browser.close()


async def _staff(world: World, email: str, password: str, **options: object) -> tuple[BrowserContext, Page]:
    context = await world.browser.new_context(**options)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(f"{world.server.url}/")
    await expect(page).to_have_url(re.compile(r"/app/login"))
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/app/o/org_"))
    return context, page


async def test_from_sign_in_to_a_live_takeover_in_the_visitors_widget(world: World, tmp_path: Path):
    context, staff = await _staff(
        world, world.demo.email, world.demo.password, permissions=["clipboard-read", "clipboard-write"]
    )
    org = f"{world.server.url}/app/o/{world.demo.org_id}"
    await expect(staff.locator("h1")).to_have_text("Demo Bistro")

    # Knowledge: a new knowledge base and a document, read while we watch.
    await staff.get_by_role("link", name="Knowledge", exact=True).first.click()
    await staff.get_by_label("Name").fill("Kitchen FAQ")
    await staff.get_by_role("button", name="Create knowledge base").click()
    faq = tmp_path / "kitchen.md"
    faq.write_bytes(FAQ)
    await staff.get_by_label("File").set_input_files(str(faq))
    await staff.get_by_label("Title (optional)", exact=True).fill("Kitchen FAQ")
    await staff.get_by_role("button", name="Upload").click()
    await expect(staff.locator("tr", has_text="Kitchen FAQ").locator("[data-status]")).to_have_text("ready")

    # Agents: a new agent answering from it, its widget allowed on the business's site.
    await staff.get_by_role("link", name="Agents", exact=True).first.click()
    await staff.get_by_role("link", name="New agent").click()
    await staff.get_by_label("Name", exact=True).fill("Kitchen helper")
    await staff.get_by_label("Greeting").fill("Hello! Ask me anything.")
    await staff.get_by_label("Kitchen FAQ").check()
    await staff.get_by_role("button", name="Create agent").click()
    await expect(staff.get_by_role("status").first).to_contain_text("Agent “Kitchen helper” created.")
    await staff.get_by_label("Allowed sites").fill(world.host.origin)
    await staff.get_by_role("button", name="Save widget settings").click()
    await expect(staff.get_by_role("status").first).to_contain_text("Widget settings saved.")
    await staff.get_by_role("button", name="Copy snippet").click()
    snippet = await staff.evaluate("navigator.clipboard.readText()")
    assert snippet == await staff.locator("#snippet").input_value()
    assert snippet.startswith(f'<script src="{world.server.url}/widget.js" data-agent="agt_')

    # The staff member watches the inbox; the visitor asks on the business's own site.
    await staff.goto(f"{org}/inbox")
    await expect(staff.locator("body[data-live=on]")).to_have_count(1)
    rows = staff.locator("#inbox-rows tr[data-conversation]")
    already = await rows.count()
    site = world.host.page("/shop", f"<!doctype html><title>Shop</title><h1>Shop</h1>{snippet}")
    visitor = await (await world.browser.new_context()).new_page()
    await visitor.goto(site)
    await visitor.locator(f"{WIDGET} .launch").click()
    await visitor.locator(f"{WIDGET} textarea").fill(QUESTION)
    await visitor.locator(f"{WIDGET} textarea").press("Enter")
    await expect(visitor.locator(f"{WIDGET} .msg.assistant", has_text=ANSWER)).to_be_visible()
    await expect(rows).to_have_count(already + 1)  # appeared without a reload

    # Take over and write: the visitor sees it live.
    await rows.first.get_by_role("link").click()
    await expect(staff.locator("#transcript")).to_contain_text(QUESTION)
    await expect(staff.locator("#transcript .cite").first).to_have_text("Kitchen FAQ")
    await staff.get_by_role("button", name="Take over").click()
    await expect(staff.locator("#assignee")).to_contain_text("(you)")
    await staff.get_by_label("Write to the person").fill("Hi, this is Demo Owner from the bistro.")
    await staff.get_by_role("button", name="Send").click()
    await expect(visitor.locator(f"{WIDGET} .msg.staff")).to_contain_text("Hi, this is Demo Owner from the bistro.")

    # The visitor answers: the staff's open transcript shows it without a reload, and the AI stays silent.
    await visitor.locator(f"{WIDGET} textarea").fill("Thanks, can I bring my dog?")
    await visitor.locator(f"{WIDGET} textarea").press("Enter")
    await expect(staff.locator("#transcript")).to_contain_text("Thanks, can I bring my dog?")
    assert await visitor.locator(f"{WIDGET} .msg.assistant").count() == 2  # greeting and the first answer

    # Hand back: the AI answers the next question.
    await staff.get_by_role("button", name="Hand back to the AI").click()
    await expect(staff.locator("#assignee")).to_contain_text("Nobody has taken this conversation.")
    await visitor.locator(f"{WIDGET} textarea").fill(QUESTION)
    await visitor.locator(f"{WIDGET} textarea").press("Enter")
    await expect(visitor.locator(f"{WIDGET} .msg.assistant", has_text=ANSWER)).to_have_count(2)
    await context.close()


async def test_a_viewer_cannot_edit_and_a_post_without_the_token_is_refused(world: World, runtime: Runtime):
    viewer = await make_user(runtime, org_id=world.demo.org_id, role="viewer")
    context, page = await _staff(world, viewer, PASSWORD)
    await page.goto(f"{world.server.url}/app/o/{world.demo.org_id}/agents/{world.demo.agent_id}")
    await expect(page.get_by_role("button", name="Save agent")).to_have_count(0)
    await expect(page.get_by_label("Name", exact=True)).to_be_disabled()
    await expect(page.get_by_role("link", name="Inbox")).to_have_count(0)
    # A form posted by a script without the page's token, even from Parley's own origin, is refused.
    status = await page.evaluate(
        """url => fetch(url, {method: "POST", body: new URLSearchParams({name: "Mallory"})}).then(r => r.status)""",
        f"{world.server.url}/app/profile",
    )
    assert status == 403
    await page.goto(f"{world.server.url}/app/profile")
    await expect(page.get_by_label("Display name")).not_to_have_value("Mallory")
    await context.close()


PAGES = [
    "/app/login",
    "/app/o/{org}",
    "/app/o/{org}/agents",
    "/app/o/{org}/agents/new",
    "/app/o/{org}/agents/{agent}",
    "/app/o/{org}/knowledge",
    "/app/o/{org}/knowledge/{kb}",
    "/app/o/{org}/documents/{doc}",
    "/app/o/{org}/inbox",
    "/app/o/{org}/conversations/{conversation}",
    "/app/profile",
]


async def _conversation(runtime: Runtime, org_id: str, agent_id: str) -> str:
    """A visitor's conversation with the demo agent, through the conversation service as a channel would."""
    from parley.agents import service as agents_service
    from parley.conversations import service
    from parley.kit.db import unit_of_work
    from parley.tenancy import platform
    from parley.tenancy.scope import scoped_unit_of_work
    from tests.factories import ACTOR

    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org_id, ACTOR)
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        agent = await agents_service.access_agent(db, scope, agent_id)
        contact = await service.contact_for(db, runtime, scope, "visitor", "vis_layout")
        conversation = await service.conversation_for(db, runtime, scope, agent, contact, "widget")
    async for _ in service.receive(runtime, scope, agent, conversation.id, text="When are you open?", external_id=None):
        pass
    return conversation.id


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (768, 1024)])
async def test_every_page_fits_a_laptop_and_a_tablet(
    world: World, runtime: Runtime, width: int, height: int, tmp_path: Path
):
    # PARLEY_SCREENSHOT_DIR keeps the screenshots for a person to look at; by default they go with the test.
    shots_dir = Path(os.environ.get("PARLEY_SCREENSHOT_DIR") or tmp_path)
    ids = {"org": world.demo.org_id, "agent": world.demo.agent_id}
    ids["conversation"] = await _conversation(runtime, world.demo.org_id, world.demo.agent_id)
    context, page = await _staff(
        world, world.demo.email, world.demo.password, viewport={"width": width, "height": height}
    )
    await page.goto(f"{world.server.url}/app/o/{ids['org']}/knowledge")
    ids["kb"] = (await page.locator("td a").first.get_attribute("href") or "").rsplit("/", 1)[1]
    await page.goto(f"{world.server.url}/app/o/{ids['org']}/knowledge/{ids['kb']}")
    ids["doc"] = (await page.locator("td a").first.get_attribute("href") or "").rsplit("/", 1)[1]
    anonymous = await (await world.browser.new_context(viewport={"width": width, "height": height})).new_page()
    problems: dict[str, list[str]] = {}
    for template in PAGES:
        path = template.format(**ids)
        viewer = anonymous if path == "/app/login" else page
        response = await viewer.goto(world.server.url + path)
        assert response is not None and response.status == 200, path
        name = path.replace("/", "_").strip("_")
        await viewer.screenshot(path=str(shots_dir / f"{name}-{width}.png"), full_page=True)
        found = await viewer.evaluate(LAYOUT_CHECK)
        if found:
            problems[path] = found
    assert problems == {}
    shots = await asyncio.to_thread(lambda: [p.stat().st_size for p in shots_dir.glob(f"*-{width}.png")])
    assert len(shots) == len(PAGES) and min(shots) > 5_000
    await context.close()


async def test_the_dashboard_works_with_the_keyboard(world: World):
    context = await world.browser.new_context()
    page = await context.new_page()
    await page.goto(f"{world.server.url}/app/login")
    await expect(page.get_by_label("Email")).to_be_focused()  # autofocus sits on the first field
    await page.keyboard.type(world.demo.email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(world.demo.password)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/app/o/org_"))
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"  # first stop: skip to content
    for _ in range(12):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.textContent") == "Agents":
            break
    else:
        pytest.fail("Tab never reached the Agents link")
    assert await page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    await page.keyboard.press("Enter")
    await expect(page.locator("h1")).to_have_text("Agents")
    await context.close()


async def test_the_layout_check_finds_overflow_and_overlap(world: World):
    """The check the screenshots rely on, shown failing on a page built to fail it."""
    page = await world.browser.new_page(viewport={"width": 768, "height": 1024})
    broken = world.host.page(
        "/broken",
        "<!doctype html><p style='position:absolute;top:10px;left:10px'>first text</p>"
        "<p style='position:absolute;top:12px;left:14px'>second text</p>"
        "<button style='width:2000px'>wide</button>",
    )
    await page.goto(broken)
    problems = await page.evaluate(LAYOUT_CHECK)
    assert any(p.startswith("horizontal overflow") for p in problems), problems
    assert any("overlap" in p and "first text" in p and "second text" in p for p in problems), problems
    await page.close()
