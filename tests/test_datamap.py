"""The data map cannot go stale: every column of every table declares what it holds."""

from __future__ import annotations

import typing

import parley.models  # noqa: F401
from parley.kit.db import Base
from parley.privacy.datamap import INFO_KEY, Erasure, Retention, datamap, undeclared_columns

GLOBAL_TABLES = {"organizations", "users", "user_sessions", "login_throttles", "audit_events", "breaches"}


def test_every_column_declares_its_data_map_entry():
    assert undeclared_columns(Base.metadata) == []


def test_declarations_use_known_retention_classes_and_erasure_strategies():
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            entry = column.info[INFO_KEY]
            assert entry.retention in typing.get_args(Retention), f"{table.name}.{column.name}"
            assert entry.erasure in typing.get_args(Erasure), f"{table.name}.{column.name}"
            if entry.is_personal:
                assert entry.erasure != "not_applicable", f"{table.name}.{column.name} is personal data"


def test_personal_data_we_know_of_is_declared_personal():
    entries = datamap(Base.metadata)
    assert entries["users"]["email"]["category"] == "user.contact.email"
    assert entries["users"]["email"]["identifies"] is True
    assert entries["user_sessions"]["ip"]["category"] == "user.device.ip_address"
    assert entries["audit_events"]["ip"]["category"] == "user.device.ip_address"
    assert entries["invitations"]["email"]["category"] == "user.contact.email"


def test_every_tenant_owned_table_has_org_id():
    for table in Base.metadata.sorted_tables:
        if table.name not in GLOBAL_TABLES:
            assert "org_id" in table.c, f"{table.name} is tenant-owned and needs org_id (or belongs in GLOBAL_TABLES)"


async def test_the_data_map_is_served_as_json_and_yaml(client, runtime):  # type: ignore[no-untyped-def]
    import yaml

    from tests.factories import bearer, make_org, make_token

    assert (await client.get("/api/v1/privacy/datamap")).status_code == 401
    org = await make_org(runtime)
    headers = bearer((await make_token(runtime, org.id, "viewer"))[1])
    as_json = await client.get("/api/v1/privacy/datamap", headers=headers)
    assert as_json.status_code == 200
    document = as_json.json()
    assert document["tables"]["messages"]["body_sealed"]["category"] == "user.content.message"
    assert document["tables"]["users"]["email"]["erasure"] == "delete"
    assert set(document["keystore_tables"]) == {"org_keys", "subject_keys"}
    assert "conversation" in document["retention_classes"]
    as_yaml = await client.get("/api/v1/privacy/datamap", params={"format": "yaml"}, headers=headers)
    assert as_yaml.headers["content-type"].startswith("application/yaml"), (as_yaml.url, as_yaml.text[:200])
    assert yaml.safe_load(as_yaml.text) == document
    assert (await client.get("/api/v1/privacy/datamap", params={"format": "xml"}, headers=headers)).status_code == 422


def test_the_cli_prints_the_data_map():
    import json

    from typer.testing import CliRunner

    from parley import cli

    result = CliRunner().invoke(cli.app, ["privacy", "datamap", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["tables"]["contacts"]["display_name"]["category"] == "user.name"
    assert "user.contact.email" in CliRunner().invoke(cli.app, ["privacy", "datamap"]).output
