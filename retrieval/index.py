"""The hybrid index: an immutable snapshot of passage vectors, BM25 weights and crowding.

A snapshot is built from articles and their passage vectors; an edit builds a new snapshot
from the cached pieces of unchanged articles (no re-embedding) and the caller swaps it in,
so searches never see a half-updated index.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt

from retrieval.articles import Article
from retrieval.bm25 import Bm25Index
from retrieval.fusion import DEFAULT_WEIGHTS, FusionWeights, crowding, fuse
from retrieval.text import View, bm25_text, tokenize

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ArticleVectors:
    """One article's passage vectors (rows) and the view of each row."""

    vectors: Vectors
    views: tuple[View, ...]


@dataclass(frozen=True)
class ArticleTerms:
    """One article's words, computed once per version of it: in order for BM25, and as sets
    (all of them, and the title's and alternative phrasings' alone) for the word shares."""

    tokens: list[str]
    words: frozenset[str]
    question: frozenset[str]

    @classmethod
    def of(cls, article: Article) -> ArticleTerms:
        tokens = tokenize(bm25_text(article))
        question = tokenize(" ".join((article.title, *article.questions)))
        return cls(tokens, frozenset(tokens), frozenset(question))


@dataclass(frozen=True)
class Candidate:
    article_id: str
    score: float
    question_sim: float
    content_sim: float
    bm25: float
    # Share of the query's words (weighted by idf) found in the article, and in its title and
    # alternative phrasings alone: a neighbour that merely talks about the same topic usually
    # lacks the query's most specific word.
    term_recall: float = 0.0
    question_term_recall: float = 0.0

    @property
    def dense(self) -> float:
        return max(self.question_sim, self.content_sim)


