"""The ticket system the settings name (`DESKBOT_TICKETS`), connected."""

from __future__ import annotations

from pydantic import SecretStr

from bot.settings import Settings
from handoff.itsm.config import JiraConfig, ServiceNowConfig, ZendeskConfig
from handoff.itsm.port import TicketSystem
from handoff.itsm.resilience import Timing
from handoff.itsm.systems import SystemConfig, connect

LABELS = {"builtin": "deskbot", "servicenow": "ServiceNow", "jira": "Jira", "zendesk": "Zendesk"}


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def system_config(settings: Settings) -> SystemConfig | None:
    """The configuration of the desk's ITSM, or None for deskbot's own tickets."""
    s = settings
    if s.tickets == "servicenow":
        return ServiceNowConfig(
            s.servicenow_url,
            s.servicenow_user,
            _secret(s.servicenow_password),
            client_id=s.servicenow_client_id,
            client_secret=_secret(s.servicenow_client_secret),
        )
    if s.tickets == "jira":
        return JiraConfig(
            s.jira_url,
            s.jira_email,
            _secret(s.jira_api_token),
            s.jira_service_desk_id,
            s.jira_request_type_id,
        )
    if s.tickets == "zendesk":
        return ZendeskConfig(s.zendesk_url, s.zendesk_email, _secret(s.zendesk_api_token))
    return None


def ticket_system(settings: Settings, *, timing: Timing | None = None) -> TicketSystem | None:
    """The desk's ITSM, connected (nothing is sent before the first call); None when deskbot
    keeps the tickets itself."""
    config = system_config(settings)
    return connect(config, timing=timing) if config is not None else None


def push_secret(settings: Settings) -> str:
    """The shared secret of the configured system's push endpoint ("" when there is none)."""
    secrets = {
        "servicenow": settings.servicenow_push_secret,
        "jira": settings.jira_webhook_secret,
        "zendesk": settings.zendesk_webhook_secret,
    }
    return _secret(secrets.get(settings.tickets)).strip()
