"""The widget in a real headless Chromium, on a host site of another origin, talking to a real Parley server
(uvicorn on a loopback port) whose agent answers from a small FAQ with the offline provider."""

from __future__ import annotations

import asyncio
import io
import json
import re
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, Response, async_playwright, expect

from parley.runtime import Runtime
from parley.settings import Settings
from tests.channels.widget.browser import CHROMIUM_FLAGS, chromium_path
from tests.channels.widget.support import ANSWER, QUESTION, HostSite, LiveServer, WidgetAgent, make_widget_agent
from tests.factories import raw_scalars

# Generous on a loaded CI machine; a passing run takes a fraction of it.
expect.set_options(timeout=15_000)

WIDGET = "[data-parley-widget]"
SHADOW = f"document.querySelector('{WIDGET}').shadowRoot"
HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Bistro</title>
<style>body {{ font-family: Georgia, serif; margin: 0 }} p {{ color: rgb(1, 2, 3) }}</style>
<script>window.__globalsBefore = Object.keys(window);</script></head>
<body><a href="#menu">Menu</a><h1>Bistro</h1><p id="host-text">Welcome to our bistro.</p>
<script src="{server}/widget.js" data-agent="{agent}" {attrs} async></script></body></html>"""


@dataclass
class Site:
    server: LiveServer
    host: HostSite
    agent: WidgetAgent
    browser: Browser

    def page_url(self, attrs: str = "", *, host: str = "127.0.0.1") -> str:
        path = f"/p{len(self.host.pages)}"
        url = self.host.page(path, HOST_PAGE.format(server=self.server.url, agent=self.agent.agent_id, attrs=attrs))
        return url.replace("127.0.0.1", host, 1)


@pytest.fixture
async def site(client: httpx.AsyncClient, runtime: Runtime, settings: Settings) -> AsyncIterator[Site]:
    executable = chromium_path()
    with HostSite() as host:
        agent = await make_widget_agent(
            client, runtime, origins=[host.origin], privacy_notice_url="https://bistro.example/privacy"
        )
        async with LiveServer(settings) as server, async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, timeout=30_000)
            try:
                yield Site(server, host, agent, browser)
            finally:
                await browser.close()


async def _open(page: Page, url: str) -> None:
    await page.goto(url)
    await page.locator(f"{WIDGET} .launch").click()
    await expect(page.locator(f"{WIDGET} .msg.assistant").first).to_have_text(re.compile("Hello! Ask me anything."))


async def _ask(page: Page, text: str) -> None:
    await page.locator(f"{WIDGET} textarea").fill(text)
    await page.locator(f"{WIDGET} textarea").press("Enter")


async def test_visitor_gets_a_streamed_cited_answer_and_finds_it_after_a_reload(site: Site):
    page = await site.browser.new_page()
    frames: list[str] = []
    responses: list[Response] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    page.on("response", lambda r: responses.append(r))
    await _open(page, site.page_url())
    await _ask(page, QUESTION)
    answer = page.locator(f"{WIDGET} .msg.assistant", has_text=ANSWER)
    await expect(answer).to_be_visible()
    await expect(answer.locator(".cite")).to_contain_text("Bistro FAQ")
    kinds = [json.loads(f)["type"] for f in frames]
    assert "delta" in kinds and kinds.index("delta") < kinds.index("message"), kinds

    await page.reload()
    await page.locator(f"{WIDGET} .launch").click()
    await expect(page.locator(f"{WIDGET} .msg.user")).to_have_text(re.compile(QUESTION))
    await expect(page.locator(f"{WIDGET} .msg.assistant", has_text=ANSWER).locator(".cite")).to_contain_text(
        "Bistro FAQ"
    )

    # No cookies, from any response; nothing added to the page's globals; the page's styles untouched.
    assert await page.evaluate("document.cookie") == ""
    assert await page.context.cookies() == []
    widget_responses = [r for r in responses if r.url.startswith(site.server.url)]
    assert len(widget_responses) >= 4
    for response in widget_responses:
        assert "set-cookie" not in await response.all_headers(), response.url
    added = await page.evaluate("Object.keys(window).filter(k => !window.__globalsBefore.includes(k))")
    assert added == ["__globalsBefore"]
    assert await page.evaluate("getComputedStyle(document.getElementById('host-text')).color") == "rgb(1, 2, 3)"
    assert "Georgia" in await page.evaluate("getComputedStyle(document.body).fontFamily")


async def test_links_in_answers_are_safe_and_hostile_messages_stay_text(site: Site):
    page = await site.browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    await _open(page, site.page_url())
    hostile = '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> [x](javascript:alert(3))'
    await _ask(page, hostile)
    await expect(page.locator(f"{WIDGET} .msg.user")).to_contain_text('<img src=x onerror="window.__pwned=1">')
    await expect(page.locator(f"{WIDGET} .msg.assistant")).to_have_count(2)
    await _ask(page, "How can I book online?")
    booking = page.locator(f"{WIDGET} .msg.assistant", has_text="Book online")
    await expect(booking).to_be_visible()
    link = booking.locator("a", has_text="https://bistro.example/book")
    assert await link.get_attribute("href") == "https://bistro.example/book"
    assert await link.get_attribute("rel") == "noopener noreferrer nofollow"
    hrefs = await page.evaluate(f"[...{SHADOW}.querySelectorAll('a')].map(a => a.href)")
    assert not [h for h in hrefs if not h.startswith("http")], hrefs
    await page.reload()  # history is rendered through the same safe path
    await page.locator(f"{WIDGET} .launch").click()
    await expect(page.locator(f"{WIDGET} .msg.user").first).to_contain_text("<script>window.__pwned=2</script>")
    assert await page.evaluate(f"{SHADOW}.querySelectorAll('.log img, .log script').length") == 0
    assert await page.evaluate("window.__pwned") is None
    assert dialogs == []


async def test_arabic_is_laid_out_right_to_left(site: Site):
    page = await site.browser.new_page()
    await page.goto(site.page_url('data-lang="ar"'))
    launcher = page.locator(f"{WIDGET} .launch")
    assert await launcher.get_attribute("aria-label") == "افتح المحادثة"
    await launcher.click()
    await expect(page.locator(f"{WIDGET} .root")).to_have_attribute("dir", "rtl")
    textarea = page.locator(f"{WIDGET} textarea")
    assert await textarea.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert await textarea.get_attribute("placeholder") == "اكتب رسالتك…"
    send, box = await page.locator(f"{WIDGET} form button").bounding_box(), await textarea.bounding_box()
    assert send and box and send["x"] < box["x"], "in Arabic the send button sits left of the text box"
    await _ask(page, "مرحبا")
    await expect(page.locator(f"{WIDGET} .msg.assistant").nth(1)).to_contain_text("مرحبًا")
    # The rights section speaks Arabic too, its answer included (the reference stays as it is).
    await page.locator(f"{WIDGET} header button", has_text="الخصوصية").click()
    view = page.locator(f"{WIDGET} .view")
    await expect(view.locator("h3", has_text="حقوقك")).to_be_visible()
    await view.locator("button", has_text="أوقف التسويق").click()
    await expect(view.locator("[role=status]")).to_contain_text(re.compile(r"تم تسجيل الطلب dsr_\w+\. سنرد عليك"))


async def test_a_page_on_an_origin_not_listed_is_refused(site: Site):
    page = await site.browser.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    await page.goto(site.page_url(host="localhost"))  # same server, another origin: not on the agent's list
    await page.locator(f"{WIDGET} .launch").click()
    await expect(page.locator(f"{WIDGET} .err")).not_to_be_empty()
    assert await page.locator(f"{WIDGET} .msg").count() == 0
    assert await page.locator(f"{WIDGET} h2").text_content() == "Chat"
    ws_url = f"ws{site.server.url[4:]}/widget/v1/agents/{site.agent.agent_id}/ws"
    outcome = await page.evaluate(
        """url => new Promise(done => { const ws = new WebSocket(url);
             ws.onopen = () => done('open'); ws.onerror = () => done('refused'); })""",
        ws_url,
    )
    assert outcome == "refused"


async def test_the_widget_works_with_the_keyboard_alone(site: Site):
    page = await site.browser.new_page()
    await page.goto(site.page_url())
    for _ in range(6):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"{SHADOW}.activeElement?.classList.contains('launch') ?? false"):
            break
    else:
        pytest.fail("Tab never reached the chat button")
    assert await page.evaluate(f"getComputedStyle({SHADOW}.activeElement).outlineStyle") == "solid"
    await page.keyboard.press("Enter")
    await expect(page.locator(f"{WIDGET} textarea")).to_be_focused()
    await page.keyboard.type(QUESTION)
    await page.keyboard.press("Enter")
    await expect(page.locator(f"{WIDGET} .msg.assistant", has_text=ANSWER)).to_be_visible()
    assert await page.locator(f"{WIDGET} [role=log]").get_attribute("aria-live") == "polite"
    await page.keyboard.press("Escape")
    await expect(page.locator(f"{WIDGET} .panel")).to_be_hidden()
    assert await page.evaluate(f"{SHADOW}.activeElement?.getAttribute('aria-expanded')") == "false"


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (360, 740)])
async def test_the_open_widget_fits_the_screen(site: Site, width: int, height: int, tmp_path: Path):
    context = await site.browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    await _open(page, site.page_url())
    await _ask(page, QUESTION)
    await expect(page.locator(f"{WIDGET} .cite")).to_be_visible()
    shot = tmp_path / f"widget-{width}.png"
    await page.screenshot(path=str(shot))
    assert shot.stat().st_size > 1000
    for part in (".panel", "header", "header button", ".log", "textarea", "form button", ".launch", ".msg"):
        for box in [await e.bounding_box() for e in await page.locator(f"{WIDGET} {part}").all()]:
            assert box is not None, part
            assert box["x"] >= 0 and box["y"] >= 0, (part, box)
            assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= height, (part, box)
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    await context.close()


async def test_messages_go_over_http_when_websockets_are_blocked(site: Site):
    page = await site.browser.new_page()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    await page.route_web_socket(re.compile(r".*/ws$"), lambda ws: ws.close())
    await _open(page, site.page_url())
    await _ask(page, QUESTION)
    await expect(page.locator(f"{WIDGET} .msg.assistant", has_text=ANSWER).locator(".cite")).to_be_visible()
    assert any(url.endswith("/messages") for url in posts), posts


async def test_privacy_view_downloads_and_deletes_the_conversation(site: Site, tmp_path: Path):
    page = await site.browser.new_page()
    await _open(page, site.page_url())
    await _ask(page, QUESTION)
    await expect(page.locator(f"{WIDGET} .msg.assistant", has_text=ANSWER)).to_be_visible()
    await page.locator(f"{WIDGET} header button", has_text="Privacy").click()
    view = page.locator(f"{WIDGET} .view")
    await expect(view).to_contain_text("This chat is run by Bistro Example.")
    notice = view.locator("a", has_text="privacy notice")
    assert await notice.get_attribute("href") == "https://bistro.example/privacy"
    async with page.expect_download() as download_info:
        await view.locator("button", has_text="Download").click()
    saved = await (await download_info.value).path()
    exported: dict[str, Any] = json.loads(await asyncio.to_thread(Path(saved).read_text))
    assert exported["messages"][0]["text"] == QUESTION
    delete = view.locator("button", has_text="Delete")
    await delete.click()
    await view.locator("button", has_text="delete it for good").click()
    await expect(view.locator("[role=status]")).to_have_text("The conversation was deleted.")
    await page.reload()
    await page.locator(f"{WIDGET} .launch").click()
    await expect(page.locator(f"{WIDGET} .msg.assistant").first).to_be_visible()
    assert await page.locator(f"{WIDGET} .msg.user").count() == 0


async def test_under_age_visitors_are_stopped_before_the_chat(site: Site, client: httpx.AsyncClient):
    await client.put(
        site.agent.settings_url,
        json={"allowed_origins": [site.host.origin], "min_age": 18, "analytics_enabled": True},
        headers=site.agent.headers,
    )
    page = await site.browser.new_page()
    await page.goto(site.page_url())
    await page.locator(f"{WIDGET} .launch").click()
    view = page.locator(f"{WIDGET} .view")
    await expect(view).to_contain_text("Are you 18 or older?")
    await expect(page.locator(f"{WIDGET} textarea")).to_be_hidden()
    await view.locator("button", has_text="No").click()
    await expect(view).to_contain_text("only for people aged 18 or over")
    await page.reload()
    await page.locator(f"{WIDGET} .launch").click()
    await expect(view).to_contain_text("only for people aged 18 or over")
    await expect(page.locator(f"{WIDGET} textarea")).to_be_hidden()


async def test_consent_is_asked_once_and_the_conversation_follows_into_another_tab(
    site: Site, client: httpx.AsyncClient, runtime: Runtime
):
    await client.put(
        site.agent.settings_url,
        json={"allowed_origins": [site.host.origin], "analytics_enabled": True},
        headers=site.agent.headers,
    )
    context = await site.browser.new_context()
    first = await context.new_page()
    await _open(first, site.page_url())
    banner = first.locator(f"{WIDGET} .banner")
    await expect(banner).to_contain_text("anonymous analytics")
    await banner.locator("button", has_text="Decline").click()
    await expect(banner).to_be_hidden()
    await _ask(first, QUESTION)  # the chat works the same after declining
    await expect(first.locator(f"{WIDGET} .msg.assistant", has_text=ANSWER)).to_be_visible()
    granted = await raw_scalars(runtime, site.agent.org_id, "SELECT granted FROM consent_events")
    assert [bool(g) for g in granted] == [False]

    second = await context.new_page()
    await _open(second, site.page_url())
    await expect(second.locator(f"{WIDGET} .msg.user")).to_have_text(re.compile(QUESTION))
    await expect(second.locator(f"{WIDGET} .banner")).to_be_hidden()
    await context.close()


async def test_consent_shows_the_ledgers_text_and_is_withdrawn_in_one_click(
    site: Site, client: httpx.AsyncClient, runtime: Runtime
):
    """Consent branch: the banner shows the organisation's consent text, and the privacy view withdraws it."""
    await client.put(
        site.agent.settings_url,
        json={"allowed_origins": [site.host.origin], "analytics_enabled": True},
        headers=site.agent.headers,
    )
    written = await client.post(
        f"/api/v1/orgs/{site.agent.org_id}/consent/texts",
        json={"purpose": "analytics", "language": "en", "body": "Count my visits, without knowing who I am?"},
        headers=site.agent.headers,
    )
    assert written.status_code == 201
    page = await site.browser.new_page()
    await _open(page, site.page_url())
    banner = page.locator(f"{WIDGET} .banner")
    await expect(banner).to_contain_text("Count my visits, without knowing who I am?")
    await banner.locator("button", has_text="Accept").click()
    await expect(banner).to_be_hidden()
    await page.locator(f"{WIDGET} header button", has_text="Privacy").click()
    view = page.locator(f"{WIDGET} .view")
    await view.locator("button", has_text="Withdraw analytics consent").click()
    await expect(view).to_contain_text("Analytics consent withdrawn.")
    choices = await raw_scalars(runtime, site.agent.org_id, "SELECT granted FROM consent_events ORDER BY occurred_at")
    assert [bool(g) for g in choices] == [True, False]
    texts = await raw_scalars(runtime, site.agent.org_id, "SELECT text_id FROM consent_events ORDER BY occurred_at")
    assert texts == [written.json()["id"], None]


