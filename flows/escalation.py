"""Human requests and risky intents: never answered automatically, always handed off."""

from __future__ import annotations

from dataclasses import replace

from flows.answering import handoff
from flows.intents import Intent, Reason
from flows.router import Route
from flows.types import FlowState, Outcome, UserTurn


def human(state: FlowState, turn: UserTurn, route: Route) -> Outcome:
    reason = Reason.NEGATIVE_FEEDBACK if state.negative_feedback else Reason.USER_REQUEST
    if turn.text and not turn.action:
        state = _remember(state, turn)
    return handoff(state, Intent.HUMAN, reason, "normal", "general", route=route.via)


def risky(state: FlowState, turn: UserTurn, route: Route) -> Outcome:
    category = route.category or "security_incident"
    return handoff(
        _remember(state, turn), Intent.RISKY, Reason.RISKY_INTENT, "high", category, route=route.via
    )


def _remember(state: FlowState, turn: UserTurn) -> FlowState:
    return replace(state, questions=(*state.questions, turn.text), last_question=turn.text)
