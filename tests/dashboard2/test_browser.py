"""The Contacts, Privacy centre, Audit log, Usage and Team pages in a real headless Chromium (Debian's, driven by
Playwright) against a real Parley server on a loopback port: screenshots at laptop (1280 by 800) and tablet
(768 by 1024) sizes with an automatic check that nothing overflows the page or overlaps, and a keyboard-only form."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from parley.consent import service as consent_service
from parley.kit.clock import FrozenClock
from parley.kit.db import unit_of_work
from parley.models import Contact
from parley.rights import service as rights_service
from parley.runtime import Runtime
from parley.settings import Settings
from parley.tenancy import platform
from tests.channels.widget.browser import CHROMIUM_FLAGS, chromium_path
from tests.channels.widget.support import LiveServer
from tests.dashboard2.seed import make_agent, seed_contacts, seed_daily_activity
from tests.factories import ACTOR, PASSWORD, make_org

expect.set_options(timeout=15_000)

SIZES = {"laptop": (1280, 800), "tablet": (768, 1024)}

# Elements that must neither spill out of the page nor sit on top of one another. Pairs where one contains the
# other are fine (a label around its text); invisible ones (visually hidden labels, closed <details>) are skipped.
LAYOUT_CHECK = """() => {
  const doc = document.documentElement;
  const problems = [];
  if (doc.scrollWidth > doc.clientWidth + 1) {
    problems.push(`page is ${doc.scrollWidth}px wide for ${doc.clientWidth}px`);
  }
  const selector = 'h1, h2, h3, p, label, input, select, textarea, button, a.button, svg.chart, table, .badge, .alert';
  const visible = [...document.querySelectorAll(selector)].filter(el => {
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 2 && r.height > 2 && s.visibility !== 'hidden' && !el.closest('.visually-hidden, .table-wrap');
  });
  for (const el of visible) {
    const r = el.getBoundingClientRect();
    if (r.right > doc.clientWidth + 1) problems.push(`${el.tagName}.${el.className} ends at ${r.right}`);
  }
  for (let i = 0; i < visible.length; i++) {
    for (let j = i + 1; j < visible.length; j++) {
      const a = visible[i], b = visible[j];
      if (a.contains(b) || b.contains(a)) continue;
      const r = a.getBoundingClientRect(), q = b.getBoundingClientRect();
      const w = Math.min(r.right, q.right) - Math.max(r.left, q.left);
      const h = Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top);
      const name = el => `${el.tagName}#${el.id}.${el.className}`;
      if (w > 2 && h > 2) problems.push(`${name(a)} overlaps ${name(b)}`);
    }
  }
  return problems;
}"""


@dataclass
class Dashboard:
    server: LiveServer
    browser: Browser
    org_id: str
    owner_email: str
    contact_id: str
    shots: Path
    request_id: str = ""


@pytest.fixture
async def dashboard(
    runtime: Runtime, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[Dashboard]:
    executable = chromium_path()
    # The live server reads the real clock: seed usage for the days it will show.
    clock.advance(seconds=(datetime.now(UTC) - clock.now()).total_seconds())
    org = await make_org(runtime, "Bistro Ørsted & Co")
    agent = await make_agent(runtime, org.id, "Front desk")
    seeded = await seed_contacts(
        runtime,
        org.id,
        60,
        agent_id=agent,
        sealed_messages=2,
        name="Zoé Longname-Example {i}",
        email="zoe.{i}@a-rather-long-domain.example.com",
    )
    await seed_daily_activity(runtime, org.id, agent, 90, per_day=3, tokens_per_day=12_345)
    request_id = await _seed_request_and_texts(runtime, org.id, seeded.contact_ids[0])
    shots = Path(os.environ.get("PARLEY_SCREENSHOT_DIR") or tmp_path)
    await asyncio.to_thread(shots.mkdir, parents=True, exist_ok=True)
    async with LiveServer(settings) as server, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, timeout=30_000)
        try:
            yield Dashboard(server, browser, org.id, org.owner_email, seeded.contact_ids[0], shots, request_id)
        finally:
            await browser.close()


async def _seed_request_and_texts(runtime: Runtime, org_id: str, contact_id: str) -> str:
    """An objection with an extended deadline (every part of the request page filled) and two consent texts."""
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org_id, ACTOR)
        contact = await db.get(Contact, contact_id)
        request = await rights_service.do_file_request(
            db, runtime, scope, kind="objection", source="staff", contact=contact, subject_pseudonym=None,
            details={"purposes": ["marketing", "ai_processing"]}, verified_by={"method": "staff"},
        )  # fmt: skip
        await rights_service.do_extend(db, runtime, scope, request.id, months=1, reason="Archives to go through")
        for words in ("May we send you offers?", "May we send you offers and news by e-mail, SMS or WhatsApp?"):
            await consent_service.do_add_text(db, runtime, scope, purpose="marketing", language="en", body=words)
        return request.id


async def _signed_in(site: Dashboard, width: int, height: int) -> Page:
    page = await site.browser.new_page(viewport={"width": width, "height": height})
    await page.goto(f"{site.server.url}/app/login")
    await page.fill("#email", site.owner_email)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("nav.side")).to_be_visible()
    return page


async def test_every_page_fits_laptops_and_tablets_without_overflow_or_overlap(dashboard: Dashboard):
    paths = {
        "contacts": "contacts",
        "contact": f"contacts/{dashboard.contact_id}",
        "privacy": "privacy",
        "audit": "audit/verify",
        "usage": "usage?days=90",
        "team": "team",
        "requests": "requests",
        "request": f"requests/{dashboard.request_id}",
        "consent-texts": "consent-texts",
    }
    for size, (width, height) in SIZES.items():
        page = await _signed_in(dashboard, width, height)
        for name, path in paths.items():
            response = await page.goto(f"{dashboard.server.url}/app/o/{dashboard.org_id}/{path}")
            assert response is not None and response.status == 200, (name, size)
            await expect(page.locator("h1")).to_be_visible()
            await page.screenshot(path=str(dashboard.shots / f"{name}-{size}.png"), full_page=True)
            problems = await page.evaluate(LAYOUT_CHECK)
            assert problems == [], (name, size, problems)
        await page.close()


async def test_pages_show_what_the_database_holds(dashboard: Dashboard):
    page = await _signed_in(dashboard, 1280, 800)
    base = f"{dashboard.server.url}/app/o/{dashboard.org_id}"
    await page.goto(f"{base}/contacts")
    await expect(page.get_by_role("status")).to_contain_text("61 contacts")
    await page.fill("#q", "zoe.7@")
    await page.press("#q", "Enter")
    await expect(page.locator("tbody tr")).to_have_count(1)
    await page.get_by_role("link", name="Zoé Longname-Example 7").click()
    await expect(page.locator("h1")).to_have_text("Zoé Longname-Example 7")
    await expect(page.get_by_role("cell", name="Front desk")).to_be_visible()
    await page.goto(f"{base}/usage")
    await expect(page.locator("svg.chart")).to_have_count(3)
    assert await page.locator("svg.chart rect.bar").count() == 90
    await expect(page.locator(".totals")).to_contain_text("Tokens 370,350")
    await page.goto(f"{base}/audit/verify")
    await expect(page.get_by_role("status")).to_contain_text("The chain holds")


async def test_the_retention_form_works_with_the_keyboard_alone(dashboard: Dashboard):
    page = await _signed_in(dashboard, 768, 1024)
    await page.goto(f"{dashboard.server.url}/app/o/{dashboard.org_id}/privacy")
    for _ in range(60):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "conversation_retention_days":
            break
    else:
        pytest.fail("the retention field is not reachable with Tab")
    await page.keyboard.press("Control+A")
    await page.keyboard.type("0")
    await page.keyboard.press("Enter")
    error = page.locator("#conversation_retention_days-error")
    await expect(error).to_be_visible()
    # The page puts the keyboard back on the field that needs fixing, and says why beside it.
    assert await page.evaluate("document.activeElement.id") == "conversation_retention_days"
    assert await page.get_attribute("#conversation_retention_days", "aria-describedby") == (
        "conversation_retention_days-hint conversation_retention_days-error"
    )
    await page.keyboard.press("Control+A")
    await page.keyboard.type("45")
    await page.keyboard.press("Tab")  # to the Save button
    assert await page.evaluate("document.activeElement.textContent") == "Save"
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status").first).to_have_text(re.compile("kept 45 days"))
    assert await page.input_value("#conversation_retention_days") == "45"


async def test_a_request_is_extended_with_the_keyboard_alone_and_the_error_is_read_beside_the_field(
    dashboard: Dashboard,
):
    page = await _signed_in(dashboard, 768, 1024)
    await page.goto(f"{dashboard.server.url}/app/o/{dashboard.org_id}/requests")
    for _ in range(60):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.textContent") == "Objection (Art. 21)":
            break
    else:
        pytest.fail("the request is not reachable with Tab")
    await page.keyboard.press("Enter")
    await expect(page.locator("h1")).to_have_text("Objection (Art. 21)")
    for _ in range(80):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "months":
            break
    else:
        pytest.fail("the extension form is not reachable with Tab")
    await page.keyboard.press("Tab")  # to the reason, left empty
    assert await page.evaluate("document.activeElement.id") == "reason"
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Extend"
    await page.keyboard.press("Enter")
    await expect(page.locator("#reason-error")).to_be_visible()
    assert await page.get_attribute("#reason", "aria-invalid") == "true"
    # The page puts the keyboard back on the field that needs fixing.
    assert await page.evaluate("document.activeElement.id") == "reason"
    await page.keyboard.type("More archives to go through than expected")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Extend"
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status").first).to_contain_text("The deadline is now")
    await expect(page.get_by_text("Extend the deadline")).to_have_count(0)  # the two months are used
