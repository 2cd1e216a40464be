"""Ticket systems: hand-off to created ticket, and write throughput under rate limiting.

    python bench/itsm_latency.py [--handoffs 100] [--delay 0.1] [--writes 400]
                                 [--concurrency 20] [--every 10] [--retry-after 1]
                                 [--queued 200]

1. Latency. Each adapter turns hand-offs into tickets, one at a time, against its local fake
   answering every call `--delay` seconds late (a typical SaaS instance). Every hand-off is
   from another employee, so the caller/customer lookup is never cached. Reported: the
   calls one hand-off takes, p50/p99 of `create()`, and the ratio of p50 to that many bare
   calls to the same fake measured in the same run (1.00 = the adapter adds nothing).
2. Throughput. `--concurrency` creates at once against the ServiceNow fake answering at once,
   first as it is, then with a 429 (`Retry-After: --retry-after`) on every `--every`th call.
   Reported: tickets/s both ways and their ratio, and tickets lost or doubled.
3. The outbox path, as the server runs it: a hand-off is committed with its outbox row (SQLite),
   the dispatcher's `deliver_due` hands it to the ServiceNow desk, which creates the incident
   and links it. Reported: hand-off to linked ticket p50/p99 against the fake answering
   `--delay` late, as a ratio to the bare `create()` p50 measured in the same run; and
   `--queued` hand-offs drained by the dispatcher with a 429 on every `--every`th call, as
   tickets/s against the same drain without limits, and tickets lost or doubled.

Loopback HTTP on a shared machine makes the figures provisional.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import statistics
import sys
import time
from collections.abc import Awaitable
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.itsm import connection  # noqa: E402
from bot.seams import DeskEvent  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.wiring import Runtime, build  # noqa: E402
from handoff.itsm.port import TicketSystem  # noqa: E402
from handoff.itsm.resilience import RetryPolicy  # noqa: E402
from handoff.itsm.systems import connect  # noqa: E402
from tests import jira_fake, servicenow_fake  # noqa: E402
from tests.itsm_cases import CASES, NAMES, case_of  # noqa: E402
from tests.itsm_deskbot import system_settings  # noqa: E402
from tests.itsm_fake import FakeSystem, hand_off  # noqa: E402

POLICY = RetryPolicy(timeout=10.0, attempts=6, longest_wait=30.0)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bare_calls(url: str, n: int) -> list[float]:
    """The fake's own latency: an unauthenticated call it refuses after the same delay."""
    out = []
    async with aiohttp.ClientSession() as session:
        for _ in range(n):
            start = time.perf_counter()
            async with session.get(url) as response:
                await response.read()
            out.append(time.perf_counter() - start)
    return out


def employees(fake: FakeSystem, n: int) -> None:
    """`n` employees the system knows (Zendesk creates unknown requesters itself)."""
    for i in range(n):
        email = f"employee{i}@example.com"
        if isinstance(fake, servicenow_fake.FakeServiceNow):
            fake.add_user(email, f"employee{i}", f"Employee {i}")
        elif isinstance(fake, jira_fake.FakeJira):
            fake.add_account(email, f"Employee {i}", customer=True)


def opened(fake: FakeSystem) -> TicketSystem:
    """The adapter for `fake`, with production timeouts rather than the tests' short ones."""
    config = dataclasses.replace(case_of(fake).config(fake), retry=POLICY)
    return connect(config)


async def latency(args: argparse.Namespace) -> None:
    print(
        f"hand-off -> created ticket: {args.handoffs} hand-offs one at a time, "
        f"every fake call answered {args.delay * 1000:.0f} ms late"
    )
    for name in NAMES:
        fake = CASES[name].fake()
        employees(fake, args.handoffs + 1)
        await fake.start()
        fake.slow(args.delay)
        system = opened(fake)
        await system.create(hand_off("employee0@example.com"), "warm-up")  # sign-in, caches
        fake.calls.clear()
        times = []
        for i in range(1, args.handoffs + 1):
            start = time.perf_counter()
            await system.create(hand_off(f"employee{i}@example.com"), f"REQ{i:07d}")
            times.append(time.perf_counter() - start)
        calls = len(fake.calls) / args.handoffs
        bare = await bare_calls(f"{fake.url}/bench-baseline", 30)
        await system.close()
        await fake.close()
        base = statistics.median(bare)
        p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
        print(
            f"  {name:<10}  {calls:.1f} calls  p50 {p50 * 1000:6.0f} ms  p99 {p99 * 1000:6.0f} ms"
            f"  bare call p50 {base * 1000:4.0f} ms  ratio p50/(calls x bare) "
            f"{p50 / (calls * base):.2f}"
        )


