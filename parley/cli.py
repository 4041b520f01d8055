"""The `parley` command."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
import uvicorn

from parley.kit.context import Actor, RequestInfo
from parley.kit.db import unit_of_work
from parley.kit.logging import configure_logging
from parley.runtime import Runtime, create_runtime
from parley.settings import Settings

app = typer.Typer(
    help="Parley: AI agents for your customers, private by construction.",
    no_args_is_help=True,
    add_completion=False,
)
org_app = typer.Typer(help="Organisations (tenants).", no_args_is_help=True)
user_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
privacy_app = typer.Typer(help="Privacy: the data map, retention sweeps.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(privacy_app, name="privacy")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")

T = TypeVar("T")
CLI_ACTOR = Actor("system", None, RequestInfo(request_id="cli"))


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    return settings


def _with_runtime(work: Callable[[Runtime], Awaitable[T]]) -> T:
    async def main() -> T:
        runtime = create_runtime(_settings())
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    return asyncio.run(main())


def _fail(message: str) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (runs as PARLEY_DATABASE_OWNER_URL when set)."""
    from parley.kit.keys import load_master_key
    from parley.kit.migrate import upgrade

    settings = _settings()
    upgrade(settings)
    load_master_key(settings)  # embedded mode: the first setup step also creates the key
    typer.echo("database is up to date")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int, typer.Option(help="Server processes (scaled mode).")] = 1,
    migrate_first: Annotated[bool, typer.Option("--migrate/--no-migrate", help="Migrate before serving.")] = True,
) -> None:
    """Serve the API (and, in embedded mode, run the background reconcilers in the same process)."""
    settings = _settings()
    if migrate_first:
        from parley.kit.migrate import upgrade

        upgrade(settings)
    uvicorn.run(
        "parley.asgi:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
        server_header=False,
    )


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Run every reconciler once and exit.")] = False,
) -> None:
    """Run the background reconcilers (scaled mode; several workers may run at once)."""
    from parley.kit import reconcilers

    async def work(runtime: Runtime) -> None:
        if once:
            for name, counts in (await reconcilers.run_once(runtime)).items():
                typer.echo(f"{name}: {counts}")
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await reconcilers.run_forever(runtime, stop)

    _with_runtime(work)


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Argument(help="The business's name.")],
    owner_email: Annotated[str, typer.Option(help="Owner's email; an invitation link is printed if new.")],
) -> None:
    """Create an organisation with its owner."""
    from parley.tenancy import platform

    async def work(runtime: Runtime) -> None:
        async with unit_of_work(runtime.sessionmaker) as db:
            created = await platform.create_organization_with_owner(
                db, runtime, name=name, owner_email=owner_email, actor=CLI_ACTOR
            )
        typer.echo(f"created {created.organization.id} ({created.organization.slug})")
        if created.owner_invitation_url:
            typer.echo(f"the owner has no account yet; send them: {created.owner_invitation_url}")

    _with_runtime(work)


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option(help="Display name.")],
    password: Annotated[str | None, typer.Option(help="Omit to be prompted, or set PARLEY_NEW_PASSWORD.")] = None,
    superadmin: Annotated[bool, typer.Option(help="Platform super-admin (manages organisations).")] = False,
    org: Annotated[str | None, typer.Option(help="Add to this organisation id…")] = None,
    role: Annotated[str, typer.Option(help="…with this role (owner, admin, agent, viewer).")] = "agent",
) -> None:
    """Create a staff account."""
    from parley.auth import service
    from parley.auth.passwords import check_strength
    from parley.tenancy import platform
    from parley.tenancy.permissions import Role

    password = (
        password
        or os.environ.get("PARLEY_NEW_PASSWORD")
        or typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    )
    try:
        check_strength(password)
        member_role = Role(role)
    except ValueError as exc:
        raise _fail(str(exc)) from exc

    async def work(runtime: Runtime) -> None:
        async with unit_of_work(runtime.sessionmaker) as db:
            user = await service.create_user(
                db, runtime, email=email, name=name, password=password, actor=CLI_ACTOR, superadmin=superadmin
            )
            if org:
                from parley.models import Organization

                if await db.get(Organization, org) is None:
                    raise _fail(f"no organisation {org}")
                scope = await platform.system_scope(db, org, CLI_ACTOR)
                await platform.add_member(db, runtime, scope, user, member_role)
        typer.echo(f"created {user.id} <{user.email}>")

    _run_checked(work)


