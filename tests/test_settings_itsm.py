"""The ticket-system settings: defaults that need nothing, and errors that name the variable
and never print a secret."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.settings import Settings

SERVICENOW = {
    "DESKBOT_TICKETS": "servicenow",
    "DESKBOT_SERVICENOW_URL": "https://example.service-now.com/",
    "DESKBOT_SERVICENOW_USER": "deskbot.integration",
    "DESKBOT_SERVICENOW_PASSWORD": "pw-Secret-1",
}


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def refusal(**values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        settings(**values)
    return str(caught.value)


def test_the_builtin_system_is_the_default_and_needs_nothing() -> None:
    s = settings()
    assert (s.tickets, s.itsm_poll_seconds) == ("builtin", 30.0)


def test_a_complete_servicenow_configuration_is_read() -> None:
    s = settings(**SERVICENOW, DESKBOT_ITSM_POLL_SECONDS="120")
    assert s.servicenow_url == "https://example.service-now.com"
    assert s.servicenow_password is not None
    assert s.servicenow_password.get_secret_value() == "pw-Secret-1"
    assert "pw-Secret-1" not in repr(s) and s.itsm_poll_seconds == 120


def test_servicenow_without_a_url_names_the_variable_and_hides_the_password() -> None:
    message = refusal(**{**SERVICENOW, "DESKBOT_SERVICENOW_URL": ""})
    assert "DESKBOT_TICKETS=servicenow needs DESKBOT_SERVICENOW_URL" in message
    assert "pw-Secret-1" not in message


def test_every_missing_variable_is_named_at_once() -> None:
    message = refusal(DESKBOT_TICKETS="jira", DESKBOT_JIRA_URL="https://example.atlassian.net")
    assert (
        "DESKBOT_TICKETS=jira needs DESKBOT_JIRA_EMAIL, DESKBOT_JIRA_API_TOKEN, "
        "DESKBOT_JIRA_SERVICE_DESK_ID, DESKBOT_JIRA_REQUEST_TYPE_ID"
    ) in message
    message = refusal(DESKBOT_TICKETS="zendesk", DESKBOT_ZENDESK_API_TOKEN="tok-Secret-2")
    assert "needs DESKBOT_ZENDESK_URL, DESKBOT_ZENDESK_EMAIL" in message
    assert "tok-Secret-2" not in message


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"DESKBOT_TICKETS": "remedy"}, "DESKBOT_TICKETS must be one of builtin, servicenow"),
        (
            {**SERVICENOW, "DESKBOT_SERVICENOW_URL": "http://example.service-now.com"},
            "DESKBOT_SERVICENOW_URL must be an https:// URL",
        ),
        (
            {**SERVICENOW, "DESKBOT_SERVICENOW_URL": "http://u:pw-Secret-1@x.example"},
            "DESKBOT_SERVICENOW_URL must be the base URL alone",
        ),
        (
            {**SERVICENOW, "DESKBOT_SERVICENOW_CLIENT_ID": "abc"},
            "DESKBOT_SERVICENOW_CLIENT_ID and DESKBOT_SERVICENOW_CLIENT_SECRET go together",
        ),
        ({"DESKBOT_JIRA_SERVICE_DESK_ID": "IT"}, "DESKBOT_JIRA_SERVICE_DESK_ID must be a number"),
        ({"DESKBOT_ITSM_POLL_SECONDS": "0"}, "DESKBOT_ITSM_POLL_SECONDS"),
    ],
)
def test_bad_values_are_refused_with_the_variables_name(
    values: dict[str, str], expected: str
) -> None:
    message = refusal(**values)
    assert expected in message and "pw-Secret-1" not in message


def test_a_local_http_url_is_allowed_for_a_test_instance() -> None:
    s = settings(**{**SERVICENOW, "DESKBOT_SERVICENOW_URL": "http://127.0.0.1:8765"})
    assert s.servicenow_url == "http://127.0.0.1:8765"