async def _visitor_id(page: Page, site: Site) -> str:
    stored = await page.evaluate(f"JSON.parse(localStorage.getItem('parley:{site.agent.agent_id}')).visitor")
    visitor_id = str(stored).partition(":")[0]
    assert re.fullmatch(r"[A-Za-z0-9_-]+", visitor_id), visitor_id  # it goes into the SQL below
    return visitor_id


async def _requests_of(runtime: Runtime, site: Site, visitor_id: str, kind: str) -> list[object]:
    """The visitor's requests of `kind` filed from the widget, as (id, due date) pairs."""
    return await raw_scalars(
        runtime,
        site.agent.org_id,
        "SELECT r.id || ' ' || r.due_at FROM privacy_requests r JOIN contact_identifiers i"
        " ON i.contact_id = r.contact_id AND i.org_id = r.org_id"
        f" WHERE r.kind = '{kind}' AND r.source = 'widget' AND i.kind = 'visitor' AND i.value = '{visitor_id}'",
    )


async def test_a_visitor_asks_for_erasure_from_the_privacy_view_and_sees_when_we_answer(site: Site, runtime: Runtime):
    context = await site.browser.new_context(timezone_id="UTC")
    page = await context.new_page()
    await _open(page, site.page_url())
    await _ask(page, QUESTION)
    await expect(page.locator(f"{WIDGET} .msg.assistant", has_text=ANSWER)).to_be_visible()
    await page.locator(f"{WIDGET} header button", has_text="Privacy").click()
    view = page.locator(f"{WIDGET} .view")
    await expect(view.locator("h3", has_text="Your rights")).to_be_visible()
    visitor_id = await _visitor_id(page, site)
    erase = view.locator("button", has_text="Erase everything about me")
    await erase.click()
    await expect(erase).to_have_text("Yes, erase everything about me")
    assert await _requests_of(runtime, site, visitor_id, "erasure") == []  # the first click only asks
    await erase.click()
    status = view.locator("[role=status]")
    await expect(status).to_contain_text("We will answer by")
    await expect(erase).to_be_disabled()
    filed = await _requests_of(runtime, site, visitor_id, "erasure")
    assert len(filed) == 1
    request_id, due = str(filed[0]).split(" ", 1)
    day = due[:10]  # YYYY-MM-DD, whatever the backend's text form of a timestamp
    months = "January February March April May June July August September October November December".split()
    shown = f"{months[int(day[5:7]) - 1]} {int(day[8:10])}, {day[:4]}"  # the widget's language (en) sets the form
    await expect(status).to_have_text(f"Request {request_id} is filed. We will answer by {shown}.")
    # The conversation stays until staff carry the request out: filing it destroys nothing by itself.
    assert await page.locator(f"{WIDGET} .msg.user").count() == 1

    await context.close()


