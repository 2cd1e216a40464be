"""Configuration of each ticket system, as plain dataclasses.

The composition root fills these from the settings; nothing here reads the environment.
Secrets are excluded from `repr`, so a config printed in a log or a traceback shows none.
Every mapping has a default that fits an out-of-the-box instance and can be replaced whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from handoff.itsm.port import TicketState
from handoff.itsm.resilience import RetryPolicy

S = TicketState

# ServiceNow incident.state (OOTB); upgraded or customised instances differ, hence configurable.
SERVICENOW_INCIDENT_STATES: Mapping[str, TicketState] = {
    "1": S.NEW,
    "2": S.IN_PROGRESS,
    "3": S.ON_HOLD,
    "6": S.RESOLVED,
    "7": S.CLOSED,
    "8": S.CANCELED,
}
# sc_req_item.state (OOTB): Pending, Open, Work in Progress, Closed Complete/Incomplete/Skipped.
SERVICENOW_ITEM_STATES: Mapping[str, TicketState] = {
    "-5": S.ON_HOLD,
    "1": S.NEW,
    "2": S.IN_PROGRESS,
    "3": S.CLOSED,
    "4": S.CLOSED,
    "7": S.CANCELED,
}
# deskbot priority -> (urgency, impact). ServiceNow's priority lookup makes these P2, P4, P5.
SERVICENOW_PRIORITIES: Mapping[str, tuple[int, int]] = {
    "high": (1, 2),
    "normal": (2, 3),
    "low": (3, 3),
}
# deskbot category (an article's first tag, or a risky intent's category) -> incident.category.
SERVICENOW_CATEGORIES: Mapping[str, str] = {
    "vpn": "network",
    "wifi": "network",
    "network": "network",
    "outage": "network",
    "software": "software",
    "office": "software",
    "teams": "software",
    "onedrive": "software",
    "windows": "software",
    "macos": "software",
    "printing": "hardware",
    "laptop": "hardware",
    "lost_device": "hardware",
    "storage": "hardware",
}

# JSM: status names first (lower case), then the status category every status belongs to.
JIRA_STATUSES: Mapping[str, TicketState] = {
    "waiting for customer": S.ON_HOLD,
    "pending": S.ON_HOLD,
    "resolved": S.RESOLVED,
    "closed": S.CLOSED,
    "canceled": S.CANCELED,
    "cancelled": S.CANCELED,
    "declined": S.CANCELED,
}
JIRA_STATUS_CATEGORIES: Mapping[str, TicketState] = {
    "NEW": S.NEW,
    "INDETERMINATE": S.IN_PROGRESS,
    "DONE": S.RESOLVED,
}

ZENDESK_STATUSES: Mapping[str, TicketState] = {
    "new": S.NEW,
    "open": S.IN_PROGRESS,
    "pending": S.ON_HOLD,  # waiting for the requester
    "hold": S.ON_HOLD,
    "solved": S.RESOLVED,
    "closed": S.CLOSED,
}
ZENDESK_PRIORITIES: Mapping[str, str] = {"high": "high", "normal": "normal", "low": "low"}


@dataclass(frozen=True)
class ServiceNowConfig:
    url: str  # https://example.service-now.com
    user: str  # the integration user: Basic auth, the OAuth password grant, and "ours"
    password: str = field(repr=False)
    client_id: str = ""  # with client_secret: OAuth instead of Basic
    client_secret: str = field(default="", repr=False)
    contact_type: str = "virtual_agent"
    default_category: str = "inquiry"
    categories: Mapping[str, str] = field(default_factory=lambda: dict(SERVICENOW_CATEGORIES))
    priorities: Mapping[str, tuple[int, int]] = field(
        default_factory=lambda: dict(SERVICENOW_PRIORITIES)
    )
    states: Mapping[str, TicketState] = field(
        default_factory=lambda: dict(SERVICENOW_INCIDENT_STATES)
    )
    item_states: Mapping[str, TicketState] = field(
        default_factory=lambda: dict(SERVICENOW_ITEM_STATES)
    )
    caller_cache_seconds: float = 3600.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def oauth(self) -> bool:
        return bool(self.client_id and self.client_secret)


@dataclass(frozen=True)
class JiraConfig:
    url: str  # https://example.atlassian.net
    email: str  # the integration account (an agent on the service desk)
    api_token: str = field(repr=False)
    service_desk_id: str = ""
    request_type_id: str = ""
    request_types: Mapping[str, str] = field(default_factory=dict)  # category -> request type
    priorities: Mapping[str, str] | None = None  # set when the request type shows "priority"
    statuses: Mapping[str, TicketState] = field(default_factory=lambda: dict(JIRA_STATUSES))
    status_categories: Mapping[str, TicketState] = field(
        default_factory=lambda: dict(JIRA_STATUS_CATEGORIES)
    )
    scan_pages: int = 4  # status list: how many pages (50 each) of recent desk activity to read
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True)
class ZendeskConfig:
    url: str  # https://example.zendesk.com
    email: str  # the agent whose API token this is
    api_token: str = field(repr=False)
    ticket_type: str = "incident"
    tags: tuple[str, ...] = ("deskbot",)
    priorities: Mapping[str, str] = field(default_factory=lambda: dict(ZENDESK_PRIORITIES))
    statuses: Mapping[str, TicketState] = field(default_factory=lambda: dict(ZENDESK_STATUSES))
    retry: RetryPolicy = field(default_factory=RetryPolicy)
