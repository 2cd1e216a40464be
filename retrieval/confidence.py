"""Calibrated confidence: the probability that the top article is the right answer.

A raw fused score means different things for different queries; what a caller needs is "how
often am I right when I see evidence like this". A logistic model over a few pieces of
evidence (top score, margin to the runner-up, each view's similarity, BM25 agreement, the
share of the query's words the article contains) is fitted on labeled queries, where "right"
means the top article is one of the relevant ones (queries no article answers count as wrong
whatever comes first). The threshold is then chosen on the same data as the lowest probability
at which the answered queries still reach the target precision.

The word-share features came from the leave-articles-out evaluation: most wrong answers are
questions whose article is missing, answered by a neighbour on the same topic that lacks the
question's most specific word; with them StackFAQ-dev answers about two points more of its
answerable questions at the same wrong-answer rate.

Inference is a dot product: no scikit-learn at run time; fitting imports it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from retrieval.index import SearchResult

FEATURES = (
    "score",
    "margin",
    "question_sim",
    "content_sim",
    "bm25",
    "agreement",
    "recall",
    "recall_margin",
    "question_recall",
)


def features(result: SearchResult) -> dict[str, float]:
    """The evidence about the top candidate of a search."""
    if not result.candidates:
        return dict.fromkeys(FEATURES, 0.0)
    top = result.candidates[0]
    runner_up = result.candidates[1].score if len(result.candidates) > 1 else top.score - 1.0
    agreement = 0.5 * (result.dense_top == top.article_id) + 0.5 * (
        result.bm25_top == top.article_id
    )
    others = [c.term_recall for c in result.candidates[1:]]
    return {
        "score": top.score,
        "margin": top.score - runner_up,
        "question_sim": top.question_sim,
        "content_sim": top.content_sim,
        "bm25": top.bm25,
        "agreement": agreement,
        "recall": top.term_recall,
        "recall_margin": top.term_recall - max(others, default=0.0),
        "question_recall": top.question_term_recall,
    }


@dataclass(frozen=True)
class Calibration:
    """A fitted logistic model plus the threshold chosen for a target precision."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    target_precision: float
    fitted_on: int = 0
    source: str = ""
    # (probability, precision of the queries at or above it) on the fitting data, so the
    # threshold can be re-chosen for another target precision without refitting.
    precision_curve: tuple[tuple[float, float], ...] = ()

    def probability(self, evidence: dict[str, float]) -> float:
        z = self.intercept
        for name, mean, scale, coef in zip(
            self.features, self.mean, self.scale, self.coef, strict=True
        ):
            z += coef * (evidence.get(name, 0.0) - mean) / scale
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def confidence(self, result: SearchResult) -> float:
        return self.probability(features(result)) if result.candidates else 0.0

    def with_threshold(self, threshold: float, target_precision: float) -> Calibration:
        return replace(self, threshold=threshold, target_precision=target_precision)

    def for_target(self, target_precision: float) -> Calibration:
        """The same model with the threshold for another target precision."""
        if not self.precision_curve or target_precision == self.target_precision:
            return self
        threshold = 1.0 + 1e-9
        for probability, precision in self.precision_curve:
            if precision >= target_precision:
                threshold = probability
        return self.with_threshold(threshold, target_precision)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        data = json.loads(text)
        for key in ("features", "mean", "scale", "coef"):
            data[key] = tuple(data[key])
        data["precision_curve"] = tuple(tuple(p) for p in data.get("precision_curve", ()))
        return cls(**data)


def precision_curve(
    probabilities: Sequence[float], correct: Sequence[bool]
) -> list[tuple[float, float]]:
    """For each distinct probability p (highest first): the precision of the queries whose
    probability is at least p. Ties are answered together or not at all."""
    order = np.argsort(-np.asarray(probabilities, dtype=np.float64), kind="stable")
    probs = np.asarray(probabilities, dtype=np.float64)[order]
    hits = np.asarray(correct, dtype=np.float64)[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return [
        (float(probs[i]), float(precision[i]))
        for i in range(len(probs))
        if i + 1 == len(probs) or probs[i + 1] != probs[i]
    ]


def choose_threshold(
    probabilities: Sequence[float], correct: Sequence[bool], target_precision: float
) -> float:
    """The lowest probability p such that the queries with confidence >= p are right at
    least `target_precision` of the time. Above 1 (answer nothing) when no p qualifies."""
    threshold = 1.0 + 1e-9
    for probability, precision in precision_curve(probabilities, correct):
        if precision >= target_precision:
            threshold = probability
    return threshold


def fit(
    evidence: Sequence[dict[str, float]],
    correct: Sequence[bool],
    target_precision: float,
    names: tuple[str, ...] = FEATURES,
    source: str = "",
) -> Calibration:
    """Fit the logistic model and choose the threshold on the same labeled queries."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(correct, dtype=bool)
    if len(y) < 10 or y.all() or not y.any():
        raise ValueError(
            "calibration needs at least 10 labeled queries with both right and wrong top answers"
        )
    x = np.asarray([[e[n] for n in names] for e in evidence], dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit((x - mean) / scale, y)
    calibration = Calibration(
        features=names,
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=tuple(float(v) for v in model.coef_[0]),
        intercept=float(model.intercept_[0]),
        threshold=1.0,
        target_precision=target_precision,
        fitted_on=len(y),
        source=source,
    )
    probabilities = [calibration.probability(e) for e in evidence]
    curve = precision_curve(probabilities, y.tolist())
    return replace(
        calibration,
        threshold=choose_threshold(probabilities, y.tolist(), target_precision),
        precision_curve=tuple((round(p, 6), round(q, 6)) for p, q in curve),
    )
