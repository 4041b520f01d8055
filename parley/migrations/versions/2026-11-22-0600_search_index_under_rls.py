"""Knowledge search uses its GIN index under row-level security (PostgreSQL).

Row-level security evaluates its policy before any condition that is not LEAKPROOF, and the full-text match
operator (`tsvector @@ tsquery`, function `ts_match_vq`) is not marked LEAKPROOF. So for the app role the planner
may not use the GIN index and scans every chunk of the organisation: measured at 100k chunks, 40-80 ms and more
per query instead of about 1 ms. Matching a tsvector against a tsquery reveals nothing through errors or side
effects, so this marks it LEAKPROOF — in this database only (pg_proc is per database). Only a superuser may do so:
run by another role, the migration leaves it and logs the statement for the database administrator to run.

Revision ID: 0004_search_index_under_rls
Revises: 0003_privacy
Create Date: 2026-11-22 06:00:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_search_index_under_rls"
down_revision: str | None = "0003_privacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATEMENT = "ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF"
log = logging.getLogger("parley.migrate")


def _superuser() -> bool:
    return bool(op.get_bind().scalar(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    if _superuser():
        op.execute(STATEMENT)
    else:
        log.warning(
            "knowledge search cannot use its index under row-level security until a superuser runs, in this "
            "database: %s;",
            STATEMENT,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql" and _superuser():
        op.execute(STATEMENT.replace("LEAKPROOF", "NOT LEAKPROOF"))
