"""Shared fixtures: real databases (SQLite per test, PostgreSQL when configured), a fast fake
embedder, and one real model per session for the tests marked `slow`."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from bot import demo_data, wiring
from bot.db import make_engine, migrate
from bot.dialogue.relay import Relay
from bot.dialogue.turns import Turns
from bot.settings import DEMO_KB_PATH, DEMO_QUESTIONS_PATH, Settings
from retrieval.embedding import HashEmbedder, SentenceEmbedder
from retrieval.evaluation import fit_calibration, load_queries
from tests.browser import ARGS, CHROMIUM, SHOTS
from tests.clock import CLOCK
from tests.support import ChatBot

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# the router's training cache of this test run, never the user's
os.environ.setdefault("DESKBOT_CACHE_DIR", tempfile.mkdtemp(prefix="deskbot-test-cache-"))
PG_URL = os.environ.get("DESKBOT_TEST_DATABASE_URL", "")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock-shift-days",
        type=int,
        default=None,
        help="Run on the test clock moved by this many days (also DESKBOT_TEST_CLOCK_SHIFT_DAYS).",
    )


def pytest_configure(config: pytest.Config) -> None:
    shift = config.getoption("--clock-shift-days")
    if shift is not None:
        CLOCK.shift_days = shift


def pytest_report_header() -> str:
    return f"test clock: {CLOCK.today()} (shifted {CLOCK.shift_days} days)"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (migrating per test is slower)."""
    path = tmp_path_factory.mktemp("template") / "deskbot.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "deskbot.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@contextlib.contextmanager
def empty_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards; yields its URL."""
    if not PG_URL:
        pytest.skip("DESKBOT_TEST_DATABASE_URL is not set")
    admin = make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    name = f"deskbot_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test session."""
    with empty_pg_database() as url:
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        yield url


@pytest.fixture
def pg_engine(pg_database: str) -> Iterator[Engine]:
    engine = make_engine(pg_database)
    with engine.begin() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables"
                    " WHERE schemaname='public' AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        if tables:
            conn.execute(
                text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                )
            )
    yield engine
    engine.dispose()


ON_POSTGRES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
PG_FIXTURES = {"pg_database", "pg_engine"}


def uses_postgres(item: pytest.Item) -> bool:
    """A PostgreSQL fixture, or the "postgres" side of a fixture run on both databases."""
    callspec = getattr(item, "callspec", None)
    params = callspec.params.values() if callspec is not None else ()
    fixtures = set(getattr(item, "fixturenames", ()))
    return bool(PG_FIXTURES & fixtures) or any(p == "postgres" for p in params)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test on PostgreSQL says so with the `postgres` marker (`-m postgres` runs them
    all, `-m "not postgres"` none): a test that reaches PostgreSQL without it is an error."""
    unmarked = [
        i.nodeid for i in items if uses_postgres(i) and i.get_closest_marker("postgres") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "PostgreSQL tests without the postgres marker: " + ", ".join(unmarked)
        )


@pytest.fixture(params=ON_POSTGRES)
def engine(request: pytest.FixtureRequest) -> Engine:
    """Both engines: storage behaviour must not depend on the database."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def fake_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(scope="session")
def real_embedder() -> SentenceEmbedder:
    embedder = SentenceEmbedder()
    embedder.warm_up()
    return embedder


def test_settings(url: str) -> Settings:
    """Settings for a test database; the spool file sits beside a SQLite database file."""
    folder = Path(url.removeprefix("sqlite:///")).parent if url.startswith("sqlite:///") else None
    spool = (folder or Path(tempfile.gettempdir())) / "deskbot-spool.jsonl"
    return Settings(  # type: ignore[call-arg]
        DESKBOT_DATABASE_URL=url, DESKBOT_KB_PATH=DEMO_KB_PATH, DESKBOT_SPOOL_FILE=spool
    )


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the demo knowledge base indexed by the fake embedder, a calibration
    fitted for that embedder on the demo questions, and the demo requests."""
    path = tmp_path_factory.mktemp("demo") / "deskbot.db"
    url = f"sqlite:///{path}"
    settings = test_settings(url)
    engine = wiring.database(settings)
    services = wiring.services(settings, engine, HashEmbedder(), today=CLOCK.today)
    kb = services.knowledge
    kb.import_articles(demo_data.load_articles(DEMO_KB_PATH, CLOCK.today()).articles)
    kb.use_calibration(
        fit_calibration(kb, load_queries(DEMO_QUESTIONS_PATH), 0.9, "test"), persist=True
    )
    demo_data.seed_tickets(services.tickets)
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    return path


@pytest.fixture
def demo_url(demo_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "deskbot.db"
    shutil.copy(demo_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
async def bot(demo_url: str) -> ChatBot:
    """A conversation with the real dialogue core on the demo knowledge base."""
    settings = test_settings(demo_url)
    services = wiring.services(settings, make_engine(demo_url), HashEmbedder(), today=CLOCK.today)
    wiring.warm_up(services)
    return ChatBot(Turns(services), Relay(services), services)


# Browser tests: Debian's Chromium, shared by every test file that drives it.
@pytest.fixture
def shots() -> Path:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture
async def browser(shots: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()
