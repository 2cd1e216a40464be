"""`deskbot eval`: every labeled query goes, as the first message of a new conversation,
through the same router and policy as a live chat; the report puts the decisions next to the
labels, and the retrievers side by side."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.redaction import redact_text
from flows.intents import Decision
from flows.policy import Policy
from flows.router import Router
from flows.types import Decided, FlowState, UserTurn
from handoff.tickets import RequestView
from retrieval.confidence import Calibration, choose_threshold, features
from retrieval.evaluation import (
    LabeledQuery,
    fit_calibration,
    fit_on,
    grouped_folds,
    retriever_metrics,
    search_all,
    top_is_right,
)
from retrieval.index import SearchResult
from retrieval.knowledge import KnowledgeBase
from retrieval.metrics import (
    CurvePoint,
    RankingMetrics,
    SelectiveMetrics,
    expected_calibration_error,
    risk_coverage,
    selective_metrics,
)


class NoRequests:
    """Evaluation has no requester: status questions find nothing."""

    def requests_of(self, requester: str) -> list[RequestView]:
        return []

    def request(self, requester: str, number: str) -> RequestView | None:
        return None


@dataclass
class Report:
    queries: int
    retrievers: dict[str, RankingMetrics]
    at_threshold: SelectiveMetrics
    threshold: float
    target_precision: float
    threshold_for_target: float
    calibration_error: float
    decisions: dict[str, int]
    intents: dict[str, int]
    curve: list[CurvePoint] = field(default_factory=list)
    calibration_source: str = ""
    calibration_model: str = ""  # the model that decided (with folds: the first fold's)
    left_out: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "queries": self.queries,
            "retrievers": {k: vars(v) for k, v in self.retrievers.items()},
            "at_threshold": vars(self.at_threshold) | {"precision": self.at_threshold.precision},
            "threshold": self.threshold,
            "target_precision": self.target_precision,
            "threshold_for_target": self.threshold_for_target,
            "expected_calibration_error": self.calibration_error,
            "decisions": self.decisions,
            "intents": self.intents,
            "calibration": self.calibration_source,
            "calibration_model": self.calibration_model,
            "left_out": self.left_out,
        }


def decide(policy: Policy, queries: Sequence[LabeledQuery], vectors: Any) -> list[Decided]:
    return [
        policy.handle(FlowState(), UserTurn(redact_text(q.query), vector=vectors[i])).decided
        for i, q in enumerate(queries)
    ]


def evaluate(
    kb: KnowledgeBase,
    router: Router,
    queries: Sequence[LabeledQuery],
    *,
    calibrate_on: Sequence[LabeledQuery] | None = None,
    folds: int = 0,
    seed: int = 0,
    target_precision: float = 0.975,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Report, list[Decided]]:
    """Decide every query and measure. Calibration: fitted on `calibrate_on`, or
    cross-validated over `folds` folds of the queries themselves, or the knowledge base's."""
    original = kb.calibration
    try:
        return _evaluate(kb, router, queries, calibrate_on, folds, seed, target_precision, progress)
    finally:
        kb.use_calibration(original)


