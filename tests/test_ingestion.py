"""Every supported file type goes through upload → sniffing → the ingestion reconciler → the keyword index,
and the agent answers from it."""

from __future__ import annotations

import pytest

from parley.kit.reconcilers import run_once
from parley.runtime import Runtime
from tests.factories import bearer, make_org, make_token
from tests.knowledge.samples import FRENCH, OPENING, PARKING, make_docx, make_pdf

SAMPLES = {
    "txt": ("notes.txt", f"{OPENING}\n\n{PARKING}\n".encode(), "On Saturdays we open at ten"),
    "md": ("faq.md", f"# Visiting\n\n{PARKING}\n\n## Hours\n\n{OPENING}\n".encode(), "Free parking"),
    "html": (
        "page.html",
        f"<html><body><script>x()</script><h1>Hours</h1><p>{OPENING}</p></body></html>".encode(),
        "we open at ten",
    ),
    "pdf": (
        "guide.pdf",
        make_pdf([[("heading", "Hours"), ("paragraph", OPENING)], [("paragraph", PARKING)]]),
        "Free parking",
    ),
    "docx": ("guide.docx", make_docx(), "We close on public holidays."),
    "csv": (
        "qa.csv",
        b"question,answer\nWhere can I park?,Free parking is available behind the building.\n",
        "Free parking",
    ),
    "french": ("bienvenue.txt", FRENCH.encode(), "Nous sommes ouverts"),
}
QUESTIONS = {
    "txt": "When do you open on Saturdays?",
    "md": "Where is the parking?",
    "html": "When do you open on Saturdays?",
    "pdf": "Is parking free behind the building?",
    "docx": "Do you close on public holidays?",
    "csv": "Where can I park?",
    "french": "Êtes-vous ouverts du lundi au vendredi ?",
}


@pytest.mark.parametrize("kind", list(SAMPLES))
async def test_each_file_type_is_ingested_and_answered_from(client, runtime: Runtime, kind: str):
    filename, data, expected = SAMPLES[kind]
    org = await make_org(runtime)
    headers = bearer((await make_token(runtime, org.id, "owner"))[1])
    base = f"/api/v1/orgs/{org.id}"
    kb = (await client.post(f"{base}/knowledge-bases", json={"name": "Docs"}, headers=headers)).json()
    # The declared type is deliberately generic: the content decides.
    upload = await client.post(
        f"{base}/knowledge-bases/{kb['id']}/documents",
        files={"file": (filename, data, "application/octet-stream")},
        headers=headers,
    )
    assert upload.status_code == 201, upload.text
    await run_once(runtime)
    document = (await client.get(f"{base}/documents/{upload.json()['id']}", headers=headers)).json()
    assert document["status"] == "ready", document["error"]
    assert document["chunk_count"] >= 1
    agent = await client.post(f"{base}/agents", json={"name": "A", "knowledge_base_ids": [kb["id"]]}, headers=headers)
    reply = await client.post(
        f"{base}/agents/{agent.json()['id']}/test", json={"message": QUESTIONS[kind]}, headers=headers
    )
    assert expected in reply.json()["reply"], reply.json()
    assert reply.json()["citations"][0]["document_id"] == document["id"]
