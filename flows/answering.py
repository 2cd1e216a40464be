"""Answering from the knowledge base: answer, offer a choice, ask to rephrase, or hand off.

Shared by the FAQ and password flows; the only difference between them is which articles
may answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from flows.intents import Decision, Intent, Reason
from flows.says import Answer, Choose, HandoffNotice, Rephrase, Say
from flows.types import Decided, FlowState, Handoff, Outcome, RecordGap, UserTurn
from retrieval.knowledge import Retrieval


@dataclass(frozen=True)
class AnswerPolicy:
    # Two candidates whose fused scores are this close are both offered (when both would be
    # answerable on their own, i.e. the top one clears the threshold).
    close_margin: float = 0.03
    # Below the threshold but at least this probable: worth asking the user to rephrase once.
    # Below it nothing in the knowledge base is near; asking again wastes the user's time.
    rephrase_floor: float = 0.25


def decided(intent: Intent, decision: Decision, hit: Retrieval, **extra: object) -> Decided:
    top = hit.result.top
    return Decided(
        intent=intent,
        decision=decision,
        article_id=top.article_id if top else None,
        confidence=round(hit.confidence, 4),
        threshold=round(hit.threshold, 4),
        candidates=tuple((c.article_id, round(c.score, 4)) for c in hit.result.candidates),
        **extra,  # type: ignore[arg-type]
    )


def answer(
    state: FlowState,
    turn: UserTurn,
    hit: Retrieval,
    intent: Intent,
    policy: AnswerPolicy,
    prefix: tuple[Say, ...] = (),
    maybe_off_topic: bool = False,
) -> Outcome:
    """The decision for a question given its retrieval. An unconfident question is asked to
    be rephrased once, unless nothing is near or it may well not be an IT question."""
    state = replace(state, questions=(*state.questions, turn.text), last_question=turn.text)
    candidates = hit.result.candidates
    if hit.confident:
        top = candidates[0]
        close = [c for c in candidates[1:3] if top.score - c.score <= policy.close_margin]
        if close:
            choices = (top.article_id, *(c.article_id for c in close))
            state = replace(
                state,
                pending_choices=choices,
                offered=(*state.offered, *((c, hit.confidence) for c in choices)),
            )
            articles = tuple(hit.articles[c] for c in choices)
            return Outcome(
                state,
                (*prefix, Choose(articles)),
                decided(intent, Decision.CLARIFY, hit),
            )
        article = hit.articles[top.article_id]
        state = replace(
            state,
            last_answer=article.id,
            pending_choices=(),
            rephrase_asked=False,
            offered=(*state.offered, (article.id, hit.confidence)),
        )
        return Outcome(
            state,
            (*prefix, Answer(article)),
            decided(intent, Decision.ANSWER, hit),
        )
    gap = RecordGap(
        turn.text,
        "low_confidence",
        candidates[0].article_id if candidates else None,
        hit.confidence,
    )
    worth_asking = hit.confidence >= policy.rephrase_floor and not maybe_off_topic
    if not state.rephrase_asked and worth_asking:
        state = replace(state, rephrase_asked=True, pending_choices=())
        return Outcome(
            state, (*prefix, Rephrase()), decided(intent, Decision.CLARIFY, hit), (gap,)
        )
    reason = Reason.REPEATED_FAILURE if state.rephrase_asked else Reason.LOW_CONFIDENCE
    reported = intent if worth_asking or intent is not Intent.FAQ else Intent.UNKNOWN
    return handoff(state, reported, reason, "normal", category_of(hit), hit, prefix, (gap,))


def handoff(
    state: FlowState,
    intent: Intent,
    reason: Reason,
    priority: str,
    category: str,
    hit: Retrieval | None = None,
    prefix: tuple[Say, ...] = (),
    actions: tuple[RecordGap, ...] = (),
    route: str = "default",
) -> Outcome:
    record = (
        decided(intent, Decision.HANDOFF, hit, reason=reason, route=route, category=category)
        if hit is not None
        else Decided(intent, Decision.HANDOFF, reason=reason, route=route, category=category)
    )
    state = replace(state, pending_choices=(), rephrase_asked=False)
    return Outcome(
        state,
        (*prefix, HandoffNotice(reason, priority)),
        record,
        (*actions, Handoff(reason, priority, category)),
    )


def category_of(hit: Retrieval | None) -> str:
    """A suggested ticket category: the first tag of the nearest article, if any is near."""
    if hit is None or not hit.result.candidates:
        return "general"
    article = hit.articles.get(hit.result.candidates[0].article_id)
    return article.tags[0] if article and article.tags else "general"