@token_app.command("create")
def token_create(
    org: Annotated[str, typer.Option(help="Organisation id.")],
    name: Annotated[str, typer.Option(help="What the token is for.")],
    role: Annotated[str, typer.Option(help="owner, admin, agent or viewer.")] = "viewer",
    expires_in_days: Annotated[int | None, typer.Option(help="Omit for no expiry.")] = None,
) -> None:
    """Create an API token and print its secret (shown once)."""
    from parley.models import Organization
    from parley.tenancy import platform
    from parley.tenancy.permissions import Role
    from parley.tokens import service

    async def work(runtime: Runtime) -> None:
        async with unit_of_work(runtime.sessionmaker) as db:
            if await db.get(Organization, org) is None:
                raise _fail(f"no organisation {org}")
            scope = await platform.system_scope(db, org, CLI_ACTOR)
            created = await service.do_create_token(
                db, runtime, scope, name=name, role=Role(role), expires_in_days=expires_in_days
            )
        typer.echo(f"{created.token.id}\n{created.secret}")

    _run_checked(work)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument()],
    org: Annotated[str, typer.Option(help="Organisation id.")],
) -> None:
    """Revoke an API token; the next request with it is refused."""
    from parley.tenancy import platform
    from parley.tokens import service

    async def work(runtime: Runtime) -> None:
        async with unit_of_work(runtime.sessionmaker) as db:
            scope = await platform.system_scope(db, org, CLI_ACTOR)
            await service.do_revoke_token(db, runtime, scope, token_id)
        typer.echo(f"revoked {token_id}")

    _run_checked(work)


@audit_app.command("verify")
def audit_verify(
    org: Annotated[str | None, typer.Option(help="Only this organisation's chain (default: every chain).")] = None,
) -> None:
    """Check the audit log's hash chains; exit status 1 if a link is broken."""
    from sqlalchemy import select

    from parley.models import Organization
    from parley.privacy import verify
    from parley.tenancy import platform

    async def work(runtime: Runtime) -> list[verify.Verification]:
        async with unit_of_work(runtime.sessionmaker, write=False) as db:
            if org and await db.get(Organization, org) is None:
                raise _fail(f"no organisation {org}")
            org_ids: list[str | None] = [org] if org else [None, *await db.scalars(select(Organization.id))]
        results = []
        for org_id in org_ids:
            async with unit_of_work(runtime.sessionmaker, write=False) as db:
                if org_id is None:
                    results.append(await verify.verify_platform(db))
                else:
                    scope = await platform.system_scope(db, org_id, CLI_ACTOR)
                    results.append(await verify.verify_organization(db, scope))
        return results

    results = _with_runtime(work)
    for result in results:
        if result.first_broken:
            broken = result.first_broken
            typer.secho(
                f"{result.chain_id}: BROKEN at seq {broken.seq} ({broken.id}): {broken.reason}", fg=typer.colors.RED
            )
        else:
            head = f", head {result.head_seq} {result.head_hash}" if result.head_hash else ""
            typer.echo(f"{result.chain_id}: ok, {result.checked} events{head}")
    if not all(result.ok for result in results):
        raise typer.Exit(code=1)


@audit_app.command("prune")
def audit_prune(
    older_than_days: Annotated[
        int | None, typer.Option(min=1, help="Remove rows older than this (default: PARLEY_AUDIT_RETENTION_DAYS).")
    ] = None,
) -> None:
    """Remove old audit rows as the schema owner (PARLEY_DATABASE_OWNER_URL); every chain stays verifiable."""
    from datetime import timedelta

    from parley.privacy.prune import anonymise_audit_ips, prune_audit
    from parley.privacy.retention import IP_KEPT

    async def work(runtime: Runtime) -> dict[str, int]:
        days = older_than_days or runtime.settings.audit_retention_days
        if not days:
            raise _fail("pass --older-than-days or set PARLEY_AUDIT_RETENTION_DAYS")
        before = runtime.clock.now() - timedelta(days=days)
        anonymised = await anonymise_audit_ips(runtime.settings, before=runtime.clock.now() - IP_KEPT)
        if anonymised:
            typer.echo(f"anonymised the IP address of {anonymised} audit rows older than {IP_KEPT.days} days")
        return await prune_audit(runtime.settings, runtime.clock, runtime.pseudonym_key, before=before)

    removed = _with_runtime(work)
    for chain_id, count in removed.items():
        typer.echo(f"{chain_id}: removed {count} rows")
    typer.echo(f"pruned {sum(removed.values())} audit rows")