async def test_an_anonymous_visitor_gets_their_copy_in_the_widget(site: Site, runtime: Runtime):
    """No e-mail address on file, so no e-mailed link: the copy comes back to the Privacy view instead."""
    page = await site.browser.new_page()
    await _open(page, site.page_url())
    await _ask(page, QUESTION)
    await expect(page.locator(f"{WIDGET} .msg.assistant", has_text=ANSWER)).to_be_visible()
    privacy = page.locator(f"{WIDGET} header button", has_text="Privacy")
    await privacy.click()
    view = page.locator(f"{WIDGET} .view")
    status = view.locator("[role=status]")
    await view.locator("button", has_text="Get a copy of all my data").click()
    await expect(status).to_contain_text("When your copy is ready, a download button appears here")
    filed = await _requests_of(runtime, site, await _visitor_id(page, site), "access")
    assert len(filed) == 1
    request_id = str(filed[0]).split(" ")[0]

    await privacy.click()  # back to the chat, and the view again: now with the download button
    await privacy.click()
    get = view.locator("button", has_text="Download my copy")
    await get.click()
    await expect(status).to_have_text("Your copy is not ready yet (or it has expired).")

    # Staff carry it out through the live server's REST API (its clock, not the tests' frozen one, dates the link).
    url = f"{site.server.url}/api/v1/orgs/{site.agent.org_id}/privacy/requests/{request_id}/fulfil"
    async with httpx.AsyncClient() as staff:
        done = await staff.post(url, json={}, headers=site.agent.headers)
    assert done.status_code == 200, done.text
    async with page.expect_download() as download_info:
        await get.click()
    download = await download_info.value
    assert download.suggested_filename == "your-data.zip"
    archive = await asyncio.to_thread(Path(str(await download.path())).read_bytes)
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        contents = " ".join(zipped.read(name).decode() for name in zipped.namelist() if not name.endswith("/"))
    assert QUESTION in contents and ANSWER in contents


