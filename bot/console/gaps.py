"""Unanswered questions for knowledge owners: open gaps clustered by meaning with their trend
and nearest article, and the fixes made to them with whether each gap actually closed.

"Closed" is measured, not assumed: after a fix, questions similar to the cluster's that the
assistant still did not answer (handed off, or asked to rephrase) are counted per day and
compared with the rate of the cluster's own questions before the fix.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, insert, select

from bot.console.tables import fixes_table
from bot.db import aware
from bot.dialogue.conversations import decisions_table
from retrieval.embedding import Embedder, Vectors
from retrieval.gaps import Cluster, Gap, cluster
from retrieval.knowledge import KnowledgeBase

SIMILAR = 0.7  # the clustering threshold of retrieval.gaps.cluster
TREND_DAYS = 14
MAX_BEFORE_DAYS = 30
MAX_DECISIONS = 5000


class CachedEmbedder:
    """Remembers the vectors of recent questions: the gaps page re-clusters on every visit."""

    def __init__(self, embedder: Embedder, size: int = 20000) -> None:
        self._embedder = embedder
        self._size = size
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._embedder.name

    def encode(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            fresh = self._embedder.encode(missing)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    self._cache[text] = vector
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        with self._lock:
            rows = [self._cache.get(t) for t in texts]
        found = [r for r in rows if r is not None]
        if len(found) < len(rows):  # evicted meanwhile: encode directly
            return self._embedder.encode(list(texts))
        return np.vstack(found) if found else np.zeros((0, 1), dtype=np.float32)


@dataclass(frozen=True)
class ClusterView:
    gap_ids: tuple[int, ...]
    size: int
    examples: tuple[str, ...]
    trend: tuple[int, ...]  # questions per day, oldest first, the last TREND_DAYS days
    nearest_id: str | None
    nearest_title: str | None
    confidence: float

    @property
    def key(self) -> str:
        return ",".join(str(i) for i in self.gap_ids)

    @property
    def this_week(self) -> int:
        return sum(self.trend[-7:])

    @property
    def last_week(self) -> int:
        return sum(self.trend[-14:-7])


def daily_counts(times: Sequence[datetime], now: datetime, days: int = TREND_DAYS) -> list[int]:
    counts = [0] * days
    today = now.date()
    for at in times:
        back = (today - at.date()).days
        if 0 <= back < days:
            counts[days - 1 - back] += 1
    return counts


def view(c: Cluster, kb: KnowledgeBase, now: datetime, vector: Vectors) -> ClusterView:
    """`vector`: the embedding of the cluster's first example."""
    nearest = kb.nearest(c.examples[0], vector)
    top = nearest.top
    return ClusterView(
        gap_ids=tuple(g.id for g in c.gaps),
        size=c.size,
        examples=tuple(c.examples),
        trend=tuple(daily_counts([g.at for g in c.gaps], now)),
        nearest_id=top.id if top else None,
        nearest_title=top.title if top else None,
        confidence=nearest.confidence if top else 0.0,
    )


def clusters(
    gaps: Sequence[Gap], embedder: Embedder, kb: KnowledgeBase, now: datetime
) -> list[ClusterView]:
    found = cluster(gaps, embedder, SIMILAR)
    # the clustering has just encoded these questions: the console's embedder has them cached
    vectors = embedder.encode([c.examples[0] for c in found])
    return [view(c, kb, now, vectors[i]) for i, c in enumerate(found)]


def before_window(gaps: Sequence[Gap], now: datetime) -> tuple[int, int]:
    """(questions, days) of a cluster before its fix: from its first question, at most 30 days."""
    if not gaps:
        return 0, 1
    oldest = min(g.at for g in gaps)
    days = min(max((now - oldest).days + 1, 1), MAX_BEFORE_DAYS)
    start = now - timedelta(days=days)
    return sum(1 for g in gaps if g.at >= start), days


