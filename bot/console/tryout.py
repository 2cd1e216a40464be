""" "Try a question": what the assistant would do with a question right now (route, the top
candidates with their scores, confidence, threshold, decision) and, for a draft or an
unpublished edit, what it would do after publishing. Nothing is stored."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace

from aiohttp import web

from bot.console.context import console_of
from bot.console.publishing import OUTCOMES, Publisher
from bot.console.render import page
from bot.redaction import redact_text
from flows.intents import Decision
from flows.types import Decided, FlowState, UserTurn
from retrieval.articles import Article, Status
from retrieval.knowledge import KnowledgeBase

MAX_QUESTION = 300


@dataclass(frozen=True)
class Outcome:
    route: str
    decision: str
    confidence: float | None
    threshold: float | None
    candidates: tuple[tuple[str, str, float], ...]  # (id, title, score)


@dataclass(frozen=True)
class Tried:
    question: str
    now: Outcome
    after: Outcome | None = None  # with the edit published


def _outcome(decided: Decided, kb: KnowledgeBase) -> Outcome:
    if decided.decision is Decision.ANSWER:
        what = f"answers from {decided.article_id}"
    else:
        what = OUTCOMES.get(decided.decision, decided.decision.value)
        if decided.reason is not None:
            what += f" ({decided.reason.value})"
    route = decided.intent.value + (f" via {decided.route}" if decided.route else "")
    if decided.category:
        route += f", {decided.category}"
    candidates = []
    for article_id, score in decided.candidates:
        article = kb.article(article_id)
        candidates.append((article_id, article.title if article else article_id, score))
    return Outcome(route, what, decided.confidence, decided.threshold, tuple(candidates))


def as_published(article: Article, today: object) -> Article:
    """An edit as it would be once published (validated, reviewed today)."""
    return replace(
        article,
        status=Status.VALIDATED,
        reviewed_on=today,  # type: ignore[arg-type]
        review_every_days=article.review_every_days or 365,
    )


def try_question(publisher: Publisher, question: str, edit: Sequence[Article] = ()) -> Tried:
    """Blocking (the encoder): run in a thread."""
    live = publisher.services.knowledge
    live.refresh()
    text = redact_text(question)
    vector = live.encode_query([text])[0]

    def run(kb: KnowledgeBase) -> Outcome:
        policy = publisher.policy_for(kb)
        decided = policy.handle(FlowState(), UserTurn(text, vector=vector)).decided
        return _outcome(decided, kb)

    now = run(live)
    after = run(live.preview(list(edit))) if edit else None
    return Tried(text, now, after)


def question_of(raw: object) -> str:
    text = " ".join(str(raw or "").split())
    return text[:MAX_QUESTION]


async def try_page(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    question = question_of(request.query.get("q", ""))
    tried = None
    if question:
        tried = await asyncio.to_thread(try_question, console.publisher, question)
    return page(request, "try.html", tried=tried, question=question)
