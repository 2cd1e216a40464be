"""Building and running the server from Settings: the composition of everything."""

from __future__ import annotations

import asyncio
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiohttp import web

from bot import demo_data, wiring
from bot.channels.web.app import Mount, create_app
from bot.channels.web.sessions import Signer
from bot.dialogue.conversations import shared_secret
from bot.dialogue.messages import Identity, IncomingMessage
from bot.dialogue.relay import Relay
from bot.dialogue.services import Services
from bot.dialogue.spool import drain
from bot.dialogue.turns import Turns
from bot.settings import Settings
from retrieval.embedding import Embedder
from retrieval.loader import load_path

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    services: Services
    turns: Turns
    relay: Relay
    app: web.Application


def prepare_knowledge(settings: Settings, services: Services, *, import_path: bool) -> None:
    """Load the index; import the configured articles when asked (or the store is empty)."""
    kb = services.knowledge
    kb.load()
    if import_path or not kb.articles():
        loaded = load_path(settings.kb_path)
        if not loaded.ok:
            raise SystemExit("\n".join(str(p) for p in loaded.errors))
        report = kb.import_articles(loaded.articles)
        log.info("knowledge base: %d added, %d updated", len(report.added), len(report.updated))
    wiring.warm_up(services)


def channel_mounts(
    settings: Settings, services: Services, turns: Turns, relay: Relay, host: str
) -> tuple[Mount, ...]:
    """The channels configured in Settings mount themselves here; each returns None when it
    is not configured (and logs why)."""
    from bot.channels.slack import channel as slack
    from bot.channels.teams import channel as teams
    from bot.console import app as console

    mounts = (
        slack.mount(settings, services, turns, relay, host),
        teams.mount(settings, services, turns, relay, host),
        console.mount(settings, services, relay, host),
    )
    return tuple(m for m in mounts if m is not None)


def build(
    settings: Settings,
    *,
    demo: bool = False,
    host: str = "127.0.0.1",
    embedder: Embedder | None = None,
    background: bool = True,
) -> Runtime:
    """The whole server. Tests pass a fake `embedder`, and `background=False` to run the
    outbox by hand (`await services.outbox.deliver_due()`)."""
    engine = wiring.database(settings)
    services = wiring.services(settings, engine, embedder)
    turns = Turns(services)
    relay = Relay(services)
    secret = shared_secret(engine, "cookie_signing_key", lambda: secrets.token_hex(32))
    app = create_app(
        services,
        turns,
        Signer(secret.encode()),
        demo_users=tuple(demo_data.users()) if demo else (),
        identity_header=settings.web_identity_header or None,
        secure_cookies=settings.public_url.startswith("https://"),
        mounts=channel_mounts(settings, services, turns, relay, host),
        background=background,
    )
    return Runtime(settings, services, turns, relay, app)


async def replay_spool(runtime: Runtime) -> int:
    """Messages kept on disk while the database was down go in now (as error hand-offs)."""
    rows = drain(runtime.settings.spool_file)
    for row in rows:
        identity = Identity(f"spooled:{row['conversation']}")
        await runtime.turns.handle(
            IncomingMessage(
                row["channel"],
                row["conversation"],
                identity,
                row["text"] + " (kept while deskbot was unavailable)",
            )
        )
    return len(rows)


async def serve(runtime: Runtime, host: str, port: int, ready: asyncio.Event | None = None) -> None:
    # Blocking work (database, the index) runs in the default executor; size it for bursts of
    # concurrent turns rather than asyncio's cpu+4.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=32, thread_name_prefix="deskbot")
    )
    runner = web.AppRunner(runtime.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    await replay_spool(runtime)
    if ready is not None:
        ready.set()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
