"""Sub-processor changes reach the owners once (Art. 28(2)); the public list, the notice and the records of
processing (Art. 30(1) and 30(2)) follow the live configuration."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from parley.consent.subprocessors import reconcile_subprocessors
from parley.runtime import Runtime
from parley.tenancy.permissions import Role
from tests.factories import bearer, make_org, make_token, make_user, raw_scalars
from tests.test_cli import run


def notices(org_id: str) -> str:
    return (
        "SELECT to_address FROM outbox WHERE subject LIKE 'Sub-processor change%' "
        f"AND org_id = '{org_id}' ORDER BY to_address"
    )


async def _owner_org(client, runtime: Runtime, name: str = "Trattoria Uno"):  # type: ignore[no-untyped-def]
    org = await make_org(runtime, name)
    second_owner = await make_user(runtime, org_id=org.id, role=Role.OWNER, email=f"second@{org.id}.example")
    await make_user(runtime, org_id=org.id, role=Role.ADMIN)  # admins are not the ones told
    headers = bearer((await make_token(runtime, org.id, Role.OWNER))[1])
    return org, sorted([org.owner_email, second_owner]), headers


async def _use_openai(client, base: str, headers: dict[str, str]) -> str:  # type: ignore[no-untyped-def]
    credential = await client.post(
        f"{base}/provider-credentials",
        json={"name": "OpenAI", "provider": "openai", "api_key": "sk-1"},
        headers=headers,
    )
    agent = await client.post(
        f"{base}/agents",
        json={"name": "Remote", "provider": "openai", "model": "gpt-4o", "credential_id": credential.json()["id"]},
        headers=headers,
    )
    assert agent.status_code == 201, agent.text
    return str(agent.json()["id"])


async def test_a_subprocessor_change_emails_the_owners_once(client, runtime: Runtime):
    org, owners, headers = await _owner_org(client, runtime)
    base = f"/api/v1/orgs/{org.id}"
    first = await reconcile_subprocessors(runtime)
    assert first["baselines"] >= 1 and first["emails"] == 0  # the starting point is not news
    assert await raw_scalars(runtime, org.id, notices(org.id)) == []

    agent_id = await _use_openai(client, base, headers)
    assert (await reconcile_subprocessors(runtime))["changes"] == 1
    assert await raw_scalars(runtime, org.id, notices(org.id)) == owners
    body = (await raw_scalars(runtime, org.id, f"SELECT body_text FROM outbox WHERE org_id = '{org.id}' LIMIT 1"))[0]
    assert "added: OpenAI, L.L.C." in str(body) and "United States" in str(body)
    assert (await reconcile_subprocessors(runtime))["changes"] == 0  # once per change
    assert await raw_scalars(runtime, org.id, notices(org.id)) == owners

    assert (await client.delete(f"{base}/agents/{agent_id}", headers=headers)).status_code == 204
    assert (await reconcile_subprocessors(runtime))["changes"] == 1
    assert len(await raw_scalars(runtime, org.id, notices(org.id))) == 2 * len(owners)
    sequences = await raw_scalars(
        runtime, org.id, f"SELECT sequence FROM subprocessor_snapshots WHERE org_id = '{org.id}' ORDER BY sequence"
    )
    assert sequences == [1, 2, 3]

    slug = (await client.get(base, headers=headers)).json()["slug"]
    page = await client.get(f"/privacy/{slug}/subprocessors")
    assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    assert "None: no personal data leaves" in page.text  # the current list is empty again
    assert "added OpenAI, L.L.C." in page.text and "removed OpenAI, L.L.C." in page.text
    assert (await client.get("/privacy/no-such-org/subprocessors")).status_code == 404


async def test_a_changed_hosting_location_is_a_change(client, runtime: Runtime):
    org, owners, _ = await _owner_org(client, runtime)
    runtime.settings.hosting_provider = "Example Cloud GmbH"
    runtime.settings.hosting_location = "Germany"
    await reconcile_subprocessors(runtime)  # baseline already with the host
    runtime.settings.hosting_location = "Finland"
    assert (await reconcile_subprocessors(runtime))["changes"] >= 1
    assert await raw_scalars(runtime, org.id, notices(org.id)) == owners
    body = str(
        (await raw_scalars(runtime, org.id, f"SELECT body_text FROM outbox WHERE org_id = '{org.id}' LIMIT 1"))[0]
    )
    assert "Example Cloud GmbH: location changed from Germany to Finland" in body
    other = await make_org(runtime, "Other Business")
    assert await raw_scalars(runtime, other.id, notices(other.id)) == []  # no other tenant's rows are visible or sent


async def test_the_notice_lists_exactly_the_configured_subprocessors_retention_and_consent_purposes(
    client, runtime: Runtime
):
    org, _, headers = await _owner_org(client, runtime)
    base = f"/api/v1/orgs/{org.id}"
    slug = (await client.get(base, headers=headers)).json()["slug"]
    runtime.settings.hosting_provider = "Example Cloud GmbH"
    runtime.settings.hosting_location = "Germany"
    await _use_openai(client, base, headers)
    await client.patch(f"{base}/privacy/retention", json={"conversation_retention_days": 45}, headers=headers)
    listed = [p["name"] for p in (await client.get(f"{base}/privacy/subprocessors", headers=headers)).json()]
    assert listed == ["OpenAI, L.L.C.", "Example Cloud GmbH"]
    page = (await client.get(f"/privacy/{slug}")).text
    for name in listed:
        assert name in page
    assert "Anthropic" not in page and "smtp" not in page.lower()
    assert "45 days after the last message" in page and "365 days" not in page
    for title in ("Marketing messages", "Anonymous chat statistics", "Call recording", "AI processing of your voice"):
        assert title in page


async def test_records_of_processing_follow_the_retention_settings(client, runtime: Runtime):
    org, _, headers = await _owner_org(client, runtime)
    base = f"/api/v1/orgs/{org.id}"
    url = f"{base}/privacy/record-of-processing"
    before = (await client.get(url, headers=headers)).json()
    before_csv = (await client.get(url, params={"format": "csv"}, headers=headers)).text
    assert "365 days" in before[0]["retention"]
    assert "customers, prospects and visitors" in before[0]["data_subjects"]
    assert "staff" in before[0]["data_subjects"]
    assert any("Marketing messages" in row["activity"] for row in before)
    await client.patch(f"{base}/privacy/retention", json={"conversation_retention_days": 30}, headers=headers)
    after = (await client.get(url, headers=headers)).json()
    after_csv = (await client.get(url, params={"format": "csv"}, headers=headers)).text
    assert after != before and after_csv != before_csv
    assert "30 days after the last message" in after[0]["retention"] and "365" not in after[0]["retention"]
    assert list(csv.DictReader(io.StringIO(after_csv))) == after

    runtime.settings.operator_name = "Hosting Co-op"
    runtime.settings.operator_dpo = "dpo@hosting.example"
    processor = (await client.get(url, params={"role": "processor"}, headers=headers)).json()
    assert (
        processor[0]["processor"] == "Hosting Co-op"
        and processor[0]["data_protection_officer"] == "dpo@hosting.example"
    )
    assert processor[0]["controller"] == "Trattoria Uno"
    assert (await client.get(url, params={"role": "boss"}, headers=headers)).status_code == 422
    viewer = bearer((await make_token(runtime, org.id, Role.VIEWER))[1])
    assert (await client.get(url, params={"role": "processor"}, headers=viewer)).status_code == 403


def test_the_cli_prints_the_record(tmp_path: Path):
    run(tmp_path, "migrate")
    org_id = run(tmp_path, "org", "create", "Le Petit Zinc", "--owner-email", "owner@example.com").stdout.split()[1]
    as_json = run(tmp_path, "privacy", "record", "--org", org_id).stdout
    assert '"controller": "Le Petit Zinc"' in as_json
    as_csv = run(tmp_path, "privacy", "record", "--org", "le-petit-zinc", "--format", "csv", "--role", "processor")
    assert as_csv.stdout.startswith("processor,processor_contact,data_protection_officer,controller")
    assert run(tmp_path, "privacy", "record", "--org", "nope", check=False).exit_code == 1
    assert run(tmp_path, "privacy", "record", "--org", org_id, "--format", "xml", check=False).exit_code == 1