def _evaluate(
    kb: KnowledgeBase,
    router: Router,
    queries: Sequence[LabeledQuery],
    calibrate_on: Sequence[LabeledQuery] | None,
    folds: int,
    seed: int,
    target_precision: float,
    progress: Callable[[int, int], None] | None,
) -> tuple[Report, list[Decided]]:
    policy = Policy(router, kb, NoRequests())
    policy.learn()
    vectors = kb.encode_query([redact_text(q.query) for q in queries])
    results = search_all(kb, queries, vectors)
    source = kb.calibration.source or "default"
    if calibrate_on is not None:
        kb.use_calibration(
            fit_calibration(kb, calibrate_on, target_precision, source="--calibrate")
        )
        source = "fitted on --calibrate file"
    decided: list[Decided | None] = [None] * len(queries)
    confidences = [0.0] * len(queries)
    thresholds: list[float] = []
    models: list[Calibration] = []
    if folds > 1:
        source = f"{folds}-fold cross-validation"
        for k, fold in enumerate(grouped_folds(queries, folds, seed)):
            held = set(fold)
            rest = [i for i in range(len(queries)) if i not in held]
            calibration = fit_on(
                [results[i] for i in rest],
                [queries[i] for i in rest],
                target_precision,
                source=f"fold {k}",
            )
            kb.use_calibration(calibration)
            models.append(calibration)
            thresholds.append(kb.threshold)
            part = [queries[i] for i in fold]
            for i, d in zip(fold, decide(policy, part, vectors[fold]), strict=True):
                decided[i] = d
            for i in fold:
                confidences[i] = calibration.confidence(results[i])
            if progress:
                progress(k + 1, folds)
    else:
        for i, d in enumerate(decide(policy, queries, vectors)):
            decided[i] = d
        confidences = [kb.calibration.confidence(r) for r in results]
        models.append(kb.calibration)
        thresholds.append(kb.threshold)
    final = [d for d in decided if d is not None]
    if len(final) != len(queries):
        raise ValueError(f"the folds decided {len(final)} of {len(queries)} queries")
    report = _report(kb, queries, final, confidences, results, vectors, target_precision, source)
    report.threshold = sum(thresholds) / len(thresholds)
    report.calibration_model = calibration_summary(models[0]) + (
        f" (fold 1 of {folds})" if folds > 1 else ""
    )
    return report, final


def _report(
    kb: KnowledgeBase,
    queries: Sequence[LabeledQuery],
    decided: Sequence[Decided],
    confidences: Sequence[float],
    results: Sequence[SearchResult],
    vectors: Any,
    target: float,
    source: str,
) -> Report:
    answered = [d.decision is Decision.ANSWER for d in decided]
    correct = [
        a and d.article_id in q.relevant_ids
        for a, d, q in zip(answered, decided, queries, strict=True)
    ]
    answerable = [q.answerable for q in queries]
    top_right = [top_is_right(r, q) for r, q in zip(results, queries, strict=True)]
    curve = risk_coverage(confidences, top_right, answerable)

    return Report(
        queries=len(queries),
        retrievers=retriever_metrics(kb, queries, vectors),
        at_threshold=selective_metrics(answered, correct, answerable),
        threshold=kb.threshold,
        target_precision=target,
        threshold_for_target=choose_threshold(confidences, top_right, target),
        calibration_error=expected_calibration_error(confidences, top_right),
        decisions=dict(Counter(d.decision.value for d in decided)),
        intents=dict(Counter(d.intent.value for d in decided)),
        curve=curve,
        calibration_source=source,
    )


def decision_lines(queries: Sequence[LabeledQuery], decided: Sequence[Decided]) -> list[str]:
    """The --out file: one JSON object per query, in input order."""
    return [
        json.dumps(
            {
                "query": q.query,
                "decision": d.decision.value,
                "intent": d.intent.value,
                "article_id": d.article_id,
                "confidence": d.confidence,
                "reason": d.reason.value if d.reason else None,
            },
            ensure_ascii=False,
        )
        for q, d in zip(queries, decided, strict=True)
    ]


def write_curve(curve: Sequence[CurvePoint], png: Path, target: float) -> None:
    """The risk-coverage curve as JSON (beside the PNG) and as a picture."""
    png.with_suffix(".json").write_text(
        json.dumps([vars(p) for p in curve], indent=1), encoding="utf-8"
    )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    ax.plot([p.coverage for p in curve], [p.risk for p in curve], label="calibrated confidence")
    ax.axhline(1 - target, linestyle="--", color="grey", label=f"target risk {1 - target:.0%}")
    ax.set_xlabel("coverage (share of queries answered)")
    ax.set_ylabel("risk (wrong among answered)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, max(0.3, max((p.risk for p in curve), default=0)))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def calibration_summary(c: Calibration) -> str:
    weights = ", ".join(f"{n} {w:+.2f}" for n, w in zip(c.features, c.coef, strict=True))
    return f"logistic({weights}; bias {c.intercept:+.2f}) fitted on {c.fitted_on} queries"


__all__ = ["Report", "calibration_summary", "decision_lines", "evaluate", "features", "write_curve"]
