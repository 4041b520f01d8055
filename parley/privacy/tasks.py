"""Reconcilers that keep the privacy promises on time: retention sweeps and due account deletions."""

from __future__ import annotations

from parley.privacy import deletion, retention
from parley.runtime import Runtime


async def enforce_retention(runtime: Runtime) -> dict[str, int]:
    report = await retention.sweep(runtime)
    return report.totals.as_dict()


async def delete_due_accounts(runtime: Runtime) -> dict[str, int]:
    return {**await deletion.delete_due_organizations(runtime), **await deletion.delete_due_users(runtime)}
