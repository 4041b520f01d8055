"""Self-service requests: the organisation's public page (`/privacy/{org}/requests`, a plain HTML form and the
same as JSON), where the person proves control of an e-mail address with a one-time code, and the widget's
Privacy view, where the visitor's secret proves who they are. The download link of an access ZIP lands here too.
"""

from __future__ import annotations

import hmac
import html
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import ValidationError

from parley.auth.dependencies import Db, RequestInfoDep, RuntimeDep, reads_only
from parley.channels.widget.api import VisitorId, Widget, widget_state
from parley.kit.errors import InvalidField, NotFound, ParleyError, TooManyRequests
from parley.models import Organization
from parley.privacy import export
from parley.privacy.erasure import pseudonym
from parley.rights import challenges, service
from parley.rights.fulfil import token_hash
from parley.rights.schemas import CodeIn, CodeSentOut, ConfirmIn, ReceiptOut, WidgetRequestIn
from parley.rights.sms import sms_sender
from parley.runtime import Runtime
from parley.tenancy.platform import public_privacy_scope
from parley.tenancy.scope import OrgScope, scoped_unit_of_work

router = APIRouter(tags=["privacy requests (public)"])
PAGE = "/privacy/{org}/requests"
KIND_LABELS = {
    "access": "Get a copy of my data",
    "portability": "Get my data in a portable format",
    "erasure": "Erase my data",
    "restriction": "Restrict the processing of my data",
    "objection": "Object to the processing of my data",
    "consent_withdrawal": "Withdraw my consent",
    "rectification": "Correct my data",
}


async def public_scope(org: str, db: Db, info: RequestInfoDep) -> OrgScope:
    scope = await public_privacy_scope(db, org, info)
    if scope is None:
        raise NotFound("organisation not found")
    return scope


PublicScope = Annotated[OrgScope, Depends(public_scope)]


async def _org_name(db: Db, scope: OrgScope) -> str:
    organization = await db.get(Organization, scope.org_id)
    assert organization is not None
    return organization.name


@router.post(PAGE + "/codes", response_model=CodeSentOut, status_code=status.HTTP_201_CREATED)
async def send_code(body: CodeIn, scope: PublicScope, db: Db, runtime: RuntimeDep) -> CodeSentOut:
    """Step 1: a one-time code to the e-mail address the request is about."""
    challenge = await challenges.do_send_code(
        db, runtime, scope, kind=body.kind, channel=body.channel, identifier=body.identifier,
        org_name=await _org_name(db, scope),
    )  # fmt: skip
    return CodeSentOut(challenge_id=challenge.id, expires_at=challenge.expires_at)


@router.post(PAGE, response_model=ReceiptOut, status_code=status.HTTP_201_CREATED, dependencies=[Depends(reads_only)])
async def confirm(body: ConfirmIn, scope: PublicScope, runtime: RuntimeDep) -> ReceiptOut:
    """Step 2: the code back, with the same address; the request is filed for whatever is held under it."""
    return await _confirm(runtime, scope, body)


async def _confirm(runtime: Runtime, scope: OrgScope, body: ConfirmIn) -> ReceiptOut:
    # The wrong-code count commits in its own transaction before the error goes out (a rollback would undo it).
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        challenge = await challenges.do_check_code(
            db, runtime, scope, challenge_id=body.challenge_id, identifier=body.identifier, code=body.code
        )
    if challenge is None:
        raise InvalidField("body.code", "wrong code")
    value = challenges.normalise(challenge.channel, body.identifier)
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        kinds = ("email",) if challenge.channel == "email" else ("phone", "whatsapp")
        contact = None
        for kind in kinds:  # a phone number may be known from SMS or from WhatsApp
            contact = contact or await export.find_contact(db, scope, kind, value)
        details: dict[str, Any] = {"purposes": body.purposes}
        if body.message:
            details["message"] = body.message
        request = await service.do_file_request(
            db, runtime, scope, kind=challenge.kind, source="public", contact=contact,
            subject_pseudonym=pseudonym(runtime, value), details=details,
            verified_by={"method": f"{challenge.channel}_code", "challenge_id": challenge.id},
        )  # fmt: skip
        return ReceiptOut(request_id=request.id, kind=request.kind, status=request.status, due_at=request.due_at)


@router.get(PAGE + "/{request_id}/download", response_class=FileResponse, responses={404: {}})
async def download(
    request_id: str, scope: PublicScope, db: Db, runtime: RuntimeDep, token: Annotated[str, Query(max_length=100)]
) -> FileResponse:
    """The person's ZIP, with the token from the e-mail; gone once the link expires."""
    request = await service.access_request(db, scope, request_id)
    valid = (
        request.export_file is not None
        and request.export_token_hash is not None
        and request.export_expires_at is not None
        and request.export_expires_at > runtime.clock.now()
        and hmac.compare_digest(request.export_token_hash, token_hash(token))
    )
    if not valid or request.export_file is None:
        raise NotFound("this link is not valid (wrong, or expired)")
    return FileResponse(
        runtime.settings.data_dir / request.export_file, media_type="application/zip", filename="your-data.zip"
    )


