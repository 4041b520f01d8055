"""The breach register: who is affected comes from the audit log; the 72-hour deadline; notifications recorded."""

from __future__ import annotations

from datetime import timedelta

from parley.kit.clock import FrozenClock
from parley.runtime import Runtime
from parley.tenancy.permissions import Role
from tests.factories import bearer, make_token, make_user, sign_in
from tests.privacy_support import chat_in, say, start_chat


async def test_a_misused_token_affects_exactly_the_people_whose_data_it_read(
    client, runtime: Runtime, clock: FrozenClock
):
    chat = await start_chat(client, runtime)
    other_person = await chat_in(runtime, chat.base, chat.headers, chat.org_id, chat.agent.id, phone="+33611112222")
    bystander_org = await start_chat(client, runtime, phone="+33633334444")
    for c in (chat, other_person, bystander_org):
        await say(runtime, c, "When does the kitchen open?")
    token_id, secret = await make_token(runtime, chat.org_id, Role.AGENT)
    start = clock.now()
    clock.advance(hours=1)
    read = await client.get(f"{chat.base}/conversations/{chat.conversation_id}", headers=bearer(secret))
    assert read.status_code == 200
    clock.advance(hours=1)

    email = await make_user(runtime, superadmin=True)
    csrf = await sign_in(client, email)
    body = {
        "title": "Leaked API token",
        "description": "An API token was published in a public repository.",
        "measures": "The token was revoked.",
        "detected_at": clock.now().isoformat(),
        "window_start": start.isoformat(),
        "window_end": clock.now().isoformat(),
        "compromised_actor_id": token_id,
    }
    created = await client.post("/api/v1/admin/breaches", json=body, headers=csrf)
    assert created.status_code == 201, created.text
    breach = created.json()
    assert [(o["org_id"], o["people_affected"]) for o in breach["organizations"]] == [(chat.org_id, 1)]
    assert breach["overdue"] is False and "about 1" in breach["drafts"]["authority"]

    # The organisation does not see it until it is told.
    owner = chat.headers
    assert (await client.get(f"{chat.base}/breaches", headers=owner)).json() == []
    clock.advance(hours=73)
    late = (await client.get(f"/api/v1/admin/breaches/{breach['id']}", headers=csrf)).json()
    assert late["overdue"] is True
    notified = await client.post(f"/api/v1/admin/breaches/{breach['id']}/authority-notified", headers=csrf)
    assert notified.json()["authority_notified_at"] and notified.json()["overdue"] is False
    told = await client.post(f"/api/v1/admin/breaches/{breach['id']}/organizations-notified", headers=csrf)
    assert told.json()["organizations"][0]["notified_at"]
    from tests.test_account_deletion import _outbox

    mailed = [(to, subject) for to, subject in await _outbox(runtime.settings) if subject.startswith("Personal data")]
    assert len(mailed) == 1 and mailed[0][1] == "Personal data breach notice: Leaked API token"
    seen = (await client.get(f"{chat.base}/breaches", headers=owner)).json()
    assert [(b["id"], b["people_affected"]) for b in seen] == [(breach["id"], 1)]
    assert (await client.get(f"{bystander_org.base}/breaches", headers=bystander_org.headers)).json() == []


async def test_the_register_is_for_the_super_admin_only_and_validates(client, runtime: Runtime, clock: FrozenClock):
    chat = await start_chat(client, runtime)
    now = clock.now()
    body = {
        "title": "Lost laptop",
        "description": "A laptop with an export was lost.",
        "detected_at": now.isoformat(),
        "window_start": now.isoformat(),
        "window_end": (now - timedelta(hours=1)).isoformat(),
        "org_ids": [chat.org_id],
    }
    assert (await client.post("/api/v1/admin/breaches", json=body, headers=chat.headers)).status_code == 404
    csrf = await sign_in(client, await make_user(runtime, superadmin=True))
    assert (await client.post("/api/v1/admin/breaches", json=body, headers=csrf)).status_code == 422
    body["window_end"] = now.isoformat()
    created = await client.post("/api/v1/admin/breaches", json=body, headers=csrf)
    assert created.status_code == 201, created.text
    # Without a suspect, every person the named organisation holds is counted.
    assert created.json()["organizations"][0]["people_affected"] == 1
    assert (await client.get("/api/v1/admin/breaches/brc_nope", headers=csrf)).status_code == 404
