"""One typed settings object, read from the environment and a `.env` file.

Built once in the entry point and passed down; nothing else reads the environment. Slack and
Bot Framework settings keep their ecosystem names, our own carry the DESKBOT_ prefix.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from retrieval.embedding import Backend

DEMO_KB_PATH = Path(__file__).parent / "demo" / "kb"
DEMO_QUESTIONS_PATH = Path(__file__).parent / "demo" / "questions.jsonl"


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
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
    spool_file: Path = Field(
        Path("deskbot-spool.jsonl"), validation_alias=_env("DESKBOT_SPOOL_FILE")
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