@dataclass(frozen=True)
class Fix:
    id: int
    at: datetime
    actor: str
    kind: str
    article_id: str
    questions: tuple[str, ...]
    before_count: int
    before_days: int


@dataclass(frozen=True)
class FixOutcome:
    fix: Fix
    answered: int  # similar questions answered automatically since the fix
    unanswered: int  # similar questions handed off or asked to rephrase since the fix
    days: float
    same_answered: int = 0  # of those, the cluster's own questions (the same words)
    same_unanswered: int = 0

    @property
    def before_rate(self) -> float:
        return self.fix.before_count / max(self.fix.before_days, 1)

    @property
    def after_rate(self) -> float:
        return self.unanswered / max(self.days, 1.0)

    @property
    def verdict(self) -> str:
        if self.same_answered and not self.same_unanswered:
            return "closed"  # the very questions of the cluster are answered now
        if self.answered + self.unanswered == 0:
            return "no similar questions since"
        if self.unanswered == 0:
            return "closed"
        if self.after_rate < self.before_rate:
            return "narrowed"
        return "still open"


def _same(question: str) -> str:
    return " ".join(question.lower().split())


class FixStore:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))

    def record(
        self,
        actor: str,
        kind: str,
        article_id: str,
        gaps: Sequence[Gap],
    ) -> None:
        now = self._clock()
        count, days = before_window(gaps, now)
        questions = list(dict.fromkeys(g.question for g in gaps))[:20]
        with self.engine.begin() as conn:
            conn.execute(
                insert(fixes_table).values(
                    at=now,
                    actor=actor,
                    kind=kind,
                    article_id=article_id,
                    questions=questions,
                    gap_ids=[g.id for g in gaps],
                    before_count=count,
                    before_days=days,
                )
            )

    def recent(self, limit: int = 20) -> list[Fix]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(fixes_table).order_by(fixes_table.c.id.desc()).limit(limit)
            ).all()
        out = []
        for r in rows:
            m = r._mapping
            at = aware(m["at"])
            out.append(
                Fix(
                    m["id"],
                    at,
                    m["actor"],
                    m["kind"],
                    m["article_id"],
                    tuple(m["questions"] or ()),
                    m["before_count"],
                    m["before_days"],
                )
            )
        return out

    def outcomes(self, fixes: Sequence[Fix], embedder: Embedder) -> list[FixOutcome]:
        """For each fix, the similar questions asked since, by what the assistant did. The
        questions asked are read and encoded once for all the fixes; each counts its part."""
        if not fixes:
            return []
        d = decisions_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(d.c.at, d.c.question, d.c.decision)
                .where(
                    d.c.at >= min(f.at for f in fixes),
                    d.c.question.is_not(None),
                    d.c.route != "button",
                )
                .order_by(d.c.id)
                .limit(MAX_DECISIONS)
            ).all()
        now = self._clock()
        asked = embedder.encode([r.question for r in rows]) if rows else None
        at = np.array([aware(r.at).timestamp() for r in rows])
        decision = np.array([r.decision for r in rows], dtype=object)
        out = []
        for fix in fixes:
            days = (now - fix.at).total_seconds() / 86400
            if asked is None or not fix.questions:
                out.append(FixOutcome(fix, 0, 0, days))
                continue
            reference = embedder.encode(list(fix.questions))
            close = ((asked @ reference.T).max(axis=1) >= SIMILAR) & (at >= fix.at.timestamp())
            answered_mask = decision == "answer"
            unanswered_mask = np.isin(decision, ["handoff", "clarify"])
            own = {_same(q) for q in fix.questions}
            same = np.array([_same(r.question) in own for r in rows]) & (at >= fix.at.timestamp())
            out.append(
                FixOutcome(
                    fix,
                    int((close & answered_mask).sum()),
                    int((close & unanswered_mask).sum()),
                    days,
                    int((same & answered_mask).sum()),
                    int((same & unanswered_mask).sum()),
                )
            )
        return out