async def test_an_objection_from_the_widget_stops_the_ai_once_staff_carry_it_out(
    site: Site, client: httpx.AsyncClient, runtime: Runtime
):
    page = await site.browser.new_page()
    await _open(page, site.page_url("data-lang='fr'"))
    await _ask(page, QUESTION)
    await expect(page.locator(f"{WIDGET} .msg.assistant", has_text=ANSWER)).to_be_visible()
    await page.locator(f"{WIDGET} header button", has_text="Confidentialité").click()
    view = page.locator(f"{WIDGET} .view")
    await view.locator("button", has_text="Ne plus recevoir de réponses de l'IA").click()
    await expect(view.locator("[role=status]")).to_contain_text("Nous répondrons au plus tard le")
    filed = await _requests_of(runtime, site, await _visitor_id(page, site), "objection")
    assert len(filed) == 1
    request_id = str(filed[0]).split(" ")[0]
    await expect(view.locator("[role=status]")).to_contain_text(request_id)

    url = f"/api/v1/orgs/{site.agent.org_id}/privacy/requests/{request_id}/fulfil"
    done = await client.post(url, json={}, headers=site.agent.headers)
    assert done.status_code == 200, done.text
    assert done.json()["outcome"] == {"objecting_to": ["ai_processing"], "restricted": True}

    await view.locator("button", has_text="Retour").click()
    await _ask(page, "Et le dimanche ?")
    await expect(page.locator(f"{WIDGET} .msg.user")).to_have_count(2)
    await expect(page.locator(f"{WIDGET} .typing")).to_have_text("Une personne vous répond…")
    roles = await raw_scalars(runtime, site.agent.org_id, "SELECT role FROM messages ORDER BY created_at")
    assert roles == ["user", "assistant", "user"]
    assert await page.locator(f"{WIDGET} .msg.assistant").count() == 2  # the greeting and the first answer only


