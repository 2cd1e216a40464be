"""The outbox across replicas: two dispatchers on one database (each its own engine and pool,
as two processes have) deliver every message exactly once, share the work on PostgreSQL
(`FOR UPDATE SKIP LOCKED`), and keep Slack's per-channel pace together (`SharedPacer`), where
one pace per process would let them send twice as fast."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, func, select

from bot.channels.slack.channel import pacing
from bot.channels.slack.post import Pace, Pacer
from bot.db import make_engine
from handoff.outbox import Outbox, OutboxMessage, OutboxStatus, outbox_table
from handoff.pacing import SharedPacer, pacing_table

CHANNELS = ("D01", "C-agents")
# Quicker than Slack's 1/s, the same rule; slower than one dispatcher alone can send here, so
# the pace is what limits them.
RATE, BURST = 8.0, 2
INTERVAL = 1 / RATE
TOLERANCE = 0.15  # seconds of scheduling jitter on a loaded machine


@pytest.fixture
def second_engine(engine: Engine) -> Iterator[Engine]:
    """Another engine on the same database: another replica's pool."""
    other = make_engine(engine.url.render_as_string(hide_password=False))
    yield other
    other.dispose()


def test_a_shared_pacer_allows_a_burst_then_one_slot_per_interval(engine: Engine) -> None:
    pacer = SharedPacer(engine, rate=1.0, burst=3)
    started = time.time()
    delays = [pacer.reserve("D42") for _ in range(6)]
    elapsed = time.time() - started
    expected = [0.0, 0.0, 0.0, 1.0, 2.0, 3.0]
    assert all(abs(d - e) <= elapsed + 0.01 for d, e in zip(delays, expected, strict=True)), delays
    assert pacer.reserve("D43") == 0.0  # another channel has its own pace


def test_two_replicas_share_one_pace_per_channel(engine: Engine, second_engine: Engine) -> None:
    one, two = SharedPacer(engine, rate=1.0, burst=1), SharedPacer(second_engine, 1.0, 1)
    delays = [pacer.reserve("D42") for pacer in (one, two, one, two)]
    assert [round(d) for d in delays] == [0, 1, 2, 3]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(pacing_table)).scalar_one() == 1


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.postgres
def test_an_unreachable_database_paces_in_this_process_meanwhile(pg_engine: Engine) -> None:
    gone = make_engine(f"postgresql://deskbot@127.0.0.1:{closed_port()}/deskbot")
    assert gone.dialect.name == "postgresql"
    pacer = SharedPacer(gone, rate=1.0, burst=2)
    delays = [pacer.reserve("D42") for _ in range(4)]
    assert [round(d) for d in delays] == [0, 0, 1, 2]
    gone.dispose()


@pytest.mark.postgres
def test_slack_paces_in_the_database_on_postgresql_only(
    pg_engine: Engine, sqlite_engine: Engine
) -> None:
    assert isinstance(pacing(pg_engine), SharedPacer)
    assert isinstance(pacing(sqlite_engine), Pacer)  # SQLite serves one process


# -- two dispatchers -----------------------------------------------------------------------


class Slack:
    """Stands in for the channel's sender: waits for its pace, then records the post."""

    def __init__(
        self,
        pacer: Pace,
        posts: list[tuple[int, str, float, str]],
        name: str,
        all_in: Callable[[], None],
    ) -> None:
        self.pacer, self.posts, self.name, self.all_in = pacer, posts, name, all_in

    async def __call__(self, message: OutboxMessage) -> None:
        channel = str(message.target["channel"])
        await self.pacer.wait(channel)
        await asyncio.sleep(random.uniform(0, 0.004))  # the HTTP call
        self.posts.append((message.id, channel, time.monotonic(), self.name))
        self.all_in()


async def dispatch_with_two_replicas(
    engines: tuple[Engine, Engine], pacers: tuple[Pace, Pace], count: int
) -> list[tuple[int, str, float, str]]:
    one, two = Outbox(engines[0]), Outbox(engines[1])
    for n in range(count):
        one.add("slack", {"channel": CHANNELS[n % len(CHANNELS)]}, {"n": n})
    posts: list[tuple[int, str, float, str]] = []
    done = asyncio.Event()

    def all_in() -> None:
        if len(posts) >= count:
            done.set()

    for outbox, pacer, name in ((one, pacers[0], "one"), (two, pacers[1], "two")):
        outbox.register("slack", Slack(pacer, posts, name, all_in))
    runs = [asyncio.create_task(o.run(poll_seconds=0.05)) for o in (one, two)]
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout=60)
        await asyncio.sleep(0.3)  # anything sent twice would arrive by now
    finally:
        for run in runs:
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run
    return posts


def pace_breaches(posts: list[tuple[int, str, float, str]]) -> int:
    """Pairs of posts to one channel closer than the pace allows: n posts after the burst
    need (n - burst + 1) intervals."""
    times: dict[str, list[float]] = defaultdict(list)
    for _, channel, at, _ in posts:
        times[channel].append(at)
    breaches = 0
    for series in times.values():
        series.sort()
        for i in range(len(series)):
            for j in range(i + 1, len(series)):
                needed = (j - i - (BURST - 1)) * INTERVAL - TOLERANCE
                breaches += series[j] - series[i] < needed
    return breaches


async def test_two_dispatchers_deliver_each_message_once_at_one_shared_pace(
    engine: Engine, second_engine: Engine
) -> None:
    count = 80
    pacers = (SharedPacer(engine, RATE, BURST), SharedPacer(second_engine, RATE, BURST))
    posts = await dispatch_with_two_replicas((engine, second_engine), pacers, count)

    sent = Counter(message_id for message_id, *_ in posts)
    assert len(sent) == count, f"lost {count - len(sent)}"
    assert [m for m, n in sent.items() if n > 1] == []  # none doubled
    assert pace_breaches(posts) == 0
    with engine.connect() as conn:
        statuses = conn.execute(select(outbox_table.c.status)).scalars().all()
    assert set(statuses) == {OutboxStatus.SENT.value}
    if engine.dialect.name == "postgresql":  # SKIP LOCKED: both replicas took a share
        by_replica = Counter(name for *_, name in posts)
        assert by_replica["one"] > count / 10 and by_replica["two"] > count / 10, by_replica


@pytest.mark.postgres
async def test_a_pace_per_process_would_let_two_replicas_send_too_fast(
    pg_engine: Engine,
) -> None:
    """The control: the same run with each replica pacing alone breaks the channel's pace."""
    other = make_engine(pg_engine.url.render_as_string(hide_password=False))
    try:
        posts = await dispatch_with_two_replicas(
            (pg_engine, other), (Pacer(RATE, BURST), Pacer(RATE, BURST)), 40
        )
    finally:
        other.dispose()
    assert len({m for m, *_ in posts}) == 40
    assert pace_breaches(posts) > 0
