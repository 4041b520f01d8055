"""Records of processing activities, generated from the data map, the settings and the configured providers.

- Art. 30(1), kept by the business as controller: built by `privacy.notice.record_of_processing` (one row per
  purpose, with recipients, transfers and the organisation's retention periods); here it gains the categories of
  data subjects, read from the data map, and the consent purposes (through the notice's purposes).
- Art. 30(2), kept by whoever runs this installation as the business's processor: processor and DPO from the
  settings (`PARLEY_OPERATOR_NAME`, `…_CONTACT`, `PARLEY_OPERATOR_DPO`), the controller, the categories of
  processing carried out for it, sub-processors, transfers and security measures.
Both are regenerated on every request, so they change the moment a setting does.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.db import Base
from parley.models import Organization
from parley.privacy import notice
from parley.privacy.datamap import INFO_KEY, Declaration
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope

# Whose data a table holds, where that is not the business's customers.
_STAFF_TABLES = {"users", "user_sessions", "memberships", "invitations", "api_tokens", "login_throttles"}
SECURITY_MEASURES = (
    "encryption at rest with per-person keys (AES-256-GCM) and crypto-shredding on erasure; tenant isolation "
    "with row-level security; hash-chained audit log of staff access; roles; personal values redacted before "
    "outside language models; TLS in transit"
)


def subject_categories() -> list[str]:
    """The categories of data subjects, from which tables of the data map hold personal data."""
    staff = customers = False
    for table in Base.metadata.sorted_tables:
        personal = any(
            isinstance(c.info.get(INFO_KEY), Declaration) and c.info[INFO_KEY].is_personal for c in table.columns
        )
        if personal and table.name in _STAFF_TABLES:
            staff = True
        elif personal:
            customers = True
    found = []
    if customers:
        found.append("customers, prospects and visitors who contact the organisation")
    if staff:
        found.append("the organisation's staff (users of the dashboard and API)")
    return found


async def controller_record(db: AsyncSession, runtime: Runtime, scope: OrgScope) -> list[dict[str, str]]:
    rows = await notice.record_of_processing(db, runtime, scope)
    subjects = "; ".join(subject_categories())
    return [{**row, "data_subjects": subjects} for row in rows]


async def processor_record(db: AsyncSession, runtime: Runtime, scope: OrgScope) -> list[dict[str, str]]:
    settings = runtime.settings
    org = await db.get(Organization, scope.org_id)
    assert org is not None
    controller_rows = await notice.record_of_processing(db, runtime, scope)
    processors = await notice.subprocessors(db, scope, runtime)
    return [
        {
            "processor": settings.operator_name or "the operator of this Parley installation (name not configured)",
            "processor_contact": settings.operator_contact or "not configured",
            "data_protection_officer": settings.operator_dpo or "none designated",
            "controller": org.name,
            "category_of_processing": row["activity"],
            "sub_processors": "; ".join(f"{p.name} ({p.purpose})" for p in processors) or "none",
            "third_country_transfers": row["third_country_transfers"],
            "security_measures": SECURITY_MEASURES,
        }
        for row in controller_rows
    ]


async def record(db: AsyncSession, runtime: Runtime, scope: OrgScope, role: str) -> list[dict[str, str]]:
    if role == "processor":
        return await processor_record(db, runtime, scope)
    return await controller_record(db, runtime, scope)