@app.command()
def demo(
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="Start serving afterwards.")] = True,
) -> None:
    """Create the demo organisation and its owner (once), print the login, and serve."""
    from parley.demo import ensure_demo
    from parley.kit.migrate import upgrade

    settings = _settings()
    upgrade(settings)
    login = _with_runtime(ensure_demo)
    typer.secho(f"\n  Parley is starting at {settings.effective_public_url}", bold=True)
    typer.echo(f"  dashboard:  {settings.effective_public_url}/app")
    typer.echo(f"  demo login: {login.email} / {login.password}")
    typer.echo(f"  demo agent: {login.agent_id} (try POST /api/v1/orgs/{login.org_id}/agents/{login.agent_id}/test)")
    typer.echo(f"  API docs:   {settings.effective_public_url}/docs\n")
    if serve_after:
        uvicorn.run(
            "parley.asgi:app",
            host=settings.host,
            port=settings.port,
            log_config=None,
            proxy_headers=True,
            server_header=False,
        )


@privacy_app.command("datamap")
def privacy_datamap(
    output: Annotated[str, typer.Option("--format", help="yaml or json.")] = "yaml",
) -> None:
    """Print the data map: every column, what it holds, how long it is kept, how it is erased."""
    import json

    import yaml

    from parley.privacy.datamap import document

    if output not in ("yaml", "json"):
        raise _fail("--format is yaml or json")
    content = document()
    typer.echo(json.dumps(content, indent=2) if output == "json" else yaml.safe_dump(content, sort_keys=False))


@privacy_app.command("sweep")
def privacy_sweep(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would go; change nothing.")] = False,
) -> None:
    """Apply retention now: expired conversations, forgotten contacts, old IP addresses and usage rows."""
    from parley.privacy import retention

    async def work(runtime: Runtime) -> None:
        report = await retention.sweep(runtime, dry_run=dry_run)
        verb = "would remove" if dry_run else "removed"
        for org_id, counts in report.by_org.items():
            typer.echo(f"{org_id}: " + ", ".join(f"{k} {v}" for k, v in counts.as_dict().items() if v))
        totals = ", ".join(f"{k} {v}" for k, v in report.totals.as_dict().items())
        typer.echo(f"{verb}: {totals}")

    _with_runtime(work)


@keys_app.command("rotate-master")
def keys_rotate_master() -> None:
    """Re-wrap every organisation key under the current master key (PARLEY_MASTER_KEY), while serving.

    Set the new key as PARLEY_MASTER_KEY and the old one in PARLEY_PREVIOUS_MASTER_KEYS on every process, run
    this, then remove the old key. Embedded mode: generates a new key file and rotates to it in one step."""
    from parley.kit.clock import SystemClock
    from parley.kit.keys import KEY_FILE, MasterKeys, decode_key, generate_key
    from parley.privacy.keystore import Keystore

    settings = _settings()
    key_file = settings.data_dir / KEY_FILE
    embedded = not settings.master_key.get_secret_value() and key_file.exists()

    async def rotate(masters: MasterKeys) -> int:
        store = Keystore(settings.effective_keystore_owner_url, masters, SystemClock(), pool_size=1)
        try:
            return await store.rotate_master()
        finally:
            await store.close()

    if embedded:
        old = decode_key(key_file.read_text())
        new_encoded = generate_key()
        staged = key_file.with_name(KEY_FILE + ".new")
        staged.write_text(new_encoded + "\n")
        staged.chmod(0o600)
        count = asyncio.run(rotate(MasterKeys(current=decode_key(new_encoded), previous=(old,))))
        # Keep the old key beside the new one until the operator has checked the service; it unwraps nothing now.
        key_file.replace(key_file.with_name(KEY_FILE + ".previous"))
        staged.replace(key_file)
        typer.echo(f"re-wrapped {count} organisation keys; new master key in {key_file} (old one: {KEY_FILE}.previous)")
        return
    from parley.kit.keys import load_master_keys

    count = asyncio.run(rotate(load_master_keys(settings)))
    typer.echo(f"re-wrapped {count} organisation keys under the current master key; the previous keys can go")


def _run_checked(work: Callable[[Runtime], Awaitable[None]]) -> None:
    from parley.kit.errors import ParleyError

    try:
        _with_runtime(work)
    except ParleyError as exc:
        raise _fail(exc.detail) from exc
    except ValueError as exc:
        raise _fail(str(exc)) from exc


def main() -> None:
    app()