@dataclass(frozen=True)
class SearchResult:
    query: str
    candidates: tuple[Candidate, ...]
    # The best article by each retriever alone, for metrics and for the agreement feature.
    dense_top: str | None = None
    bm25_top: str | None = None
    searched: int = 0

    @property
    def top(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


Mask = npt.NDArray[np.bool_]
Array = npt.NDArray[np.floating]


@dataclass
class HybridIndex:
    articles: tuple[Article, ...]
    weights: FusionWeights = DEFAULT_WEIGHTS
    _question: Vectors = field(init=False, repr=False)
    _content: Vectors = field(init=False, repr=False)
    _question_starts: npt.NDArray[np.intp] = field(init=False, repr=False)
    _content_starts: npt.NDArray[np.intp] = field(init=False, repr=False)
    _bm25: Bm25Index = field(init=False, repr=False)
    _terms: tuple[frozenset[str], ...] = field(init=False, repr=False)
    _question_terms: tuple[frozenset[str], ...] = field(init=False, repr=False)
    _crowding: npt.NDArray[np.float32] = field(init=False, repr=False)
    _masks: dict[tuple[date, tuple[str, ...]], Mask] = field(init=False, repr=False)

    @classmethod
    def build(
        cls,
        articles: Sequence[Article],
        vectors: Mapping[str, ArticleVectors],
        terms: Mapping[str, ArticleTerms],
        dim: int,
        weights: FusionWeights = DEFAULT_WEIGHTS,
    ) -> HybridIndex:
        index = cls(tuple(articles), weights)
        question_rows: list[Vectors] = []
        content_rows: list[Vectors] = []
        question_starts: list[int] = []
        content_starts: list[int] = []
        nq = nc = 0
        for article in index.articles:
            av = vectors[article.id]
            views = np.asarray(av.views)
            q = av.vectors[views == View.QUESTION]
            c = av.vectors[views == View.CONTENT]
            if len(q) == 0 or len(c) == 0:
                raise ValueError(f"article {article.id} needs a question and a content passage")
            question_starts.append(nq)
            content_starts.append(nc)
            question_rows.append(q)
            content_rows.append(c)
            nq += len(q)
            nc += len(c)
        empty = np.zeros((0, dim), dtype=np.float32)
        index._question = np.vstack(question_rows) if question_rows else empty
        index._content = np.vstack(content_rows) if content_rows else empty
        index._question_starts = np.asarray(question_starts, dtype=np.intp)
        index._content_starts = np.asarray(content_starts, dtype=np.intp)
        index._bm25 = Bm25Index([terms[a.id].tokens for a in index.articles])
        index._terms = tuple(terms[a.id].words for a in index.articles)
        index._question_terms = tuple(terms[a.id].question for a in index.articles)
        titles = (
            index._question[index._question_starts] if question_rows else empty
        )  # each article's first question passage is its title
        index._crowding = crowding(titles, weights.hub_neighbours)
        index._masks = {}
        return index

    def __len__(self) -> int:
        return len(self.articles)

    @property
    def bm25(self) -> Bm25Index:
        return self._bm25

    @property
    def question_vectors(self) -> Vectors:
        return self._question

    def mask(self, today: date, tags: tuple[str, ...] = ()) -> Mask:
        """Articles allowed to answer today (and carrying one of `tags`, when given)."""
        key = (today, tags)
        cached = self._masks.get(key)
        if cached is None:
            cached = np.fromiter(
                (
                    a.is_answerable(today) and (not tags or any(t in a.tags for t in tags))
                    for a in self.articles
                ),
                dtype=np.bool_,
                count=len(self.articles),
            )
            if len(self._masks) > 64:
                self._masks.clear()
            self._masks[key] = cached
        return cached

    def search(
        self,
        query: str,
        vector: Vectors,
        *,
        allowed: Mask | None = None,
        k: int = 5,
    ) -> SearchResult:
        """Rank the allowed articles for a query whose embedding is `vector`."""
        n = len(self.articles)
        if n == 0:
            return SearchResult(query, ())
        terms = tokenize(query)
        question_sim, content_sim, bm25 = self._evidence(terms, vector)
        fused = fuse(question_sim, content_sim, bm25, self._crowding, self.weights)
        dense = np.maximum(question_sim, content_sim)
        weights = {t: self._bm25.idf(t) for t in terms}
        total = sum(weights.values()) or 1.0

        def recall(terms: frozenset[str]) -> float:
            return sum(w for t, w in weights.items() if t in terms) / total

        if allowed is not None:
            if not allowed.any():
                return SearchResult(query, ())
            fused = np.where(allowed, fused, -np.inf)
            dense = np.where(allowed, dense, -np.inf)
            bm25_ranked = np.where(allowed, bm25, -np.inf)
        else:
            bm25_ranked = bm25
        k = min(k, n if allowed is None else int(allowed.sum()))
        top = np.argpartition(-fused, k - 1)[:k]
        top = top[np.argsort(-fused[top], kind="stable")]
        candidates = tuple(
            Candidate(
                article_id=self.articles[i].id,
                score=float(fused[i]),
                question_sim=float(question_sim[i]),
                content_sim=float(content_sim[i]),
                bm25=float(bm25[i]),
                term_recall=recall(self._terms[i]),
                question_term_recall=recall(self._question_terms[i]),
            )
            for i in top
        )
        bm25_top = self.articles[int(np.argmax(bm25_ranked))].id if bm25_ranked.max() > 0 else None
        return SearchResult(
            query=query,
            candidates=candidates,
            dense_top=self.articles[int(np.argmax(dense))].id,
            bm25_top=bm25_top,
            searched=n if allowed is None else int(allowed.sum()),
        )

    def best_possible(self, article_ids: Sequence[str], queries: Vectors) -> Array:
        """Per query (rows of `queries`): the highest score any of the articles could get, with
        the whole BM25 bonus. Cheap (only these articles' passages), for telling which queries
        an edit of them can reach."""
        out = np.full(len(queries), -np.inf)
        position = {a.id: i for i, a in enumerate(self.articles)}
        w = self.weights
        for article_id in article_ids:
            i = position.get(article_id)
            if i is None:
                continue
            spans = []
            for matrix, starts in (
                (self._question, self._question_starts),
                (self._content, self._content_starts),
            ):
                end = starts[i + 1] if i + 1 < len(starts) else len(matrix)
                spans.append((queries @ matrix[starts[i] : end].T).max(axis=1))
            bound = (
                w.question * spans[0] + w.content * spans[1] - w.hub * self._crowding[i] + w.bm25
            )
            out = np.maximum(out, bound)
        return out

    def rank_all(self, query: str, vector: Vectors, retriever: str) -> list[str]:
        """Full ranking by one retriever ("bm25", "dense" or "hybrid"), for evaluation."""
        question_sim, content_sim, bm25 = self.evidence(query, vector)
        scorers: dict[str, Callable[[], npt.NDArray[np.floating]]] = {
            "bm25": lambda: bm25,
            "dense": lambda: np.maximum(question_sim, content_sim),
            "hybrid": lambda: fuse(question_sim, content_sim, bm25, self._crowding, self.weights),
        }
        scores = scorers[retriever]()
        return [self.articles[i].id for i in np.argsort(-scores, kind="stable")]

    def evidence(self, query: str, vector: Vectors) -> tuple[Array, Array, Array]:
        """Per article: best question-view cosine, best content-view cosine, BM25 on 0..1."""
        return self._evidence(tokenize(query), vector)

    def _evidence(self, terms: list[str], vector: Vectors) -> tuple[Array, Array, Array]:
        question_sim = np.maximum.reduceat(self._question @ vector, self._question_starts)
        content_sim = np.maximum.reduceat(self._content @ vector, self._content_starts)
        ceiling = self._bm25.ceiling(terms)
        n = len(self.articles)
        bm25 = self._bm25.scores(terms) / ceiling if ceiling > 0 else np.zeros(n)
        return question_sim, content_sim, bm25
