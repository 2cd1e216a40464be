from __future__ import annotations

import numpy as np
import pytest

from retrieval.confidence import Calibration, choose_threshold, features, fit
from retrieval.index import Candidate, SearchResult


def result(scores: list[float], dense_top: str = "a", bm25_top: str = "a") -> SearchResult:
    ids = "abcdef"
    return SearchResult(
        query="q",
        candidates=tuple(
            Candidate(ids[i], s, s / 2, s / 2, 0.3, term_recall=s / 2, question_term_recall=0.5)
            for i, s in enumerate(scores)
        ),
        dense_top=dense_top,
        bm25_top=bm25_top,
    )


def test_features_margin_and_agreement() -> None:
    f = features(result([1.2, 0.9], dense_top="a", bm25_top="b"))
    assert f["score"] == 1.2
    assert f["margin"] == pytest.approx(0.3)
    assert f["agreement"] == 0.5
    assert f["recall"] == 0.6 and f["recall_margin"] == pytest.approx(0.15)
    assert f["question_recall"] == 0.5
    assert features(SearchResult("q", ()))["score"] == 0.0


def test_choose_threshold_meets_target_precision() -> None:
    probs = [0.95, 0.9, 0.85, 0.8, 0.7, 0.6]
    right = [True, True, True, False, True, False]
    assert choose_threshold(probs, right, 1.0) == 0.85
    assert choose_threshold(probs, right, 0.8) == 0.7
    assert choose_threshold(probs, [False] * 6, 0.9) > 1.0


def test_choose_threshold_never_splits_ties() -> None:
    # 0.9 is shared by a right and a wrong answer: either both are answered or neither.
    assert choose_threshold([0.95, 0.9, 0.9], [True, True, False], 1.0) == 0.95


def synthetic(n: int, seed: int) -> tuple[list[dict[str, float]], list[bool]]:
    rng = np.random.default_rng(seed)
    margin = rng.uniform(0, 0.5, n)
    right = rng.uniform(size=n) < 1 / (1 + np.exp(-(margin - 0.2) * 20))
    evidence = [
        {
            "score": 1.0 + m,
            "margin": m,
            "question_sim": 0.5,
            "content_sim": 0.5,
            "bm25": 0.2,
            "agreement": 1.0,
            "recall": 0.8,
            "recall_margin": 0.2,
            "question_recall": 0.6,
        }
        for m in margin
    ]
    return evidence, right.tolist()


def test_fit_is_calibrated_and_monotone_in_margin() -> None:
    evidence, right = synthetic(2000, 0)
    calibration = fit(evidence, right, target_precision=0.95)
    probs = np.array([calibration.probability(e) for e in evidence])
    # Reliability: within each probability bin, the observed accuracy is close.
    for low in (0.0, 0.25, 0.5, 0.75):
        members = (probs >= low) & (probs < low + 0.25)
        if members.sum() > 50:
            assert abs(probs[members].mean() - np.mean(np.array(right)[members])) < 0.08
    low = calibration.probability(evidence[0] | {"margin": 0.05, "score": 1.05})
    high = calibration.probability(evidence[0] | {"margin": 0.45, "score": 1.45})
    assert high > low
    # The chosen threshold holds the target on fresh data from the same source.
    fresh, fresh_right = synthetic(2000, 1)
    answered = [calibration.probability(e) >= calibration.threshold for e in fresh]
    precision = np.mean([r for a, r in zip(answered, fresh_right, strict=True) if a])
    assert precision >= 0.93


def test_fit_needs_both_outcomes() -> None:
    evidence, _ = synthetic(50, 0)
    with pytest.raises(ValueError, match="both right and wrong"):
        fit(evidence, [True] * 50, 0.9)


def test_json_round_trip() -> None:
    evidence, right = synthetic(300, 2)
    calibration = fit(evidence, right, 0.9, source="unit")
    again = Calibration.from_json(calibration.to_json())
    assert again == calibration
    assert again.probability(evidence[3]) == calibration.probability(evidence[3])


def test_threshold_can_be_rechosen_for_another_target() -> None:
    evidence, right = synthetic(1000, 3)
    loose = fit(evidence, right, 0.8)
    strict = loose.for_target(0.97)
    assert strict.threshold > loose.threshold
    assert strict.target_precision == 0.97
    refit = fit(evidence, right, 0.97)
    assert abs(strict.threshold - refit.threshold) < 1e-5


def test_a_calibration_fitted_on_fewer_features_still_reads_new_evidence() -> None:
    """Stored calibrations name their features, so adding evidence never breaks them."""
    evidence, right = synthetic(300, 4)
    names = ("score", "margin", "question_sim", "content_sim", "bm25", "agreement")
    older = fit([{n: e[n] for n in names} for e in evidence], right, 0.9, names=names)
    c = result([1.2, 0.9], dense_top="a", bm25_top="a")
    assert older.confidence(c) == older.probability({n: features(c)[n] for n in names})
