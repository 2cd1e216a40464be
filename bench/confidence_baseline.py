"""The calibrated confidence against a plain cosine threshold, with articles left out.

    python bench/confidence_baseline.py [--seeds 0 1 2 3 4] [--leave-out 0.2]
        [--kb ../shared/data/stackfaq-dev/kb.jsonl]
        [--queries ../shared/data/stackfaq-dev/queries.jsonl]

For each seed a share of the articles is removed, so their queries become unanswerable. The
calibrated confidence is cross-validated (5 folds grouped by article, the threshold chosen on
the training folds for the configured target precision), as `deskbot eval --folds 5` does.
The baseline answers with the best article by dense cosine when that cosine clears a
threshold; it gets the threshold that gives the same coverage as the calibrated model, chosen
on the test data itself, which flatters it. Reported for both: coverage (answerable queries
answered correctly), wrong answers among answered, false accepts (unanswerable answered).
Decisions here are the bare retrieval's (no router, no offer of a choice).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bot.db import make_engine, migrate
from bot.wiring import DEFAULT_CALIBRATION
from retrieval.confidence import Calibration
from retrieval.embedding import SentenceEmbedder
from retrieval.evaluation import (
    fit_on,
    grouped_folds,
    leave_out,
    load_queries,
    search_all,
    top_is_right,
    without,
)
from retrieval.knowledge import KnowledgeBase
from retrieval.loader import load_path
from retrieval.store import KnowledgeStore

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "stackfaq-dev"


def rates(
    answered: np.ndarray, right: np.ndarray, answerable: np.ndarray
) -> tuple[float, float, float]:
    correct = answered & right
    return (
        correct[answerable].sum() / answerable.sum(),
        (answered & ~right).sum() / max(answered.sum(), 1),
        answered[~answerable].sum() / max((~answerable).sum(), 1),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kb", type=Path, default=DATA / "kb.jsonl")
    parser.add_argument("--queries", type=Path, default=DATA / "queries.jsonl")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--leave-out", type=float, default=0.2)
    parser.add_argument("--target-precision", type=float, default=0.975)
    args = parser.parse_args()

    embedder = SentenceEmbedder()
    articles = load_path(args.kb).articles
    queries = load_queries(args.queries)
    vectors = embedder.encode([q.query for q in queries])
    cache = make_engine(f"sqlite:///{tempfile.mkdtemp()}/vectors.db")
    migrate(cache)
    shipped = Calibration.from_json(DEFAULT_CALIBRATION.read_text())

    print(f"{'seed':>4}  {'model':<10} coverage  wrong  false accepts")
    totals: dict[str, list[tuple[float, float, float]]] = {"calibrated": [], "cosine": []}
    for seed in args.seeds:
        kept, removed = leave_out(articles, args.leave_out, seed)
        labeled = without(queries, removed)
        scratch = make_engine("sqlite://")
        migrate(scratch)
        kb = KnowledgeBase(
            KnowledgeStore(scratch), embedder, shipped, vector_store=KnowledgeStore(cache)
        )
        kb.import_articles(kept)
        results = search_all(kb, labeled, vectors)
        right = np.array([top_is_right(r, q) for r, q in zip(results, labeled, strict=True)])
        answerable = np.array([q.answerable for q in labeled])

        answered = np.zeros(len(labeled), dtype=bool)
        for fold in grouped_folds(labeled, 5, seed):
            held = set(fold)
            rest = [i for i in range(len(labeled)) if i not in held]
            model = fit_on(
                [results[i] for i in rest], [labeled[i] for i in rest], args.target_precision
            )
            for i in fold:
                answered[i] = model.confidence(results[i]) >= model.threshold
        ours = rates(answered, right, answerable)

        # The baseline: dense retrieval alone, answer when its best cosine clears a threshold.
        best, cosine = [], []
        for i, q in enumerate(labeled):
            question_sim, content_sim, _ = kb.index.evidence(q.query, vectors[i])
            dense = np.maximum(question_sim, content_sim)
            best.append(kb.index.articles[int(dense.argmax())].id)
            cosine.append(float(dense.max()))
        dense_right = np.array([b in q.relevant_ids for b, q in zip(best, labeled, strict=True)])
        order = np.sort(np.array(cosine))[::-1]
        base = (0.0, 0.0, 0.0)
        for threshold in order:  # the highest threshold that reaches our coverage
            base = rates(np.array(cosine) >= threshold, dense_right, answerable)
            if base[0] >= ours[0]:
                break
        for name, figures in (("calibrated", ours), ("cosine", base)):
            totals[name].append(figures)
            print(f"{seed:>4}  {name:<10} {figures[0]:8.3f}  {figures[1]:5.3f}  {figures[2]:13.3f}")
    for name, rows in totals.items():
        mean = np.mean(np.array(rows), axis=0)
        print(f"mean  {name:<10} {mean[0]:8.3f}  {mean[1]:5.3f}  {mean[2]:13.3f}")


if __name__ == "__main__":
    main()
