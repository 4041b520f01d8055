"""The Requests and Consent texts pages over HTTP: roles as in the API, CSRF, due dates and badges as the clock
moves, validation beside the field, fulfilment with the staff download, filing from the contact page, audit rows
and other tenants."""

from __future__ import annotations

import io
import re
import zipfile

import httpx

from parley.kit.clock import FrozenClock
from parley.runtime import Runtime
from parley.tenancy.permissions import Role
from tests.dashboard2.seed import make_agent, seed_contacts
from tests.dashboard2.support import field_error, staff_client, text_of
from tests.factories import make_org, raw_scalars


async def _org_with_people(runtime: Runtime) -> tuple[str, list[str]]:
    org = await make_org(runtime)
    agent_id = await make_agent(runtime, org.id, "Front desk")
    seeded = await seed_contacts(runtime, org.id, 2, agent_id=agent_id, sealed_messages=2,
                                 name="Zoé {i}", email="zoe{i}@example.com")  # fmt: skip
    return org.id, seeded.contact_ids


async def _file(client: httpx.AsyncClient, csrf: str, org_id: str, contact_id: str, kind: str,
                purposes: tuple[str, ...] = ()) -> str:  # fmt: skip
    """Files a request from the contact page; returns its id (from the redirect to its page)."""
    filed = await client.post(
        f"/app/o/{org_id}/contacts/{contact_id}/requests",
        data={"csrf_token": csrf, "request_kind": kind, "request_purposes": list(purposes)},
    )
    assert filed.status_code == 303, filed.text
    found = re.search(r"/requests/(dsr_[A-Za-z0-9_-]+)$", filed.headers["location"])
    assert found is not None, filed.headers["location"]
    return found.group(1)


async def _actions(runtime: Runtime, org_id: str, prefix: str) -> list[str]:
    rows = await raw_scalars(
        runtime, org_id, f"SELECT action FROM audit_events WHERE action LIKE '{prefix}%' ORDER BY seq"
    )
    return [str(a) for a in rows]


async def test_only_privacy_managers_see_and_act_on_requests_and_every_form_needs_csrf(app, runtime: Runtime):
    org_id, contacts = await _org_with_people(runtime)
    async with staff_client(app, runtime, org_id, Role.ADMIN) as (admin, csrf):
        request_id = await _file(admin, csrf, org_id, contacts[0], "access")
        contact_page = await admin.get(f"/app/o/{org_id}/contacts/{contacts[0]}")
        assert 'name="request_kind"' in contact_page.text and '/requests"' in contact_page.text
        no_token = await admin.post(f"/app/o/{org_id}/requests/{request_id}/start", data={"start_note": "x"})
        assert no_token.status_code == 403 and "expired" in no_token.text
        no_token = await admin.post(
            f"/app/o/{org_id}/contacts/{contacts[0]}/requests", data={"request_kind": "erasure"}
        )
        assert no_token.status_code == 403
    for role in (Role.VIEWER, Role.AGENT):
        async with staff_client(app, runtime, org_id, role) as (client, csrf):
            privacy = await client.get(f"/app/o/{org_id}/privacy")
            assert privacy.status_code == 200 and f'/app/o/{org_id}/requests"' not in privacy.text
            assert (await client.get(f"/app/o/{org_id}/requests")).status_code == 403
            assert (await client.get(f"/app/o/{org_id}/requests/{request_id}")).status_code == 403
            assert (await client.get(f"/app/o/{org_id}/requests/{request_id}/download")).status_code == 403
            for action, data in (("start", {}), ("refuse", {"refuse_reason": "manifestly excessive request"}),
                                 ("extend", {"months": "1", "reason": "a long and complex request"}),
                                 ("fulfil", {})):  # fmt: skip
                refused = await client.post(
                    f"/app/o/{org_id}/requests/{request_id}/{action}", data={"csrf_token": csrf, **data}
                )
                assert refused.status_code == 403, (role, action)
            filed = await client.post(
                f"/app/o/{org_id}/contacts/{contacts[0]}/requests",
                data={"csrf_token": csrf, "request_kind": "erasure"},
            )
            assert filed.status_code == 403
    statuses = await raw_scalars(runtime, org_id, "SELECT status FROM privacy_requests")
    assert [str(s) for s in statuses] == ["verified"]  # nothing the refused members sent changed it


