"""Three `deskbot serve` replicas on one PostgreSQL database, under faults.

    python bench/replicas.py [--conversations 200] [--turns 3] [--replicas 3]
                             [--admin-url postgresql://postgres@127.0.0.1:5432/test]
                             [--outage 10] [--concurrency 8]

What it does, all on 127.0.0.1:
- creates a database of its own (dropped at the end) and puts a TCP proxy of its own in front of
  PostgreSQL; the replicas reach the database only through the proxy;
- plays Slack's Web API and Teams' Bot Connector with the test fakes (port 0), runs
  `deskbot migrate`, then starts the replicas (`deskbot serve`, the real model);
- runs the conversations, a third each over Slack (signed Events API requests, each to a random
  replica, one in five delivered twice to two replicas as Slack's retries are), Teams (activities
  in local mode) and the web chat (JSON API, identity header), a few at once; each turn waits for
  its reply before the next. A request that fails is sent again to another replica, as Slack's
  retries or a user pressing Send again would (1, 3, 6, 10 s later). One conversation in four
  ends by asking for a person (a ticket);
- SIGKILLs one replica when 30 % of the turns are done and restarts it at once; makes the
  database unreachable for `--outage` seconds (every connection cut, new ones refused) at 60 %;
- waits for the outbox to settle, then counts from the database and the fakes.

It prints: user messages lost (acknowledged, never stored), duplicate user messages, turns
refused (every attempt failed: the sender saw it), replies missing, duplicate replies, turns
answered exactly once, conversations with more than one ticket, each replica's readiness after
the outage (without a restart) and the restarted replica's time to ready, reply latency
percentiles (from sending to the reply reaching the fake or the browser) for the whole run and
for turns sent when nothing was failing (the baseline), and their ratio.

Readiness is read from /readyz when the server has it, else /healthz (which reads the database).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.channels.teams import wording as teams_wording  # noqa: E402
from bot.dialogue.conversations import conversations_table, messages_table  # noqa: E402
from bot.settings import DEMO_QUESTIONS_PATH  # noqa: E402
from handoff.tickets import tickets_table  # noqa: E402
from tests.slack_fake import (  # noqa: E402
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    dm,
    event_payload,
    signed_headers,
    texts,
)
from tests.teams_fake import FakeConnector, Person, message  # noqa: E402

DESKBOT = Path(sys.executable).parent / "deskbot"
IDENTITY_HEADER = "X-Bench-User"
RETRIES = (1.0, 3.0, 6.0, 10.0)  # seconds before each new attempt of a failed request
REPLY_WITHIN = 60.0  # a turn with no reply by then counts as missing (unless it comes later)
HANDOFF = "talk to a person"


# -- the database, behind a proxy of our own --------------------------------------------------


class Proxy:
    """TCP from 127.0.0.1:port to PostgreSQL; `cut` drops every connection and refuses new
    ones for a while, as a network partition or a database failover does."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.blocked = False
        self.pipes: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.blocked:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.pipes |= {writer, up_writer}
        try:
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        except asyncio.CancelledError:  # the bench is ending
            writer.transport.abort()
            up_writer.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.pipes.discard(writer)
            writer.transport.abort()

    async def cut(self, seconds: float) -> None:
        self.blocked = True
        for writer in list(self.pipes):
            writer.transport.abort()
        await asyncio.sleep(seconds)
        self.blocked = False