@router.post(
    "/widget/v1/agents/{agent_id}/privacy/requests", response_model=ReceiptOut, status_code=status.HTTP_201_CREATED
)
async def widget_request(
    body: WidgetRequestIn, ctx: Widget, visitor: VisitorId, db: Db, runtime: RuntimeDep, http: Request
) -> ReceiptOut:
    """From the widget's Privacy view: a request about the visitor, proven by the visitor's secret."""
    # Each request is work for staff with a legal deadline: a script holding one visitor secret must not be able
    # to file them by the thousand. Same bucket sizes as the visitor's messages, counted apart from them.
    wait = widget_state(http.app).per_visitor.take(f"rights:{ctx.agent.id}:{visitor}")
    if wait:
        raise TooManyRequests(
            f"too many privacy requests; try again in {max(1, round(wait))} seconds", retry_after=wait
        )
    contact = await export.find_contact(db, ctx.scope, "visitor", visitor)
    request = await service.do_file_request(
        db, runtime, ctx.scope, kind=body.kind, source="widget", contact=contact,
        subject_pseudonym=pseudonym(runtime, visitor), details={"purposes": body.purposes},
        verified_by={"method": "visitor_secret", "agent_id": ctx.agent.id},
    )  # fmt: skip
    return ReceiptOut(request_id=request.id, kind=request.kind, status=request.status, due_at=request.due_at)


@router.get(
    "/widget/v1/agents/{agent_id}/privacy/requests/{request_id}/download",
    response_class=FileResponse,
    responses={404: {}},
)
async def widget_download(
    request_id: str, ctx: Widget, visitor: VisitorId, db: Db, runtime: RuntimeDep
) -> FileResponse:
    """The copy asked for from the widget, downloaded in the widget: the e-mailed link needs an address, and an
    anonymous visitor has none on file. The visitor's secret proves the request is theirs, as it did to file it."""
    request = await service.access_request(db, ctx.scope, request_id)
    subject = request.subject_pseudonym or ""
    valid = (
        request.source == "widget"
        and hmac.compare_digest(subject, pseudonym(runtime, visitor))
        and request.export_file is not None
        and request.export_expires_at is not None
        and request.export_expires_at > runtime.clock.now()
    )
    if not valid or request.export_file is None:
        raise NotFound("no copy to download (not ready yet, or expired)")
    return FileResponse(
        runtime.settings.data_dir / request.export_file, media_type="application/zip", filename="your-data.zip"
    )


# --- the HTML page -------------------------------------------------------------------------------------------------


@router.get(PAGE, response_class=HTMLResponse, include_in_schema=False)
async def page(scope: PublicScope, db: Db, org: str, runtime: RuntimeDep) -> HTMLResponse:
    return HTMLResponse(_page(await _org_name(db, scope), org, _start_form(org, runtime)))


@router.post(PAGE + "/form", response_class=HTMLResponse, include_in_schema=False, dependencies=[Depends(reads_only)])
async def page_post(request: Request, org: str, scope: PublicScope, runtime: RuntimeDep) -> HTMLResponse:
    """The form without JavaScript: step 1 (no code yet) sends a code, step 2 confirms it."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str) and v}
    async with scoped_unit_of_work(runtime.sessionmaker, scope, write=False) as db:
        name = await _org_name(db, scope)
    try:
        if "code" not in form:
            code_in = CodeIn.model_validate(form)
            async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
                challenge = await challenges.do_send_code(
                    db, runtime, scope, kind=code_in.kind, channel=code_in.channel, identifier=code_in.identifier,
                    org_name=name,
                )  # fmt: skip
            return HTMLResponse(_page(name, org, _code_form(org, challenge.id, code_in.identifier)))
        receipt = await _confirm(runtime, scope, ConfirmIn.model_validate(form))
    except ValidationError as error:
        problem = "; ".join(str(e["msg"]) for e in error.errors())
        return HTMLResponse(_page(name, org, _error(problem) + _start_form(org, runtime)), status_code=422)
    except ParleyError as error:  # a wrong or expired code, too many codes: said on the page, with its status
        body = _error(error.detail) + _start_form(org, runtime)
        return HTMLResponse(_page(name, org, body), status_code=error.status_code, headers=error.headers)
    due = receipt.due_at.date().isoformat()
    return HTMLResponse(
        _page(
            name,
            org,
            f"<p>Your request is filed (reference {html.escape(receipt.request_id)}). "
            f"We will answer by {due} at the latest.</p>",
        )
    )


def _page(name: str, org: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        f"<title>Your privacy rights — {html.escape(name)}</title>"
        f"<h1>Your privacy rights with {html.escape(name)}</h1>{body}</html>"
    )


def _error(message: str) -> str:
    return f"<p role=alert><strong>{html.escape(message)}</strong></p>"


def _start_form(org: str, runtime: Runtime) -> str:
    options = "".join(f"<option value={k}>{html.escape(v)}</option>" for k, v in KIND_LABELS.items())
    if sms_sender(runtime.settings) is None:
        how = "<input type=hidden name=channel value=email><label>Your e-mail address"
    else:
        how = (
            "<label>Send the code by <select name=channel><option value=email>e-mail</option>"
            "<option value=phone>text message</option></select></label><br>"
            "<label>Your e-mail address or phone number (+33…)"
        )
    return (
        f"<form method=post action='/privacy/{html.escape(org)}/requests/form'>"
        f"<label>What would you like? <select name=kind>{options}</select></label><br>"
        f"{how} <input name=identifier required></label><br>"
        "<button>Send me a code</button></form>"
    )


def _code_form(org: str, challenge_id: str, identifier: str) -> str:
    return (
        f"<p>We sent a code to {html.escape(identifier)}.</p>"
        f"<form method=post action='/privacy/{html.escape(org)}/requests/form'>"
        f"<input type=hidden name=challenge_id value='{html.escape(challenge_id)}'>"
        f"<input type=hidden name=identifier value='{html.escape(identifier)}'>"
        "<label>Code <input name=code inputmode=numeric autocomplete=one-time-code required></label>"
        "<button>Confirm my request</button></form>"
    )
