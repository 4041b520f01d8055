"""ORM models, one file per aggregate. Importing this package registers every table on `Base.metadata`."""

from parley.models.agent import Agent, AgentKnowledgeBase, ProviderCredential
from parley.models.api_token import ApiToken
from parley.models.audit_event import AuditEvent
from parley.models.breach import Breach, BreachOrganization
from parley.models.channel import (  # messaging channels
    ChannelConnection,
    ChannelContact,
    ChannelInbound,
    ChannelMedia,
    ChannelOutbound,
    ChannelStatusEvent,
    ContactMerge,
)
from parley.models.consent import ConsentEvent, ConsentText, SubprocessorSnapshot, WidgetAnalyticsDaily
from parley.models.contact import Contact, ContactIdentifier
from parley.models.conversation import Conversation, ConversationNote, Message
from parley.models.email import EmailMailbox, EmailThread  # email channel
from parley.models.knowledge import Chunk, ChunkEmbedding, Document, KnowledgeBase
from parley.models.login_throttle import LoginThrottle
from parley.models.membership import Invitation, Membership
from parley.models.organization import Organization
from parley.models.outbox import OutboxMessage
from parley.models.privacy_request import PrivacyChallenge, PrivacyRequest, PrivacyRequestEvent  # data-subject requests
from parley.models.usage import UsageDaily
from parley.models.user import User, UserSession
from parley.models.widget import AgentWidget

__all__ = [
    "Agent",
    "AgentKnowledgeBase",
    "AgentWidget",
    "ApiToken",
    "AuditEvent",
    "Breach",
    "BreachOrganization",
    "Chunk",
    "ChunkEmbedding",
    "ConsentEvent",
    "ConsentText",
    "Contact",
    "ContactIdentifier",
    "Conversation",
    "ConversationNote",
    "Document",
    "Invitation",
    "KnowledgeBase",
    "LoginThrottle",
    "Membership",
    "Message",
    "Organization",
    "OutboxMessage",
    "PrivacyChallenge",
    "PrivacyRequest",
    "PrivacyRequestEvent",
    "ProviderCredential",
    "SubprocessorSnapshot",
    "UsageDaily",
    "User",
    "UserSession",
    "WidgetAnalyticsDaily",
]
# messaging channels
__all__ += [
    "ChannelConnection",
    "ChannelContact",
    "ChannelInbound",
    "ChannelMedia",
    "ChannelOutbound",
    "ChannelStatusEvent",
    "ContactMerge",
]
# email channel
__all__ += ["EmailMailbox", "EmailThread"]
