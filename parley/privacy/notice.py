"""What the organisation tells people, generated from what is configured: sub-processors, the privacy notice and
the record of processing activities (GDPR Art. 30).

Nothing here is written by hand per organisation: the categories of personal data come from the data map, the
retention periods from the organisation's settings, the recipients from the providers its agents are configured
with. Change a setting and the notice changes with it.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.consent.purposes import PURPOSES
from parley.kit.db import Base
from parley.models import Agent, ChannelConnection, Organization, ProviderCredential
from parley.privacy.datamap import INFO_KEY, Declaration
from parley.privacy.retention import IP_KEPT, USAGE_KEPT
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope

# Known providers: who they are, where they process, on what basis data goes there.
_KNOWN_HOSTS: dict[str, tuple[str, str, str]] = {
    "api.openai.com": ("OpenAI, L.L.C.", "United States", "EU-US Data Privacy Framework; standard contractual clauses"),
    "api.anthropic.com": ("Anthropic, PBC", "United States", "standard contractual clauses"),
    "api.mistral.ai": ("Mistral AI", "European Union", "none needed (EU)"),
    "api.groq.com": ("Groq, Inc.", "United States", "standard contractual clauses"),
    "openrouter.ai": ("OpenRouter, Inc.", "United States", "standard contractual clauses"),
    "api.together.xyz": ("Together AI", "United States", "standard contractual clauses"),
}
_DEFAULT_HOSTS = {"openai": "api.openai.com", "anthropic": "api.anthropic.com"}
_LOCAL_HOSTS = ("localhost", "127.", "10.", "192.168.", "[::1]")


@dataclass(frozen=True)
class SubProcessor:
    name: str
    purpose: str
    location: str
    transfer_mechanism: str
    used_by_agents: tuple[str, ...] = ()


async def subprocessors(db: AsyncSession, scope: OrgScope, runtime: Runtime) -> list[SubProcessor]:
    """The providers personal data can reach, from the credentials the organisation's agents actually use."""
    rows = await db.execute(
        select(Agent.name, ProviderCredential.provider, ProviderCredential.base_url)
        .join(ProviderCredential, ProviderCredential.id == Agent.credential_id)
        .where(Agent.org_id == scope.org_id, Agent.provider != "offline")
        .order_by(Agent.name)
    )
    by_host: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    for agent_name, provider, base_url in rows:
        host = urlsplit(base_url).hostname if base_url else _DEFAULT_HOSTS.get(provider, provider)
        host = host or provider
        by_host.setdefault(host, []).append(agent_name)
        kinds[host] = provider
    found = []
    for host, agents in sorted(by_host.items()):
        name, location, mechanism = _KNOWN_HOSTS.get(host, (host, _location_of(host), _mechanism_of(host)))
        found.append(
            SubProcessor(
                name=name,
                purpose=f"generating the assistant's replies ({kinds[host]}-compatible language model)",
                location=location,
                transfer_mechanism=mechanism,
                used_by_agents=tuple(agents),
            )
        )
    return found + await _channel_subprocessors(db, scope) + _platform_subprocessors(runtime)


# Messaging providers by channel kind: every message of the channel passes through them.
_META = ("Meta Platforms Ireland Ltd (WhatsApp Business)", "European Union and United States",
         "EU-US Data Privacy Framework; standard contractual clauses")  # fmt: skip
_TWILIO = ("Twilio Inc.", "United States", "EU-US Data Privacy Framework; binding corporate rules")
_CHANNEL_PROVIDERS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "whatsapp": (_META,),
    "twilio_whatsapp": (_TWILIO, _META),
    "twilio_sms": (_TWILIO,),
}