async def test_the_queue_shows_due_dates_and_flags_overdue_requests_as_the_clock_moves(
    app, runtime: Runtime, clock: FrozenClock
):
    org_id, contacts = await _org_with_people(runtime)
    received = clock.now()
    async with staff_client(app, runtime, org_id, Role.ADMIN) as (admin, csrf):
        first = await _file(admin, csrf, org_id, contacts[0], "access")
    clock.advance(days=3)
    async with staff_client(app, runtime, org_id, Role.ADMIN) as (admin, csrf):
        second = await _file(admin, csrf, org_id, contacts[1], "erasure")
        queue = await admin.get(f"/app/o/{org_id}/requests")
        assert queue.status_code == 200, queue.text
        page = text_of(queue.text)
        assert "2 requests" in page and "overdue" not in page and "due soon" not in page
        assert received.replace(month=received.month % 12 + 1).strftime("%Y-%m-%d") in page  # one month later
        # Newest due date first: the second request (received three days later) leads.
        assert queue.text.index(second) < queue.text.index(first)
    clock.advance(days=24)  # the first is due within a week (sessions do not last that long: sign in again)
    async with staff_client(app, runtime, org_id, Role.ADMIN) as (admin, _):
        assert "due soon" in text_of((await admin.get(f"/app/o/{org_id}/requests")).text)
    clock.advance(days=5)  # the first is past its month (31 days), the second due within days
    async with staff_client(app, runtime, org_id, Role.ADMIN) as (admin, _):
        queue = await admin.get(f"/app/o/{org_id}/requests")
        row_of_first = queue.text[queue.text.index(first) :].split("</tr>")[0]
        assert '<span class="badge bad">overdue</span>' in row_of_first
        overdue = await admin.get(f"/app/o/{org_id}/requests", params={"status": "overdue"})
        assert first in overdue.text and second not in overdue.text and "1 request." in text_of(overdue.text)
        completed = await admin.get(f"/app/o/{org_id}/requests", params={"status": "completed"})
        assert "No requests here." in completed.text
        assert (await admin.get(f"/app/o/{org_id}/requests", params={"status": "nonsense"})).status_code == 404
        detail = await admin.get(f"/app/o/{org_id}/requests/{first}")
        assert '<span class="badge bad">overdue</span>' in detail.text
    assert len(await _actions(runtime, org_id, "privacy_request.listed")) == 5
    read = await raw_scalars(
        runtime, org_id, "SELECT target_id FROM audit_events WHERE action = 'privacy_request.read'"
    )
    assert read == [first]


