"""The process's life as a platform sees it: whether it should get traffic (`/readyz`), cheap
database probes that answer at once even when the database stalls, and the SIGTERM drain.

The drain: readiness turns false at once, so load balancers stop sending; what is already on
its way is still answered for a moment, then the listener closes; turns in progress finish and
are saved; whatever is still unfinished when the drain time is nearly up is handed back to the
inbox, where another replica (or this one, restarted) takes it at once. The outbox stops with
the server: a delivery in flight either completes or its claim lapses and another replica sends
it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aiohttp import web

from bot.dialogue.inbox import Inbox

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Lifecycle:
    started: bool = False  # the model is loaded and the server listens
    draining: bool = False
    stop: asyncio.Event = field(default_factory=asyncio.Event)


class Probe(Generic[T]):
    """A blocking check run on a thread of its own with a time limit. While an earlier run is
    still stuck (a stalled database), it answers "stalled" at once without starting another, so
    probes never pile up threads or wait."""

    def __init__(self, check: Callable[[], T], within: float) -> None:
        self.check = check
        self.within = within
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="probe")
        self._pending: Future[T] | None = None

    async def __call__(self, within: float | None = None) -> tuple[str, T | None]:
        """("ok", result), ("stalled", None) or ("unreachable: <error class>", None)."""
        if self._pending is not None and not self._pending.done():
            return "stalled", None
        pending = self._pending = self._executor.submit(self.check)
        try:
            waited = asyncio.shield(asyncio.wrap_future(pending))
            return "ok", await asyncio.wait_for(waited, within or self.within)
        except TimeoutError:
            return "stalled", None
        except Exception as exc:
            return f"unreachable: {exc.__class__.__name__}", None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def on_signals(lifecycle: Lifecycle) -> None:
    """SIGTERM (and Ctrl-C) start the drain."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lifecycle.stop.set)


async def drain(
    lifecycle: Lifecycle,
    runner: web.AppRunner,
    inbox: Inbox,
    seconds: float,
    *,
    also: Callable[[float], Any] | None = None,
) -> None:
    """Stop taking work and finish or hand back what is in flight within `seconds`; `also`
    waits for a channel's own background work (given the seconds left)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    lifecycle.draining = True
    inbox.accepting_work = False
    log.info("draining: %d in flight, up to %.0f s", inbox.in_flight, seconds)
    # requests already on their way (the load balancer has not seen /readyz yet) are answered
    await asyncio.sleep(min(5.0, seconds / 5))
    for site in list(runner.sites):
        await site.stop()
    margin = min(5.0, seconds / 5)  # to hand back, then stop the server and exit
    finished = await inbox.idle(max(0.0, deadline - margin - loop.time()))
    if also is not None:
        await also(max(0.0, deadline - margin - loop.time()))
    if not finished:
        await inbox.cancel()
    try:
        handed = await asyncio.wait_for(asyncio.to_thread(inbox.hand_back), margin or 1.0)
    except Exception as exc:  # the leases lapse on their own
        log.warning("draining: could not hand back (%s)", exc.__class__.__name__)
        handed = 0
    log.info("drained: %s, %d handed back", "all finished" if finished else "cut short", handed)
