"""The console (not built yet)."""

from __future__ import annotations

from bot.core import DialogueCore, Services
from bot.settings import Settings
from bot.web.app import Mount


def mount(settings: Settings, services: Services, core: DialogueCore, host: str) -> Mount | None:
    """Mount /console."""
    return None
