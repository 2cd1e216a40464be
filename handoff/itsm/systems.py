"""From a configuration to a connected ticket system: one entry per external system.

The composition root builds the config from the settings and calls `connect`, or `builtin`
with deskbot's own ticket store for the default.
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from handoff.itsm.builtin import Builtin
from handoff.itsm.config import JiraConfig, ServiceNowConfig, ZendeskConfig
from handoff.itsm.jira import Jira
from handoff.itsm.port import TicketSystem
from handoff.itsm.resilience import Timing
from handoff.itsm.servicenow import ServiceNow
from handoff.itsm.zendesk import Zendesk
from handoff.tickets import TicketStore

SystemConfig = ServiceNowConfig | JiraConfig | ZendeskConfig
Opener = Callable[..., TicketSystem]

ADAPTERS: dict[type, Opener] = {
    ServiceNowConfig: ServiceNow,
    JiraConfig: Jira,
    ZendeskConfig: Zendesk,
}


def connect(
    config: SystemConfig,
    *,
    timing: Timing | None = None,
    session: aiohttp.ClientSession | None = None,
) -> TicketSystem:
    """The adapter for `config`'s system. Nothing is sent until the first call."""
    return ADAPTERS[type(config)](config, timing=timing, session=session)


def builtin(store: TicketStore) -> TicketSystem:
    """deskbot's own tickets behind the same port (`DESKBOT_TICKETS=builtin`)."""
    return Builtin(store)
