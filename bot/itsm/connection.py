"""The ticket system the settings name (`DESKBOT_TICKETS`), connected."""

from __future__ import annotations

from pydantic import SecretStr

from bot.settings import Settings
from handoff.itsm.config import JiraConfig, ServiceNowConfig, ZendeskConfig
from handoff.itsm.port import TicketSystem
from handoff.itsm.resilience import RetryPolicy, Timing
from handoff.itsm.systems import SystemConfig, connect

LABELS = {"builtin": "deskbot", "servicenow": "ServiceNow", "jira": "Jira", "zendesk": "Zendesk"}
# The server never waits out a rate limit in-line: the outbox delivers one message at a time,
# so a write that is limited is put off for the time the system asked (`RetryLater`) and the
# dispatcher moves on; a limited poll waits for the next one, a limited status question shows
# deskbot's own records. Other failures are still retried in-line, briefly.
POLICY = RetryPolicy(longest_wait=0.0)


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def system_config(settings: Settings, policy: RetryPolicy = POLICY) -> SystemConfig | None:
    """The configuration of the desk's ITSM, or None for deskbot's own tickets."""
    s = settings
    if s.tickets == "servicenow":
        return ServiceNowConfig(
            s.servicenow_url,
            s.servicenow_user,
            _secret(s.servicenow_password),
            client_id=s.servicenow_client_id,
            client_secret=_secret(s.servicenow_client_secret),
            retry=policy,
        )
    if s.tickets == "jira":
        return JiraConfig(
            s.jira_url,
            s.jira_email,
            _secret(s.jira_api_token),
            s.jira_service_desk_id,
            s.jira_request_type_id,
            retry=policy,
        )
    if s.tickets == "zendesk":
        return ZendeskConfig(
            s.zendesk_url, s.zendesk_email, _secret(s.zendesk_api_token), retry=policy
        )
    return None


def ticket_system(
    settings: Settings, *, timing: Timing | None = None, policy: RetryPolicy = POLICY
) -> TicketSystem | None:
    """The desk's ITSM, connected (nothing is sent before the first call); None when deskbot
    keeps the tickets itself."""
    config = system_config(settings, policy)
    return connect(config, timing=timing) if config is not None else None


def push_secret(settings: Settings) -> str:
    """The shared secret of the configured system's push endpoint ("" when there is none)."""
    secrets = {
        "servicenow": settings.servicenow_push_secret,
        "jira": settings.jira_webhook_secret,
        "zendesk": settings.zendesk_webhook_secret,
    }
    return _secret(secrets.get(settings.tickets)).strip()
