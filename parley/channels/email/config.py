"""What an email channel's settings must be, checked when staff create or change the connection (422 with the
field named), so that a typo shows up then rather than as a poll that never works."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from parley.kit.errors import InvalidField

SECURITY = ("ssl", "starttls", "none")
PROVIDERS = ("postmark", "sendgrid")
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
_ADDRESS = re.compile(r"^[^@\s<>]{1,64}@[a-z0-9.-]{1,253}\.[a-z]{2,63}$|^[^@\s<>]{1,64}@localhost$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _field(name: str) -> str:
    return f"body.config.{name}"


def check_config(config: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
    config = dict(config)
    address = str(config.get("address") or "").strip().lower()
    if not _ADDRESS.match(address):
        raise InvalidField(_field("address"), "the channel's email address, e.g. hello@bistro.example")
    config["address"] = address
    if domain := str(config.get("inbound_domain") or "").strip().lower():
        if not _DOMAIN.match(domain):
            raise InvalidField(_field("inbound_domain"), "a domain whose mail reaches this channel")
        config["inbound_domain"] = domain
    for prefix in ("imap", "smtp"):
        _check_server(config, secrets, prefix)
    provider = config.get("inbound_provider")
    if provider is not None and provider not in PROVIDERS:
        raise InvalidField(_field("inbound_provider"), f"one of {', '.join(PROVIDERS)} (or leave it out)")
    if provider == "postmark" and not secrets.get("postmark_password"):
        raise InvalidField("body.secrets.postmark_password", "Postmark's webhook needs a basic-auth password")
    if provider == "sendgrid" and not _ec_public_key(str(config.get("sendgrid_public_key") or "")):
        raise InvalidField(_field("sendgrid_public_key"), "the Parse security policy's public key (base64 DER)")
    _check_int(config, "max_attachments", 0, 100)
    _check_int(config, "max_attachment_bytes", 1, MAX_ATTACHMENT_BYTES)
    return config


def _check_server(config: dict[str, Any], secrets: dict[str, str], prefix: str) -> None:
    if not config.get(f"{prefix}_host"):
        return
    default = "ssl" if prefix == "imap" else "starttls"
    if str(config.get(f"{prefix}_security") or default) not in SECURITY:
        raise InvalidField(_field(f"{prefix}_security"), f"one of {', '.join(SECURITY)}")
    _check_int(config, f"{prefix}_port", 1, 65535)
    if prefix == "imap" and not secrets.get("imap_password"):
        raise InvalidField("body.secrets.imap_password", "polling a mailbox needs its password")


def _check_int(config: dict[str, Any], name: str, low: int, high: int) -> None:
    value = config.get(name)
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidField(_field(name), f"a whole number from {low} to {high}")


def _ec_public_key(encoded: str) -> bool:
    try:
        key = serialization.load_der_public_key(base64.b64decode(encoded, validate=True))
    except (ValueError, binascii.Error):
        return False
    return isinstance(key, ec.EllipticCurvePublicKey)
