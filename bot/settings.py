"""One typed settings object, read from the environment and a `.env` file.

Built once in the entry point and passed down; nothing else reads the environment. Slack and
Bot Framework settings keep their ecosystem names, our own carry the DESKBOT_ prefix.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from platformdirs import user_cache_dir
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.inbound import networks
from retrieval.embedding import Backend

DEMO_KB_PATH = Path(__file__).parent / "demo" / "kb"
DEMO_QUESTIONS_PATH = Path(__file__).parent / "demo" / "questions.jsonl"
TICKET_SYSTEMS = ("builtin", "servicenow", "jira", "zendesk")
# What each ticket system cannot work without, by the variable that supplies it.
_REQUIRED = {
    "servicenow": {
        "DESKBOT_SERVICENOW_URL": "servicenow_url",
        "DESKBOT_SERVICENOW_USER": "servicenow_user",
        "DESKBOT_SERVICENOW_PASSWORD": "servicenow_password",
    },
    "jira": {
        "DESKBOT_JIRA_URL": "jira_url",
        "DESKBOT_JIRA_EMAIL": "jira_email",
        "DESKBOT_JIRA_API_TOKEN": "jira_api_token",
        "DESKBOT_JIRA_SERVICE_DESK_ID": "jira_service_desk_id",
        "DESKBOT_JIRA_REQUEST_TYPE_ID": "jira_request_type_id",
    },
    "zendesk": {
        "DESKBOT_ZENDESK_URL": "zendesk_url",
        "DESKBOT_ZENDESK_EMAIL": "zendesk_email",
        "DESKBOT_ZENDESK_API_TOKEN": "zendesk_api_token",
    },
}
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,  # an error must not print the passwords and tokens it read
    )

    database_url: str = Field("sqlite:///deskbot.db", validation_alias=_env("DESKBOT_DATABASE_URL"))
    kb_path: Path = Field(DEMO_KB_PATH, validation_alias=_env("DESKBOT_KB_PATH"))
    questions_path: Path = Field(
        DEMO_QUESTIONS_PATH, validation_alias=_env("DESKBOT_QUESTIONS_PATH")
    )
    model_path: Path | None = Field(None, validation_alias=_env("DESKBOT_MODEL_PATH"))
    # ONNX Runtime in fp32: torch's vectors (cosine > 0.99999) without loading torch; the int8
    # variant lost 0.6 points of P@1 on StackFAQ-dev (docs/evaluation.md#encoder-backends).
    encoder_backend: Backend = Field(Backend.ONNX, validation_alias=_env("DESKBOT_ENCODER_BACKEND"))
    target_precision: float = Field(
        0.975, gt=0.5, le=1.0, validation_alias=_env("DESKBOT_TARGET_PRECISION")
    )
    confidence_threshold: float | None = Field(
        None, ge=0.0, le=1.0, validation_alias=_env("DESKBOT_CONFIDENCE_THRESHOLD")
    )
    public_url: str = Field("", validation_alias=_env("DESKBOT_PUBLIC_URL"))
    web_identity_header: str = Field("", validation_alias=_env("DESKBOT_WEB_IDENTITY_HEADER"))
    # reverse proxies whose X-Forwarded-For is believed (addresses or networks, comma-separated)
    trusted_proxies: str = Field("", validation_alias=_env("DESKBOT_TRUSTED_PROXIES"))
    # the router's exemplar vectors and weights, kept between starts (flows/cache.py)
    cache_dir: Path = Field(
        default_factory=lambda: Path(user_cache_dir("deskbot")),
        validation_alias=_env("DESKBOT_CACHE_DIR"),
    )
    spool_file: Path = Field(
        Path("deskbot-spool.jsonl"), validation_alias=_env("DESKBOT_SPOOL_FILE")
    )

    # Shutdown and faults (docs/deploy.md): SIGTERM drains within this many seconds; an
    # accepted event's lease lapses after `inbox_lease_seconds` without renewal (then another
    # replica or this one restarted takes it); the database gets `db_timeout_seconds` to connect
    # or lend a pooled connection, and each statement `db_statement_timeout_seconds` (PostgreSQL).
    drain_seconds: float = Field(
        25.0, ge=0, le=3600, validation_alias=_env("DESKBOT_DRAIN_SECONDS")
    )
    inbox_lease_seconds: float = Field(
        30.0, ge=1, le=3600, validation_alias=_env("DESKBOT_INBOX_LEASE_SECONDS")
    )
    db_timeout_seconds: float = Field(
        5.0, gt=0, le=300, validation_alias=_env("DESKBOT_DB_TIMEOUT_SECONDS")
    )
    db_statement_timeout_seconds: float = Field(
        15.0, gt=0, le=3600, validation_alias=_env("DESKBOT_DB_STATEMENT_TIMEOUT_SECONDS")
    )

    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str | None = Field(None, validation_alias=_env("DESKBOT_SLACK_API_URL"))
    slack_agent_channel: str | None = Field(
        None, validation_alias=_env("DESKBOT_SLACK_AGENT_CHANNEL")
    )

    microsoft_app_id: str = Field("", validation_alias=_env("MicrosoftAppId"))
    microsoft_app_password: SecretStr = Field(
        SecretStr(""), validation_alias=_env("MicrosoftAppPassword")
    )
    microsoft_app_tenant_id: str = Field("", validation_alias=_env("MicrosoftAppTenantId"))
    microsoft_app_type: str = Field("MultiTenant", validation_alias=_env("MicrosoftAppType"))
    teams_agent_channel: str | None = Field(
        None, validation_alias=_env("DESKBOT_TEAMS_AGENT_CHANNEL")
    )

    # the ticket system: deskbot's own (default) or the desk's ITSM
    tickets: str = Field("builtin", validation_alias=_env("DESKBOT_TICKETS"))
    itsm_poll_seconds: float = Field(
        30.0, gt=0, le=3600, validation_alias=_env("DESKBOT_ITSM_POLL_SECONDS")
    )
    servicenow_url: str = Field("", validation_alias=_env("DESKBOT_SERVICENOW_URL"))
    servicenow_user: str = Field("", validation_alias=_env("DESKBOT_SERVICENOW_USER"))
    servicenow_password: SecretStr | None = Field(
        None, validation_alias=_env("DESKBOT_SERVICENOW_PASSWORD")
    )
    servicenow_client_id: str = Field("", validation_alias=_env("DESKBOT_SERVICENOW_CLIENT_ID"))
    servicenow_client_secret: SecretStr | None = Field(
        None, validation_alias=_env("DESKBOT_SERVICENOW_CLIENT_SECRET")
    )
    jira_url: str = Field("", validation_alias=_env("DESKBOT_JIRA_URL"))
    jira_email: str = Field("", validation_alias=_env("DESKBOT_JIRA_EMAIL"))
    jira_api_token: SecretStr | None = Field(None, validation_alias=_env("DESKBOT_JIRA_API_TOKEN"))
    jira_service_desk_id: str = Field("", validation_alias=_env("DESKBOT_JIRA_SERVICE_DESK_ID"))
    jira_request_type_id: str = Field("", validation_alias=_env("DESKBOT_JIRA_REQUEST_TYPE_ID"))
    zendesk_url: str = Field("", validation_alias=_env("DESKBOT_ZENDESK_URL"))
    zendesk_email: str = Field("", validation_alias=_env("DESKBOT_ZENDESK_EMAIL"))
    zendesk_api_token: SecretStr | None = Field(
        None, validation_alias=_env("DESKBOT_ZENDESK_API_TOKEN")
    )
    # Shared secrets of the optional push endpoints: each is mounted only when its secret is set
    # (a verified push makes deskbot poll at once; polling stays the fallback).
    servicenow_push_secret: SecretStr | None = Field(
        None, validation_alias=_env("DESKBOT_SERVICENOW_PUSH_SECRET")
    )
    jira_webhook_secret: SecretStr | None = Field(
        None, validation_alias=_env("DESKBOT_JIRA_WEBHOOK_SECRET")
    )
    zendesk_webhook_secret: SecretStr | None = Field(
        None, validation_alias=_env("DESKBOT_ZENDESK_WEBHOOK_SECRET")
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        networks(value)  # raises ValueError naming the entry that is no address
        return value.strip()

    @field_validator("tickets")
    @classmethod
    def _known_ticket_system(cls, value: str) -> str:
        name = value.strip().lower()
        if name not in TICKET_SYSTEMS:
            raise ValueError(
                f"DESKBOT_TICKETS must be one of {', '.join(TICKET_SYSTEMS)} (got {value!r})"
            )
        return name

    @field_validator("servicenow_url", "jira_url", "zendesk_url")
    @classmethod
    def _ticket_system_url(cls, value: str, info: ValidationInfo) -> str:
        url = value.strip().rstrip("/")
        if not url:
            return url
        name = f"DESKBOT_{(info.field_name or '').upper()}"
        parts = urlsplit(url)
        if parts.username or parts.password or parts.query:  # checked first: never echoed
            raise ValueError(f"{name} must be the base URL alone, without credentials or a query")
        local = parts.scheme == "http" and parts.hostname in _LOOPBACK
        if not (parts.scheme == "https" or local) or not parts.hostname:
            raise ValueError(f"{name} must be an https:// URL (got {url!r})")
        return url

    @model_validator(mode="after")
    def _ticket_system_complete(self) -> Settings:
        needed = _REQUIRED.get(self.tickets, {})
        missing = [name for name, field in needed.items() if not _given(getattr(self, field))]
        if missing:
            raise ValueError(f"DESKBOT_TICKETS={self.tickets} needs {', '.join(missing)}")
        if bool(self.servicenow_client_id) != _given(self.servicenow_client_secret):
            raise ValueError(
                "DESKBOT_SERVICENOW_CLIENT_ID and DESKBOT_SERVICENOW_CLIENT_SECRET go together "
                "(OAuth); set both, or neither for Basic authentication"
            )
        for name, value in (
            ("DESKBOT_JIRA_SERVICE_DESK_ID", self.jira_service_desk_id),
            ("DESKBOT_JIRA_REQUEST_TYPE_ID", self.jira_request_type_id),
        ):
            if value and not value.isdigit():
                raise ValueError(f"{name} must be a number, the id Jira shows (got {value!r})")
        return self

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("DESKBOT_DATABASE_URL must be a sqlite:// or postgresql:// URL")
        return value

    @field_validator("encoder_backend", mode="before")
    @classmethod
    def _known_backend(cls, value: object) -> object:
        choices = [b.value for b in Backend]
        if isinstance(value, str) and value.strip().lower() not in choices:
            raise ValueError(
                f"DESKBOT_ENCODER_BACKEND must be one of {', '.join(choices)}, not {value!r}"
            )
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and (self.slack_signing_secret or self.slack_app_token))

    @property
    def teams_auth_enabled(self) -> bool:
        return bool(self.microsoft_app_id)


def _given(value: str | SecretStr | None) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value().strip())
    return bool(value and value.strip())
