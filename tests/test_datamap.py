"""The data map cannot go stale: every column of every table declares what it holds."""

from __future__ import annotations

import typing

import parley.models  # noqa: F401
from parley.kit.db import Base
from parley.privacy.datamap import INFO_KEY, Erasure, Retention, datamap, undeclared_columns

GLOBAL_TABLES = {"organizations", "users", "user_sessions", "login_throttles", "audit_events"}


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
