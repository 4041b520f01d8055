"""The Usage, Privacy centre and Team pages over HTTP: roles, validation beside the field, audit rows, tenants."""

from __future__ import annotations

import re

from parley.runtime import Runtime
from parley.tenancy.permissions import Role
from tests.dashboard2.seed import make_agent, seed_daily_activity
from tests.dashboard2.support import field_error, staff_client, text_of
from tests.factories import bearer, make_org, raw_scalars


async def test_usage_charts_every_day_of_the_period_for_any_member_and_only_this_organisation(app, runtime: Runtime):
    org, other = await make_org(runtime), await make_org(runtime)
    desk = await make_agent(runtime, org.id, "Desk")
    await seed_daily_activity(runtime, org.id, desk, 45, per_day=1, tokens_per_day=1000)
    theirs = await make_agent(runtime, other.id, "Theirs")
    await seed_daily_activity(runtime, other.id, theirs, 5, per_day=9, tokens_per_day=77_777)
    async with staff_client(app, runtime, org.id, Role.VIEWER) as (viewer, _):
        month = await viewer.get(f"/app/o/{org.id}/usage")
        assert month.status_code == 200, month.text
        assert month.text.count('<rect class="bar"') == 3 * 30
        assert "30,000" in month.text and "77,777" not in month.text and "Theirs" not in month.text
        quarter = await viewer.get(f"/app/o/{org.id}/usage", params={"days": "90", "agent": desk})
        assert quarter.text.count('<rect class="bar"') == 3 * 90 and "45,000" in quarter.text
        wrong = await viewer.get(f"/app/o/{org.id}/usage", params={"days": "7", "agent": theirs})
        assert wrong.status_code == 422
        assert field_error(wrong.text, "days") == "choose 30 or 90 days"
        assert field_error(wrong.text, "agent") == "this agent has no usage in the period"
        assert (await viewer.get(f"/app/o/{other.id}/usage")).status_code == 404


async def test_retention_is_changed_by_admins_with_errors_beside_the_field_and_audited(app, runtime: Runtime):
    org = await make_org(runtime)
    async with staff_client(app, runtime, org.id, Role.VIEWER) as (viewer, csrf):
        page = await viewer.get(f"/app/o/{org.id}/privacy")
        assert (page.status_code == 200 and "kept 365 days" in text_of(page.text)) or "kept" in text_of(page.text)
        assert 'name="conversation_retention_days"' not in page.text
        refused = await viewer.post(
            f"/app/o/{org.id}/privacy/retention", data={"csrf_token": csrf, "conversation_retention_days": "30"}
        )
        assert refused.status_code == 403
        assert (await viewer.get(f"/app/o/{org.id}/audit")).status_code == 403
    async with staff_client(app, runtime, org.id, Role.ADMIN) as (admin, csrf):
        url = f"/app/o/{org.id}/privacy/retention"
        assert (await admin.post(url, data={"conversation_retention_days": "30"})).status_code == 403  # no CSRF
        for bad in ("0", "abc", "999999"):
            response = await admin.post(url, data={"csrf_token": csrf, "conversation_retention_days": bad})
            assert response.status_code == 422 and field_error(response.text, "conversation_retention_days")
            assert f'value="{bad}"' in response.text  # what was typed stays in the field
        saved = await admin.post(url, data={"csrf_token": csrf, "conversation_retention_days": "30"})
        assert saved.status_code == 303
        assert 'value="30"' in (await admin.get(f"/app/o/{org.id}/privacy")).text
        # Admins may not delete the organisation.
        delete = await admin.post(f"/app/o/{org.id}/privacy/deletion", data={"csrf_token": csrf, "confirm": "delete"})
        assert delete.status_code == 403
    changed = await raw_scalars(runtime, org.id, "SELECT details FROM audit_events WHERE action = 'retention.changed'")
    assert len(changed) == 1 and '"to": 30' in str(changed[0]).replace("'", '"')


async def test_owners_schedule_and_cancel_the_deletion_with_a_countdown(app, runtime: Runtime, clock):
    org = await make_org(runtime)
    async with staff_client(app, runtime, org.id, Role.OWNER) as (owner, csrf):
        url = f"/app/o/{org.id}/privacy/deletion"
        unconfirmed = await owner.post(url, data={"csrf_token": csrf, "confirm": "ok"})
        assert unconfirmed.status_code == 422
        assert field_error(unconfirmed.text, "confirm") == "type delete to confirm; nothing was scheduled"
        assert (await owner.post(url, data={"csrf_token": csrf, "confirm": "delete"})).status_code == 303
        clock.advance(days=3, hours=5)
        page = text_of((await owner.get(f"/app/o/{org.id}/privacy")).text)
        assert "26 days and 19 hours left" in page and "Cancel the deletion" in page
        assert (await owner.post(f"{url}/cancel", data={"csrf_token": csrf})).status_code == 303
        assert "hours left" not in text_of((await owner.get(f"/app/o/{org.id}/privacy")).text)
    actions = await raw_scalars(runtime, org.id, "SELECT action FROM audit_events WHERE action LIKE 'organization.%'")
    assert [str(a) for a in actions] == ["organization.deletion_requested", "organization.deletion_cancelled"]


