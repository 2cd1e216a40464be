"""Pressed buttons: feedback on an answer, a choice between close articles, asking for a
person. Numbered replies ("2") choose too, for channels without buttons."""

from __future__ import annotations

from dataclasses import replace

from flows.intents import Decision, Intent
from flows.says import Answer, FeedbackNothing, FeedbackSorry, FeedbackThanks
from flows.types import (
    Decided,
    FlowState,
    Knowledge,
    Outcome,
    RecordFeedback,
    RecordGap,
    UserTurn,
)


def feedback(state: FlowState, turn: UserTurn, helpful: bool) -> Outcome:
    article = state.last_answer
    if article is None:
        return Outcome(
            state, (FeedbackNothing(),), Decided(Intent.FAQ, Decision.REPLY, route="button")
        )
    state = replace(
        state, feedback=(*state.feedback, (article, helpful)), negative_feedback=not helpful
    )
    actions: tuple[RecordFeedback | RecordGap, ...] = (
        RecordFeedback(article, helpful, state.last_question),
    )
    if helpful:
        return Outcome(
            state,
            (FeedbackThanks(),),
            Decided(Intent.FAQ, Decision.REPLY, article_id=article, route="button"),
            actions,
        )
    if state.last_question:
        actions = (*actions, RecordGap(state.last_question, "not_helpful", article, 0.0))
    return Outcome(
        state,
        (FeedbackSorry(),),
        Decided(Intent.FAQ, Decision.CLARIFY, article_id=article, route="button"),
        actions,
    )


def choice(state: FlowState, article_id: str, knowledge: Knowledge) -> Outcome | None:
    """The user picked one of the offered articles (None: not one we offered)."""
    if article_id not in state.pending_choices:
        return None
    article = knowledge.article(article_id)
    if article is None:
        return None
    state = replace(state, pending_choices=(), last_answer=article.id, rephrase_asked=False)
    return Outcome(
        state,
        (Answer(article),),
        Decided(Intent.FAQ, Decision.ANSWER, article_id=article.id, route="button"),
    )


def numbered_choice(state: FlowState, text: str) -> str | None:
    """'2' or '2.' while choices are pending -> the second offered article id."""
    stripped = text.strip().rstrip(".)")
    if state.pending_choices and stripped.isdigit():
        index = int(stripped) - 1
        if 0 <= index < len(state.pending_choices):
            return state.pending_choices[index]
    return None
