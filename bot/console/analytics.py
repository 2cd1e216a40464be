"""The numbers on the dashboard, computed from what the assistant already records.

Definitions (also in docs/console.md):
- a *question* is a turn that asked something: every decision except small talk and button
  presses; it is *answered automatically* when the assistant answered from an article or
  listed the user's requests, or offered a choice the user then picked from;
- *honest deflection*: an automatic answer not followed, within 7 days, by a handoff of the
  same person or by the same person asking the same question again (same text, or a question
  whose best article is the one already given);
- times to claim and resolve are measured from the handoff (the ticket's creation) to the first
  claim and to the resolution.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, select

from bot.db import aware
from bot.dialogue.conversations import conversations_table, decisions_table
from handoff.tickets import EventKind, events_table, tickets_table
from retrieval.embedding import Embedder
from retrieval.gaps import Gap, cluster, feedback_table, gaps_table

FOLLOW_UP = timedelta(days=7)
MAX_DAYS = 366
TOP = 10


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, UTC)

    @property
    def end_at(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, UTC)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    @classmethod
    def parse(cls, start: str | None, end: str | None, today: date) -> Period:
        """From query-string dates; the default is the last 30 days. Raises ValueError."""
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=29)
        if first > last:
            raise ValueError("the start is after the end")
        if (last - first).days >= MAX_DAYS:
            raise ValueError(f"at most {MAX_DAYS} days")
        return cls(first, last)


@dataclass(frozen=True)
class Day:
    day: date
    conversations: int
    questions: int
    answered: int
    handoffs: int


@dataclass(frozen=True)
class ArticleUse:
    article_id: str
    answers: int
    helpful: int
    not_helpful: int


@dataclass(frozen=True)
class GapGroup:
    example: str
    size: int
    open: int
    nearest_article: str | None


@dataclass
class Dashboard:
    period: Period
    conversations: int = 0
    questions: int = 0
    answered: int = 0
    deflected: int = 0
    deflection_final: bool = True  # False while the 7-day follow-up window is still running
    helpful: int = 0
    not_helpful: int = 0
    handoffs: list[tuple[str, int]] = field(default_factory=list)
    articles: list[ArticleUse] = field(default_factory=list)
    gaps: list[GapGroup] = field(default_factory=list)
    median_claim: timedelta | None = None
    median_resolve: timedelta | None = None
    claimed: int = 0  # the requests each median is taken over
    resolved: int = 0
    daily: list[Day] = field(default_factory=list)

    @property
    def automated_rate(self) -> float | None:
        return self.answered / self.questions if self.questions else None

    @property
    def deflection_rate(self) -> float | None:
        return self.deflected / self.answered if self.answered else None

    @property
    def helpful_rate(self) -> float | None:
        total = self.helpful + self.not_helpful
        return self.helpful / total if total else None


def _norm(text: str | None) -> str:
    return " ".join((text or "").lower().split())


@dataclass(frozen=True)
class _Turn:
    at: datetime
    conversation: str
    requester: str
    intent: str
    decision: str
    article_id: str | None
    route: str
    question: str | None

    @property
    def asks(self) -> bool:
        return self.intent != "smalltalk" and self.route != "button"

    @property
    def automated(self) -> bool:
        return self.decision == "answer" or (
            self.intent == "request_status" and self.decision == "reply"
        )


def _turns(engine: Engine, start: datetime, end: datetime) -> list[_Turn]:
    d, c = decisions_table, conversations_table
    query = (
        select(
            d.c.at,
            d.c.conversation_id,
            c.c.requester,
            d.c.intent,
            d.c.decision,
            d.c.article_id,
            d.c.route,
            d.c.question,
        )
        .join(c, c.c.id == d.c.conversation_id)
        .where(d.c.at >= start, d.c.at < end)
        .order_by(d.c.id)
    )
    with engine.connect() as conn:
        return [_Turn(aware(r[0]), r[1], (r[2] or "").lower(), *r[3:]) for r in conn.execute(query)]


def answered_questions(turns: Sequence[_Turn]) -> list[tuple[_Turn, bool]]:
    """Each question with whether it was answered automatically: a choice counts as answered
    when the next turn of the conversation picks an article from it."""
    following: dict[int, _Turn] = {}
    last: dict[str, int] = {}
    for i, t in enumerate(turns):
        if t.conversation in last:
            following[last[t.conversation]] = t
        last[t.conversation] = i
    out = []
    for i, t in enumerate(turns):
        if not t.asks:
            continue
        picked = following.get(i)
        chose = (
            t.decision == "clarify"
            and picked is not None
            and picked.route == "button"
            and picked.decision == "answer"
        )
        out.append((t, t.automated or chose))
    return out


def deflected(answer: _Turn, later: Sequence[_Turn], handoffs: Sequence[datetime]) -> bool:
    """Not followed within 7 days by a handoff or the same question from the same person."""
    until = answer.at + FOLLOW_UP
    if any(answer.at < at <= until for at in handoffs):
        return False
    for t in later:
        if not (answer.at < t.at <= until) or not t.asks:
            continue
        same_text = answer.question and _norm(t.question) == _norm(answer.question)
        if same_text or (answer.article_id and t.article_id == answer.article_id):
            return False
    return True


def _tickets(engine: Engine, start: datetime, end: datetime) -> list[dict[str, Any]]:
    t = tickets_table
    first_claim = (
        select(events_table.c.ticket_id, func.min(events_table.c.at).label("claimed"))
        .where(events_table.c.kind == EventKind.CLAIMED.value)
        .group_by(events_table.c.ticket_id)
        .subquery()
    )
    query = (
        select(
            t.c.created_at,
            t.c.requester,
            t.c.reason,
            t.c.resolved_at,
            first_claim.c.claimed,
        )
        .outerjoin(first_claim, first_claim.c.ticket_id == t.c.id)
        .where(t.c.created_at >= start, t.c.created_at < end, t.c.conversation_id.is_not(None))
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))


def compute(
    engine: Engine,
    period: Period,
    embedder: Embedder,
    now: datetime | None = None,
    gaps: bool = True,
) -> Dashboard:
    """The dashboard for a period; `gaps=False` skips clustering the unanswered questions (the
    costly part) when only another table is wanted."""
    now = now or datetime.now(UTC)
    start, end = period.start_at, period.end_at
    board = Dashboard(period, deflection_final=end + FOLLOW_UP <= now)
    turns = _turns(engine, start, end + FOLLOW_UP)
    in_period = [t for t in turns if t.at < end]
    tickets = _tickets(engine, start, end + FOLLOW_UP)

    questions = answered_questions(in_period)
    board.questions = len(questions)
    board.answered = sum(ok for _, ok in questions)

    by_person: dict[str, list[_Turn]] = defaultdict(list)
    for t in turns:
        by_person[t.requester].append(t)
    handoffs_of: dict[str, list[datetime]] = defaultdict(list)
    for row in tickets:
        handoffs_of[(row["requester"] or "").lower()].append(aware(row["created_at"]))
    answers = [t for t in in_period if t.decision == "answer"]
    board.deflected = sum(
        deflected(a, by_person[a.requester], handoffs_of[a.requester]) for a in answers
    )

    opened = [r for r in tickets if aware(r["created_at"]) < end]
    board.handoffs = Counter(r["reason"] for r in opened).most_common()
    to_claim = [aware(r["claimed"]) - aware(r["created_at"]) for r in opened if r["claimed"]]
    to_resolve = [
        aware(r["resolved_at"]) - aware(r["created_at"]) for r in opened if r["resolved_at"]
    ]
    board.median_claim, board.claimed = _median(to_claim), len(to_claim)
    board.median_resolve, board.resolved = _median(to_resolve), len(to_resolve)

    feedback = _feedback(engine, start, end)
    board.helpful = sum(c for (_, h), c in feedback.items() if h)
    board.not_helpful = sum(c for (_, h), c in feedback.items() if not h)
    uses = Counter(t.article_id for t in answers if t.article_id)
    # the most used articles, then every other article with feedback in the range (feedback
    # may come days after the answer, or on an article outside the top)
    shown = [a for a, _ in uses.most_common(TOP)]
    shown += sorted({a for a, _ in feedback} - set(shown))
    board.articles = [
        ArticleUse(a, uses[a], feedback.get((a, True), 0), feedback.get((a, False), 0))
        for a in shown
    ]
    if gaps:
        board.gaps = top_gaps(_gaps(engine, start, end), embedder)

    conversations = _conversation_days(engine, start, end)
    board.conversations = sum(conversations.values())
    board.daily = _daily(period, conversations, questions, opened)
    return board


def _feedback(engine: Engine, start: datetime, end: datetime) -> dict[tuple[str, bool], int]:
    f = feedback_table
    with engine.connect() as conn:
        rows = conn.execute(
            select(f.c.article_id, f.c.helpful, func.count())
            .where(f.c.at >= start, f.c.at < end)
            .group_by(f.c.article_id, f.c.helpful)
        )
        return {(a, bool(h)): int(n) for a, h, n in rows}


def _gaps(engine: Engine, start: datetime, end: datetime) -> list[Gap]:
    g = gaps_table
    with engine.connect() as conn:
        rows = conn.execute(
            select(g).where(and_(g.c.at >= start, g.c.at < end)).order_by(g.c.id).limit(5000)
        )
        return [
            Gap(r.id, aware(r.at), r.question, r.reason, r.nearest_article, r.confidence, r.status)
            for r in rows
        ]


def top_gaps(gaps: Sequence[Gap], embedder: Embedder) -> list[GapGroup]:
    return [
        GapGroup(c.examples[0], c.size, sum(g.status == "open" for g in c.gaps), c.nearest_article)
        for c in cluster(gaps, embedder)[:TOP]
    ]


def _conversation_days(engine: Engine, start: datetime, end: datetime) -> Counter[date]:
    c = conversations_table
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.c.created_at).where(c.c.created_at >= start, c.c.created_at < end)
        )
        return Counter(aware(r[0]).date() for r in rows)


def _daily(
    period: Period,
    conversations: Counter[date],
    questions: Sequence[tuple[_Turn, bool]],
    tickets: Sequence[dict[str, Any]],
) -> list[Day]:
    asked = Counter(t.at.date() for t, _ in questions)
    answered = Counter(t.at.date() for t, ok in questions if ok)
    handed = Counter(aware(r["created_at"]).date() for r in tickets)
    return [Day(d, conversations[d], asked[d], answered[d], handed[d]) for d in period.days]