async def throughput(args: argparse.Namespace, limited: bool) -> tuple[float, float, int, int]:
    fake = servicenow_fake.FakeServiceNow()
    employees(fake, 50)
    await fake.start()
    if limited:
        fake.fail_every(args.every, 429, {"Retry-After": str(args.retry_after)})
    system = opened(fake)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(args.writes):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            await system.create(hand_off(f"employee{i % 50}@example.com"), f"REQ{i:07d}")

    start = time.perf_counter()
    workers: list[Awaitable[None]] = [worker() for _ in range(args.concurrency)]
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    made = [r["correlation_id"] for r in fake.tables["incident"]]  # type: ignore[attr-defined]
    calls = len(fake.calls) / args.writes
    await system.close()
    await fake.close()
    lost = args.writes - len(set(made))
    doubled = len(made) - len(set(made))
    return args.writes / elapsed, calls, lost, doubled


def deskbot_on(fake: servicenow_fake.FakeServiceNow, folder: Path) -> Runtime:
    """deskbot's server parts (database, outbox, the ServiceNow desk), no listener: the
    benchmark drives the dispatcher itself."""
    settings = Settings(
        DESKBOT_DATABASE_URL=f"sqlite:///{folder / 'deskbot.db'}",
        DESKBOT_TICKETS="servicenow",
        **system_settings("servicenow", fake),
    )
    from retrieval.embedding import HashEmbedder

    # the server's own retry policy: a rate limit is not waited out in-line
    system = connect(dataclasses.replace(case_of(fake).config(fake), retry=connection.POLICY))
    return build(settings, embedder=HashEmbedder(), background=False, system=system)


def queue_handoff(runtime: Runtime, employee: str) -> int:
    """What a turn that hands off commits: the ticket and the desk's outbox row, together."""
    s = runtime.services
    with s.tickets.engine.begin() as conn:
        ticket = s.tickets.create(hand_off(employee), conn)
        for destination in s.desks.listening():
            s.outbox.add(destination, {"ticket_id": ticket.id}, {"event": DeskEvent.OPENED}, conn)
    return ticket.id


async def outbox_latency(args: argparse.Namespace, folder: Path) -> tuple[float, float, float]:
    """Hand-off committed -> ticket linked, one at a time; and the bare create() p50."""
    fake = servicenow_fake.FakeServiceNow()
    employees(fake, args.handoffs + 1)
    await fake.start()
    fake.slow(args.delay)
    runtime = deskbot_on(fake, folder)
    s = runtime.services
    queue_handoff(runtime, "employee0@example.com")
    await s.outbox.deliver_due()  # sign-in, caches
    times = []
    for i in range(1, args.handoffs + 1):
        start = time.perf_counter()
        ticket_id = await asyncio.to_thread(queue_handoff, runtime, f"employee{i}@example.com")
        while await s.outbox.deliver_due():
            pass
        times.append(time.perf_counter() - start)
        assert s.tickets.get(ticket_id).external_id  # type: ignore[union-attr]
    direct = opened(fake)
    bare = []
    for i in range(1, args.handoffs + 1):
        start = time.perf_counter()
        await direct.create(hand_off(f"employee{i}@example.com"), f"BARE{i:07d}")
        bare.append(time.perf_counter() - start)
    await direct.close()
    assert runtime.itsm is not None
    await runtime.itsm.system.close()
    s.tickets.engine.dispose()
    await fake.close()
    return percentile(times, 0.5), percentile(times, 0.99), statistics.median(bare)


