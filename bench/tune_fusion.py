"""Fit the fusion weights on labeled data: a grid over the weights of `retrieval/fusion.py`,
scored by P@1 on each data set and ranked by the mean, with how flat the optimum is.

    python bench/tune_fusion.py \\
        --data ../shared/data/stackfaq-dev/kb.jsonl ../shared/data/stackfaq-dev/queries.jsonl \\
        --data bot/demo/kb bot/demo/questions.jsonl

The evidence (per-view cosines, BM25, titles) is computed once per query; each grid point
only recombines it, so the grid takes seconds after the embedding.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bot.db import make_engine, migrate
from bot.wiring import DEFAULT_CALIBRATION
from retrieval.confidence import Calibration
from retrieval.embedding import SentenceEmbedder
from retrieval.evaluation import load_queries
from retrieval.fusion import DEFAULT_WEIGHTS, FusionWeights, crowding
from retrieval.knowledge import KnowledgeBase
from retrieval.loader import load_path
from retrieval.store import KnowledgeStore

Array = npt.NDArray[np.floating]


@dataclass
class Evidence:
    name: str
    question: Array
    content: Array
    bm25: Array
    titles: npt.NDArray[np.float32]
    gold: list[list[int]]

    def p_at_1(self, scores: Array) -> float:
        top = scores.argmax(axis=1)
        return float(np.mean([t in g for t, g in zip(top, self.gold, strict=True)]))

    def fused(self, w: FusionWeights) -> Array:
        hub = crowding(self.titles, w.hub_neighbours)
        return (
            w.question * self.question + w.content * self.content - w.hub * hub + w.bm25 * self.bm25
        )


def evidence(kb_path: Path, queries_path: Path, embedder: SentenceEmbedder, cache: str) -> Evidence:
    store = make_engine(f"sqlite:///{cache}")
    migrate(store)
    scratch = make_engine("sqlite://")
    migrate(scratch)
    calibration = Calibration.from_json(DEFAULT_CALIBRATION.read_text())
    kb = KnowledgeBase(
        KnowledgeStore(scratch), embedder, calibration, vector_store=KnowledgeStore(store)
    )
    kb.import_articles(load_path(kb_path).articles)
    queries = [q for q in load_queries(queries_path) if q.answerable]
    index = kb.index
    ids = [a.id for a in index.articles]
    vectors = kb.encode_query([q.query for q in queries])
    rows = [index.evidence(q.query, vectors[i]) for i, q in enumerate(queries)]
    return Evidence(
        name=kb_path.name,
        question=np.vstack([r[0] for r in rows]),
        content=np.vstack([r[1] for r in rows]),
        bm25=np.vstack([r[2] for r in rows]),
        titles=index.question_vectors[index._question_starts],
        gold=[[ids.index(r) for r in q.relevant_ids if r in ids] for q in queries],
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--data", nargs=2, action="append", type=Path, required=True, metavar=("KB", "QUERIES")
    )
    parser.add_argument(
        "--cache", default=str(Path(tempfile.gettempdir()) / "deskbot-bench-vectors.db")
    )
    args = parser.parse_args()
    embedder = SentenceEmbedder()
    sets = [evidence(kb, queries, embedder, args.cache) for kb, queries in args.data]
    for e in sets:
        dense = np.maximum(e.question, e.content)
        print(
            f"{e.name}: {len(e.gold)} answerable queries; P@1 bm25 {e.p_at_1(e.bm25):.4f}, "
            f"question view {e.p_at_1(e.question):.4f}, content view {e.p_at_1(e.content):.4f}, "
            f"dense (best passage) {e.p_at_1(dense):.4f}"
        )
    grid = [
        FusionWeights(question=q, content=1.0, hub=h, bm25=b, hub_neighbours=n)
        for n, q, h, b in itertools.product(
            (10, 20, 40),
            (0.8, 1.0, 1.25),
            (0.0, 0.25, 0.5, 0.75, 1.0, 1.25),
            (0.0, 0.1, 0.2, 0.3, 0.5),
        )
    ]
    scored = [(w, [e.p_at_1(e.fused(w)) for e in sets]) for w in grid]
    scored.sort(key=lambda s: -float(np.mean(s[1])))
    print("best by mean P@1:")
    for w, p in scored[:8]:
        print(f"  {np.mean(p):.4f} {[round(x, 4) for x in p]}  {w}")
    default = next(p for w, p in scored if w == DEFAULT_WEIGHTS)
    print(
        f"default {DEFAULT_WEIGHTS}: mean {np.mean(default):.4f} {[round(x, 4) for x in default]}"
    )
    near = [
        float(np.mean(p))
        for w, p in scored
        if abs(w.hub - DEFAULT_WEIGHTS.hub) <= 0.25 and abs(w.bm25 - DEFAULT_WEIGHTS.bm25) <= 0.1
    ]
    span = f"{min(near):.4f}..{max(near):.4f}"
    print(f"neighbours of the default (hub +-0.25, bm25 +-0.1): mean P@1 {span}")


if __name__ == "__main__":
    main()
