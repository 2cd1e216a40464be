"""Slack channel (not configured yet)."""

from __future__ import annotations

from bot.core import DialogueCore, Services
from bot.settings import Settings
from bot.web.app import Mount


def mount(settings: Settings, services: Services, core: DialogueCore, host: str) -> Mount | None:
    """Mount the Slack endpoints when Slack is configured; None otherwise."""
    return None
