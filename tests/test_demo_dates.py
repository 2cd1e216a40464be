"""The demo knowledge base reads the same whatever day it is loaded on: its review dates move
with the clock it is loaded with, so a demo run years from now does not find every article
overdue."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from bot import demo_data, wiring
from bot.settings import DEMO_KB_PATH
from retrieval.articles import Status
from retrieval.embedding import HashEmbedder
from retrieval.loader import lifecycle_problems, load_path
from tests.clock import CLOCK
from tests.conftest import test_settings

LATER = (0, 200, 365, 730, 3650)


@pytest.mark.parametrize("days", LATER)
def test_demo_articles_are_current_on_the_day_they_are_loaded(days: int) -> None:
    day = CLOCK.today() + timedelta(days=days)
    articles = demo_data.load_articles(DEMO_KB_PATH, day).articles
    validated = [a for a in articles if a.status is Status.VALIDATED]
    assert len(validated) >= 50
    assert all(a.is_answerable(day) for a in validated)
    problems = lifecycle_problems(articles, day)
    assert {p.article_id for p in problems} == {"teams-phone-voicemail"}  # the demo's draft
    assert all("draft" in p.message and "review" not in p.message for p in problems)
    # the gaps between review dates are the files' own
    raw = {a.id: a.reviewed_on for a in load_path(DEMO_KB_PATH).articles}
    for a in articles:
        before = raw[a.id]
        assert a.reviewed_on is not None and before is not None
        assert a.reviewed_on - before == day - demo_data.WRITTEN_FOR


def test_without_rebasing_the_files_would_be_overdue_two_years_on() -> None:
    """What the rebasing prevents: the files' dates alone go stale."""
    day = demo_data.WRITTEN_FOR + timedelta(days=730)
    raw = [a for a in load_path(DEMO_KB_PATH).articles if a.status is Status.VALIDATED]
    assert raw and all(a.is_stale(day) for a in raw)


def test_other_knowledge_bases_keep_their_dates(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        "---\nid: a\ntitle: A\nowner: x@example.com\nstatus: validated\n"
        "reviewed_on: 2020-01-02\nreview_every_days: 30\nquestions:\n  - q\n"
        "answer: An answer.\n---\nBody.\n",
        encoding="utf-8",
    )
    [article] = demo_data.load_articles(tmp_path, date(2030, 1, 1)).articles
    assert article.reviewed_on == date(2020, 1, 2)


def test_serving_the_demo_years_later_answers_from_every_validated_article(
    sqlite_url: str,
) -> None:
    """`deskbot demo`/`serve` import the demo through `prepare_knowledge` on the knowledge
    base's own clock."""
    day = CLOCK.today() + timedelta(days=730)
    settings = test_settings(sqlite_url)
    engine = wiring.database(settings)
    services = wiring.services(settings, engine, HashEmbedder(), today=lambda: day)
    wiring.prepare_knowledge(settings, services, import_path=True)
    reasons = {reason for _, reason in services.knowledge.excluded()}
    assert reasons == {"status is draft", "status is retired"}
    engine.dispose()
