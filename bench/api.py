"""API throughput benchmark: authenticated, tenant-scoped GETs against a trivial route of the same server.

Method
------
1. Seed a fresh database with the `parley` CLI commands (run in one interpreter, to pay the app's import time
   once): migrate, one organisation, a few members (`--members`, owner included) and a viewer API token.
   SQLite lives in a temporary data directory; `--database postgres` drops and recreates the database
   `parley_bench` (connecting as the postgres superuser, so row-level security is bypassed) and drops it at
   the end.
2. Start `parley serve` (one uvicorn process, log level WARNING so access logs do not dominate, no embedded
   worker) on 127.0.0.1, wait for `/healthz`, and check before any timing that both routes answer 200, that
   the members query returns every member, and that the members route refuses a request without the token.
3. From a second process on 127.0.0.1, drive each route in turn with a fixed number of keep-alive
   connections (`--connections`), each with one request in flight, for a warm-up (discarded) and then a
   fixed measurement window (`--duration`):
   - trivial:       GET /healthz (no authentication, no database);
   - authenticated: GET /api/v1/orgs/{org}/members with `Authorization: Bearer prl_…` (token lookup by its
     SHA-256 hash, then one tenant-scoped query).
   The load tool (`--tool`) is `wrk` when installed (C, one thread, headers given with `-H`, no Lua),
   otherwise a small asyncio HTTP/1.1 client in a child process. A Python client can be the bottleneck on a
   small machine, so in that case its own ceiling is measured first against a canned-response server and
   printed, and each route's rate is shown as a share of it.
4. Print requests/s, p50/p99 latency, request and error counts (the Python client counts every non-200 and
   every broken connection; wrk counts statuses >= 400 and socket errors, and the pre-check has already seen
   200s), and the ratio authenticated/trivial against the target (>= 0.5). More than 1% errors on either
   route fails the run (exit status 1).
5. Account for CPU over each measured window (Linux /proc): the server's CPU time (so µs of server CPU per
   request), the load generator's, and everybody else's. The server is one process with a GIL, so once it
   is saturated its req/s is about 1 / (CPU per request); the CPU-per-request ratio is printed too, since it
   is steadier than req/s when other processes compete for the CPUs (a warning is printed when they do).

PARLEY_* variables in the caller's environment pass through (e.g. PARLEY_DATABASE_POOL_SIZE), except those
the bench controls (data dir, address, database, keys, log level, worker). The server is always stopped and
the temporary directory (and the PostgreSQL database) removed, on errors too.

Run: `.venv/bin/python bench/api.py [--duration 5] [--connections 16] [--database sqlite|postgres]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, cast

HOST = "127.0.0.1"
TARGET_RATIO = 0.5
MAX_ERROR_SHARE = 0.01
PG_DATABASE = "parley_bench"
PASSWORD = "bench-password-1"
CLIENT_CEILING_SECONDS = 2.0
NOISY_OTHER_CPU = 0.25

Tool = Literal["wrk", "python"]


class BenchError(RuntimeError):
    """A setup or measurement step failed; the message says which."""


# --- options -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    duration: int
    warmup: int
    connections: int
    database: Literal["sqlite", "postgres"]
    port: int
    tool: Tool
    members: int
    postgres_admin_url: str


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=5, help="measured seconds per route (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="discarded warm-up seconds per route (default 1)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections (default 16)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument(
        "--tool", choices=["auto", "wrk", "python"], default="auto", help="load generator (default: wrk if installed)"
    )
    parser.add_argument("--members", type=int, default=5, help="members of the org, owner included (default 5)")
    parser.add_argument(
        "--postgres-admin-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="superuser connection used to (re)create the bench database and by the server",
    )
    args = parser.parse_args(argv)
    if args.duration < 1 or args.warmup < 0 or args.connections < 1 or args.members < 1:
        parser.error("--duration, --connections and --members must be >= 1, --warmup >= 0")
    tool: Tool = ("wrk" if shutil.which("wrk") else "python") if args.tool == "auto" else args.tool
    if tool == "wrk" and not shutil.which("wrk"):
        parser.error("--tool wrk: wrk is not installed")
    return Options(
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        database=args.database,
        port=args.port or free_port(),
        tool=tool,
        members=args.members,
        postgres_admin_url=args.postgres_admin_url,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


# --- database and seed data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    org_id: str
    secret: str
    members: int


def passed_through() -> dict[str, str]:
    """PARLEY_* variables from the caller's environment that the bench keeps (tuning knobs, e.g. the pool size)."""
    return {k: v for k, v in os.environ.items() if k.startswith("PARLEY_") and k not in CONTROLLED}