async def test_extending_needs_a_reason_and_at_most_two_months_shown_beside_the_fields(
    app, runtime: Runtime, clock: FrozenClock
):
    org_id, contacts = await _org_with_people(runtime)
    async with staff_client(app, runtime, org_id, Role.ADMIN) as (admin, csrf):
        request_id = await _file(admin, csrf, org_id, contacts[0], "access")
        url = f"/app/o/{org_id}/requests/{request_id}/extend"
        no_reason = await admin.post(url, data={"csrf_token": csrf, "months": "1", "reason": ""})
        assert no_reason.status_code == 422
        assert field_error(no_reason.text, "reason") == "give the reason (at least 10 characters); the person is told"
        assert field_error(no_reason.text, "months") is None
        too_long = await admin.post(
            url, data={"csrf_token": csrf, "months": "3", "reason": "many archives to go through"}
        )
        assert too_long.status_code == 422 and "at most 2" in (field_error(too_long.text, "months") or "")
        assert "many archives to go through" in too_long.text  # what was typed stays
        assert (
            await admin.post(url, data={"csrf_token": csrf, "months": "2", "reason": "many archives to go through"})
        ).status_code == 303
        due = await raw_scalars(runtime, org_id, "SELECT extended_due_at FROM privacy_requests")
        assert due[0] is not None
        queue = text_of((await admin.get(f"/app/o/{org_id}/requests")).text)
        assert "extended from" in queue
        detail = await admin.get(f"/app/o/{org_id}/requests/{request_id}")
        assert "Extend the deadline" not in detail.text  # two months used: no more to give
        again = await admin.post(url, data={"csrf_token": csrf, "months": "1", "reason": "still more archives here"})
        assert again.status_code == 422 and field_error(again.text, "months")
        no_reason = await admin.post(
            f"/app/o/{org_id}/requests/{request_id}/refuse", data={"csrf_token": csrf, "refuse_reason": "no"}
        )
        assert no_reason.status_code == 422 and field_error(no_reason.text, "refuse_reason")
        refused = await admin.post(
            f"/app/o/{org_id}/requests/{request_id}/refuse",
            data={"csrf_token": csrf, "refuse_reason": "the same request for the ninth time this month"},
        )
        assert refused.status_code == 303
        closed = await admin.post(f"/app/o/{org_id}/requests/{request_id}/start", data={"csrf_token": csrf})
        assert closed.status_code == 409
        assert request_id in (await admin.get(f"/app/o/{org_id}/requests", params={"status": "refused"})).text
    assert await _actions(runtime, org_id, "privacy_request.e") == ["privacy_request.extended"]
    assert "privacy_request.refused" in await _actions(runtime, org_id, "privacy_request.r")


async def test_fulfilling_an_access_request_completes_it_and_staff_can_download_the_export(app, runtime: Runtime):
    org_id, contacts = await _org_with_people(runtime)
    async with staff_client(app, runtime, org_id, Role.OWNER) as (owner, csrf):
        request_id = await _file(owner, csrf, org_id, contacts[0], "access")
        base = f"/app/o/{org_id}/requests/{request_id}"
        assert (await owner.get(f"{base}/download")).status_code == 404  # nothing made yet
        assert (await owner.post(f"{base}/start", data={"csrf_token": csrf, "start_note": "on it"})).status_code == 303
        done = await owner.post(f"{base}/fulfil", data={"csrf_token": csrf})
        assert done.status_code == 303, done.text
        detail = await owner.get(base)
        page = text_of(detail.text)
        assert "completed" in page and "on it" in page and "Carry out the request" not in page
        assert f'href="{base}/download"' in detail.text
        download = await owner.get(f"{base}/download")
        assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
        assert "data.json" in names
        assert request_id in (await owner.get(f"/app/o/{org_id}/requests", params={"status": "completed"})).text
        again = await owner.post(f"{base}/fulfil", data={"csrf_token": csrf})
        assert again.status_code == 409
    steps = await raw_scalars(
        runtime,
        org_id,
        f"SELECT status FROM privacy_request_events WHERE request_id = '{request_id}' ORDER BY created_at, id",
    )
    assert [str(s) for s in steps][-1] == "completed" and "in_progress" in [str(s) for s in steps]
    downloaded = await raw_scalars(
        runtime, org_id, "SELECT target_id FROM audit_events WHERE action = 'privacy_request.downloaded'"
    )
    assert downloaded == [request_id]
    assert len(await _actions(runtime, org_id, "privacy_request.read")) == 1


