"""The kinds of secret redaction removes, and what to call each one when telling the user.

A kind names the marker left in the text (``[redacted <kind>]``), the findings a turn records and
the notice the user gets. The values are stored with conversations and audit events, so they
never change once released; a new detector adds a kind rather than reusing one loosely.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Kind(StrEnum):
    """Kinds of secret, from the most specific to the most general: when two detectors report
    the same span, the earlier kind names it (a Slack token after "token=" is a Slack token)."""

    PRIVATE_KEY = "private_key"
    SLACK_WEBHOOK = "slack_webhook"
    SLACK_TOKEN = "slack_token"
    GITHUB_TOKEN = "github_token"
    GITLAB_TOKEN = "gitlab_token"
    NPM_TOKEN = "npm_token"
    SENDGRID_KEY = "sendgrid_key"
    AZURE_DEVOPS_PAT = "azure_devops_pat"
    AZURE_CLIENT_SECRET = "azure_client_secret"
    AWS_ACCESS_KEY = "aws_access_key"
    AWS_SECRET_KEY = "aws_secret_key"
    GOOGLE_API_KEY = "google_api_key"
    JWT = "jwt"
    AZURE_KEY = "azure_key"
    SAS_TOKEN = "sas_token"
    API_KEY = "api_key"
    URL_CREDENTIALS = "url_credentials"
    BEARER_TOKEN = "bearer_token"
    BASIC_AUTH = "basic_auth"
    BITLOCKER_KEY = "bitlocker_key"
    IBAN = "iban"
    CARD_NUMBER = "card_number"
    SSN = "ssn"
    NI_NUMBER = "ni_number"
    BSN = "bsn"
    PASSPORT_NUMBER = "passport_number"
    RECOVERY_CODE = "recovery_code"
    PIN = "pin"
    ONE_TIME_CODE = "one_time_code"
    WIFI_KEY = "wifi_key"
    PASSWORD = "password"


# The place of each kind in that order.
RANK: Mapping[str, int] = MappingProxyType({kind: i for i, kind in enumerate(Kind)})


# What the user is told was removed: "It looks like your message contained a {label}." Every label
# reads after "a". Machine credentials share one name: users rarely know which vendor a key is from.
_TOKEN = "secret (key or token)"
LABELS: Mapping[str, str] = MappingProxyType(
    {
        Kind.PASSWORD: "password",
        Kind.PIN: "PIN",
        Kind.CARD_NUMBER: "card number",
        Kind.PRIVATE_KEY: "private key",
        Kind.SLACK_TOKEN: _TOKEN,
        Kind.SLACK_WEBHOOK: _TOKEN,
        Kind.GITHUB_TOKEN: _TOKEN,
        Kind.GITLAB_TOKEN: _TOKEN,
        Kind.NPM_TOKEN: _TOKEN,
        Kind.AWS_ACCESS_KEY: _TOKEN,
        Kind.AWS_SECRET_KEY: _TOKEN,
        Kind.GOOGLE_API_KEY: _TOKEN,
        Kind.JWT: _TOKEN,
        Kind.API_KEY: _TOKEN,
        Kind.AZURE_KEY: _TOKEN,
        Kind.SAS_TOKEN: _TOKEN,
        Kind.URL_CREDENTIALS: _TOKEN,
        Kind.BEARER_TOKEN: _TOKEN,
        Kind.BASIC_AUTH: _TOKEN,
        Kind.AZURE_DEVOPS_PAT: _TOKEN,
        Kind.AZURE_CLIENT_SECRET: _TOKEN,
        Kind.SENDGRID_KEY: _TOKEN,
        Kind.WIFI_KEY: "Wi-Fi key",
        Kind.BITLOCKER_KEY: "BitLocker recovery key",
        Kind.ONE_TIME_CODE: "one-time sign-in code",
        Kind.RECOVERY_CODE: "recovery or backup code",
        Kind.SSN: "Social Security number",
        Kind.NI_NUMBER: "National Insurance number",
        Kind.BSN: "citizen service number (BSN)",
        Kind.IBAN: "bank account number (IBAN)",
        Kind.PASSPORT_NUMBER: "passport number",
    }
)