async def _channel_subprocessors(db: AsyncSession, scope: OrgScope) -> list[SubProcessor]:
    """The messaging providers of the organisation's enabled channel connections (WhatsApp, Twilio, mail servers)."""
    rows = await db.execute(
        select(ChannelConnection.kind, ChannelConnection.config, Agent.name)
        .join(Agent, Agent.id == ChannelConnection.agent_id)
        .where(ChannelConnection.org_id == scope.org_id, ChannelConnection.enabled.is_(True))
        .order_by(Agent.name)
    )
    by_name: dict[tuple[str, str, str, str], list[str]] = {}
    for kind, config, agent_name in rows:
        providers = list(_CHANNEL_PROVIDERS.get(kind, ()))
        purpose = f"carrying messages to and from customers ({kind.replace('_', ' ')})"
        if kind == "email":
            purpose = "receiving and sending e-mail with customers"
            hosts = {str((config or {}).get(k) or "") for k in ("imap_host", "smtp_host")} - {""}
            providers += [
                (h, _location_of(h), _mechanism_of(h)) for h in sorted(hosts) if not h.startswith(_LOCAL_HOSTS)
            ]
        for name, location, mechanism in providers:
            agents = by_name.setdefault((name, purpose, location, mechanism), [])
            if agent_name not in agents:
                agents.append(agent_name)
    return [
        SubProcessor(name=n, purpose=p, location=loc, transfer_mechanism=m, used_by_agents=tuple(agents))
        for (n, p, loc, m), agents in sorted(by_name.items())
    ]


def _platform_subprocessors(runtime: Runtime) -> list[SubProcessor]:
    """What the installation itself is configured with: its hosting provider and its outgoing mail relay."""
    settings = runtime.settings
    found = []
    if settings.hosting_provider:
        found.append(
            SubProcessor(
                name=settings.hosting_provider,
                purpose="hosting the platform: servers, storage and backups (all data, encrypted at rest)",
                location=settings.hosting_location or "as agreed with the provider",
                transfer_mechanism=settings.hosting_transfer_mechanism or _mechanism_of(settings.hosting_provider),
            )
        )
    if settings.smtp_host and not settings.smtp_host.startswith(_LOCAL_HOSTS):
        found.append(
            SubProcessor(
                name=settings.smtp_host,
                purpose="delivering e-mails (staff notices; replies and messages by e-mail)",
                location=_location_of(settings.smtp_host),
                transfer_mechanism=_mechanism_of(settings.smtp_host),
            )
        )
    return found


def _location_of(host: str) -> str:
    return "the organisation's own infrastructure" if host.startswith(_LOCAL_HOSTS) else "as agreed with the provider"


def _mechanism_of(host: str) -> str:
    return "no transfer" if host.startswith(_LOCAL_HOSTS) else "as agreed with the provider (to be documented)"


def personal_categories() -> list[dict[str, Any]]:
    """Every category of personal data the schema can hold, with where and how long (from the data map)."""
    seen: dict[str, dict[str, Any]] = {}
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            entry = column.info.get(INFO_KEY)
            if isinstance(entry, Declaration) and entry.is_personal:
                item = seen.setdefault(entry.category, {"category": entry.category, "retention": set(), "where": set()})
                item["retention"].add(entry.retention)
                item["where"].add(str(table.name))
    return [
        {"category": c, "retention": sorted(v["retention"]), "where": sorted(v["where"])}
        for c, v in sorted(seen.items())
    ]


async def notice_content(db: AsyncSession, runtime: Runtime, scope: OrgScope) -> dict[str, Any]:
    org = await db.get(Organization, scope.org_id)
    assert org is not None
    processors = await subprocessors(db, scope, runtime)
    return {
        "controller": org.name,
        "purposes": [
            {"purpose": "answering people's questions and requests through the assistant", "basis": "Art. 6(1)(b)/(f)"},
            {"purpose": "staff follow-up of conversations", "basis": "Art. 6(1)(b)/(f)"},
            {"purpose": "security and audit of staff access", "basis": "Art. 6(1)(c)/(f)"},
            # consent branch: what people may be asked to agree to, each only with their consent
            *({"purpose": f"{p.title}: {p.description}", "basis": p.lawful_basis} for p in PURPOSES.values()),
        ],
        "categories": personal_categories(),
        "retention": {
            "conversations": f"{org.conversation_retention_days} days after the last message",
            "ip_addresses": f"{IP_KEPT.days} days, then truncated",
            "usage_statistics": f"{USAGE_KEPT.days} days, without personal data",
            # consent branch
            "consent_records": "while you are a contact; after erasure kept without your identity, as proof of "
            "what you agreed to or withdrew",
            "chat_statistics": "daily totals without identifiers, counted only with your consent",
        },
        "subprocessors": [asdict(p) for p in processors],
        "rights": [
            "access and a copy (portability)",
            "rectification",
            "erasure",
            "restriction",
            "objection",
            "withdrawal of consent",
            "complaint to a supervisory authority",
        ],
        "automated_decision_making": "none with legal or similarly significant effects",
        "redaction": "personal values are replaced by placeholders before text reaches an outside language model, "
        "where the agent has redaction on (the default)",
    }


