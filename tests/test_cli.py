"""The `parley` command, run as a real process against its own embedded data directory."""

from __future__ import annotations

import os
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from parley import cli
from tests.factories import PASSWORD


def run(data_dir: Path, *args: str, check: bool = True) -> Result:
    """Runs a command in-process with Typer's runner (a fresh process per command would cost seconds each);
    `test_serve_answers_with_demo_data` runs the real entry point in its own process."""
    env = {k: None for k in os.environ if k.startswith("PARLEY_")}
    env.update(
        PARLEY_DATA_DIR=str(data_dir),
        PARLEY_ARGON2_TIME_COST="1",
        PARLEY_ARGON2_MEMORY_KIB="1024",
        PARLEY_ARGON2_PARALLELISM="1",
        PARLEY_LOG_JSON="false",
    )
    result = CliRunner().invoke(cli.app, list(args), env=env)
    if check:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def _all_commands() -> list[list[str]]:
    """Every command path of the CLI, found by walking it (so a new command is covered without listing it)."""
    import typer.main

    paths: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:  # typer's own click: groups have `commands`
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(cli.app), [])
    return paths


@pytest.mark.parametrize("command", _all_commands(), ids=lambda c: " ".join(c) or "parley")
def test_every_command_has_help(tmp_path: Path, command: list[str]):
    result = run(tmp_path, *command, "--help")
    assert "Usage" in result.stdout


def test_the_walk_finds_the_nested_commands():
    found = {" ".join(c) for c in _all_commands()}
    assert {"serve", "token revoke", "privacy sweep", "privacy datamap", "keys rotate-master"} <= found


def test_embedded_setup_generates_a_private_master_key(tmp_path: Path):
    result = run(tmp_path, "migrate")
    assert "database is up to date" in result.stdout
    key = tmp_path / "master.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "PARLEY_MASTER_KEY" in result.stderr  # the warning that production must provide one
    before = key.read_text()
    run(tmp_path, "migrate")
    assert key.read_text() == before


def test_organisation_user_and_token_lifecycle(tmp_path: Path):
    run(tmp_path, "migrate")
    created = run(tmp_path, "org", "create", "Le Petit Zinc", "--owner-email", "owner@example.com").stdout
    org_id = created.split()[1]
    assert org_id.startswith("org_") and "/invite/" in created
    run(
        tmp_path,
        "user",
        "create",
        "agent@example.com",
        "--name",
        "Agent",
        "--password",
        PASSWORD,
        "--org",
        org_id,
        "--role",
        "agent",
    )
    duplicate = run(
        tmp_path, "user", "create", "agent@example.com", "--name", "Again", "--password", PASSWORD, check=False
    )
    assert duplicate.exit_code == 1 and "already exists" in duplicate.stderr
    weak = run(tmp_path, "user", "create", "weak@example.com", "--name", "W", "--password", "short", check=False)
    assert weak.exit_code == 1 and "at least" in weak.stderr
    token_id, secret = run(
        tmp_path, "token", "create", "--org", org_id, "--name", "ci", "--role", "viewer"
    ).stdout.split()
    assert token_id.startswith("tok_") and secret.startswith("prl_")
    missing = run(tmp_path, "token", "create", "--org", "org_nope", "--name", "ci", check=False)
    assert missing.exit_code == 1 and "no organisation" in missing.stderr
    assert "revoked" in run(tmp_path, "token", "revoke", token_id, "--org", org_id).stdout
    assert "not found" in run(tmp_path, "token", "revoke", token_id, "--org", "org_other", check=False).stderr


def test_worker_once_runs_every_reconciler(tmp_path: Path):
    run(tmp_path, "migrate")
    assert "auth.purge_expired_credentials" in run(tmp_path, "worker", "--once").stdout


def test_audit_verify_exits_with_1_on_a_broken_chain(tmp_path: Path):
    run(tmp_path, "migrate")
    org_id = run(tmp_path, "org", "create", "Chez Nous", "--owner-email", "owner@example.com").stdout.split()[1]
    intact = run(tmp_path, "audit", "verify").stdout
    assert f"{org_id}: ok, " in intact and "platform: ok, 0 events" in intact
    with sqlite3.connect(tmp_path / "parley.db") as db:  # the file's owner, past the append-only trigger
        db.execute("DROP TRIGGER audit_events_no_update")
        db.execute("UPDATE audit_events SET action = 'forged' WHERE org_id = ? AND seq = 1", (org_id,))
        first = db.execute("SELECT id FROM audit_events WHERE org_id = ? AND seq = 1", (org_id,)).fetchone()[0]
    broken = run(tmp_path, "audit", "verify", "--org", org_id, check=False)
    assert broken.exit_code == 1 and f"BROKEN at seq 1 ({first})" in broken.stdout
    assert run(tmp_path, "audit", "verify", "--org", "org_nope", check=False).exit_code == 1


def test_audit_prune_needs_a_period_and_leaves_recent_rows(tmp_path: Path):
    run(tmp_path, "migrate")
    org_id = run(tmp_path, "org", "create", "Chez Nous", "--owner-email", "owner@example.com").stdout.split()[1]
    unset = run(tmp_path, "audit", "prune", check=False)
    assert unset.exit_code == 1 and "PARLEY_AUDIT_RETENTION_DAYS" in unset.stderr
    assert "pruned 0 audit rows" in run(tmp_path, "audit", "prune", "--older-than-days", "30").stdout
    assert f"{org_id}: ok, " in run(tmp_path, "audit", "verify").stdout


def test_demo_prints_a_login_that_stays_the_same(tmp_path: Path):
    first = run(tmp_path, "demo", "--no-serve").stdout
    second = run(tmp_path, "demo", "--no-serve").stdout
    login = next(line for line in first.splitlines() if "demo login" in line)
    assert login in second
    assert stat.S_IMODE((tmp_path / "demo-login.txt").stat().st_mode) == 0o600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_with_demo_data(tmp_path: Path):
    """What `make run` does: demo data, then a server a person can sign in to."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(PARLEY_DATA_DIR=str(tmp_path), PARLEY_PORT=str(port), PARLEY_LOG_JSON="false")
    server = subprocess.Popen(
        [sys.executable, "-m", "parley", "demo"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 90  # generous: a loaded CI machine imports slowly
        ready = False
        while not ready and time.monotonic() < deadline and server.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready, "the server did not become ready"
        password = (tmp_path / "demo-login.txt").read_text().strip()
        response = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login", json={"email": "demo@example.com", "password": password}
        )
        assert response.status_code == 200
        org = response.json()["organizations"][0]
        assert org["name"] == "Demo Bistro"
        assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
        # The demo agent answers from its knowledge base straight away.
        session = {"cookies": response.cookies, "headers": {"X-CSRF-Token": response.json()["csrf_token"]}}
        agents = httpx.get(f"http://127.0.0.1:{port}/api/v1/orgs/{org['id']}/agents", **session).json()
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/orgs/{org['id']}/agents/{agents[0]['id']}/test",
            json={"message": "Are you open on Mondays?"},
            **session,
        ).json()
        assert "closed on Mondays" in answer["reply"] and answer["citations"][0]["title"] == "Demo Bistro FAQ"
    finally:
        server.terminate()
        output = server.communicate(timeout=15)[0]
    assert f"http://127.0.0.1:{port}" in output
