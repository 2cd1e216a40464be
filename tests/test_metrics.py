from __future__ import annotations

import pytest

from retrieval.metrics import (
    expected_calibration_error,
    ranking_metrics,
    risk_coverage,
    selective_metrics,
)


def test_ranking_metrics_skip_unanswerable() -> None:
    m = ranking_metrics(
        [["a", "b", "c"], ["x", "b", "a"], ["z", "y", "x", "w"], ["q"]],
        [["a"], ["a"], ["w"], []],
    )
    assert m.queries == 3
    assert m.p_at_1 == pytest.approx(1 / 3)
    assert m.r_at_3 == pytest.approx(2 / 3)
    assert m.mrr == pytest.approx((1 + 1 / 3 + 1 / 4) / 3)


def test_selective_metrics() -> None:
    answered = [True, True, True, False, True, False]
    correct = [True, False, True, False, False, False]
    answerable = [True, True, True, True, False, False]
    m = selective_metrics(answered, correct, answerable)
    assert m.coverage == pytest.approx(2 / 4)
    assert m.wrong_rate == pytest.approx(2 / 4)
    assert m.false_accept == pytest.approx(1 / 2)


def test_risk_coverage_curve_orders_by_confidence() -> None:
    points = risk_coverage(
        [0.9, 0.8, 0.8, 0.1], [True, True, False, False], [True, True, True, False]
    )
    assert [p.threshold for p in points] == [0.9, 0.8, 0.1]
    assert [p.coverage for p in points] == [0.25, 0.75, 1.0]
    assert points[1].risk == pytest.approx(1 / 3)
    assert points[-1].correct_coverage == pytest.approx(2 / 3)


def test_expected_calibration_error() -> None:
    assert expected_calibration_error([1.0, 1.0], [True, True]) == 0.0
    assert expected_calibration_error([0.9] * 10, [True] * 5 + [False] * 5) == pytest.approx(0.4)
