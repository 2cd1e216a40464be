"""`evaluate` with the fake embedder: the report names the calibration that actually decided,
cross-validation never shows a query to the model that scores it, and the knowledge base keeps
its own calibration afterwards."""

from __future__ import annotations

from bot import wiring
from bot.db import make_engine
from bot.evaluation import evaluate
from bot.settings import DEMO_QUESTIONS_PATH
from retrieval.embedding import HashEmbedder
from retrieval.evaluation import load_queries
from tests.clock import CLOCK
from tests.conftest import test_settings


def test_report_names_the_calibration_that_decided(demo_url: str) -> None:
    services = wiring.services(
        test_settings(demo_url), make_engine(demo_url), HashEmbedder(), today=CLOCK.today
    )
    kb = services.knowledge
    kb.load()
    shipped = kb.calibration
    router = services.policy.router
    queries = load_queries(DEMO_QUESTIONS_PATH)

    report, decided = evaluate(kb, router, queries, folds=3, seed=1)
    assert len(decided) == len(queries)
    assert report.calibration_source == "3-fold cross-validation"
    assert report.calibration_model.endswith("(fold 1 of 3)")
    fitted_on = int(report.calibration_model.split("fitted on ")[1].split()[0])
    assert len(queries) // 2 < fitted_on < len(queries)  # the other folds only
    assert kb.calibration is shipped

    half = queries[::2]
    report, _ = evaluate(kb, router, queries[1::2], calibrate_on=half)
    assert report.calibration_source == "fitted on --calibrate file"
    assert f"fitted on {len(half)} queries" in report.calibration_model
    assert kb.calibration is shipped

    report, _ = evaluate(kb, router, queries)
    assert f"fitted on {shipped.fitted_on} queries" in report.calibration_model
