"""Questions the knowledge base could not answer, and feedback on the answers it gave.

Knowledge owners work from these: gaps are clustered by meaning, each cluster shown with its
size and the nearest article, so one fix can close many questions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from retrieval.embedding import Embedder, Vector, Vectors
from retrieval.store import metadata, vectors_table

gaps_table = Table(
    "kb_gaps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("question", Text, nullable=False),
    Column("reason", String(32), nullable=False),  # "low_confidence" or "not_helpful"
    Column("nearest_article", String(128), nullable=True),
    Column("confidence", Float, nullable=False),
    Column("status", String(16), nullable=False),  # "open", "fixed", "dismissed"
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolution", Text, nullable=True),  # e.g. "added to article vpn-troubleshooting"
    Index("ix_kb_gaps_status", "status"),
)

feedback_table = Table(
    "kb_feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("article_id", String(128), nullable=False),
    Column("helpful", Boolean, nullable=False),
    Column("question", Text, nullable=True),
    Index("ix_kb_feedback_article", "article_id"),
)


@dataclass(frozen=True)
class Gap:
    id: int
    at: datetime
    question: str
    reason: str
    nearest_article: str | None
    confidence: float
    status: str


@dataclass
class Cluster:
    gaps: list[Gap] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.gaps)

    @property
    def examples(self) -> list[str]:
        seen: dict[str, None] = {}
        for g in self.gaps:
            seen.setdefault(g.question, None)
        return list(seen)[:5]

    @property
    def nearest_article(self) -> str | None:
        counts: dict[str, int] = {}
        for g in self.gaps:
            if g.nearest_article:
                counts[g.nearest_article] = counts.get(g.nearest_article, 0) + 1
        return max(counts, key=counts.__getitem__) if counts else None

    @property
    def best_confidence(self) -> float:
        return max((g.confidence for g in self.gaps), default=0.0)

    @property
    def last_seen(self) -> datetime:
        return max(g.at for g in self.gaps)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def question_key(question: str) -> str:
    """A gap question's row in the vectors table: its text's hash, beside article hashes."""
    return hashlib.sha256(("gap question\x00" + question).encode("utf-8")).hexdigest()


def question_model(model: str) -> str:
    """Gap questions' vectors are stored under the embedder's name with this suffix, apart
    from article passages."""
    return f"{model}#question"


class GapStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record_gap(
        self,
        question: str,
        reason: str,
        nearest: str | None,
        confidence: float,
        conn: Connection | None = None,
        *,
        vector: Vector | None = None,
        model: str | None = None,
    ) -> None:
        """Record a gap; with the question's `vector` (by embedder `model`), also store it, so
        that clustering the gaps needs no model."""
        if conn is None:
            with self.engine.begin() as own:
                self.record_gap(
                    question, reason, nearest, confidence, own, vector=vector, model=model
                )
            return
        if vector is not None and model is not None:
            self._save_vectors(conn, {question: vector}, model)
        values = {
            "at": datetime.now(UTC),
            "question": question,
            "reason": reason,
            "nearest_article": nearest,
            "confidence": confidence,
            "status": "open",
        }
        conn.execute(insert(gaps_table).values(values))

    def question_vectors(self, questions: Iterable[str], model: str) -> dict[str, Vector]:
        """The stored vectors of these questions (by embedder `model`), where there are."""
        keys = {question_key(q): q for q in questions}
        found: dict[str, Vector] = {}
        wanted = list(keys)
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(
                    select(vectors_table.c.content_hash, vectors_table.c.data).where(
                        vectors_table.c.model == question_model(model),
                        vectors_table.c.content_hash.in_(wanted[start : start + 500]),
                    )
                )
                for key, data in rows:
                    found[keys[key]] = np.frombuffer(data, dtype=np.float32)
        return found

    def save_question_vectors(self, vectors: dict[str, Vector], model: str) -> None:
        with self.engine.begin() as conn:
            self._save_vectors(conn, vectors, model)

    def _save_vectors(self, conn: Connection, vectors: dict[str, Vector], model: str) -> None:
        """Insert, keeping a row another turn stored meanwhile (the same text, the same
        vector): a conflict must not fail the turn's transaction."""
        if not vectors:
            return
        dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(conn.dialect.name)
        rows = [
            {
                "content_hash": question_key(q),
                "model": question_model(model),
                "dim": int(v.shape[-1]),
                "views": "0",
                "data": np.ascontiguousarray(v, dtype=np.float32).tobytes(),
            }
            for q, v in vectors.items()
        ]
        if dialect is not None:
            conn.execute(dialect.insert(vectors_table).on_conflict_do_nothing(), rows)
            return
        known = set(
            conn.execute(
                select(vectors_table.c.content_hash).where(
                    vectors_table.c.model == question_model(model),
                    vectors_table.c.content_hash.in_([r["content_hash"] for r in rows]),
                )
            ).scalars()
        )
        fresh = [r for r in rows if r["content_hash"] not in known]
        if fresh:
            conn.execute(insert(vectors_table), fresh)

    def record_feedback(
        self, article_id: str, helpful: bool, question: str | None, conn: Connection | None = None
    ) -> None:
        values = {
            "at": datetime.now(UTC),
            "article_id": article_id,
            "helpful": helpful,
            "question": question,
        }
        if conn is None:
            with self.engine.begin() as own:
                own.execute(insert(feedback_table).values(values))
        else:
            conn.execute(insert(feedback_table).values(values))

    def gaps(
        self, status: str = "open", since: datetime | None = None, latest: int | None = None
    ) -> list[Gap]:
        """Gaps with `status` in the order they were recorded; only the `latest` ones if
        given (read newest first, so a long backlog is not loaded to be cut)."""
        newest_first = latest is not None
        query = select(gaps_table).where(gaps_table.c.status == status)
        if since is not None:
            query = query.where(gaps_table.c.at >= since)
        order = gaps_table.c.id.desc() if newest_first else gaps_table.c.id
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(order).limit(latest))
            found = [
                Gap(
                    r.id,
                    _aware(r.at),
                    r.question,
                    r.reason,
                    r.nearest_article,
                    r.confidence,
                    r.status,
                )
                for r in rows
            ]
        return found[::-1] if newest_first else found

    def close(self, gap_ids: Sequence[int], status: str, resolution: str) -> None:
        if not gap_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(gaps_table)
                .where(gaps_table.c.id.in_(list(gap_ids)))
                .values(status=status, resolved_at=datetime.now(UTC), resolution=resolution)
            )

    def feedback_counts(self) -> dict[str, tuple[int, int]]:
        """Per article: (helpful, not helpful)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    feedback_table.c.article_id, feedback_table.c.helpful, func.count()
                ).group_by(feedback_table.c.article_id, feedback_table.c.helpful)
            )
            out: dict[str, list[int]] = {}
            for article_id, helpful, count in rows:
                out.setdefault(article_id, [0, 0])[0 if helpful else 1] += int(count)
            return {k: (v[0], v[1]) for k, v in out.items()}

    def stats(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            open_count = conn.execute(
                select(func.count()).select_from(gaps_table).where(gaps_table.c.status == "open")
            ).scalar()
        return {"open": int(open_count or 0)}


class StoredQuestions:
    """An embedder for gap questions that reads the vectors stored with the gaps first and
    encodes (and stores) only the others: clustering recorded gaps needs no model."""

    def __init__(self, store: GapStore, embedder: Embedder) -> None:
        self._store = store
        self._embedder = embedder

    @property
    def name(self) -> str:
        return self._embedder.name

    def encode(self, texts: Sequence[str]) -> Vectors:
        found = self._store.question_vectors(texts, self.name)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            fresh = dict(zip(missing, self._embedder.encode(missing), strict=True))
            self._store.save_question_vectors(fresh, self.name)
            found.update(fresh)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack([found[t] for t in texts]).astype(np.float32, copy=False)


def cluster(gaps: Sequence[Gap], embedder: Embedder, similarity: float = 0.7) -> list[Cluster]:
    """Greedy single-pass clustering by cosine similarity to each cluster's first question
    (its seed): deterministic, and fast enough for the thousands of open gaps a desk has."""
    if not gaps:
        return []
    vectors = embedder.encode([g.question for g in gaps])
    seeds: list[int] = []
    clusters: list[Cluster] = []
    for i, gap in enumerate(gaps):
        if seeds:
            sims = vectors[seeds] @ vectors[i]
            best = int(np.argmax(sims))
            if sims[best] >= similarity:
                clusters[best].gaps.append(gap)
                continue
        seeds.append(i)
        clusters.append(Cluster([gap]))
    return sorted(clusters, key=lambda c: (-c.size, -c.last_seen.timestamp()))
