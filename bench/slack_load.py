"""Slack Events API load: signed direct messages at increasing rates, on loopback.

    python bench/slack_load.py [--rates 10,25,50,100,150] [--seconds 10] [--real-model]
                               [--database-url postgresql://...] [--backend onnx]

deskbot runs in a child process (the real server: `build()` plus the Slack channel, outbox
running) against a local fake Slack Web API in this process; this process also plays Slack,
sending signed `message.im` events open-loop at each rate: every event a new delivery, from
2000 employees in turn, each asking a different FAQ question each time round. For each rate
it reports the ack latency (HTTP response to Slack) p50/p99/max, errors (non-200 or failed
requests) and the answer latency (event sent -> chat.postMessage received by the fake)
p50/p99, then the highest rate acknowledged with zero errors and the highest rate also
answered in full while keeping up (answer p99 within 2 s). A backlog is drained before the
next rate starts.

With `--real-model` the bare encoder is measured in the same run (a fresh process encoding
the questions in batches of 64, before and after the load, as `bench/chat_throughput.py`
does) and the rates are fractions of it unless `--rates` is given: the highest rate answered
in full is reported as a ratio to the encoder's sentences/s, with the answer latency's
p99/p50 at that rate.

Slack sends an app at most 30,000 events per workspace an hour (about 8/s); the target is an ack p99
under 1 s at 50 events/s. Run on the machine you want numbers for (taskset to limit cores).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from chat_throughput import bare_encoder, load_average  # noqa: E402 - after the path set-up

from tests.slack_fake import (  # noqa: E402 - after the path set-up above
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    dm,
    event_payload,
    signed_headers,
)

QUESTIONS = (
    "how do I connect to the VPN from home",
    "I forgot my password",
    "how do I add a printer",
    "my mailbox is full",
    "how do I set an out of office reply",
    "how do I install Microsoft 365",
    "my laptop is slow",
    "how do I share my calendar in Outlook",
)
EMPLOYEES = 2000
KEEPING_UP = 2.0  # seconds: answers slower than this at p99 mean a growing backlog


# -- the server (child process) -------------------------------------------------------------------


def serve(args: argparse.Namespace) -> None:
    from bot.cli.common import setup_logging
    from bot.settings import DEMO_KB_PATH, DEMO_QUESTIONS_PATH, Settings
    from bot.wiring import build, embedder, prepare_knowledge, serve
    from retrieval.embedding import HashEmbedder
    from retrieval.evaluation import fit_calibration, load_queries

    setup_logging()
    settings = Settings(
        DESKBOT_DATABASE_URL=args.database_url,
        DESKBOT_KB_PATH=DEMO_KB_PATH,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        DESKBOT_SLACK_API_URL=args.api_url,
        DESKBOT_SPOOL_FILE=str(Path(tempfile.gettempdir()) / "deskbot-bench-spool.jsonl"),
        DESKBOT_ENCODER_BACKEND=args.backend,
    )
    runtime = build(settings, embedder=embedder(settings) if args.real_model else HashEmbedder())
    prepare_knowledge(settings, runtime.services, import_path=True)
    if not args.real_model:  # the shipped calibration is for MiniLM; fit one for the hash
        kb = runtime.services.knowledge
        queries = load_queries(DEMO_QUESTIONS_PATH)
        kb.use_calibration(fit_calibration(kb, queries, 0.9, "bench"), persist=True)
    ready = asyncio.Event()

    async def run() -> None:
        task = asyncio.create_task(serve(runtime, "127.0.0.1", args.port, ready))
        await ready.wait()
        print("ready", flush=True)
        await task

    asyncio.run(run())


# -- Slack's side (this process) ------------------------------------------------------------------


@dataclass
class Step:
    rate: int
    acks: list[float] = field(default_factory=list)
    errors: int = 0
    sent: list[tuple[str, int, float]] = field(default_factory=list)  # (channel, n-th, at)
    answers: list[float] = field(default_factory=list)
    unanswered: int = 0


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Load:
    def __init__(self, fake: FakeSlack, url: str) -> None:
        self.fake = fake
        self.url = url
        self.counts: dict[str, int] = {}
        self.next_user = 0

    async def one(self, session: aiohttp.ClientSession, step: Step) -> None:
        user = f"ULOAD{self.next_user % EMPLOYEES:04d}"
        text = QUESTIONS[(self.next_user + self.next_user // EMPLOYEES) % len(QUESTIONS)]
        self.next_user += 1
        channel = "D" + user
        self.counts[channel] = self.counts.get(channel, 0) + 1
        body = json.dumps(event_payload(dm(user, text))).encode()
        headers = {**signed_headers(body), "Content-Type": "application/json"}
        started = time.perf_counter()
        step.sent.append((channel, self.counts[channel], time.monotonic()))
        try:
            async with session.post(self.url, data=body, headers=headers) as response:
                await response.read()
                ok = response.status == 200
        except aiohttp.ClientError:
            ok = False
        step.acks.append(time.perf_counter() - started)
        step.errors += not ok

    async def run(self, session: aiohttp.ClientSession, rate: int, seconds: float) -> Step:
        step = Step(rate)
        tasks = []
        start = time.monotonic()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(session, step)))
        await asyncio.gather(*tasks)
        await self.collect(step, drain=5.0)
        # a backlog must not spill into the next rate's figures
        with contextlib.suppress(AssertionError):
            await self.fake.wait_for(lambda _f: self.answered_all(step), 300.0, "the backlog")
        return step

    async def collect(self, step: Step, drain: float) -> None:
        """Match answers to events: the n-th post in a DM answers that DM's n-th event."""
        with contextlib.suppress(AssertionError):  # raised when the drain time is up
            await self.fake.wait_for(lambda _f: self.answered_all(step), drain, "answers")
        posted: dict[str, list[float]] = {}
        for call in self.fake.called("chat.postMessage"):
            posted.setdefault(str(call.params["channel"]), []).append(call.at)
        for channel, n, at in step.sent:
            times = posted.get(channel, [])
            if len(times) >= n:
                step.answers.append(times[n - 1] - at)
            else:
                step.unanswered += 1

    def answered_all(self, step: Step) -> bool:
        posted: dict[str, int] = {}
        for call in self.fake.called("chat.postMessage"):
            channel = str(call.params["channel"])
            posted[channel] = posted.get(channel, 0) + 1
        return all(posted.get(channel, 0) >= n for channel, n, _ in step.sent)


