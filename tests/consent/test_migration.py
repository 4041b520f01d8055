"""The widget's earlier consent choices move into the ledger when the visitor is known as a contact."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from parley.kit.migrate import upgrade
from parley.settings import Settings
from tests.conftest import PG_URL, START, base_settings
from tests.test_migrations import _drop, _recreate


async def _old_rows(settings: Settings) -> None:
    engine = create_async_engine(settings.effective_owner_url, poolclass=NullPool)
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO organizations (id, name, slug, created_at) VALUES ('org_old', 'Old', 'old', :t)"),
            {"t": START},
        )
        await conn.execute(
            text("INSERT INTO contacts (id, org_id, created_at) VALUES ('con_1', 'org_old', :t)"), {"t": START}
        )
        await conn.execute(
            text(
                "INSERT INTO contact_identifiers (id, org_id, contact_id, kind, value, created_at) "
                "VALUES ('cid_1', 'org_old', 'con_1', 'visitor', 'vis_known', :t)"
            ),
            {"t": START},
        )
        for n, (subject, granted) in enumerate([("vis_known", True), ("vis_known", False), ("vis_never_wrote", True)]):
            await conn.execute(
                text(
                    "INSERT INTO consent_records (id, org_id, subject, purpose, granted, source, created_at) "
                    "VALUES (:id, 'org_old', :s, 'analytics', :g, 'widget', :t)"
                ),
                {"id": f"cns_{n}", "s": subject, "g": granted, "t": START},
            )
    await engine.dispose()


async def _ledger(settings: Settings) -> list[tuple[str, str, bool, str]]:
    engine = create_async_engine(settings.effective_owner_url, poolclass=NullPool)
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT id, contact_id, granted, channel FROM consent_events ORDER BY id"))
        found = [(str(r[0]), str(r[1]), bool(r[2]), str(r[3])) for r in rows]
    await engine.dispose()
    return found


def test_known_visitors_choices_move_into_the_ledger(tmp_path: Path):
    if PG_URL:
        scratch = make_url(PG_URL).set(database=f"{make_url(PG_URL).database}_consent").render_as_string(False)
        asyncio.run(_recreate(scratch))
        settings = base_settings(tmp_path, database_url=scratch)
    else:
        settings = base_settings(tmp_path)
    try:
        upgrade(settings, "0006_widget")
        asyncio.run(_old_rows(settings))
        upgrade(settings)
        assert asyncio.run(_ledger(settings)) == [
            ("cns_0", "con_1", True, "widget"),
            ("cns_1", "con_1", False, "widget"),
        ]
    finally:
        if PG_URL:
            asyncio.run(_drop(scratch))
