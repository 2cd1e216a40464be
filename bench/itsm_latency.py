"""Ticket systems: hand-off to created ticket, and write throughput under rate limiting.

    python bench/itsm_latency.py [--handoffs 100] [--delay 0.1] [--writes 400]
                                 [--concurrency 20] [--every 10] [--retry-after 1]

1. Latency. Each adapter turns hand-offs into tickets, one at a time, against its local fake
   answering every call `--delay` seconds late (a typical SaaS instance). Every hand-off is
   from another employee, so the caller/customer lookup is never cached. Reported: the
   calls one hand-off takes, p50/p99 of `create()`, and the ratio of p50 to that many bare
   calls to the same fake measured in the same run (1.00 = the adapter adds nothing).
2. Throughput. `--concurrency` creates at once against the ServiceNow fake answering at once,
   first as it is, then with a 429 (`Retry-After: --retry-after`) on every `--every`th call.
   Reported: tickets/s both ways and their ratio, and tickets lost or doubled.

This measures the adapter and client path (lookups, retries, backoff, Retry-After). The
durable outbox that will carry these writes is not in the path yet; loopback HTTP on a
shared machine makes the figures provisional.
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

from handoff.itsm.port import TicketSystem  # noqa: E402
from handoff.itsm.resilience import RetryPolicy  # noqa: E402
from handoff.itsm.systems import connect  # noqa: E402
from tests import jira_fake, servicenow_fake  # noqa: E402
from tests.itsm_cases import CASES, NAMES, case_of  # noqa: E402
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handoffs", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--writes", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--retry-after", type=int, default=1)
    args = parser.parse_args()
    logging.getLogger("handoff.itsm").setLevel(logging.ERROR)  # retries are expected here
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