async def test_requests_filed_from_the_contact_page_check_their_purposes_and_are_carried_out(app, runtime: Runtime):
    org_id, contacts = await _org_with_people(runtime)
    async with staff_client(app, runtime, org_id, Role.ADMIN) as (admin, csrf):
        url = f"/app/o/{org_id}/contacts/{contacts[1]}/requests"
        no_kind = await admin.post(url, data={"csrf_token": csrf, "request_kind": ""})
        assert no_kind.status_code == 422 and field_error(no_kind.text, "request_kind")
        no_purpose = await admin.post(url, data={"csrf_token": csrf, "request_kind": "objection"})
        assert no_purpose.status_code == 422 and field_error(no_purpose.text, "request_purposes")
        bad = await admin.post(url, data={"csrf_token": csrf, "request_kind": "objection", "request_purposes": "x"})
        assert bad.status_code == 422 and field_error(bad.text, "request_purposes")
        request_id = await _file(admin, csrf, org_id, contacts[1], "objection", ("marketing", "ai_processing"))
        detail = await admin.get(f"/app/o/{org_id}/requests/{request_id}")
        assert f'href="/app/o/{org_id}/contacts/{contacts[1]}"' in detail.text and "Zoé 1" in detail.text
        assert "marketing" in detail.text and "ai_processing" in detail.text
        done = await admin.post(f"/app/o/{org_id}/requests/{request_id}/fulfil", data={"csrf_token": csrf})
        assert done.status_code == 303, done.text
        contact = text_of((await admin.get(f"/app/o/{org_id}/contacts/{contacts[1]}")).text)
        assert "processing restricted (objection)" in contact
        rectify = await _file(admin, csrf, org_id, contacts[0], "rectification")
        empty = await admin.post(
            f"/app/o/{org_id}/requests/{rectify}/fulfil", data={"csrf_token": csrf, "display_name": ""}
        )
        assert empty.status_code == 422 and "a rectification needs" in empty.text
        fixed = await admin.post(
            f"/app/o/{org_id}/requests/{rectify}/fulfil",
            data={"csrf_token": csrf, "display_name": "Zoé Zero", "remove_identifier": "email:zoe0@example.com"},
        )
        assert fixed.status_code == 303, fixed.text
        contact = text_of((await admin.get(f"/app/o/{org_id}/contacts/{contacts[0]}")).text)
        assert "Zoé Zero" in contact and "zoe0@example.com" not in contact
        erase = await _file(admin, csrf, org_id, contacts[0], "erasure")
        unconfirmed = await admin.post(f"/app/o/{org_id}/requests/{erase}/fulfil", data={"csrf_token": csrf})
        assert unconfirmed.status_code == 422 and field_error(unconfirmed.text, "confirm")
        erased = await admin.post(
            f"/app/o/{org_id}/requests/{erase}/fulfil", data={"csrf_token": csrf, "confirm": "erase"}
        )
        assert erased.status_code == 303, erased.text
        assert "Erased: only this record" in text_of((await admin.get(f"/app/o/{org_id}/requests/{erase}")).text)
    withdrawn = await raw_scalars(
        runtime, org_id, f"SELECT purpose FROM consent_events WHERE contact_id = '{contacts[1]}' AND granted = false"
    )
    assert [str(p) for p in withdrawn] == ["marketing"]


async def test_another_organisations_request_is_not_found(app, runtime: Runtime):
    org_id, contacts = await _org_with_people(runtime)
    other_id, _ = await _org_with_people(runtime)
    async with staff_client(app, runtime, org_id, Role.OWNER) as (owner, csrf):
        theirs = await _file(owner, csrf, org_id, contacts[0], "access")
    async with staff_client(app, runtime, other_id, Role.OWNER) as (stranger, csrf):
        assert (await stranger.get(f"/app/o/{other_id}/requests/{theirs}")).status_code == 404
        assert (await stranger.get(f"/app/o/{other_id}/requests/{theirs}/download")).status_code == 404
        for action in ("start", "fulfil"):
            response = await stranger.post(f"/app/o/{other_id}/requests/{theirs}/{action}", data={"csrf_token": csrf})
            assert response.status_code == 404, action
        assert theirs not in (await stranger.get(f"/app/o/{other_id}/requests", params={"status": "all"})).text
        assert (await stranger.get(f"/app/o/{org_id}/requests/{theirs}")).status_code == 404
        filed = await stranger.post(
            f"/app/o/{other_id}/contacts/{contacts[0]}/requests", data={"csrf_token": csrf, "request_kind": "access"}
        )
        assert filed.status_code == 404
    statuses = await raw_scalars(runtime, org_id, "SELECT status FROM privacy_requests")
    assert [str(s) for s in statuses] == ["verified"]