async def test_the_audit_log_lists_this_organisations_entries_and_verifies_its_chain(app, runtime: Runtime):
    org, other = await make_org(runtime), await make_org(runtime)
    async with staff_client(app, runtime, org.id, Role.ADMIN) as (admin, _):
        log = await admin.get(f"/app/o/{org.id}/audit")
        assert (log.status_code == 200 and "member.added" in log.text) or "organization" in log.text
        verified = await admin.get(f"/app/o/{org.id}/audit/verify")
        assert "The chain holds" in text_of(verified.text)
        assert (await admin.get(f"/app/o/{other.id}/audit")).status_code == 404
        filtered = await admin.get(f"/app/o/{org.id}/audit", params={"action": "no.such"})
        assert "No entries." in filtered.text


async def test_team_invitations_roles_and_tokens_with_secrets_shown_once(app, runtime: Runtime):
    org = await make_org(runtime)
    async with staff_client(app, runtime, org.id, Role.VIEWER) as (viewer, csrf):
        page = await viewer.get(f"/app/o/{org.id}/team")
        assert page.status_code == 200 and org.owner_email in page.text
        assert "Invite someone" not in page.text and "API tokens</h2>" not in page.text
        refused = await viewer.post(
            f"/app/o/{org.id}/team/tokens", data={"csrf_token": csrf, "token_name": "x", "token_role": "viewer"}
        )
        assert refused.status_code == 403
    async with staff_client(app, runtime, org.id, Role.ADMIN) as (admin, csrf):
        base = f"/app/o/{org.id}/team"
        bad = await admin.post(
            f"{base}/invitations", data={"csrf_token": csrf, "email": "nope", "invite_role": "agent"}
        )
        assert bad.status_code == 422 and field_error(bad.text, "email")
        above = await admin.post(
            f"{base}/invitations", data={"csrf_token": csrf, "email": "new@example.com", "invite_role": "owner"}
        )
        assert above.status_code == 422 and field_error(above.text, "invite_role")
        invited = await admin.post(
            f"{base}/invitations", data={"csrf_token": csrf, "email": "new@example.com", "invite_role": "agent"}
        )
        assert invited.status_code == 201 and "/invite/" in invited.text
        assert "/invite/" not in (await admin.get(base)).text  # the link is shown once

        no_name = await admin.post(
            f"{base}/tokens", data={"csrf_token": csrf, "token_name": "", "token_role": "viewer"}
        )
        assert no_name.status_code == 422 and field_error(no_name.text, "token_name")
        owner_token = await admin.post(
            f"{base}/tokens", data={"csrf_token": csrf, "token_name": "ci", "token_role": "owner"}
        )
        assert owner_token.status_code == 422 and field_error(owner_token.text, "token_role")
        created = await admin.post(
            f"{base}/tokens",
            data={"csrf_token": csrf, "token_name": "ci", "token_role": "viewer", "expires_in_days": "30"},
        )
        assert created.status_code == 201
        secret = re.search(r'id="token-secret" readonly value="([^"]+)"', created.text)
        assert secret is not None
        assert secret.group(1) not in (await admin.get(base)).text
        async with staff_client(app, runtime, org.id, Role.VIEWER) as (api, _):
            assert (await api.get(f"/api/v1/orgs/{org.id}", headers=bearer(secret.group(1)))).status_code == 200
        token_id = (await raw_scalars(runtime, org.id, f"SELECT id FROM api_tokens WHERE org_id = '{org.id}'"))[0]
        assert (await admin.post(f"{base}/tokens/{token_id}/revoke", data={"csrf_token": csrf})).status_code == 303

        members = await raw_scalars(
            runtime, org.id, f"SELECT id FROM memberships WHERE org_id = '{org.id}' AND role = 'owner'"
        )
        owner_member = str(members[0])
        demote = await admin.post(f"{base}/members/{owner_member}/role", data={"csrf_token": csrf, "role": "agent"})
        assert demote.status_code == 403  # admins cannot change owners
    actions = {str(a) for a in await raw_scalars(runtime, org.id, "SELECT action FROM audit_events")}
    assert {"invitation.created", "token.created", "token.revoked"} <= actions


async def test_owners_change_roles_and_remove_members_but_keep_one_owner(app, runtime: Runtime):
    org = await make_org(runtime)
    async with staff_client(app, runtime, org.id, Role.OWNER) as (owner, csrf):
        base = f"/app/o/{org.id}/team"
        rows = await raw_scalars(
            runtime, org.id, f"SELECT id FROM memberships WHERE org_id = '{org.id}' ORDER BY created_at"
        )
        first_owner, me = str(rows[0]), str(rows[1])
        assert (
            await owner.post(f"{base}/members/{first_owner}/role", data={"csrf_token": csrf, "role": "admin"})
        ).status_code == 303
        last = await owner.post(f"{base}/members/{me}/role", data={"csrf_token": csrf, "role": "agent"})
        assert last.status_code == 409 and "at least one owner" in (field_error(last.text, f"role-{me}") or "")
        wrong = await owner.post(f"{base}/members/{first_owner}/role", data={"csrf_token": csrf, "role": "boss"})
        assert wrong.status_code == 422 and field_error(wrong.text, f"role-{first_owner}")
        assert (await owner.post(f"{base}/members/{first_owner}/remove", data={"csrf_token": csrf})).status_code == 303
    actions = [
        str(a)
        for a in await raw_scalars(runtime, org.id, "SELECT action FROM audit_events WHERE action LIKE 'member.%'")
    ]
    assert "member.role_changed" in actions and "member.removed" in actions