def notice_html(content: dict[str, Any]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Privacy notice — {e(content['controller'])}</title>",
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3rem .5rem;text-align:left}</style>",
        f"<h1>Privacy notice — {e(content['controller'])}</h1>",
        "<h2>Why we process your data</h2><ul>",
        *(f"<li>{e(p['purpose'])} ({e(p['basis'])})</li>" for p in content["purposes"]),
        "</ul><h2>What we keep, and for how long</h2><ul>",
        *(f"<li>{e(k.replace('_', ' '))}: {e(v)}</li>" for k, v in content["retention"].items()),
        "</ul><h2>Who else processes it</h2>",
    ]
    if content["subprocessors"]:
        parts.append("<table><tr><th>sub-processor</th><th>purpose</th><th>location</th><th>transfer</th></tr>")
        for p in content["subprocessors"]:
            parts.append(
                f"<tr><td>{e(p['name'])}</td><td>{e(p['purpose'])}</td><td>{e(p['location'])}</td>"
                f"<td>{e(p['transfer_mechanism'])}</td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append("<p>No outside provider: the assistant runs entirely on our own installation.</p>")
    parts += [
        f"<p>{e(content['redaction'])}.</p>",
        "<h2>Your rights</h2><ul>",
        *(f"<li>{e(r)}</li>" for r in content["rights"]),
        "</ul>",
        f"<p>Automated decisions: {e(content['automated_decision_making'])}.</p>",
        "<h2>Categories of personal data</h2><ul>",
        *(f"<li>{e(c['category'])}</li>" for c in content["categories"]),
        "</ul></html>",
    ]
    return "\n".join(parts)


def subprocessors_html(
    controller: str, listed: list[SubProcessor], changes: list[tuple[datetime, list[dict[str, Any]]]]
) -> str:
    """The public sub-processor page (consent branch): the current list and the dated history of changes."""
    e = html.escape
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8>",
        f"<title>Sub-processors — {e(controller)}</title>",
        f"<h1>Sub-processors — {e(controller)}</h1>",
    ]
    if listed:
        parts.append("<table><tr><th>sub-processor</th><th>purpose</th><th>location</th><th>transfer</th></tr>")
        parts += [
            f"<tr><td>{e(p.name)}</td><td>{e(p.purpose)}</td><td>{e(p.location)}</td>"
            f"<td>{e(p.transfer_mechanism)}</td></tr>"
            for p in listed
        ]
        parts.append("</table>")
    else:
        parts.append("<p>None: no personal data leaves this installation.</p>")
    if changes:
        parts.append("<h2>Changes</h2><ul>")
        for when, items in reversed(changes):
            described = ", ".join(f"{c['change']} {c['name']}" for c in items)
            parts.append(f"<li>{e(when.date().isoformat())}: {e(described)}</li>")
        parts.append("</ul>")
    parts.append("</html>")
    return "\n".join(parts)


async def record_of_processing(db: AsyncSession, runtime: Runtime, scope: OrgScope) -> list[dict[str, str]]:
    """Art. 30(1): one row per processing activity, as the business (controller) must keep it."""
    content = await notice_content(db, runtime, scope)
    recipients = "; ".join(p["name"] for p in content["subprocessors"]) or "none outside the organisation"
    transfers = "; ".join(f"{p['location']} ({p['transfer_mechanism']})" for p in content["subprocessors"]) or "none"
    categories = ", ".join(c["category"] for c in content["categories"])
    return [
        {
            "controller": content["controller"],
            "activity": purpose["purpose"],
            "legal_basis": purpose["basis"],
            "data_subjects": "customers and prospects who contact the organisation; the organisation's staff",
            "personal_data_categories": categories,
            "recipients": recipients,
            "third_country_transfers": transfers,
            "retention": "; ".join(f"{k}: {v}" for k, v in content["retention"].items()),
            "security_measures": "encryption at rest with per-person keys (AES-256-GCM), tenant isolation with "
            "row-level security, hash-chained audit log, access by role",
        }
        for purpose in content["purposes"]
    ]


def as_csv(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["controller"])
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