def report(step: Step) -> str:
    def ms(values: list[float], p: float) -> str:
        return f"{percentile(values, p) * 1000:7.1f}"

    return (
        f"{step.rate:>5}/s  events {len(step.acks):>5}  errors {step.errors:>3}  "
        f"ack p50 {ms(step.acks, 50)} ms  p99 {ms(step.acks, 99)} ms  max {ms(step.acks, 100)} ms"
        f"  |  answer p50 {ms(step.answers, 50)} ms  p99 {ms(step.answers, 99)} ms"
        f"  unanswered {step.unanswered}"
    )


async def drive(args: argparse.Namespace) -> None:
    fake = await FakeSlack().start()
    for n in range(EMPLOYEES):
        fake.users[f"ULOAD{n:04d}"] = (f"Load Tester {n}", f"load{n}@example.com")
    port = args.port or 18_000 + os.getpid() % 1000
    database_url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/deskbot-bench.db"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        f"--port={port}",
        f"--api-url={fake.api_url}",
        f"--database-url={database_url}",
        *(["--real-model"] if args.real_model else []),
        f"--backend={args.backend}",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        line = await child.stdout.readline()
        if line.strip() != b"ready":
            raise SystemExit("the server did not start")
        load = Load(fake, f"http://127.0.0.1:{port}/slack/events")
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            warm = await load.run(session, 5, 2)  # first turns train the router
            if warm.unanswered:
                await load.collect(warm, drain=30.0)
            model = f"MiniLM ({args.backend})" if args.real_model else "hash"
            print(f"cores: {os.cpu_count()}  embedder: {model}  load: {load_average()}")
            print(f"database: {database_url.split(':')[0]}  seconds per rate: {args.seconds}")
            bare = [bare_encoder(args.backend)] if args.real_model else []
            if bare:
                print(f"bare encoder, batches of 64: {bare[0]:.1f} sentences/s", flush=True)
            rates = args.rates or [
                max(1, round(bare[0] * f)) for f in (0.3, 0.45, 0.6, 0.75, 0.9, 1.05)
            ]
            sustained, acked, spread = 0, 0, float("nan")
            for rate in rates:
                step = await load.run(session, rate, args.seconds)
                print(report(step), flush=True)
                if step.errors:
                    break
                acked = rate
                if not step.unanswered and percentile(step.answers, 99) <= KEEPING_UP:
                    sustained = max(sustained, rate)
                    spread = percentile(step.answers, 99) / percentile(step.answers, 50)
            print(f"acknowledged with zero errors up to: {acked} events/s")
            print(f"answered in full, keeping up (p99 <= {KEEPING_UP:.0f} s): {sustained} events/s")
            if bare:
                bare.append(bare_encoder(args.backend))
                mean = sum(bare) / len(bare)
                print(
                    f"bare encoder before / after: {bare[0]:.1f} / {bare[1]:.1f} sentences/s; "
                    f"sustained events/s over it: {sustained / mean:.2f}; answer p99/p50 at "
                    f"that rate: {spread:.2f}; load: {load_average()}"
                )
    finally:
        child.terminate()
        await child.wait()
        await fake.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--rates", default="", help="default 10-200; with --real-model, fractions of the encoder"
    )
    parser.add_argument("--backend", default="onnx", help="DESKBOT_ENCODER_BACKEND")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--real-model", action="store_true", help="MiniLM instead of a hash")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.rates and not args.real_model:
        args.rates = "10,25,50,100,150,200"
    args.rates = [int(r) for r in str(args.rates).split(",") if r]
    if args.serve:
        serve(args)
    else:
        asyncio.run(drive(args))


if __name__ == "__main__":
    main()
