"""The console as a `Desk`: agents work the queue in the browser, and every page reads the
tickets from the database, so no ticket event is ever queued for it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.console.context import ORIGIN
from bot.seams import DeskEvent


class ConsoleDesk:
    origin = ORIGIN
    listening = False

    async def deliver(self, event: DeskEvent, ticket_id: int, payload: Mapping[str, Any]) -> None:
        """Nothing to do: the console reads the queue itself (and is never sent anything)."""
