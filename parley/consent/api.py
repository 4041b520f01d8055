"""The consent ledger over the API: the purposes, the organisation's consent texts (versioned), a contact's proof,
choices recorded by staff, and the widget's consented analytics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from parley.agents import service as agents_service
from parley.auth.dependencies import Db, RuntimeDep, audited_read, require
from parley.consent import analytics, proof, service
from parley.consent import repository as repo
from parley.consent.purposes import PURPOSES
from parley.consent.schemas import (
    AnalyticsDayOut,
    ConsentEventIn,
    ConsentEventOut,
    ConsentProofOut,
    ConsentTextIn,
    ConsentTextOut,
    ConsentTextRevisionIn,
    Language,
    PurposeKey,
    PurposeOut,
)
from parley.privacy import audit
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope

router = APIRouter(prefix="/api/v1/orgs/{org_id}", tags=["consent"])

ReadOrg = Annotated[OrgScope, Depends(require(Permission.ORG_READ))]
ReadAgents = Annotated[OrgScope, Depends(require(Permission.AGENTS_READ))]
ReadConversations = Annotated[OrgScope, Depends(require(Permission.CONVERSATIONS_READ))]
ManagePrivacy = Annotated[OrgScope, Depends(require(Permission.PRIVACY_MANAGE))]


@router.get("/consent/purposes", response_model=list[PurposeOut])
async def list_purposes(scope: ReadOrg) -> list[PurposeOut]:
    """What people can be asked to consent to, and on what lawful basis."""
    return [PurposeOut.model_validate(p) for p in PURPOSES.values()]


@router.get("/consent/texts", response_model=list[ConsentTextOut])
async def list_texts(
    scope: ReadOrg,
    db: Db,
    purpose: PurposeKey | None = None,
    language: Annotated[Language | None, Query()] = None,
) -> list[ConsentTextOut]:
    """Every version, oldest first per purpose and language (the last is the one shown)."""
    return [ConsentTextOut.model_validate(t) for t in await repo.texts(db, scope, purpose=purpose, language=language)]


@router.post("/consent/texts", response_model=ConsentTextOut, status_code=status.HTTP_201_CREATED)
async def add_text(body: ConsentTextIn, scope: ManagePrivacy, db: Db, runtime: RuntimeDep) -> ConsentTextOut:
    """A new version of the text for this purpose and language; earlier versions are kept unchanged."""
    text = await service.do_add_text(db, runtime, scope, purpose=body.purpose, language=body.language, body=body.body)
    return ConsentTextOut.model_validate(text)


@router.get("/consent/texts/{text_id}", response_model=ConsentTextOut)
async def get_text(text_id: str, scope: ReadOrg, db: Db) -> ConsentTextOut:
    return ConsentTextOut.model_validate(await service.access_text(db, scope, text_id))


@router.put("/consent/texts/{text_id}", response_model=ConsentTextOut, status_code=status.HTTP_201_CREATED)
async def revise_text(
    text_id: str, body: ConsentTextRevisionIn, scope: ManagePrivacy, db: Db, runtime: RuntimeDep
) -> ConsentTextOut:
    """Editing never overwrites: this adds the next version for the same purpose and language, and returns it."""
    old = await service.access_text(db, scope, text_id)
    text = await service.do_add_text(db, runtime, scope, purpose=old.purpose, language=old.language, body=body.body)
    return ConsentTextOut.model_validate(text)


@router.delete("/consent/texts/{text_id}", status_code=status.HTTP_204_NO_CONTENT, responses={409: {}})
async def delete_text(text_id: str, scope: ManagePrivacy, db: Db, runtime: RuntimeDep) -> Response:
    """Only a version nobody was shown yet (409 otherwise: it is part of someone's proof)."""
    await service.do_delete_text(db, runtime, scope, text_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/contacts/{contact_id}/consents", response_model=ConsentProofOut, dependencies=[Depends(audited_read)])
async def contact_consents(contact_id: str, scope: ReadConversations, db: Db, runtime: RuntimeDep) -> ConsentProofOut:
    """The proof of a person's consents: every choice with the exact text shown, and the current state."""
    await service.access_contact(db, scope, contact_id)
    document = await proof.proof(db, scope, contact_id)
    await audit.record_in_scope(
        db, runtime.clock, scope, "consent.proof_read", target_type="contact", target_id=contact_id
    )
    return ConsentProofOut.model_validate(document)


@router.post("/contacts/{contact_id}/consents", response_model=ConsentEventOut, status_code=status.HTTP_201_CREATED)
async def record_consent(
    contact_id: str, body: ConsentEventIn, scope: ManagePrivacy, db: Db, runtime: RuntimeDep
) -> ConsentEventOut:
    """Record a grant or a withdrawal made through staff. A grant names the text the person was shown."""
    await service.access_contact(db, scope, contact_id)
    event = await service.do_record(
        db,
        runtime,
        scope,
        contact_id=contact_id,
        purpose=body.purpose,
        granted=body.granted,
        channel=body.channel,
        text_id=body.text_id,
        evidence=body.evidence,
        by_staff=True,
    )
    return ConsentEventOut.model_validate(event)


@router.get("/agents/{agent_id}/widget/analytics", response_model=list[AnalyticsDayOut])
async def widget_analytics(agent_id: str, scope: ReadAgents, db: Db) -> list[AnalyticsDayOut]:
    """Daily totals from visitors who consented to analytics; no visitor can be picked out of them."""
    await agents_service.access_agent(db, scope, agent_id)
    return [AnalyticsDayOut(day=d, metric=m, count=c) for d, m, c in await analytics.daily(db, scope, agent_id)]
