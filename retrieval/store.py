"""Persistence of articles, their versions, their passage vectors and the confidence calibration.

Every change of an article (an import, a console edit, a link, a rollback) is a new version
with its author, time and reason. An import never overwrites an article changed elsewhere
(the console) since it was last imported: that version is kept and the import reports it.

Vectors are keyed by (content hash, encoder name), where the encoder name (`Embedder.name`)
names the model and the backend that runs it: an unchanged article is never embedded again,
across restarts and replicas, and a different model or backend gets its own rows (the ONNX
int8 backend's vectors differ slightly from torch's, so the two are never mixed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    Engine,
    Index,
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
    Column("version", Integer, nullable=True),  # the latest version's number
    Column("changed_via", String(16), nullable=True),  # how the latest version came
    Column("imported_hash", String(64), nullable=True),  # the record as last imported
)

versions_table = Table(
    "kb_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("article_id", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("author", String(200), nullable=False),
    Column("via", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("record", JSON, nullable=False),  # every field of the article at this version
    Index("ix_kb_versions_article", "article_id", "version", unique=True),
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


# Where a change came from. Changes from files may be overwritten by the next import; the
# others are an owner's work, which an import keeps.
FROM_FILES = frozenset({"import", "sync"})


@dataclass(frozen=True)
class Change:
    """Who made a change, how and why: recorded with each version it creates."""

    author: str = "import"
    via: str = "import"  # import | sync | console | link | draft | rollback | retire
    reason: str = ""

    @property
    def from_files(self) -> bool:
        return self.via in FROM_FILES


IMPORT = Change()


@dataclass(frozen=True)
class Version:
    article_id: str
    number: int
    at: datetime
    author: str
    via: str
    reason: str
    article: Article


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    # changed in the console since the last import: the console's version is kept
    kept: list[str] = field(default_factory=list)  # the file did not change either
    conflicts: list[str] = field(default_factory=list)  # the file changed too
    versions: dict[str, int] = field(default_factory=dict)  # new version number by id

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


def record(article: Article) -> dict[str, object]:
    """Every field an owner can change, JSON-ready (a version's snapshot)."""
    return {
        "title": article.title,
        "owner": article.owner,
        "status": article.status.value,
        "reviewed_on": article.reviewed_on.isoformat() if article.reviewed_on else None,
        "review_every_days": article.review_every_days,
        "tags": list(article.tags),
        "questions": list(article.questions),
        "answer": article.answer,
        "link": article.link,
        "body": article.body,
    }


def record_hash(article: Article) -> str:
    payload = json.dumps(record(article), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def from_record(article_id: str, data: Mapping[str, Any], source: str = "") -> Article:
    reviewed = data.get("reviewed_on")
    return Article(
        id=article_id,
        title=str(data.get("title", "")),
        body=str(data.get("body", "")),
        answer=str(data.get("answer", "")),
        questions=tuple(data.get("questions") or ()),
        owner=str(data.get("owner", "")),
        status=Status(data.get("status", "draft")),
        reviewed_on=date.fromisoformat(reviewed) if reviewed else None,
        review_every_days=data.get("review_every_days"),
        tags=tuple(data.get("tags") or ()),
        link=str(data.get("link", "")),
        source=source,
    )


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


def _version(row: Any) -> Version:
    m = row._mapping
    at = m["at"]
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return Version(
        article_id=m["article_id"],
        number=m["version"],
        at=at,
        author=m["author"],
        via=m["via"],
        reason=m["reason"],
        article=from_record(m["article_id"], m["record"] or {}),
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

    def upsert(
        self,
        articles: Sequence[Article],
        now: datetime | None = None,
        change: Change = IMPORT,
    ) -> ImportReport:
        """Add or update articles in one transaction: all of them, or none. Each change is a
        new version. From files, an article last changed in the console keeps that version."""
        now = now or datetime.now(UTC)
        report = ImportReport()
        with self.engine.begin() as conn:
            ids = [a.id for a in articles]
            existing: dict[str, Any] = {}
            for start in range(0, len(ids), 500):
                rows = conn.execute(
                    select(articles_table).where(articles_table.c.id.in_(ids[start : start + 500]))
                )
                existing.update({r.id: r for r in rows})
            for article in articles:
                row = existing.get(article.id)
                old = _article(row) if row is not None else None
                digest = record_hash(article)
                values = _row(article, now)
                values["changed_via"] = change.via
                if change.from_files:
                    values["imported_hash"] = digest
                owned = row is not None and row.changed_via not in (None, *FROM_FILES)
                if row is not None and old is not None and change.from_files and owned:
                    # an owner changed it since: their version stays
                    same_file = row.imported_hash == digest or record_hash(old) == digest
                    (report.kept if same_file else report.conflicts).append(article.id)
                    continue
                if row is not None and old is not None and old == article:
                    report.unchanged.append(article.id)
                    if change.from_files and row.imported_hash != digest:
                        conn.execute(
                            update(articles_table)
                            .where(articles_table.c.id == article.id)
                            .values(imported_hash=digest)
                        )
                    continue
                number = (row.version or 0) + 1 if row is not None else 1
                values["version"] = number
                if old is None:
                    conn.execute(insert(articles_table).values(values))
                    report.added.append(article.id)
                else:
                    conn.execute(
                        update(articles_table)
                        .where(articles_table.c.id == article.id)
                        .values(values)
                    )
                    report.updated.append(article.id)
                    if article.status is Status.RETIRED and old.status is not Status.RETIRED:
                        report.retired.append(article.id)
                conn.execute(
                    insert(versions_table).values(
                        article_id=article.id,
                        version=number,
                        at=now,
                        author=change.author[:200],
                        via=change.via,
                        reason=change.reason,
                        record=record(article),
                    )
                )
                report.versions[article.id] = number
            if report.changed:
                self._bump(conn)
        return report

    # -- versions ------------------------------------------------------------------------

    def history(self, article_id: str) -> list[Version]:
        """Every version of an article, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(versions_table)
                .where(versions_table.c.article_id == article_id)
                .order_by(versions_table.c.version.desc())
            ).all()
        return [_version(r) for r in rows]

    def version(self, article_id: str, number: int) -> Version | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(versions_table).where(
                    versions_table.c.article_id == article_id,
                    versions_table.c.version == number,
                )
            ).first()
        return _version(row) if row is not None else None

    def current_version(self, article_id: str) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(articles_table.c.version).where(articles_table.c.id == article_id)
            ).scalar()
        return int(value or 0)

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
