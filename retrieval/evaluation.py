"""Labeled query sets and the pieces of an offline evaluation: leave-articles-out, folds
grouped by article, retriever rankings, and calibration fitted on labeled queries."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.articles import Article
from retrieval.confidence import Calibration, features, fit
from retrieval.embedding import Vectors
from retrieval.index import SearchResult
from retrieval.knowledge import KnowledgeBase
from retrieval.metrics import RankingMetrics, ranking_metrics


class QueryFileError(ValueError):
    """A labeled query file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class LabeledQuery:
    query: str
    relevant_ids: tuple[str, ...]
    kind: str = ""

    @property
    def answerable(self) -> bool:
        return bool(self.relevant_ids)


def load_queries(path: Path) -> list[LabeledQuery]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise QueryFileError(f"{path}: cannot read ({exc.__class__.__name__})") from None
    queries = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise QueryFileError(f"{path}:{number}: invalid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise QueryFileError(f"{path}:{number}: each line must be a JSON object")
        query = row.get("query")
        relevant = row.get("relevant_ids")
        if not isinstance(query, str) or not query.strip():
            raise QueryFileError(f"{path}:{number}: field 'query' must be non-empty text")
        if not isinstance(relevant, list) or not all(isinstance(r, str) for r in relevant):
            raise QueryFileError(f"{path}:{number}: field 'relevant_ids' must be a list of ids")
        queries.append(LabeledQuery(query.strip(), tuple(relevant), str(row.get("kind", ""))))
    if not queries:
        raise QueryFileError(f"{path}: no queries")
    return queries


def unknown_ids(queries: Sequence[LabeledQuery], articles: Sequence[Article]) -> set[str]:
    known = {a.id for a in articles}
    return {r for q in queries for r in q.relevant_ids if r not in known}


def leave_out(
    articles: Sequence[Article], fraction: float, seed: int
) -> tuple[list[Article], set[str]]:
    """Drop a random share of the articles: their queries become unanswerable."""
    ids = sorted(a.id for a in articles)
    removed = set(random.Random(seed).sample(ids, round(fraction * len(ids))))
    return [a for a in articles if a.id not in removed], removed


def without(queries: Sequence[LabeledQuery], removed: set[str]) -> list[LabeledQuery]:
    """Queries relabeled after articles were removed from the knowledge base."""
    return [
        LabeledQuery(q.query, tuple(r for r in q.relevant_ids if r not in removed), q.kind)
        for q in queries
    ]


def grouped_folds(queries: Sequence[LabeledQuery], k: int, seed: int) -> list[list[int]]:
    """k folds of query indexes; all queries about one article (or with one original label)
    stay in one fold, so calibration never sees a paraphrase of a query it is tested on."""
    groups: dict[str, list[int]] = {}
    for i, q in enumerate(queries):
        key = q.relevant_ids[0] if q.relevant_ids else f"none:{i}"
        groups.setdefault(key, []).append(i)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    folds: list[list[int]] = [[] for _ in range(k)]
    for n, key in enumerate(keys):
        folds[n % k].extend(groups[key])
    return [sorted(f) for f in folds]


def retriever_metrics(
    kb: KnowledgeBase, queries: Sequence[LabeledQuery], vectors: Vectors | None = None
) -> dict[str, RankingMetrics]:
    """P@1, R@3 and MRR for BM25 alone, dense alone and the hybrid fusion."""
    if vectors is None:
        vectors = kb.encode_query([q.query for q in queries])
    relevant = [q.relevant_ids for q in queries]
    out = {}
    for retriever in ("bm25", "dense", "hybrid"):
        rankings = [
            kb.index.rank_all(q.query, vectors[i], retriever) for i, q in enumerate(queries)
        ]
        out[retriever] = ranking_metrics(rankings, relevant)
    return out


def search_all(
    kb: KnowledgeBase, queries: Sequence[LabeledQuery], vectors: Vectors
) -> list[SearchResult]:
    """Each query searched as a user's would be (the ranking does not depend on the
    calibration, so one search serves every fold of a cross-validation)."""
    return [kb.search(q.query, vector=vectors[i]).result for i, q in enumerate(queries)]


def top_is_right(result: SearchResult, query: LabeledQuery) -> bool:
    return result.top is not None and result.top.article_id in query.relevant_ids


def fit_on(
    results: Sequence[SearchResult],
    queries: Sequence[LabeledQuery],
    target_precision: float,
    source: str = "",
) -> Calibration:
    """Fit the confidence model on searched labeled queries."""
    evidence = [features(r) for r in results]
    correct = [top_is_right(r, q) for r, q in zip(results, queries, strict=True)]
    return fit(evidence, correct, target_precision, source=source)


def fit_calibration(
    kb: KnowledgeBase, queries: Sequence[LabeledQuery], target_precision: float, source: str = ""
) -> Calibration:
    """Fit the confidence model on labeled queries searched as a user would."""
    vectors = kb.encode_query([q.query for q in queries])
    return fit_on(search_all(kb, queries, vectors), queries, target_precision, source)