async def test_rights_errors_are_shown_as_text(site: Site, client: httpx.AsyncClient, runtime: Runtime):
    """A rate limit or a refusal is said in the view, and the button stays usable for a later try."""
    page = await site.browser.new_page()
    await _open(page, site.page_url())
    await _ask(page, QUESTION)  # the visitor now has credentials in localStorage
    await expect(page.locator(f"{WIDGET} .msg.assistant", has_text=ANSWER)).to_be_visible()
    # The same visitor files requests from a script until the server refuses with 429.
    statuses = await page.evaluate(
        """async ([api, key]) => {
            const visitor = JSON.parse(localStorage.getItem(key)).visitor;
            const out = [];
            for (let i = 0; i < 8; i++) {
                const r = await fetch(api + "/privacy/requests", {method: "POST", body: '{"kind": "restriction"}',
                    headers: {"content-type": "application/json", "x-parley-visitor": visitor}});
                out.push(r.status);
            }
            return out;
        }""",
        [f"{site.server.url}{site.agent.api}", f"parley:{site.agent.agent_id}"],
    )
    assert statuses[0] == 201 and statuses[-1] == 429, statuses
    await page.locator(f"{WIDGET} header button", has_text="Privacy").click()
    view = page.locator(f"{WIDGET} .view")
    stop = view.locator("button", has_text="Stop marketing")
    await stop.click()
    status = view.locator("[role=status]")
    await expect(status).to_have_text("Too many requests. Please try again later.")
    await expect(stop).to_be_enabled()
    assert (
        await raw_scalars(runtime, site.agent.org_id, "SELECT id FROM privacy_requests WHERE kind <> 'restriction'")
        == []
    )

    # A widget turned off meanwhile answers without CORS headers, so the page cannot read why: said plainly.
    turned_off = await client.delete(site.agent.settings_url, headers=site.agent.headers)
    assert turned_off.status_code == 204, turned_off.text
    await view.locator("button", has_text="Erase everything about me").click()
    await view.locator("button", has_text="Yes, erase everything about me").click()
    await expect(status).to_have_text("Cannot reach the chat right now. Please try again.")
