"""The answering decision on its own: below the threshold, a question is asked to be rephrased
once, unless nothing in the knowledge base is near or it may well not be an IT question."""

from __future__ import annotations

from flows.answering import AnswerPolicy, answer
from flows.intents import Decision, Intent, Reason
from flows.types import FlowState, RecordGap, UserTurn
from retrieval.index import Candidate, SearchResult
from retrieval.knowledge import Retrieval

POLICY = AnswerPolicy()


def unsure(confidence: float) -> Retrieval:
    top = Candidate("travel-abroad-laptop", 0.9, 0.5, 0.4, 0.3)
    return Retrieval(SearchResult("q", (top,)), confidence, threshold=0.9, articles={})


def test_an_unsure_it_question_is_asked_to_rephrase_once() -> None:
    turn = UserTurn("my laptop does something odd abroad")
    first = answer(FlowState(), turn, unsure(0.5), Intent.FAQ, POLICY)
    assert first.decided.decision is Decision.CLARIFY and first.state.rephrase_asked
    second = answer(first.state, turn, unsure(0.5), Intent.FAQ, POLICY)
    assert second.decided.decision is Decision.HANDOFF
    assert second.decided.reason is Reason.REPEATED_FAILURE


def test_an_unsure_question_that_may_be_off_topic_is_handed_off_at_once() -> None:
    turn = UserTurn("how do I book a flight for my business trip")
    out = answer(FlowState(), turn, unsure(0.5), Intent.FAQ, POLICY, maybe_off_topic=True)
    assert out.decided.decision is Decision.HANDOFF
    assert out.decided.reason is Reason.LOW_CONFIDENCE
    assert out.decided.intent is Intent.UNKNOWN
    gaps = [a for a in out.actions if isinstance(a, RecordGap)]
    assert [g.question for g in gaps] == [turn.text]  # still recorded for knowledge owners


def test_nothing_near_is_handed_off_without_asking() -> None:
    out = answer(FlowState(), UserTurn("xyz"), unsure(0.1), Intent.FAQ, POLICY)
    assert out.decided.decision is Decision.HANDOFF and not out.state.rephrase_asked
