"""The knowledge base as the rest of deskbot sees it: store + embedder + index + calibration.

Edits take effect at once: `import_articles` embeds only what changed and swaps in a new
index; other processes notice the store's revision moving and reload (`refresh`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from retrieval.articles import Article, Status
from retrieval.confidence import Calibration
from retrieval.embedding import Embedder, Vectors
from retrieval.fusion import DEFAULT_WEIGHTS, FusionWeights
from retrieval.index import ArticleTerms, ArticleVectors, HybridIndex, SearchResult
from retrieval.store import IMPORT, Change, ImportReport, KnowledgeStore
from retrieval.text import passages

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]  # (done, total)

# Until a calibration has been fitted for this knowledge base, a conservative one applies:
# it was fitted on the demo question set (see `deskbot eval --calibrate`).
EMBED_BATCH = 64


@dataclass(frozen=True)
class Retrieval:
    """A search with its calibrated confidence: everything a policy needs to decide."""

    result: SearchResult
    confidence: float
    threshold: float
    articles: Mapping[str, Article]

    @property
    def confident(self) -> bool:
        return bool(self.result.candidates) and self.confidence >= self.threshold

    @property
    def top(self) -> Article | None:
        top = self.result.top
        return self.articles[top.article_id] if top else None

    def candidate_articles(self) -> list[Article]:
        return [self.articles[c.article_id] for c in self.result.candidates]


@dataclass(frozen=True)
class LoadStats:
    articles: int
    embedded: int
    reused: int


class KnowledgeBase:
    def __init__(
        self,
        store: KnowledgeStore,
        embedder: Embedder,
        calibration: Calibration,
        *,
        weights: FusionWeights = DEFAULT_WEIGHTS,
        clock: Callable[[], date] = date.today,
        vector_store: KnowledgeStore | None = None,
        threshold_override: float | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.weights = weights
        self.clock = clock
        self._vector_store = vector_store or store
        self._default_calibration = calibration
        self._calibration = calibration
        self._threshold_override = threshold_override
        self._lock = threading.Lock()
        self._articles: dict[str, Article] = {}
        self._vectors: dict[str, ArticleVectors] = {}
        self._terms: dict[str, ArticleTerms] = {}  # by content hash
        self._index = HybridIndex.build([], {}, {}, dim=1, weights=weights)
        self._revision = -1

    # -- loading -------------------------------------------------------------------------

    def load(self, progress: Progress | None = None) -> LoadStats:
        """(Re)read everything from the store, embedding only what has no cached vectors."""
        with self._lock:
            revision = self.store.revision()
            articles = self.store.articles()
            stats = self._rebuild(articles, progress)
            self._calibration = self.store.calibration() or self._default_calibration
            self._revision = revision
            return stats

    def refresh(self) -> bool:
        """Reload when another process changed the store. Returns whether it did."""
        if self.store.revision() == self._revision:
            return False
        self.load()
        return True

    def import_articles(
        self,
        articles: Sequence[Article],
        progress: Progress | None = None,
        change: Change = IMPORT,
    ) -> ImportReport:
        """Store the articles (each change a new version) and update the index; unchanged
        articles are not re-embedded. From files, articles an owner changed are kept."""
        with self._lock:
            # Embed before storing: if the model fails, nothing has changed.
            self._ensure_vectors([a for a in articles if a.status is Status.VALIDATED], progress)
            report = self.store.upsert(articles, change=change)
            revision = self.store.revision()
            kept = set(report.kept) | set(report.conflicts)
            stored = {**self._articles, **{a.id: a for a in articles if a.id not in kept}}
            for article_id in kept - set(self._articles):
                found = self.store.get(article_id)
                if found is not None:
                    stored[article_id] = found
            self._rebuild(list(stored.values()), None)
            self._revision = revision
            return report

    def preview(self, changed: Sequence[Article]) -> KnowledgeBase:
        """This knowledge base with `changed` applied, in memory only (nothing is stored):
        what it would answer after publishing. Shares the cached vectors and word lists, so
        only the changed articles are embedded (and their vectors cached for publishing)."""
        with self._lock:
            self._ensure_vectors([a for a in changed if a.status is Status.VALIDATED], None)
            copy = KnowledgeBase(
                self.store,
                self.embedder,
                self._default_calibration,
                weights=self.weights,
                clock=self.clock,
                vector_store=self._vector_store,
                threshold_override=self._threshold_override,
            )
            copy._vectors = dict(self._vectors)
            copy._terms = dict(self._terms)
            copy._calibration = self._calibration
            copy._revision = self._revision
        copy._rebuild(list({**self._articles, **{a.id: a for a in changed}}.values()), None)
        return copy

    def _rebuild(self, articles: Sequence[Article], progress: Progress | None) -> LoadStats:
        indexed = [a for a in articles if a.status is Status.VALIDATED]
        embedded = self._ensure_vectors(indexed, progress)
        vectors = {a.id: self._vectors[a.content_hash] for a in indexed}
        terms = {}
        for a in indexed:
            cached = self._terms.get(a.content_hash)
            if cached is None:
                cached = self._terms[a.content_hash] = ArticleTerms.of(a)
            terms[a.id] = cached
        dim = next(iter(vectors.values())).vectors.shape[1] if vectors else 1
        self._index = HybridIndex.build(indexed, vectors, terms, dim, self.weights)
        self._articles = {a.id: a for a in articles}
        live = {a.content_hash for a in articles}
        for cache in (self._vectors, self._terms):
            for stale in [h for h in cache if h not in live]:
                del cache[stale]
        return LoadStats(len(indexed), embedded, len(indexed) - embedded)

    def _ensure_vectors(self, articles: Sequence[Article], progress: Progress | None) -> int:
        missing = [a for a in articles if a.content_hash not in self._vectors]
        if missing:
            cached = self._vector_store.load_vectors(
                (a.content_hash for a in missing), self.embedder.name
            )
            self._vectors.update(cached)
            missing = [a for a in missing if a.content_hash not in self._vectors]
        if not missing:
            return 0
        unique = list({a.content_hash: a for a in missing}.values())
        texts: list[str] = []
        spans: list[tuple[Article, int, int, tuple[int, ...]]] = []
        for article in unique:
            items = passages(article)
            spans.append(
                (article, len(texts), len(texts) + len(items), tuple(p.view for p in items))
            )
            texts.extend(p.text for p in items)
        encoded = self._encode(texts, progress)
        fresh = {
            a.content_hash: ArticleVectors(encoded[start:end], views)  # type: ignore[arg-type]
            for a, start, end, views in spans
        }
        self._vector_store.save_vectors(fresh, self.embedder.name)
        self._vectors.update(fresh)
        log.info("embedded %d articles (%d passages)", len(unique), len(texts))
        return len(unique)

    def _encode(self, texts: list[str], progress: Progress | None) -> Vectors:
        parts = []
        for start in range(0, len(texts), EMBED_BATCH):
            parts.append(self.embedder.encode(texts[start : start + EMBED_BATCH]))
            if progress:
                progress(min(start + EMBED_BATCH, len(texts)), len(texts))
        return np.vstack(parts)

    # -- answering -----------------------------------------------------------------------

    @property
    def calibration(self) -> Calibration:
        return self._calibration

    @property
    def threshold(self) -> float:
        if self._threshold_override is not None:
            return self._threshold_override
        return self._calibration.threshold

    def use_calibration(self, calibration: Calibration, persist: bool = False) -> None:
        if persist:
            self.store.save_calibration(calibration)
            self._revision = self.store.revision()
        self._calibration = calibration

    def encode_query(self, texts: Sequence[str]) -> Vectors:
        return self.embedder.encode(list(texts))

    def search(
        self,
        query: str,
        *,
        tags: tuple[str, ...] = (),
        vector: Vectors | None = None,
        k: int = 5,
        today: date | None = None,
    ) -> Retrieval:
        """Rank the articles allowed to answer today and attach the calibrated confidence."""
        index = self._index
        if vector is None:
            vector = self.embedder.encode([query])[0]
        allowed = index.mask(today or self.clock(), tags)
        result = index.search(query, vector, allowed=allowed, k=k)
        return Retrieval(
            result=result,
            confidence=self._calibration.confidence(result),
            threshold=self.threshold,
            articles=self._articles,
        )

    def best_possible(self, articles: Sequence[Article], queries: Vectors) -> np.ndarray:
        """For each query vector, the best score any of these (indexed) articles could get."""
        return self._index.best_possible([a.id for a in articles], queries)

    def nearest(self, query: str, vector: Vectors | None = None) -> Retrieval:
        """The closest validated article whatever its review date (for knowledge owners)."""
        index = self._index
        if vector is None:
            vector = self.embedder.encode([query])[0]
        result = index.search(query, vector, k=3)
        return Retrieval(
            result, self._calibration.confidence(result), self.threshold, self._articles
        )

    # -- inspection ----------------------------------------------------------------------

    @property
    def index(self) -> HybridIndex:
        return self._index

    @property
    def revision(self) -> int:
        """The store revision this process has loaded (moves with every change)."""
        return self._revision

    def question_vectors(self) -> Vectors:
        """The embedded titles and alternative phrasings of the indexed articles."""
        return self._index.question_vectors

    def article(self, article_id: str) -> Article | None:
        return self._articles.get(article_id)

    def articles(self) -> list[Article]:
        return list(self._articles.values())

    def excluded(self, today: date | None = None) -> list[tuple[Article, str]]:
        """Articles that may not answer, with the reason."""
        day = today or self.clock()
        out = []
        for article in self._articles.values():
            reason = article.exclusion_reason(day)
            if reason:
                out.append((article, reason))
        return out

    def near_duplicates(self, threshold: float = 0.9) -> list[tuple[str, str, float]]:
        """Pairs of validated articles whose titles and answers embed almost alike."""
        ids = [a.id for a in self._index.articles]
        if len(ids) < 2:
            return []
        rows = []
        for article_id in ids:
            v = self._vectors[self._articles[article_id].content_hash]
            mean = v.vectors.mean(axis=0)
            rows.append(mean / (np.linalg.norm(mean) or 1.0))
        matrix = np.vstack(rows)
        sims = matrix @ matrix.T
        pairs = []
        for i, j in zip(*np.where(np.triu(sims, k=1) >= threshold), strict=True):
            pairs.append((ids[i], ids[j], float(sims[i, j])))
        return sorted(pairs, key=lambda p: -p[2])
