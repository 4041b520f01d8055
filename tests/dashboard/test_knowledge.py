"""The Knowledge page: knowledge bases, uploads read at once, failure reasons, chunk preview, roles."""

from __future__ import annotations

import re

import httpx

from parley.runtime import Runtime
from tests.dashboard.support import dashboard_sign_in, field_error
from tests.factories import make_org, make_user

FAQ = (
    b"# Opening hours\nWe are open from Tuesday to Sunday. The kitchen opens at noon.\n\n"
    b"# Parking\nThere is free parking behind the bistro.\n"
)


async def _new_kb(client: httpx.AsyncClient, org_id: str, token: str, name: str = "FAQ") -> str:
    response = await client.post(f"/app/o/{org_id}/knowledge", data={"name": name, "csrf_token": token})
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[1]


async def test_an_uploaded_file_is_read_at_once_and_its_chunks_can_be_previewed(
    client: httpx.AsyncClient, runtime: Runtime
):
    org = await make_org(runtime)
    token = await dashboard_sign_in(client, org.owner_email)
    kb_id = await _new_kb(client, org.id, token)
    uploaded = await client.post(
        f"/app/o/{org.id}/knowledge/{kb_id}/files",
        data={"title": "Bistro FAQ", "csrf_token": token},
        files={"file": ("faq.md", FAQ, "text/markdown")},
    )
    assert uploaded.status_code == 303
    status = (await client.get(f"/app/o/{org.id}/knowledge/{kb_id}/status")).json()
    assert status["active"] is False and [d["status"] for d in status["documents"]] == ["ready"]
    page = await client.get(f"/app/o/{org.id}/knowledge/{kb_id}")
    assert "“Bistro FAQ” uploaded; reading it now." in page.text and ">ready<" in page.text
    assert "data-poll" not in page.text  # nothing left to watch
    document_id = re.search(r"/documents/(doc_[A-Za-z0-9]+)\"", page.text)
    assert document_id
    preview = await client.get(f"/app/o/{org.id}/documents/{document_id.group(1)}")
    assert preview.status_code == 200 and "free parking behind the bistro" in preview.text
    listing = await client.get(f"/app/o/{org.id}/knowledge")
    assert "FAQ" in listing.text


async def test_a_page_that_cannot_be_fetched_shows_why(client: httpx.AsyncClient, runtime: Runtime):
    org = await make_org(runtime)
    token = await dashboard_sign_in(client, org.owner_email)
    kb_id = await _new_kb(client, org.id, token)
    added = await client.post(
        f"/app/o/{org.id}/knowledge/{kb_id}/urls", data={"url": "http://127.0.0.1:9/menu", "csrf_token": token}
    )
    assert added.status_code == 303
    page = await client.get(f"/app/o/{org.id}/knowledge/{kb_id}")
    error = re.search(r'<p class="field-error" data-error>([^<]+)</p>', page.text)
    assert error and error.group(1).strip(), page.text
    status = (await client.get(f"/app/o/{org.id}/knowledge/{kb_id}/status")).json()
    assert status["documents"][0]["error"] == error.group(1).strip().replace("&#39;", "'")


async def test_upload_and_url_errors_are_shown_beside_their_fields(client: httpx.AsyncClient, runtime: Runtime):
    org = await make_org(runtime)
    token = await dashboard_sign_in(client, org.owner_email)
    kb_id = await _new_kb(client, org.id, token)
    nameless = await client.post(f"/app/o/{org.id}/knowledge", data={"name": " ", "csrf_token": token})
    assert nameless.status_code == 422 and field_error(nameless.text, "name")
    empty = await client.post(
        f"/app/o/{org.id}/knowledge/{kb_id}/files",
        data={"csrf_token": token},
        files={"file": ("empty.txt", b"", "text/plain")},
    )
    assert empty.status_code == 422 and field_error(empty.text, "file") == "the file is empty"
    binary = await client.post(
        f"/app/o/{org.id}/knowledge/{kb_id}/files",
        data={"csrf_token": token},
        files={"file": ("x.exe", b"MZ\x90\x00\x03" + bytes(range(256)), "application/octet-stream")},
    )
    assert binary.status_code == 422 and field_error(binary.text, "file")
    bad_url = await client.post(f"/app/o/{org.id}/knowledge/{kb_id}/urls", data={"url": "menu", "csrf_token": token})
    assert bad_url.status_code == 422 and field_error(bad_url.text, "url")


async def test_a_viewer_reads_knowledge_but_cannot_change_it(client: httpx.AsyncClient, runtime: Runtime):
    org = await make_org(runtime)
    owner_token = await dashboard_sign_in(client, org.owner_email)
    kb_id = await _new_kb(client, org.id, owner_token)
    viewer = await make_user(runtime, org_id=org.id, role="viewer")
    async with httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url)) as other:
        token = await dashboard_sign_in(other, viewer)
        page = await other.get(f"/app/o/{org.id}/knowledge/{kb_id}")
        assert page.status_code == 200 and "Upload a file" not in page.text
        upload = await other.post(
            f"/app/o/{org.id}/knowledge/{kb_id}/files",
            data={"csrf_token": token},
            files={"file": ("faq.md", FAQ, "text/markdown")},
        )
        assert upload.status_code == 403
        assert (
            await other.post(f"/app/o/{org.id}/knowledge/{kb_id}/delete", data={"csrf_token": token})
        ).status_code == 403
    deleted = await client.post(f"/app/o/{org.id}/knowledge/{kb_id}/delete", data={"csrf_token": owner_token})
    assert deleted.status_code == 303
    assert (await client.get(f"/app/o/{org.id}/knowledge/{kb_id}")).status_code == 404


async def test_an_upload_without_the_csrf_token_is_refused(client: httpx.AsyncClient, runtime: Runtime):
    org = await make_org(runtime)
    token = await dashboard_sign_in(client, org.owner_email)
    kb_id = await _new_kb(client, org.id, token)
    forged = await client.post(
        f"/app/o/{org.id}/knowledge/{kb_id}/files", files={"file": ("faq.md", FAQ, "text/markdown")}
    )
    assert forged.status_code == 403
    status = (await client.get(f"/app/o/{org.id}/knowledge/{kb_id}/status")).json()
    assert status["documents"] == []
