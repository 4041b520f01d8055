"""Configuration, read from `PARLEY_*` environment variables and an optional `.env` file.

Embedded mode (the default) needs nothing: SQLite in the data directory and a master key generated there.
Scaled mode sets `PARLEY_DATABASE_URL=postgresql+asyncpg://…` and provides `PARLEY_MASTER_KEY`.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

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
    # Master keys being rotated out (comma-separated, same encoding): still able to unwrap, never used to wrap.
    # Rotation: set the new key as master_key and the old one here, run `parley keys rotate-master`, then drop it.
    previous_master_keys: SecretStr = SecretStr("")
    # The key store (organisation and person keys) lives in a database of its own, so that restoring a backup of
    # the main database never brings back a destroyed key. Empty: `<data_dir>/keys.db` with SQLite, or the
    # database `<name>_keys` on the same server with PostgreSQL (owner and app credentials as for the main one).
    keystore_url: str = ""
    keystore_owner_url: str = ""

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

    # ISO 3166 region whose national phone formats PII redaction recognises (international ones always are).
    phone_region: str = Field(default="", pattern=r"^([A-Z]{2})?$")
    # Outgoing email (the outbox reconciler delivers it). Without a host, emails wait in the outbox, never dropped.
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    # STARTTLS is required by default (credentials and mail never cross the network in clear); a local relay
    # without TLS needs PARLEY_SMTP_STARTTLS=false. PARLEY_SMTP_TLS=true is implicit TLS (port 465) instead.
    smtp_starttls: bool = True
    smtp_tls: bool = False
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    # The From address; empty means no-reply at the public URL's host.
    mail_from: str = ""
    # Delivered (and finally failed) outbox rows hold an address and a body: they are deleted after this.
    outbox_retention_days: int = Field(default=30, ge=1)
    # Temporary failures are retried with exponential backoff (base * 2^(attempt-1), capped) up to this many tries.
    outbox_max_attempts: int = Field(default=8, ge=1)
    outbox_backoff_base_seconds: float = Field(default=60.0, gt=0)
    outbox_backoff_max_seconds: float = Field(default=6 * 3600.0, gt=0)

    # Audit rows older than this are removed by `parley audit prune` (run as the schema owner, e.g. daily); the
    # chains stay verifiable. Empty: the audit log is kept until pruned with an explicit --older-than-days.
    audit_retention_days: int | None = Field(default=None, ge=1)
    # Web chat widget: the longest message a visitor may send, and token buckets per visitor and per IP address
    # (a burst of `*_burst` messages, refilled at `*_per_minute`).
    widget_max_message_chars: int = Field(default=2_000, ge=1)
    widget_visitor_per_minute: float = Field(default=12.0, gt=0)
    widget_visitor_burst: int = Field(default=6, ge=1)
    widget_ip_per_minute: float = Field(default=60.0, gt=0)
    widget_ip_burst: int = Field(default=30, ge=1)

    # Messaging channels (WhatsApp Cloud API, Twilio): messages of one sender arriving within this many seconds of
    # each other become one engine turn (one reply); sends are retried with backoff up to the attempts below.
    channel_burst_seconds: float = Field(default=2.0, ge=0)
    channel_max_attempts: int = Field(default=6, ge=1)
    channel_backoff_base_seconds: float = Field(default=5.0, gt=0)
    channel_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    # Process webhooks in this process right after accepting them (the reconcilers remain the safety net).
    channel_dispatch_inline: bool = True
    # Where the providers' APIs are (overridable for a proxy, a regional edge, or a local test server).
    whatsapp_graph_url: str = "https://graph.facebook.com"
    whatsapp_graph_version: str = "v21.0"
    twilio_api_base: str = ""  # empty: Twilio's own API (api.twilio.com)

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

    @cached_property
    def effective_keystore_url(self) -> str:
        return self.keystore_url or _keystore_beside(self.effective_database_url, self.data_dir)

    @cached_property
    def effective_keystore_owner_url(self) -> str:
        if self.keystore_owner_url:
            return self.keystore_owner_url
        if self.keystore_url:
            return self.keystore_url
        return _keystore_beside(self.effective_owner_url, self.data_dir)

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
    def effective_mail_from(self) -> str:
        host = urlsplit(self.effective_public_url).hostname or "localhost"
        return self.mail_from or f"no-reply@{host}"

    @property
    def secure_cookies(self) -> bool:
        """Cookies are Secure everywhere except plain-HTTP localhost, where browsers would drop them."""
        url = self.effective_public_url
        local = any(url.startswith(f"http://{h}") for h in ("localhost", "127.0.0.1", "[::1]"))
        return not local


def _keystore_beside(database_url: str, data_dir: Path) -> str:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite+aiosqlite:///{data_dir / 'keys.db'}"
    return url.set(database=f"{url.database}_keys").render_as_string(hide_password=False)
