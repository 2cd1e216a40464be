"""The composition root: builds engines, the knowledge base and services from Settings."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from bot.db import make_engine, migrate
from bot.settings import Settings
from retrieval.confidence import Calibration
from retrieval.embedding import Embedder, SentenceEmbedder
from retrieval.knowledge import KnowledgeBase
from retrieval.store import KnowledgeStore

DEFAULT_CALIBRATION = Path(__file__).parent / "demo" / "calibration.json"


def database(settings: Settings) -> Engine:
    engine = make_engine(settings.database_url)
    migrate(engine)
    return engine


def embedder(settings: Settings) -> SentenceEmbedder:
    return SentenceEmbedder(settings.model_path)


def default_calibration(settings: Settings) -> Calibration:
    """The calibration shipped with deskbot, used until one is fitted for this knowledge base."""
    shipped = Calibration.from_json(DEFAULT_CALIBRATION.read_text(encoding="utf-8"))
    return shipped.for_target(settings.target_precision)


def knowledge_base(
    settings: Settings,
    engine: Engine,
    embedder_: Embedder | None = None,
    *,
    store_engine: Engine | None = None,
) -> KnowledgeBase:
    """A knowledge base on `store_engine` (default: the main database) that caches vectors
    in the main database."""
    vectors = KnowledgeStore(engine)
    store = KnowledgeStore(store_engine) if store_engine is not None else vectors
    return KnowledgeBase(
        store,
        embedder_ or embedder(settings),
        default_calibration(settings),
        vector_store=vectors,
        threshold_override=settings.confidence_threshold,
    )
