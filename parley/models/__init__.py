"""ORM models, one file per aggregate. Importing this package registers every table on `Base.metadata`."""

from parley.models.api_token import ApiToken
from parley.models.audit_event import AuditEvent
from parley.models.login_throttle import LoginThrottle
from parley.models.membership import Invitation, Membership
from parley.models.organization import Organization
from parley.models.user import User, UserSession

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Invitation",
    "LoginThrottle",
    "Membership",
    "Organization",
    "User",
    "UserSession",
]
