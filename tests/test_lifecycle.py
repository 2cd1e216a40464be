"""Readiness, liveness and the SIGTERM drain of a real server (in this process)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import ClientSession
from sqlalchemy import select, text

from bot import wiring
from bot.dialogue.inbox import PENDING, Entry, inbox_table
from bot.dialogue.messages import Identity, IncomingMessage
from bot.lifecycle import Probe
from bot.server import LIFECYCLE
from retrieval.embedding import HashEmbedder
from tests.conftest import test_settings
from tests.fault_world import free_port
from tests.support import listening

ALEX = Identity("u-alex", "alex.morgan@example.com", "Alex Morgan")


async def get(url: str) -> tuple[int, dict[str, object]]:
    async with ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def test_ready_only_when_loaded_current_and_not_draining(demo_url: str) -> None:
    runtime = wiring.build(test_settings(demo_url), embedder=HashEmbedder(), background=False)
    lifecycle = runtime.app[LIFECYCLE]
    async with listening(runtime.app) as base:
        status, body = await get(base + "/readyz")
        assert (status, body["model"], body["ready"]) == (503, "loading", False)
        lifecycle.started = True
        status, body = await get(base + "/readyz")
        assert (status, body["database"], body["schema"]) == (200, "ok", "current")
        with runtime.services.conversations.engine.begin() as conn:  # as if a migration is due
            conn.execute(
                text(
                    "UPDATE alembic_version SET version_num = 'bot_0002'"
                    " WHERE version_num = 'durable_0001'"
                )
            )
        status, body = await get(base + "/readyz")
        assert (status, body["schema"]) == (503, "behind")
        lifecycle.draining = True
        status, body = await get(base + "/readyz")
        assert (status, body["draining"]) == (503, True)
        status, body = await get(base + "/healthz")  # alive all along
        assert (status, body["status"], body["database"]) == (200, "ok", "ok")
        runtime.services.inbox.accept(IncomingMessage("web", "c-1", ALEX, "printer"))
        async with ClientSession() as session, session.get(base + "/metrics") as metrics:
            assert "deskbot_inbox_depth 1.0" in await metrics.text()


async def test_a_stalled_check_is_reported_at_once_and_not_run_twice() -> None:
    release = asyncio.Event()
    loop = asyncio.get_running_loop()
    calls: list[int] = []

    def stuck() -> int:
        calls.append(1)
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result()
        return 1

    probe = Probe(stuck, within=0.2)
    try:
        assert await probe() == ("stalled", None)
        started = loop.time()
        assert await probe() == ("stalled", None)
        assert loop.time() - started < 0.05 and len(calls) == 1
        release.set()
        await asyncio.sleep(0.1)
        assert await probe() == ("ok", 1) and len(calls) == 2
    finally:
        release.set()
        probe.close()


async def test_sigterm_drain_finishes_what_it_can_and_hands_back_the_rest(
    demo_url: str, tmp_path: Path
) -> None:
    settings = test_settings(demo_url).model_copy(update={"drain_seconds": 2.0})
    runtime = wiring.build(settings, embedder=HashEmbedder())
    inbox = runtime.services.inbox

    async def forever(entry: Entry) -> None:
        await asyncio.Event().wait()

    inbox.register("stuck", forever)
    quick = inbox.accept(IncomingMessage("web", "c-quick", ALEX, "how do I add a printer"))
    slow = inbox.accept(IncomingMessage("stuck", "c-slow", ALEX, "never finishes"))
    assert quick.entry is not None and slow.entry is not None
    ready = asyncio.Event()
    serving = asyncio.ensure_future(wiring.serve(runtime, "127.0.0.1", free_port(), ready))
    await ready.wait()
    inbox.spawn(quick.entry, asyncio.sleep(0.5))
    inbox.spawn(slow.entry)
    started = asyncio.get_running_loop().time()
    runtime.app[LIFECYCLE].stop.set()  # what SIGTERM does
    await asyncio.wait_for(serving, 10)
    took = asyncio.get_running_loop().time() - started
    assert 0.5 < took < 2.5  # waited for the quick one, not past the drain time
    with runtime.services.conversations.engine.connect() as conn:
        row = conn.execute(select(inbox_table).where(inbox_table.c.id == slow.entry.id)).one()
    assert (row.state, row.owner) == (PENDING, None)  # handed back: claimable at once