# -- the replicas ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Replica:
    name: str
    env: dict[str, str]
    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        log = (self.folder / f"{self.name}-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [str(DESKBOT), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


async def ready(http: aiohttp.ClientSession, replica: Replica) -> bool:
    for path in ("/readyz", "/healthz"):
        try:
            async with http.get(replica.url + path, timeout=aiohttp.ClientTimeout(3)) as r:
                if r.status == 404:
                    continue
                return r.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False
    return False


async def wait_ready(http: aiohttp.ClientSession, replica: Replica, within: float) -> float:
    """Seconds until the replica is ready; raises if it died or took longer than `within`."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if not replica.alive:
            log = sorted(replica.folder.glob(f"{replica.name}-*.log"))[-1]
            sys.exit(f"{replica.name} exited:\n{log.read_text()[-3000:]}")
        if await ready(http, replica):
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{replica.name} not ready within {within} s")


# -- conversations ----------------------------------------------------------------------------


@dataclass
class Turn:
    sent_at: float
    faulty: bool  # sent while a replica was down or the database unreachable
    acked: bool = False
    attempts: int = 0
    replies: list[str] = field(default_factory=list)
    latency: float | None = None


@dataclass
class Conversation:
    channel: str
    user: str  # the user id the database records
    questions: list[str]
    key: str = ""  # the platform's conversation: a Slack DM channel, a Teams conversation id
    turns: list[Turn] = field(default_factory=list)


class Bench:
    def __init__(self, args: argparse.Namespace, replicas: list[Replica]) -> None:
        self.args = args
        self.replicas = replicas
        self.faulty = False
        self.done_turns = 0
        self.total_turns = 0
        self.duplicates_sent = 0
        self.progress = asyncio.Condition()

    def live(self) -> list[Replica]:
        return [r for r in self.replicas if r.alive] or self.replicas

    def pick(self, avoid: Replica | None = None) -> Replica:
        choices = [r for r in self.live() if r is not avoid] or self.live()
        return random.choice(choices)

    async def attempt(self, send: Callable[[Replica], Awaitable[bool]], turn: Turn) -> None:
        """Send to a random replica; on failure again to another, after each of RETRIES."""
        previous = None
        for pause in (0.0, *RETRIES):
            await asyncio.sleep(pause)
            replica = self.pick(avoid=previous)
            turn.attempts += 1
            try:
                if await send(replica):
                    turn.acked = True
                    return
            except (aiohttp.ClientError, TimeoutError, ValueError):
                pass
            previous = replica

    async def wait_replies(self, turn: Turn, seen: Callable[[], Sequence[object]]) -> None:
        deadline = turn.sent_at + REPLY_WITHIN
        while time.monotonic() < deadline:
            if seen():
                turn.latency = time.monotonic() - turn.sent_at
                return
            await asyncio.sleep(0.1)

    def begin(self, conversation: Conversation) -> Turn:
        turn = Turn(time.monotonic(), self.faulty)
        conversation.turns.append(turn)
        return turn

    async def end(self) -> None:
        self.done_turns += 1
        async with self.progress:
            self.progress.notify_all()

    # Slack: signed events, some delivered twice to two replicas
    async def slack(self, http: aiohttp.ClientSession, fake: FakeSlack, c: Conversation) -> None:
        channel = c.key
        for question in c.questions:
            before = len(fake.posts(channel))
            turn = self.begin(c)
            body = json.dumps(event_payload(dm(c.user, question))).encode()
            sent_to: list[Replica] = []

            async def send(
                replica: Replica,
                body: bytes = body,
                retry: int = 0,
                sent_to: list[Replica] = sent_to,
            ) -> bool:
                sent_to.append(replica)
                extra = {"X-Slack-Retry-Num": str(retry)} if retry else {}
                headers = signed_headers(body, None, SIGNING_SECRET, **extra)
                headers["Content-Type"] = "application/json"
                async with http.post(
                    f"{replica.url}/slack/events", data=body, headers=headers
                ) as r:
                    await r.read()
                    return r.status == 200

            await self.attempt(send, turn)
            if random.random() < 0.2:  # Slack delivers it again, to another replica
                self.duplicates_sent += 1
                again = self.pick(avoid=sent_to[-1] if sent_to else None)
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    await send(again, body, retry=1)
            await self.wait_replies(turn, partial(lambda b: fake.posts(channel)[b:], before))
            turn.replies = [texts(p) for p in fake.posts(channel)[before:]]
            await self.end()

    # Teams: activities in local mode; the replies arrive at the fake Bot Connector
    async def teams(
        self, http: aiohttp.ClientSession, connector: FakeConnector, c: Conversation, person: Person
    ) -> None:
        conversation = c.key

        def answers(start: int) -> list[str]:
            posted = connector.in_conversation(conversation)[start:]
            return [p.words for p in posted if teams_wording.STILL_WORKING not in p.words]

        for question in c.questions:
            before = len(connector.in_conversation(conversation))
            turn = self.begin(c)
            activity = message(person, question, serviceUrl=connector.url)

            async def send(replica: Replica, activity: dict[str, Any] = activity) -> bool:
                async with http.post(f"{replica.url}/api/messages", json=activity) as r:
                    await r.read()
                    return r.status < 300

            await self.attempt(send, turn)
            await self.wait_replies(turn, partial(answers, before))
            turn.replies = answers(before)
            await self.end()

    # the web chat: the replies come back in the response
    async def web(self, c: Conversation) -> None:
        jar = aiohttp.CookieJar(unsafe=True)
        headers = {IDENTITY_HEADER: c.user}
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(cookie_jar=jar, headers=headers, timeout=timeout) as http:
            opened = Turn(time.monotonic(), self.faulty)

            async def page(replica: Replica) -> bool:
                async with http.get(f"{replica.url}/chat") as r:
                    await r.read()
                    return r.status == 200

            await self.attempt(page, opened)
            after = 0
            for question in c.questions:
                turn = self.begin(c)
                got: list[dict[str, Any]] = []

                async def send(
                    replica: Replica,
                    question: str = question,
                    after: int = after,
                    got: list[dict[str, Any]] = got,
                ) -> bool:
                    payload = {"text": question, "after": after}
                    async with http.post(f"{replica.url}/chat/api/messages", json=payload) as r:
                        if r.status != 200:
                            return False
                        got[:] = (await r.json())["messages"]
                        return True

                await self.attempt(send, turn)
                if turn.acked:
                    turn.latency = time.monotonic() - turn.sent_at
                    turn.replies = [m["text"] for m in got if m.get("role") != "user"]
                    after = max([after, *(int(m["id"]) for m in got)])
                await self.end()


# -- faults -------------------------------------------------------------------------------------


@dataclass
class Faults:
    restarted: asyncio.Event = field(default_factory=asyncio.Event)
    killed: str = ""
    restart_ready_s: float | None = None
    outage_started: float = 0.0
    turns_done_at_outage: int = 0
    readiness_lost: dict[str, bool] = field(default_factory=dict)
    readiness_back_s: dict[str, float | None] = field(default_factory=dict)


async def at_progress(bench: Bench, share: float) -> None:
    async with bench.progress:
        await bench.progress.wait_for(lambda: bench.done_turns >= share * bench.total_turns)


async def kill_and_restart(bench: Bench, http: aiohttp.ClientSession, faults: Faults) -> None:
    await at_progress(bench, 0.3)
    victim = bench.replicas[1]
    faults.killed = victim.name
    bench.faulty = True
    victim.kill()
    victim.start()
    faults.restart_ready_s = await wait_ready(http, victim, within=600)
    bench.faulty = False
    faults.restarted.set()


async def outage(
    bench: Bench, http: aiohttp.ClientSession, proxy: Proxy, faults: Faults, seconds: float
) -> None:
    await at_progress(bench, 0.6)
    await faults.restarted.wait()  # one fault at a time
    bench.faulty = True
    faults.outage_started = time.monotonic()
    faults.turns_done_at_outage = bench.done_turns
    cut = asyncio.create_task(proxy.cut(seconds))
    await asyncio.sleep(seconds / 2)
    for replica in bench.replicas:
        faults.readiness_lost[replica.name] = not await ready(http, replica)
    await cut
    ended = time.monotonic()
    bench.faulty = False

    async def back(replica: Replica) -> None:
        while time.monotonic() - ended < 120:
            if await ready(http, replica):
                faults.readiness_back_s[replica.name] = time.monotonic() - ended
                return
            await asyncio.sleep(0.5)
        faults.readiness_back_s[replica.name] = None

    await asyncio.gather(*(back(r) for r in bench.replicas))


# -- the run ------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def plan(args: argparse.Namespace) -> list[Conversation]:
    questions = [json.loads(line)["query"] for line in DEMO_QUESTIONS_PATH.read_text().splitlines()]
    random.shuffle(questions)
    pool = itertools.cycle(questions)
    conversations = []
    for n in range(args.conversations):
        channel = ("slack", "teams", "web")[n % 3]
        asked = [next(pool) for _ in range(args.turns)]
        if n % 4 == 3:
            asked[-1] = HANDOFF
        user = {
            "slack": "",  # the fake Slack names it
            "teams": f"aad-bench-{n}",  # the AAD object id: Teams' identity
            "web": f"bench-{n}@example.com",
        }[channel]
        conversations.append(Conversation(channel, user, asked))
    return conversations


async def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    admin = make_url(args.admin_url).set(drivername="postgresql+psycopg")
    name = f"deskbot_bench_{uuid.uuid4().hex[:8]}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    direct = admin.set(database=name)
    proxy = Proxy(admin.host or "127.0.0.1", admin.port or 5432)
    await proxy.start()
    via_proxy = direct.set(host="127.0.0.1", port=proxy.port)
    fake, connector = await FakeSlack().start(), await FakeConnector().start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DESKBOT_", "SLACK_"))},
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "DESKBOT_DATABASE_URL": via_proxy.render_as_string(hide_password=False),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "DESKBOT_SLACK_API_URL": fake.api_url,
        "DESKBOT_WEB_IDENTITY_HEADER": IDENTITY_HEADER,
    }
    replicas = []
    for n in range(args.replicas):
        spool = str(folder / f"spool-{n + 1}.jsonl")
        replicas.append(Replica(f"replica-{n + 1}", {**env, "DESKBOT_SPOOL_FILE": spool}, folder))
    try:
        migrate = await asyncio.to_thread(
            subprocess.run, [str(DESKBOT), "migrate"], env=env, cwd=folder, capture_output=True
        )
        if migrate.returncode != 0:
            sys.exit(migrate.stderr.decode())
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            print("starting the first replica (imports and embeds the knowledge base)", flush=True)
            replicas[0].start()
            await wait_ready(http, replicas[0], within=900)
            for replica in replicas[1:]:
                replica.start()
            await asyncio.gather(*(wait_ready(http, r, within=600) for r in replicas[1:]))
            print(f"{len(replicas)} replicas ready; running", flush=True)
            result = await drive(args, replicas, http, fake, connector, proxy)
        engine = create_engine(direct)
        try:
            result.update(count(engine, result.pop("conversations")))
        finally:
            engine.dispose()
        return result
    finally:
        for replica in replicas:
            replica.stop()
        await fake.close()
        await connector.close()
        proxy.server.close()
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


async def drive(
    args: argparse.Namespace,
    replicas: list[Replica],
    http: aiohttp.ClientSession,
    fake: FakeSlack,
    connector: FakeConnector,
    proxy: Proxy,
) -> dict[str, Any]:
    bench = Bench(args, replicas)
    conversations = plan(args)
    bench.total_turns = sum(len(c.questions) for c in conversations)
    people: dict[int, Person] = {}
    for n, c in enumerate(conversations):
        if c.channel == "slack":
            c.user = fake.person(f"Bench Employee {n}", f"bench-{n}@example.com")
            c.key = "D" + c.user  # the DM channel the fake's events name
        elif c.channel == "teams":
            person = Person(f"29:bench-{n}", c.user, f"Bench Employee {n}", f"b{n}@example.com")
            connector.roster[person.id] = person
            people[n] = person
            c.key = f"a:1{person.aad}"  # the personal conversation's id
    gate = asyncio.Semaphore(args.concurrency)

    async def one(n: int, c: Conversation) -> None:
        async with gate:
            if c.channel == "slack":
                await bench.slack(http, fake, c)
            elif c.channel == "teams":
                await bench.teams(http, connector, c, people[n])
            else:
                await bench.web(c)

    faults = Faults()
    started = time.monotonic()
    chaos = [
        asyncio.create_task(kill_and_restart(bench, http, faults)),
        asyncio.create_task(outage(bench, http, proxy, faults, args.outage)),
    ]
    await asyncio.gather(*(one(n, c) for n, c in enumerate(conversations)))
    elapsed = time.monotonic() - started
    await asyncio.gather(*chaos)
    await asyncio.sleep(args.settle)  # the outbox retries what failed (1, 2, 5, 15 s ...)
    for c in conversations:  # late replies (through the outbox) count too
        if c.channel == "slack":
            _attribute(c, [texts(p) for p in fake.posts(c.key)])
        elif c.channel == "teams":
            posted = connector.in_conversation(c.key)
            words = [p.words for p in posted if teams_wording.STILL_WORKING not in p.words]
            _attribute(c, words)
    return {
        "conversations": conversations,
        "elapsed_s": round(elapsed, 1),
        "slack_duplicate_deliveries_sent": bench.duplicates_sent,
        "killed": faults.killed,
        "restarted_replica_ready_s": _round(faults.restart_ready_s),
        "turns_done_when_killed_and_at_outage": [
            round(0.3 * bench.total_turns),
            faults.turns_done_at_outage,
        ],
        "outage_s": args.outage,
        "not_ready_during_outage": faults.readiness_lost,
        "ready_again_after_outage_s": {k: _round(v) for k, v in faults.readiness_back_s.items()},
    }


def _attribute(c: Conversation, everything: list[str]) -> None:
    """All replies a conversation got, in order; each turn keeps those it saw, and a turn
    that saw none gets what arrived after the run's last turn (a late delivery)."""
    seen = sum(len(t.replies) for t in c.turns)
    late = everything[seen:]
    if late:
        for turn in c.turns:
            if not turn.replies:
                turn.replies = late
                break
        else:
            c.turns[-1].replies = c.turns[-1].replies + late


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def count(engine: Any, conversations: list[Conversation]) -> dict[str, Any]:
    c_t, m_t, t_t = conversations_table, messages_table, tickets_table
    with engine.connect() as conn:
        stored = dict(
            conn.execute(
                select(c_t.c.channel + ":" + c_t.c.user_id, func.count(m_t.c.id))
                .join(m_t, m_t.c.conversation_id == c_t.c.id)
                .where(m_t.c.role == "user")
                .group_by(c_t.c.channel, c_t.c.user_id)
            ).all()
        )
        tickets = dict(
            conn.execute(
                select(c_t.c.channel + ":" + c_t.c.user_id, func.count(t_t.c.id))
                .join(t_t, t_t.c.conversation_id == c_t.c.id)
                .group_by(c_t.c.channel, c_t.c.user_id)
            ).all()
        )
    metrics = (
        "user_messages_lost",
        "duplicate_user_messages",
        "turns_refused_every_attempt",
        "replies_missing",
        "duplicate_replies",
        "turns_answered_exactly_once",
    )
    by_channel = {channel: dict.fromkeys(metrics, 0) for channel in ("slack", "teams", "web")}
    latencies: list[float] = []
    baseline: list[float] = []
    for c in conversations:
        tally = by_channel[c.channel]
        acked = sum(t.acked for t in c.turns)
        in_db = stored.get(f"{c.channel}:{c.user}", 0)
        tally["turns_refused_every_attempt"] += sum(not t.acked for t in c.turns)
        tally["user_messages_lost"] += max(0, acked - in_db)
        tally["duplicate_user_messages"] += max(0, in_db - acked)
        for turn in c.turns:
            if not turn.acked:
                continue
            if not turn.replies:
                tally["replies_missing"] += 1
                continue
            extra = sum(n - 1 for n in Counter(turn.replies).values())
            tally["duplicate_replies"] += extra
            tally["turns_answered_exactly_once"] += extra == 0
            if turn.latency is not None:
                latencies.append(turn.latency)
                if not turn.faulty:
                    baseline.append(turn.latency)
    totals = {m: sum(t[m] for t in by_channel.values()) for m in metrics}
    handoffs = sum(c.questions[-1] == HANDOFF for c in conversations)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    b50, b99 = percentile(baseline, 50), percentile(baseline, 99)
    return {
        "turns": sum(len(c.turns) for c in conversations),
        **totals,
        "by_channel": by_channel,
        "handoffs_asked": handoffs,
        "conversations_with_a_ticket": sum(1 for n in tickets.values() if n >= 1),
        "conversations_with_duplicate_tickets": sum(1 for n in tickets.values() if n > 1),
        "latency_s": {
            "p50": round(p50, 2),
            "p99": round(p99, 2),
            "max": round(max(latencies, default=0), 2),
        },
        "baseline_latency_s": {"p50": round(b50, 2), "p99": round(b99, 2)},
        "latency_ratio_to_baseline": {
            "p50": round(p50 / b50, 2) if b50 else None,
            "p99": round(p99 / b99, 2) if b99 else None,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--outage", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--settle", type=float, default=45.0)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    random.seed(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="deskbot-replicas-"))
    result = asyncio.run(run(args, folder))
    result["logs"] = str(folder)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