CONTROLLED = frozenset(
    {
        "PARLEY_DATA_DIR",
        "PARLEY_HOST",
        "PARLEY_PORT",
        "PARLEY_LOG_LEVEL",
        "PARLEY_EMBEDDED_WORKER",
        "PARLEY_ENVIRONMENT",
        "PARLEY_DATABASE_URL",
        "PARLEY_DATABASE_OWNER_URL",
        "PARLEY_DATABASE_APP_ROLE",
        "PARLEY_MASTER_KEY",
        "PARLEY_PUBLIC_URL",
    }
)


def base_env(data_dir: Path, port: int, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    env.update(
        PARLEY_DATA_DIR=str(data_dir),
        PARLEY_HOST=HOST,
        PARLEY_PORT=str(port),
        PARLEY_LOG_LEVEL="WARNING",
        PARLEY_EMBEDDED_WORKER="false",
        PARLEY_ENVIRONMENT="development",
        # Only password hashing (seeding) uses these; the measured routes never hash a password.
        PARLEY_ARGON2_TIME_COST="1",
        PARLEY_ARGON2_MEMORY_KIB="1024",
        PARLEY_ARGON2_PARALLELISM="1",
    )
    if database_url:
        env["PARLEY_DATABASE_URL"] = database_url
        env["PARLEY_MASTER_KEY"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    return env


def parley_command() -> list[str]:
    script = Path(sys.executable).with_name("parley")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from parley.cli import main; main()"]


# Runs several `parley` CLI commands in one interpreter (the same Typer app, without paying its start-up for each),
# printing a marker line before each command's output and stopping at the first that fails.
_CLI_BATCH = """
import json, sys
from parley.cli import app
for argv in json.loads(sys.argv[1]):
    print(sys.argv[2], flush=True)
    code = app(argv, prog_name="parley", standalone_mode=False)
    if code:
        sys.exit(code)
"""
_MARKER = "--- parley-bench: next command ---"


def run_cli(commands: list[list[str]], env: dict[str, str], cwd: Path) -> list[list[str]]:
    """Each command's stdout lines, for `parley <command>` run in order."""
    argv = [sys.executable, "-c", _CLI_BATCH, json.dumps(commands), _MARKER]
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    outputs = [chunk.strip().splitlines() for chunk in done.stdout.split(_MARKER + "\n")[1:]]
    if done.returncode != 0:
        failed = " ".join(commands[max(len(outputs), 1) - 1])
        tail = "\n".join(done.stderr.strip().splitlines()[-12:])
        raise BenchError(f"`parley {failed}` failed ({done.returncode}); its last lines:\n{tail}")
    return outputs


def seed(env: dict[str, str], cwd: Path, members: int) -> Fixture:
    _, created = run_cli([["migrate"], ["org", "create", "Bench Org", "--owner-email", "owner@example.com"]], env, cwd)
    match = re.match(r"created (\S+) ", created[0] if created else "")
    if not match:
        raise BenchError(f"unexpected `parley org create` output: {created}")
    org_id = match.group(1)
    users = [("owner@example.com", "owner")] + [(f"agent{i}@example.com", "agent") for i in range(1, members)]
    commands = [_user_command(email, role, org_id) for email, role in users]
    commands.append(["token", "create", "--org", org_id, "--name", "bench", "--role", "viewer"])
    token = run_cli(commands, env, cwd)[-1]
    if len(token) < 2 or not token[1].startswith("prl_"):
        raise BenchError("unexpected `parley token create` output (expected the token id, then its secret)")
    return Fixture(org_id=org_id, secret=token[1].strip(), members=members)


def _user_command(email: str, role: str, org_id: str) -> list[str]:
    name = email.split("@")[0].title()
    return ["user", "create", email, "--name", name, "--password", PASSWORD, "--org", org_id, "--role", role]


async def _recreate_pg_database(admin_url: str, drop_only: bool) -> None:
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        await connection.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE}_keys WITH (FORCE)")  # its key store
        if not drop_only:
            await connection.execute(f"CREATE DATABASE {PG_DATABASE}")
    finally:
        await connection.close()


@contextlib.contextmanager
def database(options: Options) -> Iterator[str]:
    """Yields PARLEY_DATABASE_URL: empty for SQLite (a file in the data directory), a fresh PG database else."""
    if options.database == "sqlite":
        yield ""
        return
    try:
        asyncio.run(_recreate_pg_database(options.postgres_admin_url, drop_only=False))
    except Exception as exc:
        raise BenchError(f"cannot create the PostgreSQL database {PG_DATABASE}: {exc!r}") from exc
    try:
        base, _, _ = options.postgres_admin_url.rpartition("/")
        yield f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{PG_DATABASE}"
    finally:
        asyncio.run(_recreate_pg_database(options.postgres_admin_url, drop_only=True))


# --- server --------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def server(env: dict[str, str], cwd: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    log_path = cwd / "server.log"
    with log_path.open("wb") as log:
        command = [*parley_command(), "serve", "--no-migrate", "--host", HOST, "--port", str(port)]
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(process, port, log_path)
            yield process
        finally:
            stop(process)


def wait_ready(process: subprocess.Popen[bytes], port: int, log_path: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"the server exited ({process.returncode}):\n{log_tail(log_path)}")
        with contextlib.suppress(OSError):
            if http_get(port, "/healthz", {})[0] == 200:
                return
        time.sleep(0.1)
    raise BenchError(f"the server did not answer /healthz within {timeout:.0f}s:\n{log_tail(log_path)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def log_tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no server log)"


def http_get(port: int, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://{HOST}:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, from /proc (None where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- routes --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    label: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def shown(self) -> str:
        return "GET " + re.sub(r"/orgs/[^/]+", "/orgs/{org}", self.path)


def routes(fixture: Fixture) -> list[Route]:
    return [
        Route("trivial", "/healthz"),
        Route(
            "authenticated",
            f"/api/v1/orgs/{fixture.org_id}/members",
            {"Authorization": f"Bearer {fixture.secret}"},
        ),
    ]


def check_routes(port: int, checked: list[Route], members: int) -> None:
    """Both routes answer 200, the members query returns every member, and the token is what lets us in."""
    for route in checked:
        status, body = http_get(port, route.path, route.headers)
        if status != 200:
            raise BenchError(f"GET {route.path} answered {status} before the run: {body[:300]!r}")
    listed = json.loads(http_get(port, checked[1].path, checked[1].headers)[1])
    if not isinstance(listed, list) or len(listed) != members:
        raise BenchError(f"expected {members} members from GET {checked[1].path}, got {listed!r:.300}")
    status, _ = http_get(port, checked[1].path, {})
    if status != 401:
        raise BenchError(f"GET {checked[1].path} without a token answered {status}, expected 401")


# --- load: results -------------------------------------------------------------------------------------------


@dataclass
class Result:
    requests: int
    seconds: float
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    # Requests the server answered while the CPU samples ran (wrk: its count, which leaves out the few requests
    # in flight when it stops, so µs/request is overstated by at most connections/requests).
    served: int | None = None
    client_cpu: float | None = None
    server_cpu: float | None = None
    other_cpu: float | None = None
    cpu_window: float | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_share(self) -> float:
        total = self.requests + self.errors
        return self.errors / total if total else 1.0


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- load: wrk -----------------------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def run_wrk(port: int, route: Route, seconds: int, connections: int) -> Result:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for name, value in route.headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(f"http://{HOST}:{port}{route.path}")
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=seconds + 30)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return parse_wrk(done.stdout)


def parse_wrk(output: str) -> Result:
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    if not total:
        raise BenchError(f"cannot read wrk's output:\n{output}")
    bad_status = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(bad_status.group(1)) if bad_status else 0
    errors += sum(int(n) for n in sockets.groups()) if sockets else 0
    requests = int(total.group(1)) - (int(bad_status.group(1)) if bad_status else 0)
    return Result(
        requests=requests,
        seconds=float(total.group(2)) * _UNITS_MS[total.group(3)] / 1000,
        errors=errors,
        p50_ms=_wrk_percentile(output, "50"),
        p99_ms=_wrk_percentile(output, "99"),
    )


def _wrk_percentile(output: str, percent: str) -> float | None:
    found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    return float(found.group(1)) * _UNITS_MS[found.group(2)] if found else None


# --- load: Python client (runs in a child process) ------------------------------------------------------------


@dataclass
class _Window:
    start: float
    end: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    client_cpu: float | None = None
    # Answers from the window's start on, including those in flight when it closed: the CPU samples cover them.
    served: int = 0

    def record(self, started: float, finished: float, ok: bool) -> None:
        if finished >= self.start:
            self.served += 1
        if not self.start <= finished < self.end:
            return
        if ok:
            self.latencies.append(finished - started)
        else:
            self.errors += 1


def _request_bytes(port: int, route: Route) -> bytes:
    lines = [f"GET {route.path} HTTP/1.1", f"Host: {HOST}:{port}", "Accept: */*"]
    lines += [f"{name}: {value}" for name, value in route.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _parse_head(head: bytes) -> tuple[int, int]:
    """Status and Content-Length of a response head (keep-alive responses always carry a length here)."""
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    for line in header_lines:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return status, int(value)
    raise ValueError("response without Content-Length")


async def _connection(port: int, request: bytes, window: _Window) -> None:
    """One keep-alive connection, one request in flight, until the window closes; reconnects after errors."""
    while time.perf_counter() < window.end:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            window.record(time.perf_counter(), time.perf_counter(), ok=False)
            await asyncio.sleep(0.01)
            continue
        try:
            while (started := time.perf_counter()) < window.end:
                writer.write(request)
                status, length = _parse_head(await reader.readuntil(b"\r\n\r\n"))
                await reader.readexactly(length)
                window.record(started, time.perf_counter(), ok=status == 200)
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            window.record(time.perf_counter(), time.perf_counter(), ok=False)
        finally:
            writer.close()


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _drive(port: int, route: Route, warmup: float, seconds: float, connections: int, out: Connection) -> _Window:
    """Runs the connections; tells the parent when the measured window opens, so it can sample CPU times."""
    now = time.perf_counter()
    window = _Window(start=now + warmup, end=now + warmup + seconds)
    request = _request_bytes(port, route)
    started_cpu: list[float] = []

    def window_opens() -> None:
        started_cpu.append(_own_cpu())
        out.send("window")

    asyncio.get_running_loop().call_later(warmup, window_opens)
    await asyncio.gather(*(_connection(port, request, window) for _ in range(connections)))
    window.client_cpu = _own_cpu() - started_cpu[0] if started_cpu else None
    return window


def _client_process(port: int, route: Route, warmup: float, seconds: float, connections: int, out: Connection) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    window = asyncio.run(_drive(port, route, warmup, seconds, connections, out))
    latencies = sorted(window.latencies)
    out.send(
        {
            "requests": len(latencies),
            "seconds": seconds,
            "errors": window.errors,
            "p50_ms": _percentile(latencies, 0.50),
            "p99_ms": _percentile(latencies, 0.99),
            "client_cpu": window.client_cpu,
            "served": window.served,
        }
    )
    out.close()


def _percentile(ordered: list[float], share: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def run_python_client(
    port: int, route: Route, warmup: float, seconds: float, connections: int, on_window: Callable[[], None]
) -> Result:
    """Runs the client in a child process; `on_window` is called when its measured window opens."""
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=_client_process, args=(port, route, warmup, seconds, connections, sending))
    process.start()
    sending.close()
    try:
        data: dict[str, Any] | None = None
        while data is None:
            if not receiving.poll(warmup + seconds + 30):
                raise BenchError("the Python load client did not report in time")
            message = receiving.recv()
            if message == "window":
                on_window()
            else:
                data = message
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()
    return Result(**data)


# --- load: the Python client's own ceiling ----------------------------------------------------------------------

_CANNED = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n" + b'{"status":"ok"}'


class _CannedProtocol(asyncio.Protocol):
    """Answers every request head with the same 200 (no parsing beyond counting request ends)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        self.pending += data
        count = self.pending.count(b"\r\n\r\n")
        if count:
            self.pending = self.pending.rpartition(b"\r\n\r\n")[2]
            self.transport.write(_CANNED * count)


async def _serve_canned(port: int, lifetime: float) -> None:
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(_CannedProtocol, HOST, port)
    async with listener:
        await asyncio.sleep(lifetime)


def _canned_process(port: int, lifetime: float) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(_serve_canned(port, lifetime))


def python_client_ceiling(connections: int) -> float:
    """Requests/s the Python client reaches against a server that costs next to nothing."""
    port = free_port()
    context = multiprocessing.get_context("spawn")
    canned = context.Process(target=_canned_process, args=(port, CLIENT_CEILING_SECONDS + 30))
    canned.start()
    try:
        _wait_listening(port)
        result = run_python_client(port, Route("canned", "/"), 0.5, CLIENT_CEILING_SECONDS, connections, _nothing)
    finally:
        canned.kill()
        canned.join()
    if result.errors or not result.requests:
        raise BenchError(
            f"measuring the Python client's ceiling failed: {result.requests} answers, {result.errors} errors"
        )
    return result.rate


def _nothing() -> None:
    return None


def _wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.05)
    raise BenchError("the canned-response server did not start")


# --- measurement ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds used so far by the server, by finished child processes, and by the whole machine."""

    server: float | None
    children: float
    machine: float | None
    wall: float

    @classmethod
    def take(cls, server_pid: int) -> CpuSample:
        return cls(
            server=cpu_seconds(server_pid),
            children=children_cpu(),
            machine=machine_busy_seconds(),
            wall=time.monotonic(),
        )


def machine_busy_seconds() -> float | None:
    """Non-idle CPU time of all CPUs together, from /proc/stat (None where there is none)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def measure(options: Options, server_pid: int, route: Route) -> Result:
    """Warm up (discarded), then measure one route, noting the CPU time each party used during the window."""
    samples: list[CpuSample] = []
    if options.tool == "wrk":
        if options.warmup:
            run_wrk(options.port, route, options.warmup, options.connections)
        samples.append(CpuSample.take(server_pid))
        result = run_wrk(options.port, route, options.duration, options.connections)
    else:

        def window_opens() -> None:
            samples.append(CpuSample.take(server_pid))

        result = run_python_client(
            options.port, route, options.warmup, options.duration, options.connections, window_opens
        )
    after = CpuSample.take(server_pid)
    if samples:
        attribute_cpu(result, samples[0], after, client_is_child=options.tool == "wrk")
    return result


def attribute_cpu(result: Result, before: CpuSample, after: CpuSample, *, client_is_child: bool) -> None:
    result.cpu_window = after.wall - before.wall
    if result.served is None:
        result.served = result.requests + result.errors
    if client_is_child:
        result.client_cpu = after.children - before.children
    if before.server is not None and after.server is not None:
        result.server_cpu = after.server - before.server
    if before.machine is not None and after.machine is not None and result.server_cpu is not None:
        result.other_cpu = max(0.0, after.machine - before.machine - result.server_cpu - (result.client_cpu or 0.0))


# --- report --------------------------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def _share(seconds: float | None, window: float | None) -> str:
    return f"{seconds / window:.0%}" if seconds is not None and window else "-"


def server_cpu_per_request(result: Result) -> float | None:
    if result.server_cpu is None or not result.served:
        return None
    return result.server_cpu / result.served


def _per_request(result: Result) -> str:
    per_request = server_cpu_per_request(result)
    return f"{per_request * 1e6:.0f}" if per_request is not None else "-"


def tool_description(options: Options) -> str:
    if options.tool == "wrk":
        version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.split("[")[0]
        return f"{version.strip() or 'wrk'} (1 thread, -H header, no Lua), separate process"
    return "Python asyncio HTTP/1.1 client (uvloop if available), separate process"


def print_header(options: Options, fixture: Fixture) -> None:
    database_note = "SQLite file in a temp dir" if options.database == "sqlite" else f"PostgreSQL {PG_DATABASE}"
    print("Parley API benchmark")
    print(f"  server      parley serve, 1 uvicorn process, {HOST}:{options.port}, log level WARNING, {database_note}")
    print(f"  load        {tool_description(options)}")
    print(
        f"  settings    {options.connections} keep-alive connection{'s' if options.connections != 1 else ''}, "
        "1 request in flight each; "
        f"{options.warmup} s warm-up + {options.duration} s measured per route; {os.cpu_count()} CPUs"
    )
    print(f"  auth route  viewer API token; the org has {fixture.members} members")
    extra = " ".join(f"{k}={v}" for k, v in sorted(passed_through().items()))
    if extra:
        print(f"  env         {extra}")
    if options.database == "postgres":
        print("  note        the server connects as the postgres superuser, which bypasses row-level security")
    print()


def print_results(measured: list[tuple[Route, Result]]) -> None:
    print(
        f"{'route':<14} {'request':<34} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'requests':>8} {'errors':>6} "
        f"{'server CPU':>10} {'µs CPU/req':>10} {'client CPU':>10} {'other CPU':>9}"
    )
    for route, result in measured:
        print(
            f"{route.label:<14} {route.shown:<34} {result.rate:>7.0f} {_ms(result.p50_ms):>7} {_ms(result.p99_ms):>7} "
            f"{result.requests:>8} {result.errors:>6} {_share(result.server_cpu, result.cpu_window):>10} "
            f"{_per_request(result):>10} {_share(result.client_cpu, result.cpu_window):>10} "
            f"{_share(result.other_cpu, result.cpu_window):>9}"
        )
    print("(CPU columns: share of one CPU during the measured window; 'other' is every other process on the machine)")
    busy = [r for _, r in measured if r.other_cpu and r.cpu_window and r.other_cpu / r.cpu_window > NOISY_OTHER_CPU]
    if busy:
        print(
            f"WARNING: other processes used more than {NOISY_OTHER_CPU:.0%} of a CPU during the run; the req/s "
            "figures (and the ratio) are disturbed; µs CPU/req is the steadier comparison"
        )
    print()


def print_ceiling(ceiling: float, measured: list[tuple[Route, Result]]) -> None:
    shares = ", ".join(f"{route.label} {result.rate / ceiling:.0%}" for route, result in measured)
    print(
        f"note: Python client ceiling {ceiling:.0f} req/s against a canned-response server on this machine "
        f"(route rates as a share of it: {shares}). A route close to the ceiling is client-bound: its figure is "
        "a lower bound, and the ratio then overstates the authenticated route; prefer wrk."
    )
    print()


def verdict(measured: list[tuple[Route, Result]]) -> int:
    """Prints the ratio against the target; 1 (failure) when a route had too many errors to be trusted."""
    (_, trivial), (_, authenticated) = measured
    failed = [(route, result) for route, result in measured if result.error_share > MAX_ERROR_SHARE]
    ratio = authenticated.rate / trivial.rate if trivial.rate else 0.0
    outcome = "INVALID (errors)" if failed else "PASS" if ratio >= TARGET_RATIO else "BELOW TARGET"
    print(
        f"ratio authenticated/trivial = {authenticated.rate:.0f} / {trivial.rate:.0f} = {ratio:.2f} "
        f"(target >= {TARGET_RATIO}): {outcome}"
    )
    per_trivial, per_authenticated = server_cpu_per_request(trivial), server_cpu_per_request(authenticated)
    if per_trivial and per_authenticated:
        print(
            f"server CPU per request: trivial {per_trivial * 1e6:.0f} µs, authenticated {per_authenticated * 1e6:.0f} "
            f"µs; CPU-based ratio {per_trivial / per_authenticated:.2f} (what req/s would show on a saturated server)"
        )
    for route, result in failed:
        print(
            f"FAILED: the {route.label} route had {result.errors} errors ({result.error_share:.1%} > "
            f"{MAX_ERROR_SHARE:.0%}); the figures are not valid",
            file=sys.stderr,
        )
    return 1 if failed else 0


# --- main ----------------------------------------------------------------------------------------------------


def run(options: Options) -> int:
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="parley-bench-")))
        database_url = stack.enter_context(database(options))
        env = base_env(workdir / "data", options.port, database_url)
        fixture = seed(env, workdir, options.members)
        process = stack.enter_context(server(env, workdir, options.port))
        checked = routes(fixture)
        check_routes(options.port, checked, fixture.members)
        print_header(options, fixture)
        ceiling = python_client_ceiling(options.connections) if options.tool == "python" else None
        measured = [(route, measure(options, process.pid, route)) for route in checked]
        if process.poll() is not None:
            raise BenchError(f"the server died during the run:\n{log_tail(workdir / 'server.log')}")
        print_results(measured)
        if ceiling is not None:
            print_ceiling(ceiling, measured)
    return verdict(measured)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    # SIGTERM and SIGINT (even when started with SIGINT ignored, as in background jobs) unwind through the
    # clean-up: the server is stopped, the temporary directory and the PostgreSQL database removed.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        return run(options)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench interrupted; the server was stopped and its data removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
