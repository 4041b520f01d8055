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
| owners:manage         |        |       |       |   ✓   |

Agents will gain conversation permissions (reply, take over) with the inbox; until then they read like viewers.
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
    OWNERS_MANAGE = "owners:manage"


_VIEWER = frozenset({Permission.ORG_READ, Permission.MEMBERS_READ})
_ADMIN = _VIEWER | {
    Permission.ORG_UPDATE,
    Permission.MEMBERS_MANAGE,
    Permission.INVITATIONS_MANAGE,
    Permission.TOKENS_READ,
    Permission.TOKENS_MANAGE,
    Permission.AUDIT_READ,
}

MATRIX: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.AGENT: _VIEWER,
    Role.ADMIN: _ADMIN,
    Role.OWNER: _ADMIN | {Permission.OWNERS_MANAGE},
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in MATRIX[role]
