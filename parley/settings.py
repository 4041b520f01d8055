"""Configuration, read from `PARLEY_*` environment variables and an optional `.env` file.

Embedded mode (the default) needs nothing: SQLite in the data directory and a master key generated there.
Scaled mode sets `PARLEY_DATABASE_URL=postgresql+asyncpg://…` and provides `PARLEY_MASTER_KEY`.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARLEY_", env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("data")
    # Empty means the SQLite file `<data_dir>/parley.db`.
    database_url: str = ""
    # Migrations run as the schema owner; the app itself should connect as a role without ownership so that
    # PostgreSQL row-level security applies to it. Empty means "same as database_url".
    database_owner_url: str = ""
    # On PostgreSQL: the role the app connects as; migrations grant it table privileges. Empty: no grants.
    database_app_role: str = ""
    database_pool_size: int = Field(default=10, ge=1)

    # Base64 (urlsafe) of 32 random bytes. Embedded mode generates one into the data directory if empty.
    master_key: SecretStr = SecretStr("")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # The address people reach Parley at; used in invitation links and to decide whether cookies are Secure.
    public_url: str = ""

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    session_ttl_hours: int = Field(default=24 * 14, ge=1)
    invitation_ttl_hours: int = Field(default=24 * 7, ge=1)

    # Login throttling: after `login_free_failures` failures for one email or one IP address, each further
    # failure doubles the wait, starting at `login_backoff_base_seconds`, capped at `login_backoff_max_seconds`.
    login_free_failures: int = Field(default=5, ge=1)
    login_backoff_base_seconds: float = Field(default=2.0, gt=0)
    login_backoff_max_seconds: float = Field(default=900.0, gt=0)
    login_failure_window_minutes: int = Field(default=60, ge=1)

    # Argon2id cost. The defaults follow RFC 9106's second recommended option; tests lower them.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65_536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    # How often the in-process scheduler (embedded mode) and `parley worker` run reconcilers.
    reconcile_interval_seconds: float = Field(default=60.0, gt=0)
    # Run the reconcilers inside `parley serve` (embedded mode). Scaled deployments run `parley worker`.
    embedded_worker: bool = True

    # Knowledge-base URLs may point at private or loopback addresses (intranets; tests). Off: no SSRF.
    knowledge_fetch_allow_private: bool = False
    # Uploads (knowledge documents) may exceed max_body_bytes up to this size.
    max_upload_bytes: int = Field(default=21 * 1024 * 1024, ge=1024)

    # Web chat widget: the longest message a visitor may send, and token buckets per visitor and per IP address
    # (a burst of `*_burst` messages, refilled at `*_per_minute`).
    widget_max_message_chars: int = Field(default=2_000, ge=1)
    widget_visitor_per_minute: float = Field(default=12.0, gt=0)
    widget_visitor_burst: int = Field(default=6, ge=1)
    widget_ip_per_minute: float = Field(default=60.0, gt=0)
    widget_ip_burst: int = Field(default=30, ge=1)

    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @cached_property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'parley.db'}"

    @cached_property
    def effective_owner_url(self) -> str:
        return self.database_owner_url or self.effective_database_url

    @property
    def is_sqlite(self) -> bool:
        return make_url(self.effective_database_url).get_backend_name() == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return make_url(self.effective_database_url).get_backend_name() == "postgresql"

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def secure_cookies(self) -> bool:
        """Cookies are Secure everywhere except plain-HTTP localhost, where browsers would drop them."""
        url = self.effective_public_url
        local = any(url.startswith(f"http://{h}") for h in ("localhost", "127.0.0.1", "[::1]"))
        return not local
