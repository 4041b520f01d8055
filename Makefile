# Two commands: `make run` (set up, migrate, start with demo data) and `make test` (set up, lint, type-check,
# run the whole suite on SQLite and on PostgreSQL). Both work on a machine that has only python3 and make.

PYTHON ?= python3
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
UV_VERSION := 0.13.9
PG_ADMIN_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432
PARLEY_TEST_PG_URL ?= $(PG_ADMIN_URL)/parley_test_$(shell echo $$PPID)
RUN := $(UV) run --frozen --no-sync

.PHONY: run test setup lint typecheck test-sqlite test-pg bench clean

run: setup
	$(RUN) parley demo

test: setup lint typecheck test-sqlite test-pg

setup: .venv/.synced

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

lint: setup
	$(RUN) ruff check parley tests bench
	$(RUN) ruff format --check parley tests bench

typecheck: setup
	$(RUN) mypy

# Backend-specific tests are deselected, not skipped, in the other pass: PostgreSQL-only ones (row-level
# security as the app role, advisory locks) run in test-pg, SQLite-driver ones in test-sqlite; `make test` runs both.
test-sqlite: setup
	$(RUN) pytest -m "not postgres"

test-pg: setup
	@$(RUN) python -m tests.pg_check "$(PG_ADMIN_URL)"
	PARLEY_TEST_DATABASE_URL="$(PARLEY_TEST_PG_URL)" $(RUN) pytest -m "not sqlite"

bench: setup
	$(RUN) python bench/api.py
	$(RUN) python bench/retrieval.py
	$(RUN) python bench/turn.py
	$(RUN) python bench/privacy.py
	$(RUN) python bench/redaction.py
	$(RUN) python bench/widget.py
	$(RUN) python bench/channels.py
	$(RUN) python bench/email_channel.py
	$(RUN) python bench/rights.py
	$(RUN) python bench/consent.py
	$(RUN) python bench/inbox.py
	$(RUN) python bench/inbox_scaled.py
	$(RUN) python bench/live.py
	$(RUN) python bench/takeover.py
	$(RUN) python bench/dashboard.py

clean:
	rm -rf .venv $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
