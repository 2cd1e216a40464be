"""Persistence of articles, their passage vectors and the confidence calibration.

Vectors are keyed by (content hash, encoder name), where the encoder name (`Embedder.name`)
names the model and the backend that runs it: an unchanged article is never embedded again,
across restarts and replicas, and a different model or backend gets its own rows (the ONNX
int8 backend's vectors differ slightly from torch's, so the two are never mixed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np
from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)

from retrieval.articles import Article, Status
from retrieval.confidence import Calibration
from retrieval.index import ArticleVectors
from retrieval.text import View

metadata = MetaData()

articles_table = Table(
    "kb_articles",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("title", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reviewed_on", Date, nullable=True),
    Column("review_every_days", Integer, nullable=True),
    Column("tags", JSON, nullable=False),
    Column("questions", JSON, nullable=False),
    Column("answer", Text, nullable=False),
    Column("link", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

vectors_table = Table(
    "kb_vectors",
    metadata,
    Column("content_hash", String(64), primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("dim", Integer, nullable=False),
    Column("views", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

calibrations_table = Table(
    "kb_calibrations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("payload", Text, nullable=False),
)

# One row whose counter moves with every change of the knowledge base, so each process
# (and replica) can tell cheaply whether its index is current.
state_table = Table(
    "kb_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("revision", Integer, nullable=False),
)


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        return self.added + self.updated


def _row(article: Article, now: datetime) -> dict[str, object]:
    return {
        "id": article.id,
        "title": article.title,
        "owner": article.owner,
        "status": article.status.value,
        "reviewed_on": article.reviewed_on,
        "review_every_days": article.review_every_days,
        "tags": list(article.tags),
        "questions": list(article.questions),
        "answer": article.answer,
        "link": article.link,
        "body": article.body,
        "source": article.source,
        "content_hash": article.content_hash,
        "updated_at": now,
    }


def _article(row: object) -> Article:
    m = row._mapping  # type: ignore[attr-defined]
    reviewed = m["reviewed_on"]
    if isinstance(reviewed, datetime):
        reviewed = reviewed.date()
    return Article(
        id=m["id"],
        title=m["title"],
        body=m["body"],
        answer=m["answer"],
        questions=tuple(m["questions"] or ()),
        owner=m["owner"],
        status=Status(m["status"]),
        reviewed_on=reviewed if isinstance(reviewed, date) else None,
        review_every_days=m["review_every_days"],
        tags=tuple(m["tags"] or ()),
        link=m["link"],
        source=m["source"],
    )


class KnowledgeStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- articles ------------------------------------------------------------------------

    def articles(self) -> list[Article]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(articles_table).order_by(articles_table.c.id))
            return [_article(r) for r in rows]

    def get(self, article_id: str) -> Article | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(articles_table).where(articles_table.c.id == article_id)
            ).first()
            return _article(row) if row is not None else None

    def upsert(self, articles: Sequence[Article], now: datetime | None = None) -> ImportReport:
        """Add or update articles in one transaction: all of them, or none."""
        now = now or datetime.now(UTC)
        report = ImportReport()
        with self.engine.begin() as conn:
            ids = [a.id for a in articles]
            existing: dict[str, Article] = {}
            for start in range(0, len(ids), 500):
                rows = conn.execute(
                    select(articles_table).where(articles_table.c.id.in_(ids[start : start + 500]))
                )
                existing.update({r.id: _article(r) for r in rows})
            for article in articles:
                old = existing.get(article.id)
                if old is None:
                    conn.execute(insert(articles_table).values(_row(article, now)))
                    report.added.append(article.id)
                elif old == article:
                    report.unchanged.append(article.id)
                else:
                    conn.execute(
                        update(articles_table)
                        .where(articles_table.c.id == article.id)
                        .values(_row(article, now))
                    )
                    report.updated.append(article.id)
                    if article.status is Status.RETIRED and old.status is not Status.RETIRED:
                        report.retired.append(article.id)
            if report.changed:
                self._bump(conn)
        return report

    def revision(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(state_table.c.revision).where(state_table.c.id == 1)
            ).scalar()
            return int(value or 0)

    def _bump(self, conn: object) -> None:
        c = conn  # a Connection inside a transaction
        updated = c.execute(  # type: ignore[attr-defined]
            update(state_table)
            .where(state_table.c.id == 1)
            .values(revision=state_table.c.revision + 1)
        )
        if updated.rowcount == 0:
            c.execute(insert(state_table).values(id=1, revision=1))  # type: ignore[attr-defined]

    # -- vectors -------------------------------------------------------------------------

    def load_vectors(self, hashes: Iterable[str], model: str) -> dict[str, ArticleVectors]:
        wanted = list(set(hashes))
        found: dict[str, ArticleVectors] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(
                    select(vectors_table).where(
                        vectors_table.c.model == model,
                        vectors_table.c.content_hash.in_(wanted[start : start + 500]),
                    )
                )
                for r in rows:
                    data = np.frombuffer(r.data, dtype=np.float32).reshape(-1, r.dim)
                    found[r.content_hash] = ArticleVectors(
                        data, tuple(View(int(v)) for v in r.views)
                    )
        return found

    def save_vectors(self, items: dict[str, ArticleVectors], model: str) -> None:
        if not items:
            return
        with self.engine.begin() as conn:
            conn.execute(
                delete(vectors_table).where(
                    vectors_table.c.model == model,
                    vectors_table.c.content_hash.in_(list(items)),
                )
            )
            conn.execute(
                insert(vectors_table),
                [
                    {
                        "content_hash": h,
                        "model": model,
                        "dim": int(v.vectors.shape[1]),
                        "views": "".join(str(int(x)) for x in v.views),
                        "data": np.ascontiguousarray(v.vectors, dtype=np.float32).tobytes(),
                    }
                    for h, v in items.items()
                ],
            )

    def prune_vectors(self) -> int:
        """Drop article vectors no stored article uses any more."""
        with self.engine.begin() as conn:
            used = select(articles_table.c.content_hash)
            result = conn.execute(
                delete(vectors_table).where(
                    vectors_table.c.content_hash.not_in(used),
                    vectors_table.c.model.not_like("%#question"),  # gap questions' (gaps.py)
                )
            )
            return int(result.rowcount or 0)

    def count_vectors(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(vectors_table)).scalar() or 0)

    # -- calibration ---------------------------------------------------------------------

    def save_calibration(self, calibration: Calibration, now: datetime | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(calibrations_table).values(
                    created_at=now or datetime.now(UTC), payload=calibration.to_json()
                )
            )
            self._bump(conn)

    def calibration(self) -> Calibration | None:
        with self.engine.connect() as conn:
            payload = conn.execute(
                select(calibrations_table.c.payload)
                .order_by(calibrations_table.c.id.desc())
                .limit(1)
            ).scalar()
        return Calibration.from_json(payload) if payload else None
