"""Retrieval and selective-answering metrics. Pure functions over plain lists."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RankingMetrics:
    p_at_1: float
    r_at_3: float
    mrr: float
    queries: int


def ranking_metrics(
    rankings: Sequence[Sequence[str]], relevant: Sequence[Sequence[str]]
) -> RankingMetrics:
    """P@1, R@3 (share of relevant ids found in the top 3) and MRR over the queries that have
    at least one relevant article."""
    p1 = r3 = rr = 0.0
    n = 0
    for ranking, gold in zip(rankings, relevant, strict=True):
        if not gold:
            continue
        n += 1
        wanted = set(gold)
        p1 += ranking[0] in wanted if ranking else 0.0
        r3 += len(wanted.intersection(ranking[:3])) / len(wanted)
        for position, article_id in enumerate(ranking, start=1):
            if article_id in wanted:
                rr += 1.0 / position
                break
    if n == 0:
        return RankingMetrics(0.0, 0.0, 0.0, 0)
    return RankingMetrics(p1 / n, r3 / n, rr / n, n)


@dataclass(frozen=True)
class SelectiveMetrics:
    """What happens at a threshold. `coverage`: answerable queries answered correctly;
    `wrong_rate`: wrong answers among answered queries; `false_accept`: unanswerable queries
    answered."""

    coverage: float
    wrong_rate: float
    false_accept: float
    answered: int
    answerable: int
    unanswerable: int

    @property
    def precision(self) -> float:
        return 1.0 - self.wrong_rate


def selective_metrics(
    answered: Sequence[bool], correct: Sequence[bool], answerable: Sequence[bool]
) -> SelectiveMetrics:
    n_answered = sum(answered)
    n_answerable = sum(answerable)
    n_unanswerable = len(answerable) - n_answerable
    right = sum(a and c for a, c in zip(answered, correct, strict=True))
    false_accepts = sum(a and not ok for a, ok in zip(answered, answerable, strict=True))
    return SelectiveMetrics(
        coverage=right / n_answerable if n_answerable else 0.0,
        wrong_rate=(n_answered - right) / n_answered if n_answered else 0.0,
        false_accept=false_accepts / n_unanswerable if n_unanswerable else 0.0,
        answered=n_answered,
        answerable=n_answerable,
        unanswerable=n_unanswerable,
    )


@dataclass(frozen=True)
class CurvePoint:
    threshold: float
    coverage: float  # share of all queries answered
    risk: float  # wrong answers among answered
    correct_coverage: float  # answerable queries answered correctly


def risk_coverage(
    confidence: Sequence[float], correct: Sequence[bool], answerable: Sequence[bool]
) -> list[CurvePoint]:
    """The risk-coverage curve: one point per distinct confidence, most confident first."""
    order = sorted(range(len(confidence)), key=lambda i: -confidence[i])
    n_answerable = max(sum(answerable), 1)
    points: list[CurvePoint] = []
    right = 0
    for rank, i in enumerate(order, start=1):
        right += bool(correct[i])
        last_of_tie = rank == len(order) or confidence[order[rank]] != confidence[i]
        if last_of_tie:
            points.append(
                CurvePoint(
                    threshold=confidence[i],
                    coverage=rank / len(order),
                    risk=1 - right / rank,
                    correct_coverage=right / n_answerable,
                )
            )
    return points


def expected_calibration_error(
    confidence: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """Mean |confidence - accuracy| over equal-width bins, weighted by bin size."""
    total = len(confidence)
    if total == 0:
        return 0.0
    error = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [
            i for i, c in enumerate(confidence) if low <= c < high or (b == bins - 1 and c == 1.0)
        ]
        if members:
            mean_conf = sum(confidence[i] for i in members) / len(members)
            accuracy = sum(bool(correct[i]) for i in members) / len(members)
            error += len(members) / total * abs(mean_conf - accuracy)
    return error
