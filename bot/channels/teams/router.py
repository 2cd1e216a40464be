"""Which Teams activity goes where: employees' messages to the employees' side, activities in
the agents' channel and its hand-off threads to the desk. A dict of handlers by activity type;
types deskbot does not act on are acknowledged and dropped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.channels.teams import activity as act
from bot.channels.teams.desk import TeamsDesk
from bot.channels.teams.employees import TeamsEmployees
from bot.channels.teams.sdk import Turn


class Router:
    def __init__(self, employees: TeamsEmployees, desk: TeamsDesk) -> None:
        self.employees = employees
        self.desk = desk
        self._handlers: dict[str, Callable[[Turn], Awaitable[None]]] = {
            "message": self._message,
            "invoke": self._invoke,
            "conversationUpdate": self._conversation_update,
        }

    async def on_turn(self, turn: Turn) -> None:
        handler = self._handlers.get(turn.activity["type"])
        if handler is not None:
            await handler(turn)

    async def _message(self, turn: Turn) -> None:
        activity = turn.activity
        if activity["from"]["id"] == activity["recipient"]["id"]:
            return  # our own message echoed back
        if not act.is_personal(activity):
            if await self.desk.in_thread(turn):
                return
            await self.desk.seen(turn)
            if not act.mentions_bot(activity) and not act.submitted(activity):
                return  # channel talk not addressed to deskbot
            if act.is_setup_command(act.text_of(activity)):
                await self.desk.set_up(turn)
                return
        await self.employees.answer(turn)

    async def _invoke(self, turn: Turn) -> None:
        if turn.activity.get("name") == "adaptiveCard/action" and not act.is_personal(
            turn.activity
        ):
            await self.desk.in_thread(turn)  # our only Action.Execute cards are the desk's

    async def _conversation_update(self, turn: Turn) -> None:
        if not act.bot_added(turn.activity):
            return
        if act.is_personal(turn.activity):
            await self.employees.welcome(turn)
        else:  # added to a team: perhaps the agents' one
            await self.desk.seen(turn)
