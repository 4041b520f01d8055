"""Real `parley serve` processes (uvicorn, the app configured from the environment as in production), sharing
one database and one live broker: what a scaled deployment runs behind its load balancer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from parley.settings import Settings
from tests.channels.widget.support import free_port


def server_env(settings: Settings, data_dir: Path, **live: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(
        {
            "PARLEY_ENVIRONMENT": "test",
            "PARLEY_DATA_DIR": str(data_dir),
            "PARLEY_DATABASE_URL": settings.effective_database_url,
            "PARLEY_DATABASE_OWNER_URL": settings.effective_owner_url,
            "PARLEY_DATABASE_APP_ROLE": settings.database_app_role,
            "PARLEY_MASTER_KEY": settings.master_key.get_secret_value(),
            "PARLEY_EMBEDDED_WORKER": "false",
            "PARLEY_LOG_JSON": "false",
            "PARLEY_LOG_LEVEL": "WARNING",
            "PARLEY_DATABASE_POOL_SIZE": "5",
        }
    )
    env.update({f"PARLEY_{k.upper()}": v for k, v in live.items()})
    return env


class ServerProcess:
    def __init__(self, env: dict[str, str]) -> None:
        sock = free_port()  # a free port, released for uvicorn to bind
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "parley", "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
        )

    def wait_ready(self, timeout: float = 90.0) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"parley serve exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as response:
                    import json

                    body: dict[str, str] = json.loads(response.read())
                    return body
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("parley serve did not become ready")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
