"""Roles and what they may do. One matrix, read by every route through `require(permission)`.

| permission            | viewer | agent | admin | owner |
|-----------------------|:------:|:-----:|:-----:|:-----:|
| org:read              |   ✓    |   ✓   |   ✓   |   ✓   |
| members:read          |   ✓    |   ✓   |   ✓   |   ✓   |
| org:update            |        |       |   ✓   |   ✓   |
| members:manage        |        |       |   ✓   |   ✓   |
| invitations:manage    |        |       |   ✓   |   ✓   |
| tokens:read           |        |       |   ✓   |   ✓   |
| tokens:manage         |        |       |   ✓   |   ✓   |
| audit:read            |        |       |   ✓   |   ✓   |
| outbox:read           |        |       |   ✓   |   ✓   |
| owners:manage         |        |       |       |   ✓   |
| agents:read           |   ✓    |   ✓   |   ✓   |   ✓   |
| knowledge:read        |   ✓    |   ✓   |   ✓   |   ✓   |
| conversations:read    |        |   ✓   |   ✓   |   ✓   |
| agents:test           |        |   ✓   |   ✓   |   ✓   |
| agents:manage         |        |       |   ✓   |   ✓   |
| knowledge:manage      |        |       |   ✓   |   ✓   |
| credentials:manage    |        |       |   ✓   |   ✓   |
| privacy:manage        |        |       |   ✓   |   ✓   |
| org:delete            |        |       |       |   ✓   |

Viewers see configuration but not conversations (personal data); agents read conversations and try agents.
Nobody can grant a role above their own, admins cannot change or remove owners, and an organisation always
keeps at least one owner.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    AGENT = "agent"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def can_assign(self, role: Role) -> bool:
        """Whether this role may give `role` to someone (or act on someone who holds it)."""
        if self is Role.OWNER:
            return True
        return self is Role.ADMIN and role is not Role.OWNER


_RANK = {Role.VIEWER: 0, Role.AGENT: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Permission(StrEnum):
    ORG_READ = "org:read"
    ORG_UPDATE = "org:update"
    MEMBERS_READ = "members:read"
    MEMBERS_MANAGE = "members:manage"
    INVITATIONS_MANAGE = "invitations:manage"
    TOKENS_READ = "tokens:read"
    TOKENS_MANAGE = "tokens:manage"
    AUDIT_READ = "audit:read"
    OUTBOX_READ = "outbox:read"
    OWNERS_MANAGE = "owners:manage"
    AGENTS_READ = "agents:read"
    AGENTS_TEST = "agents:test"
    AGENTS_MANAGE = "agents:manage"
    KNOWLEDGE_READ = "knowledge:read"
    KNOWLEDGE_MANAGE = "knowledge:manage"
    CREDENTIALS_MANAGE = "credentials:manage"
    CONVERSATIONS_READ = "conversations:read"
    PRIVACY_MANAGE = "privacy:manage"  # retention periods and other privacy settings
    ORG_DELETE = "org:delete"  # ask for (or cancel) the deletion of the whole organisation
    CONVERSATIONS_REPLY = "conversations:reply"


_VIEWER = frozenset({Permission.ORG_READ, Permission.MEMBERS_READ, Permission.AGENTS_READ, Permission.KNOWLEDGE_READ})
_AGENT = _VIEWER | {Permission.CONVERSATIONS_READ, Permission.CONVERSATIONS_REPLY, Permission.AGENTS_TEST}
_ADMIN = _AGENT | {
    Permission.ORG_UPDATE,
    Permission.MEMBERS_MANAGE,
    Permission.INVITATIONS_MANAGE,
    Permission.TOKENS_READ,
    Permission.TOKENS_MANAGE,
    Permission.AUDIT_READ,
    Permission.OUTBOX_READ,
    Permission.AGENTS_MANAGE,
    Permission.KNOWLEDGE_MANAGE,
    Permission.CREDENTIALS_MANAGE,
    Permission.PRIVACY_MANAGE,
}

MATRIX: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.AGENT: _AGENT,
    Role.ADMIN: _ADMIN,
    Role.OWNER: _ADMIN | {Permission.OWNERS_MANAGE, Permission.ORG_DELETE},
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in MATRIX[role]
