"""The composition root: builds engines, the knowledge base and services from Settings."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from threadpoolctl import threadpool_limits

from bot.conversations import ConversationStore
from bot.core import Services
from bot.db import make_engine, migrate
from bot.encoding import BatchingEncoder
from bot.settings import Settings
from flows.policy import Policy
from flows.router import Router
from handoff.outbox import Outbox
from handoff.tickets import RequestView, TicketStore
from retrieval.confidence import Calibration
from retrieval.embedding import Embedder, SentenceEmbedder
from retrieval.gaps import GapStore
from retrieval.knowledge import KnowledgeBase
from retrieval.store import KnowledgeStore

DEFAULT_CALIBRATION = Path(__file__).parent / "demo" / "calibration.json"


def database(settings: Settings) -> Engine:
    engine = make_engine(settings.database_url)
    migrate(engine)
    return engine


def embedder(settings: Settings) -> SentenceEmbedder:
    return SentenceEmbedder(settings.model_path, backend=settings.encoder_backend)


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


class TicketRequests:
    """The request-status flow's view of the ticket store."""

    def __init__(self, tickets: TicketStore) -> None:
        self._tickets = tickets

    def requests_of(self, requester: str) -> list[RequestView]:
        return self._tickets.requests_of(requester)


def single_threaded_blas() -> None:
    """A turn's linear algebra is matrix-vector work on a few thousand rows at most: BLAS
    threads only spin, taking the cores that the encoder (its own thread pool) and the other
    requests need. Measured: CPU per turn halves and web chat throughput rises by a third."""
    threadpool_limits(limits=1, user_api="blas")


def services(
    settings: Settings,
    engine: Engine,
    embedder_: Embedder | None = None,
    *,
    desks: tuple[str, ...] = (),
) -> Services:
    """Everything the dialogue core needs, on one database."""
    single_threaded_blas()
    emb = embedder_ or embedder(settings)
    kb = knowledge_base(settings, engine, emb)
    tickets = TicketStore(engine)
    router = Router.from_file(emb)
    policy = Policy(router, kb, TicketRequests(tickets))
    return Services(
        knowledge=kb,
        policy=policy,
        conversations=ConversationStore(engine),
        tickets=tickets,
        gaps=GapStore(engine),
        outbox=Outbox(engine),
        encoder=BatchingEncoder(emb),
        desks=desks,
        spool_file=settings.spool_file,
    )


def warm_up(s: Services) -> None:
    """Load the index and train the router before the first user arrives."""
    if s.knowledge.revision < 0:
        s.knowledge.load()
    s.policy.router.learn(s.knowledge.question_vectors(), s.knowledge.revision)
