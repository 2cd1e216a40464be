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
    PASSWORD = "password"
    PIN = "pin"
    CARD_NUMBER = "card_number"
    PRIVATE_KEY = "private_key"
    SLACK_TOKEN = "slack_token"
    SLACK_WEBHOOK = "slack_webhook"
    GITHUB_TOKEN = "github_token"
    GITLAB_TOKEN = "gitlab_token"
    NPM_TOKEN = "npm_token"
    AWS_ACCESS_KEY = "aws_access_key"
    AWS_SECRET_KEY = "aws_secret_key"
    GOOGLE_API_KEY = "google_api_key"
    JWT = "jwt"
    API_KEY = "api_key"
    AZURE_KEY = "azure_key"
    SAS_TOKEN = "sas_token"
    URL_CREDENTIALS = "url_credentials"
    BEARER_TOKEN = "bearer_token"
    BASIC_AUTH = "basic_auth"
    AZURE_DEVOPS_PAT = "azure_devops_pat"
    AZURE_CLIENT_SECRET = "azure_client_secret"
    SENDGRID_KEY = "sendgrid_key"
    WIFI_KEY = "wifi_key"
    BITLOCKER_KEY = "bitlocker_key"
    ONE_TIME_CODE = "one_time_code"
    RECOVERY_CODE = "recovery_code"
    SSN = "ssn"
    NI_NUMBER = "ni_number"
    BSN = "bsn"
    IBAN = "iban"
    PASSPORT_NUMBER = "passport_number"


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
