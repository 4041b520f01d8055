"""Helpers for the data-subject request tests: codes and links read from the outbox, as the person would."""

from __future__ import annotations

import re

import httpx

from parley.runtime import Runtime
from tests.factories import raw_scalars


async def mails_to(runtime: Runtime, org_id: str, address: str) -> list[str]:
    rows = await raw_scalars(
        runtime,
        org_id,
        f"SELECT subject || '\n' || body_text FROM outbox WHERE to_address = '{address}' ORDER BY created_at",
    )
    return [str(r) for r in rows]


async def ask_with_code(
    client: httpx.AsyncClient, runtime: Runtime, org: str, org_id: str, kind: str, email: str
) -> httpx.Response:
    """The public page's two steps: a code to the address, then the code back (read from the outbox)."""
    sent = await client.post(f"/privacy/{org}/requests/codes", json={"kind": kind, "identifier": email})
    assert sent.status_code == 201, sent.text
    codes = re.findall(r"code to confirm .* is (\d{6})", "\n".join(await mails_to(runtime, org_id, email)))
    return await client.post(
        f"/privacy/{org}/requests",
        json={"challenge_id": sent.json()["challenge_id"], "identifier": email, "code": codes[-1]},
    )


def download_path(mail: str) -> str:
    found = re.search(r"(/privacy/\S+/download\?token=\S+)", mail)
    assert found, mail
    return found.group(1)
