"""Alembic, configured from code so that `parley migrate` works from any directory."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config

from parley.settings import Settings


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", "parley:migrations")
    config.set_main_option("file_template", "%%(year)d-%%(month).2d-%%(day).2d-%%(hour).2d%%(minute).2d_%%(slug)s")
    config.attributes["settings"] = settings
    return config


# Schema objects that live outside the models on purpose: the SQLite FTS5 index (a virtual table and its
# shadow tables) and PostgreSQL's generated search column. Autogenerate and the model/migration check skip them.
UNMODELLED_PREFIXES = ("chunks_fts",)
UNMODELLED_COLUMNS = {("chunks", "search_vector")}


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    if type_ == "table" and name and name.startswith(UNMODELLED_PREFIXES):
        return False
    if type_ == "column" and reflected and compare_to is None:
        table = getattr(getattr(obj, "table", None), "name", None)
        return (table, name) not in UNMODELLED_COLUMNS
    return not (type_ == "index" and name == "ix_chunks_search_vector")


def upgrade(settings: Settings, revision: str = "head") -> None:
    """The key store first (it adopts keys that older schemas kept in the main database), then the schema."""
    from parley.kit.keys import load_master_keys
    from parley.privacy.keystore import prepare

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(prepare(settings, load_master_keys(settings)))
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)
