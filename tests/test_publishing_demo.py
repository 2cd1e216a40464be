"""The three fixes a knowledge owner made on the demo data that the publish check used to
refuse (over labeled questions the fixes only nudged across the threshold), replayed with the
real model: all accepted; and an edit that really breaks labeled questions is still blocked,
naming them. Marked slow: the real model."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bot import wiring
from bot.console.publishing import Publisher
from bot.dialogue.services import Services
from retrieval.articles import Article, Status
from retrieval.embedding import SentenceEmbedder
from tests.conftest import test_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(
    real_embedder: SentenceEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Publisher, Services]]:
    """The demo as `deskbot demo` prepares it: demo articles, shipped calibration."""
    path: Path = tmp_path_factory.mktemp("publishing") / "demo.db"
    settings = test_settings(f"sqlite:///{path}")
    engine = wiring.database(settings)
    services = wiring.services(settings, engine, real_embedder)
    wiring.prepare_knowledge(settings, services, import_path=True)
    yield Publisher(settings, services), services
    engine.dispose()


def linked(services: Services, article_id: str, question: str) -> Article:
    article = services.knowledge.article(article_id)
    assert article is not None
    return replace(article, questions=(*article.questions, question))


def test_the_three_refused_fixes_are_accepted(demo: tuple[Publisher, Services]) -> None:
    publisher, services = demo
    laptop = Article(
        id="my-laptop-won-t-turn-on",
        title="My laptop won't turn on",
        questions=("My laptop won't turn on", "laptop is dead and will not power up"),
        answer=(
            "Plug in the charger for 15 minutes, then hold the power button for 15 seconds. "
            "If it still does not start, call the service desk for a loan laptop."
        ),
        body="Charge, then a long press on the power button resets the power controller.",
        owner="demo-owner",
        status=Status.VALIDATED,
        reviewed_on=date.today(),
        review_every_days=180,
    )
    fixes = {
        "password": [linked(services, "password-reset", "how do i reset my pasword")],
        "wifi": [linked(services, "wifi-employees", "office wifi wont conect")],
        "laptop": [laptop],
    }
    for name, change in fixes.items():
        check = publisher.check(change)
        assert check.checked > 100
        assert check.ok, (name, [(f.query, f.before, f.after) for f in check.failures])
        assert check.correct_after >= check.correct_before - len(check.borderline), name


def test_an_edit_that_breaks_labeled_questions_is_still_blocked(
    demo: tuple[Publisher, Services],
) -> None:
    publisher, services = demo
    dock = services.knowledge.article("docking-station-monitors")
    assert dock is not None
    toner = replace(
        dock, title="Printer toner", answer="Replace the toner.", questions=("toner empty",)
    )
    check = publisher.check([toner])
    assert not check.ok
    broken = {f.query for f in check.failures}
    assert "external monitor not detected when I plug into the dock" in broken
    assert all("docking-station-monitors" in f.involved for f in check.failures)
    assert all("no longer answers" in f.advice for f in check.failures)