async def outbox_drain(
    args: argparse.Namespace, folder: Path, limited: bool
) -> tuple[float, float, int, int]:
    """`--queued` hand-offs waiting in the outbox, drained by the dispatcher."""
    fake = servicenow_fake.FakeServiceNow()
    employees(fake, 50)
    await fake.start()
    runtime = deskbot_on(fake, folder)
    s = runtime.services
    for i in range(args.queued):
        queue_handoff(runtime, f"employee{i % 50}@example.com")
    if limited:
        fake.fail_every(args.every, 429, {"Retry-After": str(args.retry_after)})
    start = time.perf_counter()
    dispatcher = asyncio.create_task(s.outbox.run())  # as the server runs it
    while await asyncio.to_thread(s.outbox.depth):  # noqa: ASYNC110 - watching from outside
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - start
    dispatcher.cancel()
    made = [r["correlation_id"] for r in fake.tables["incident"]]
    calls = len(fake.calls) / args.queued
    assert runtime.itsm is not None
    await runtime.itsm.system.close()
    s.tickets.engine.dispose()
    await fake.close()
    lost = args.queued - len(set(made))
    doubled = len(made) - len(set(made))
    return args.queued / elapsed, calls, lost, doubled


async def outbox(args: argparse.Namespace) -> None:
    import tempfile

    print(
        f"through the outbox: hand-off committed -> incident linked, {args.handoffs} one at a "
        f"time, every fake call answered {args.delay * 1000:.0f} ms late"
    )
    with tempfile.TemporaryDirectory() as tmp:
        p50, p99, bare = await outbox_latency(args, Path(tmp))
    print(
        f"  servicenow  p50 {p50 * 1000:6.0f} ms  p99 {p99 * 1000:6.0f} ms"
        f"  bare create() p50 {bare * 1000:4.0f} ms  ratio p50/bare {p50 / bare:.2f}"
    )
    print(f"dispatcher drain: {args.queued} queued hand-offs, fake answering at once")
    with tempfile.TemporaryDirectory() as tmp:
        plain, _, lost, doubled = await outbox_drain(args, Path(tmp), limited=False)
    print(f"  no rate limit: {plain:7.1f} tickets/s  lost {lost} doubled {doubled}")
    with tempfile.TemporaryDirectory() as tmp:
        rate, calls, lost, doubled = await outbox_drain(args, Path(tmp), limited=True)
    print(
        f"  429 every {args.every}th call (Retry-After {args.retry_after} s): {rate:7.1f} tickets/s"
        f"  {calls:.2f} calls per ticket  lost {lost} doubled {doubled}"
        f"  ratio to no limit {rate / plain:.2f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handoffs", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--writes", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--retry-after", type=int, default=1)
    parser.add_argument("--queued", type=int, default=200)
    parser.add_argument("--only", choices=("adapters", "outbox"), default=None)
    args = parser.parse_args()
    logging.getLogger("handoff.itsm").setLevel(logging.ERROR)  # retries are expected here
    logging.getLogger("bot.itsm").setLevel(logging.ERROR)
    if args.only != "outbox":
        await adapters(args)
    if args.only != "adapters":
        await outbox(args)


async def adapters(args: argparse.Namespace) -> None:
    await latency(args)
    print(
        f"write throughput: {args.writes} ServiceNow creates, {args.concurrency} at once, "
        "fake answering at once"
    )
    plain, _, lost, doubled = await throughput(args, limited=False)
    print(f"  no rate limit: {plain:7.1f} tickets/s  lost {lost} doubled {doubled}")
    rate, calls, lost, doubled = await throughput(args, limited=True)
    # What honouring Retry-After allows at best: each worker waits Retry-After (plus half the
    # jitter on average) for every 429 its tickets meet, on top of the unlimited time.
    wait = calls / args.every * (args.retry_after + POLICY.base_delay / 2)
    bound = args.concurrency / (wait + args.concurrency / plain)
    print(
        f"  429 every {args.every}th call (Retry-After {args.retry_after} s): {rate:7.1f} tickets/s"
        f"  lost {lost} doubled {doubled}  ratio to no limit {rate / plain:.2f};"
        f" to the {bound:.1f}/s the waits allow {rate / bound:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
