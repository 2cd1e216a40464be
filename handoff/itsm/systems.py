"""From a configuration to a connected ticket system: one registry entry per external system.

The composition root builds the config from the settings and calls `connect`, or `builtin`
with deskbot's own ticket store for the default. Each entry says how the system is named in
messages, how it signs in and how it words its errors; `connect` builds the one HTTP client
the adapter uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from handoff.itsm import jira, servicenow, zendesk
from handoff.itsm.builtin import Builtin
from handoff.itsm.config import JiraConfig, ServiceNowConfig, ZendeskConfig
from handoff.itsm.http import Auth, Client, ErrorReader
from handoff.itsm.port import TicketSystem
from handoff.itsm.resilience import Timing
from handoff.tickets import TicketStore

SystemConfig = ServiceNowConfig | JiraConfig | ZendeskConfig


@dataclass(frozen=True)
class Kind:
    label: str  # how messages name the system
    credentials: Callable[[Any, Timing], Auth]
    read_error: ErrorReader
    adapter: Callable[[Any, Client], TicketSystem]


KINDS: dict[type, Kind] = {
    ServiceNowConfig: Kind(
        "ServiceNow", servicenow.credentials, servicenow.read_error, servicenow.ServiceNow
    ),
    JiraConfig: Kind("Jira", jira.credentials, jira.read_error, jira.Jira),
    ZendeskConfig: Kind("Zendesk", zendesk.credentials, zendesk.read_error, zendesk.Zendesk),
}


def connect(
    config: SystemConfig,
    *,
    timing: Timing | None = None,
    session: aiohttp.ClientSession | None = None,
) -> TicketSystem:
    """The adapter for `config`'s system. Nothing is sent until the first call."""
    kind = KINDS[type(config)]
    timing = timing or Timing()
    client = Client(
        kind.label,
        config.url,
        kind.credentials(config, timing),
        read_error=kind.read_error,
        policy=config.retry,
        timing=timing,
        session=session,
    )
    return kind.adapter(config, client)


def builtin(store: TicketStore) -> TicketSystem:
    """deskbot's own tickets behind the same port (`DESKBOT_TICKETS=builtin`)."""
    return Builtin(store)
