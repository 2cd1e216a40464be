"""Greetings, thanks, goodbyes, "are you a bot?" (always answered truthfully) and "what can
you do?"."""

from __future__ import annotations

from flows.intents import Decision, Intent, SmalltalkKind
from flows.router import Route
from flows.says import SmallTalk
from flows.types import Decided, FlowState, Outcome, UserTurn


def smalltalk(state: FlowState, turn: UserTurn, route: Route) -> Outcome:
    kind = SmalltalkKind(route.category) if route.category else SmalltalkKind.ACK
    return Outcome(
        state,
        (SmallTalk(kind),),
        Decided(Intent.SMALLTALK, Decision.REPLY, route=route.via, category=kind.value),
    )
