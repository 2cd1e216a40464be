"""The composition root, and the only one: from Settings it builds the database, the knowledge
base and the services, the dialogue core (turns and relay), the server, and registers every
configured channel and desk (`bot.seams`) with the server and the outbox. Nothing else wires."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import Engine
from threadpoolctl import threadpool_limits

from bot import demo_data
from bot.channels.web.channel import WebChannel
from bot.channels.web.sessions import Signer
from bot.channels.web.store import SignedOut
from bot.db import make_engine, migrate
from bot.dialogue.conversations import ConversationStore, shared_secret
from bot.dialogue.encoding import BatchingEncoder
from bot.dialogue.inbox import Inbox
from bot.dialogue.relay import Relay
from bot.dialogue.services import Services
from bot.dialogue.turns import Turns
from bot.itsm.connection import push_secret, ticket_system
from bot.itsm.desk import ItsmDesk
from bot.itsm.poller import Poller
from bot.itsm.push import PushEndpoint
from bot.itsm.requests import ItsmRequests, TicketRequests
from bot.lifecycle import Lifecycle, drain, on_signals
from bot.seams import Channel, Desk, desk_sender, destination
from bot.server import LIFECYCLE, create_app, inbox_worker, outbox_dispatcher
from bot.settings import Settings
from flows.cache import TrainingCache
from flows.policy import Policy
from flows.router import Router
from flows.types import Requests
from handoff.itsm.polls import PollStore
from handoff.itsm.port import TicketSystem
from handoff.outbox import Outbox, Sender
from handoff.tickets import TicketStore
from retrieval.confidence import Calibration
from retrieval.embedding import Embedder, SentenceEmbedder
from retrieval.gaps import GapStore
from retrieval.knowledge import KnowledgeBase
from retrieval.store import KnowledgeStore

if TYPE_CHECKING:
    from bot.channels.slack.channel import SlackChannel
    from bot.channels.teams.channel import TeamsChannel

log = logging.getLogger(__name__)

DEFAULT_CALIBRATION = Path(__file__).parent / "demo" / "calibration.json"


def database(settings: Settings, *, migrate_schema: bool = True) -> Engine:
    """The engine; the schema migrated first unless the caller checked it is current
    (`deskbot serve` leaves migrating to `deskbot migrate`)."""
    engine = make_engine(
        settings.database_url,
        timeout=settings.db_timeout_seconds,
        statement_timeout=settings.db_statement_timeout_seconds,
    )
    if migrate_schema:
        migrate(engine)
    return engine


def embedder(settings: Settings) -> SentenceEmbedder:
    return SentenceEmbedder(settings.model_path, backend=settings.encoder_backend)


def training_cache(settings: Settings) -> TrainingCache:
    return TrainingCache(settings.cache_dir / "router")


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
    today: Callable[[], date] = date.today,
) -> KnowledgeBase:
    """A knowledge base on `store_engine` (default: the main database) that caches vectors
    in the main database; `today` is the day articles are judged on (overdue or not)."""
    vectors = KnowledgeStore(engine)
    store = KnowledgeStore(store_engine) if store_engine is not None else vectors
    return KnowledgeBase(
        store,
        embedder_ or embedder(settings),
        default_calibration(settings),
        vector_store=vectors,
        threshold_override=settings.confidence_threshold,
        clock=today,
    )


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
    requests: Requests | None = None,
    clock: Callable[[], datetime] | None = None,
    today: Callable[[], date] = date.today,
) -> Services:
    """Everything the dialogue core needs, on one database. `requests` is what the status
    flow reads (deskbot's own tickets unless given); `clock` is the outbox's; `today` is the
    knowledge base's day."""
    single_threaded_blas()
    emb = embedder_ or embedder(settings)
    kb = knowledge_base(settings, engine, emb, today=today)
    tickets = TicketStore(engine)
    router = Router.from_file(emb, cache=training_cache(settings))
    policy = Policy(router, kb, requests or TicketRequests(tickets))
    return Services(
        knowledge=kb,
        policy=policy,
        conversations=ConversationStore(engine),
        tickets=tickets,
        gaps=GapStore(engine),
        outbox=Outbox(engine, clock),
        encoder=BatchingEncoder(emb),
        inbox=Inbox(
            engine,
            settings.spool_file,
            lease_seconds=settings.inbox_lease_seconds,
            timeout=settings.db_timeout_seconds,
        ),
        spool_file=settings.spool_file,
    )


def warm_up(s: Services) -> None:
    """Load the index and train the router before the first user arrives."""
    if s.knowledge.revision < 0:
        s.knowledge.load()
    s.policy.learn()


# -- the server ------------------------------------------------------------------------------


@dataclass
class Itsm:
    """The desk's ITSM and what works with it (`DESKBOT_TICKETS` other than builtin)."""

    system: TicketSystem
    desk: ItsmDesk
    poller: Poller
    requests: ItsmRequests


@dataclass
class Runtime:
    settings: Settings
    services: Services
    turns: Turns
    relay: Relay
    app: web.Application
    itsm: Itsm | None = None


def build(
    settings: Settings,
    *,
    demo: bool = False,
    host: str = "127.0.0.1",
    embedder: Embedder | None = None,
    background: bool = True,
    system: TicketSystem | None = None,
    clock: Callable[[], datetime] | None = None,
    today: Callable[[], date] = date.today,
    migrate_schema: bool = True,
) -> Runtime:
    """The whole server, with every configured channel and desk registered. Tests pass a fake
    `embedder`, `background=False` to run the outbox and the ITSM poller by hand
    (`await services.outbox.deliver_due()`, `await runtime.itsm.poller.poll()`), a ticket
    `system` connected with their own timing instead of the one the settings name, and the
    `clock` of the outbox and the poll lease, and the knowledge base's `today`;
    `migrate_schema=False` when the caller checked the schema is current."""
    # imported here, so the commands that never serve do not load the Slack and Teams SDKs
    from bot.channels.slack import channel as slack_channel
    from bot.channels.teams import channel as teams_channel

    engine = database(settings, migrate_schema=migrate_schema)
    system = system or ticket_system(settings)
    requests = ItsmRequests(system, TicketStore(engine)) if system is not None else None
    s = services(settings, engine, embedder, requests=requests, clock=clock, today=today)
    turns, relay = Turns(s), Relay(s)
    runtime = Runtime(settings, s, turns, relay, create_app(s, Lifecycle()))
    secret = shared_secret(engine, "cookie_signing_key", lambda: secrets.token_hex(32))
    web_chat = WebChannel(
        turns,
        s.conversations,
        Signer(secret.encode()),
        demo_users=tuple(demo_data.users()) if demo else (),
        identity_header=settings.web_identity_header or None,
        secure_cookies=settings.public_url.startswith("https://"),
        public_url=settings.public_url,
        signed_out=SignedOut(engine),
    )
    add_channel(runtime, web_chat)  # the browser polls the transcript: nothing to push
    slack = slack_channel.build(settings, s, turns, relay)
    if slack is not None:
        add_slack(runtime, slack)
    teams = teams_channel.build(settings, s, turns, relay, host)
    if teams is not None:
        add_teams(runtime, teams)
    add_console(runtime, host)
    if system is not None and requests is not None:
        add_itsm(runtime, system, requests, background=background, clock=clock)
    if background:
        runtime.app.cleanup_ctx.append(outbox_dispatcher)
        runtime.app.cleanup_ctx.append(inbox_worker)
    return runtime


def add_channel(runtime: Runtime, channel: Channel, sender: Sender | None = None) -> None:
    """Mount a channel; `sender` delivers what the outbox holds for its users."""
    channel.mount(runtime.app)
    if sender is not None:
        runtime.services.outbox.register(channel.name, sender)


def add_desk(services: Services, desk: Desk) -> None:
    """Register a desk: the relay tells it about tickets while it listens."""
    services.desks.add(desk)
    services.outbox.register(destination(desk.origin), desk_sender(desk))


def add_slack(runtime: Runtime, slack: SlackChannel) -> None:
    add_channel(runtime, slack, slack.employees.deliver)
    if slack.desk is not None:
        add_desk(runtime.services, slack.desk)


def add_teams(runtime: Runtime, teams: TeamsChannel) -> None:
    add_channel(runtime, teams, teams.employees.deliver)
    add_desk(runtime.services, teams.desk)


def add_console(runtime: Runtime, host: str) -> None:
    # imported here: the console's publisher builds scratch knowledge bases with this module
    from bot.console import app as console
    from bot.console.desk import ConsoleDesk

    mount = console.mount(runtime.settings, runtime.services, runtime.relay, host)
    if mount is not None:
        mount(runtime.app)
    add_desk(runtime.services, ConsoleDesk())


def add_itsm(
    runtime: Runtime,
    system: TicketSystem,
    requests: ItsmRequests,
    *,
    background: bool = True,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """Register the desk's ITSM: the desk that writes hand-offs there, the poller that relays
    what agents write there (started with the server when `background`), its push endpoint
    when a secret is configured, and the status flow's connection to the server's loop."""
    s = runtime.services
    desk = ItsmDesk(system, runtime.relay, s.tickets)
    add_desk(s, desk)
    polls = PollStore(s.tickets.engine, clock)
    every = runtime.settings.itsm_poll_seconds
    poller = Poller(system, runtime.relay, s.tickets, polls, every=every)
    itsm = runtime.itsm = Itsm(system, desk, poller, requests)
    secret = push_secret(runtime.settings)
    if secret:
        PushEndpoint(system.name, secret, poller.wake).mount(runtime.app)
    runtime.app.cleanup_ctx.append(functools.partial(_itsm_running, itsm, background))


async def _itsm_running(itsm: Itsm, background: bool, app: web.Application) -> AsyncIterator[None]:
    """While the server runs: status lookups on its loop, and the poller (`app.cleanup_ctx`;
    appended before the outbox dispatcher, so the system closes after the dispatcher stops)."""
    async with itsm_attached(itsm):
        task = asyncio.create_task(itsm.poller.run()) if background else None
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def itsm_attached(itsm: Itsm | None) -> AsyncIterator[None]:
    """The status flow reaches the ITSM on the running loop; the connection is closed after."""
    if itsm is None:
        yield
        return
    itsm.requests.attach(asyncio.get_running_loop())
    try:
        yield
    finally:
        itsm.requests.attach(None)
        await itsm.system.close()


def prepare_knowledge(settings: Settings, services: Services, *, import_path: bool) -> None:
    """Load the index; import the configured articles when asked (or the store is empty). The
    model loads meanwhile on its own thread: start-up waits for the longer of the two."""
    kb = services.knowledge
    model = load_model_meanwhile(kb.embedder)
    kb.load()
    if import_path or not kb.articles():
        loaded = demo_data.load_articles(settings.kb_path, kb.clock())
        if not loaded.ok:
            raise SystemExit("\n".join(str(p) for p in loaded.errors))
        report = kb.import_articles(loaded.articles)
        log.info(
            "knowledge base: %d added, %d updated, %d kept as changed in the console%s",
            len(report.added),
            len(report.updated),
            len(report.kept) + len(report.conflicts),
            f" (also changed in their files: {', '.join(report.conflicts)})"
            if report.conflicts
            else "",
        )
    warm_up(services)
    model.join()


def load_model_meanwhile(embedder: Embedder) -> threading.Thread:
    """Start loading the model on a thread. A failure is left for the first encode to raise
    where it is handled (a turn's apology, a command's message)."""

    def load() -> None:
        if getattr(embedder, "warm_up", None) is None:
            return  # a stand-in that needs no loading
        try:
            embedder.encode(["warm up"])  # the runtime's first run allocates its buffers
        except Exception:
            log.warning("the model could not be loaded at start; the first encode retries")

    thread = threading.Thread(target=load, name="model-load", daemon=True)
    thread.start()
    return thread


async def replay_spool(runtime: Runtime) -> int:
    """Messages kept on disk while the database was down go into the inbox, where they are
    answered like any other (the inbox worker keeps trying while the server runs)."""
    try:
        return await asyncio.to_thread(runtime.services.inbox.replay_spool)
    except Exception as exc:
        log.warning("spool: not replayed yet (%s)", exc.__class__.__name__)
        return 0


async def serve(
    runtime: Runtime,
    host: str,
    port: int,
    ready: asyncio.Event | None = None,
    *,
    signals: bool = False,
) -> None:
    """Serve until cancelled or, with `signals`, until SIGTERM or SIGINT: then drain within
    DESKBOT_DRAIN_SECONDS (see bot.lifecycle) and return."""
    # Blocking work (database, the index) runs in the default executor; size it for bursts of
    # concurrent turns rather than asyncio's cpu+4.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=32, thread_name_prefix="deskbot")
    )
    lifecycle = runtime.app[LIFECYCLE]
    seconds = runtime.settings.drain_seconds
    runner = web.AppRunner(runtime.app, access_log=None, shutdown_timeout=min(2.0, seconds / 5))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    await replay_spool(runtime)
    lifecycle.started = True
    if signals:
        on_signals(lifecycle)
    if ready is not None:
        ready.set()
    try:
        await lifecycle.stop.wait()
        await drain(lifecycle, runner, runtime.services.inbox, seconds)
    finally:
        await runner.cleanup()