async def test_consent_texts_are_listed_versioned_and_kept_once_people_were_shown_them(app, runtime: Runtime):
    org_id, contacts = await _org_with_people(runtime)
    base = f"/app/o/{org_id}/consent-texts"
    async with staff_client(app, runtime, org_id, Role.ADMIN) as (admin, csrf):
        assert f'href="{base}"' in (await admin.get(f"/app/o/{org_id}/privacy")).text
        bad = await admin.post(base, data={"csrf_token": csrf, "purpose": "nope", "language": "English", "body": " "})
        assert bad.status_code == 422
        assert field_error(bad.text, "purpose") == "choose a purpose"
        assert field_error(bad.text, "language") == "a language tag such as en, fr or pt-BR"
        assert field_error(bad.text, "body")
        assert (await admin.post(base, data={"purpose": "marketing", "language": "fr", "body": "x"})).status_code == 403
        for words in ("Pouvons-nous vous écrire ?", "Pouvons-nous vous envoyer nos offres ?"):
            added = await admin.post(
                base, data={"csrf_token": csrf, "purpose": "marketing", "language": "fr", "body": words}
            )
            assert added.status_code == 303, added.text
        listing = await admin.get(base)
        rows = listing.text.split("<tr>")
        newest = next(r for r in rows if "offres" in r)
        oldest = next(r for r in rows if "écrire" in r)
        assert "<td>2</td>" in newest and "current" in newest and "current" not in oldest
        text_ids = [str(t) for t in await raw_scalars(
            runtime, org_id, "SELECT id FROM consent_texts WHERE language = 'fr' ORDER BY version"
        )]  # fmt: skip
        shown = await admin.post(
            f"/api/v1/orgs/{org_id}/contacts/{contacts[0]}/consents",
            json={"purpose": "marketing", "granted": True, "text_id": text_ids[0]},
            headers={"x-csrf-token": csrf},
        )
        assert shown.status_code == 201, shown.text
        refused = await admin.post(f"{base}/{text_ids[0]}/delete", data={"csrf_token": csrf})
        assert refused.status_code == 409
        assert "part of their consent proof" in (field_error(refused.text, f"delete-{text_ids[0]}") or "")
        assert (await admin.post(f"{base}/{text_ids[1]}/delete", data={"csrf_token": csrf})).status_code == 303
        listing = text_of((await admin.get(base)).text)
        assert "écrire" in listing and "offres" not in listing and "shown to people" in listing
    async with staff_client(app, runtime, org_id, Role.VIEWER) as (viewer, csrf):
        page = await viewer.get(base)
        assert page.status_code == 200 and "écrire" in page.text
        assert "Add a version" not in page.text and "/delete" not in page.text
        assert (await viewer.post(base, data={"csrf_token": csrf, "purpose": "marketing", "language": "fr",
                                              "body": "x"})).status_code == 403  # fmt: skip
        assert (await viewer.post(f"{base}/{text_ids[0]}/delete", data={"csrf_token": csrf})).status_code == 403
    async with staff_client(app, runtime, (await make_org(runtime)).id, Role.OWNER) as (stranger, csrf):
        assert (await stranger.post(f"/app/o/{org_id}/consent-texts/{text_ids[0]}/delete",
                                    data={"csrf_token": csrf})).status_code == 404  # fmt: skip
    assert await _actions(runtime, org_id, "consent.text_") == [
        "consent.text_added", "consent.text_added", "consent.text_deleted"
    ]  # fmt: skip
