"""The durable outbox on both databases, on a clock that moves only when told: backoff and the
retry limit, a send whose sender died (recovered after the lease), and two replicas
dispatching the same rows at once (each message goes out once)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from bot.db import make_engine
from handoff.outbox import (
    BACKOFF_SECONDS,
    MAX_ATTEMPTS,
    STALE_SENDING,
    Outbox,
    OutboxMessage,
    OutboxStatus,
    outbox_table,
)
from tests.clock import ManualClock


def rows(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(outbox_table).order_by("id"))]


class Failing:
    def __init__(self) -> None:
        self.tries = 0

    async def __call__(self, message: OutboxMessage) -> None:
        self.tries += 1
        raise ConnectionError("the platform is down")


async def test_failures_back_off_then_give_up_after_the_retry_limit(engine: Engine) -> None:
    clock = ManualClock()
    outbox = Outbox(engine, clock)
    sender = Failing()
    outbox.register("slack", sender)
    outbox.add("slack", {"channel": "D1"}, {"text": "hello"})
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert await outbox.deliver_due() == 0
        assert sender.tries == attempt
        [row] = rows(engine)
        assert row["attempts"] == attempt and row["last_error"] == "ConnectionError"
        if attempt == MAX_ATTEMPTS:
            break
        assert row["status"] == OutboxStatus.PENDING.value
        wait = BACKOFF_SECONDS[attempt - 1]
        clock.advance(wait - 0.5)
        assert await outbox.deliver_due() == 0 and sender.tries == attempt  # not due yet
        clock.advance(0.5)
    assert rows(engine)[0]["status"] == OutboxStatus.FAILED.value
    assert outbox.depth() == 0
    clock.advance(86400)
    assert await outbox.deliver_due() == 0 and sender.tries == MAX_ATTEMPTS  # given up


async def test_a_send_whose_sender_died_is_retried_after_the_lease(engine: Engine) -> None:
    clock = ManualClock()
    dead, alive = Outbox(engine, clock), Outbox(engine, clock)
    started, sent = asyncio.Event(), []

    async def hangs(message: OutboxMessage) -> None:
        started.set()
        await asyncio.Event().wait()  # the process dies mid-send

    async def works(message: OutboxMessage) -> None:
        sent.append(message.payload["text"])

    dead.register("teams", hangs)
    alive.register("teams", works)
    dead.add("teams", {"conversation": "a:1"}, {"text": "your request REQ1"})
    task = asyncio.create_task(dead.deliver_due())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rows(engine)[0]["status"] == OutboxStatus.SENDING.value
    assert await alive.deliver_due() == 0  # another replica may still be sending it
    clock.advance((STALE_SENDING - timedelta(seconds=1)).total_seconds())
    assert await alive.deliver_due() == 0
    clock.advance(2)
    assert await alive.deliver_due() == 1
    assert sent == ["your request REQ1"]
    [row] = rows(engine)
    assert row["status"] == OutboxStatus.SENT.value and row["attempts"] == 2
    assert await alive.deliver_due() == 0


async def test_two_replicas_dispatching_at_once_send_every_message_once(engine: Engine) -> None:
    clock = ManualClock()
    second_engine = make_engine(engine.url.render_as_string(hide_password=False))
    replicas = [Outbox(engine, clock), Outbox(second_engine, clock)]
    sent: Counter[int] = Counter()
    by_replica: Counter[int] = Counter()

    def sender(replica: int):  # type: ignore[no-untyped-def]
        async def send(message: OutboxMessage) -> None:
            sent[int(message.payload["n"])] += 1
            by_replica[replica] += 1
            await asyncio.sleep(0)  # let the other replica claim meanwhile

        return send

    for i, outbox in enumerate(replicas):
        outbox.register("slack", sender(i))
    count = 60
    for n in range(count):
        replicas[n % 2].add("slack", {"channel": "D1"}, {"n": n})
    try:
        while True:
            done = await asyncio.gather(*(o.deliver_due() for o in replicas for _ in range(2)))
            if not any(done):
                break
    finally:
        second_engine.dispose()
    assert sent == Counter(range(count))  # each exactly once
    assert all(r["status"] == OutboxStatus.SENT.value for r in rows(engine))
    assert sum(by_replica.values()) == count
