"""A bounded soak: `deskbot serve` replicas on one PostgreSQL database at a steady rate, with
memory and database connections sampled over time.

    python bench/soak.py [--minutes 30] [--rate 4] [--replicas 2] [--sample 30]
                         [--admin-url postgresql://postgres@127.0.0.1:5432/test]

Creates a database of its own (dropped at the end), runs `deskbot migrate`, starts the
replicas (the real model) with Slack and Teams played by the test fakes on 127.0.0.1, then sends
`--rate` turns a second, open loop, spread over Slack events, Teams activities and the web chat;
each employee has a conversation of four turns, then a new employee starts (so conversations,
transcripts and the outbox grow as they do in production). Every `--sample` seconds it prints
each replica's resident memory (VmRSS), the database's connections (pg_stat_activity, by
state), the outbox backlog, the turns sent, failed and answered in the interval, and the reply
latency p50/p99.

At the end it compares the last third of the samples with the first sample after warm-up (the
baseline, measured in the same run) and says whether memory and connections stayed flat: a
growth of more than 10 % of memory or any growth of connections beyond the pools' sizes is
reported as not flat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.replicas import (  # noqa: E402
    DESKBOT,
    IDENTITY_HEADER,
    Replica,
    percentile,
    wait_ready,
)
from bot.settings import DEMO_QUESTIONS_PATH  # noqa: E402
from tests.slack_fake import (  # noqa: E402
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    dm,
    event_payload,
    signed_headers,
)
from tests.teams_fake import FakeConnector, Person, message  # noqa: E402

TURNS_PER_EMPLOYEE = 4
FLAT_MEMORY = 0.10  # growth over the baseline still called flat


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Interval:
    sent: int = 0
    failed: int = 0
    answered: int = 0
    latencies: list[float] = field(default_factory=list)


class Load:
    """Open-loop turns at a steady rate over the three channels."""

    def __init__(
        self,
        replicas: list[Replica],
        http: aiohttp.ClientSession,
        fake: FakeSlack,
        connector: FakeConnector,
    ) -> None:
        self.replicas, self.http, self.fake, self.connector = replicas, http, fake, connector
        self.questions = [
            json.loads(line)["query"] for line in DEMO_QUESTIONS_PATH.read_text().splitlines()
        ]
        self.interval = Interval()
        self.employees = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.web_sessions: dict[int, aiohttp.ClientSession] = {}

    def start_turn(self, n: int) -> None:
        employee, turn = divmod(n, TURNS_PER_EMPLOYEE)
        channel = ("slack", "teams", "web")[employee % 3]
        question = random.choice(self.questions)
        task = asyncio.create_task(self._turn(channel, employee, turn, question))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _turn(self, channel: str, employee: int, turn: int, question: str) -> None:
        replica = random.choice(self.replicas)
        self.interval.sent += 1
        started = time.monotonic()
        try:
            if channel == "slack":
                ok = await self._slack(replica, employee, question)
            elif channel == "teams":
                ok = await self._teams(replica, employee, question)
            else:
                ok = await self._web(replica, employee, turn, question)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            ok = False
        if not ok:
            self.interval.failed += 1
            return
        self.interval.answered += 1
        self.interval.latencies.append(time.monotonic() - started)

    async def _wait(self, count: Any, before: int, within: float = 30.0) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if count() > before:
                return True
            await asyncio.sleep(0.05)
        return False

    async def _slack(self, replica: Replica, employee: int, question: str) -> bool:
        user = f"USOAK{employee}"
        self.fake.users.setdefault(user, (f"Soak {employee}", f"soak-{employee}@example.com"))
        channel = "D" + user
        before = len(self.fake.posts(channel))
        body = json.dumps(event_payload(dm(user, question))).encode()
        headers = {**signed_headers(body), "Content-Type": "application/json"}
        async with self.http.post(f"{replica.url}/slack/events", data=body, headers=headers) as r:
            if r.status != 200:
                return False
        return await self._wait(lambda: len(self.fake.posts(channel)), before)

    async def _teams(self, replica: Replica, employee: int, question: str) -> bool:
        person = Person(f"29:soak-{employee}", f"aad-soak-{employee}", "Soak", None)
        self.connector.roster.setdefault(person.id, person)
        conversation = f"a:1{person.aad}"
        before = len(self.connector.in_conversation(conversation))
        activity = message(person, question, serviceUrl=self.connector.url)
        async with self.http.post(f"{replica.url}/api/messages", json=activity) as r:
            if r.status >= 300:
                return False
        return await self._wait(lambda: len(self.connector.in_conversation(conversation)), before)

    async def _web(self, replica: Replica, employee: int, turn: int, question: str) -> bool:
        session = self.web_sessions.get(employee)
        if session is None:
            session = aiohttp.ClientSession(
                cookie_jar=aiohttp.CookieJar(unsafe=True),
                headers={IDENTITY_HEADER: f"soak-{employee}@example.com"},
                timeout=aiohttp.ClientTimeout(total=30),
            )
            self.web_sessions[employee] = session
            async with session.get(f"{replica.url}/chat") as r:
                await r.read()
        try:
            async with session.post(
                f"{replica.url}/chat/api/messages", json={"text": question}
            ) as r:
                await r.read()
                return r.status == 200
        finally:
            if turn == TURNS_PER_EMPLOYEE - 1:
                await self.web_sessions.pop(employee).close()

    def take(self) -> Interval:
        done, self.interval = self.interval, Interval()
        return done


def connections(engine: Any, database: str) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT coalesce(state, 'other'), count(*) FROM pg_stat_activity"
                " WHERE datname = :db GROUP BY 1"
            ),
            {"db": database},
        ).all()
    return {str(state): int(n) for state, n in rows}


def outbox_backlog(engine: Any) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM handoff_outbox WHERE status IN ('pending', 'sending')")
            ).scalar_one()
        )


async def soak(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    admin = make_url(args.admin_url).set(drivername="postgresql+psycopg")
    name = f"deskbot_soak_{uuid.uuid4().hex[:8]}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name)
    observer = create_engine(admin, pool_size=1)  # sees the soak database from outside it
    watched = create_engine(url, pool_size=1)
    fake, connector = await FakeSlack().start(), await FakeConnector().start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DESKBOT_")},
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "DESKBOT_DATABASE_URL": url.render_as_string(hide_password=False),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "DESKBOT_SLACK_API_URL": fake.api_url,
        "DESKBOT_WEB_IDENTITY_HEADER": IDENTITY_HEADER,
    }
    replicas = [
        Replica(
            f"replica-{n + 1}", {**env, "DESKBOT_SPOOL_FILE": str(folder / f"s{n}.jsonl")}, folder
        )
        for n in range(args.replicas)
    ]
    samples: list[dict[str, Any]] = []
    try:
        done = await asyncio.to_thread(
            subprocess.run,
            [str(DESKBOT), "migrate"],
            env=env,
            cwd=folder,
            capture_output=True,
        )
        if done.returncode != 0:
            sys.exit(done.stderr.decode())
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            replicas[0].start()
            await wait_ready(http, replicas[0], within=900)
            for replica in replicas[1:]:
                replica.start()
            await asyncio.gather(*(wait_ready(http, r, within=600) for r in replicas[1:]))
            load = Load(replicas, http, fake, connector)
            print(
                f"{len(replicas)} replicas ready; {args.rate} turns/s for {args.minutes} min",
                flush=True,
            )
            header = "  min  " + "  ".join(f"{r.name} MB" for r in replicas)
            print(
                header + "  db conns (idle/active)  outbox  sent  failed  p50 s  p99 s", flush=True
            )
            started = time.monotonic()
            next_sample = started + args.sample
            n = 0
            while (now := time.monotonic()) - started < args.minutes * 60:
                due = int((now - started) * args.rate)
                while n < due:
                    load.start_turn(n)
                    n += 1
                if now >= next_sample:
                    next_sample += args.sample
                    samples.append(sample(load, replicas, observer, watched, name, now - started))
                await asyncio.sleep(0.02)
            await asyncio.gather(*list(load.tasks), return_exceptions=True)
            for session in load.web_sessions.values():
                await session.close()
        return verdict(samples, replicas)
    finally:
        for replica in replicas:
            replica.stop()
        await fake.close()
        await connector.close()
        observer.dispose()
        watched.dispose()
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


def sample(
    load: Load,
    replicas: list[Replica],
    observer: Any,
    watched: Any,
    database: str,
    elapsed: float,
) -> dict[str, Any]:
    interval = load.take()
    memory = {r.name: round(rss_mb(r.process.pid), 1) for r in replicas if r.process}
    conns = connections(observer, database)
    conns_total = sum(conns.values()) - 1  # less the sampling connection of `watched`
    row = {
        "minute": round(elapsed / 60, 1),
        "rss_mb": memory,
        "db_connections": conns_total,
        "db_by_state": conns,
        "outbox_backlog": outbox_backlog(watched),
        "sent": interval.sent,
        "failed": interval.failed,
        "p50_s": round(percentile(interval.latencies, 50), 2),
        "p99_s": round(percentile(interval.latencies, 99), 2),
    }
    mbs = "  ".join(f"{memory.get(r.name, float('nan')):>{len(r.name) + 3}.0f}" for r in replicas)
    states = f"{conns_total} ({conns.get('idle', 0)}/{conns.get('active', 0)})"
    print(
        f"{row['minute']:>5}  {mbs}  {states:>22}  {row['outbox_backlog']:>6}  {interval.sent:>4}"
        f"  {interval.failed:>6}  {row['p50_s']:>5}  {row['p99_s']:>5}",
        flush=True,
    )
    return row


def verdict(samples: list[dict[str, Any]], replicas: list[Replica]) -> dict[str, Any]:
    if len(samples) < 3:
        return {"samples": samples, "verdict": "too short to say (fewer than 3 samples)"}
    baseline = samples[0]
    tail = samples[-max(1, len(samples) // 3) :]
    growth = {}
    for r in replicas:
        base = baseline["rss_mb"][r.name]
        end = sum(s["rss_mb"][r.name] for s in tail) / len(tail)
        growth[r.name] = round(end / base, 3)
    conns = [s["db_connections"] for s in samples]
    memory_flat = all(g <= 1 + FLAT_MEMORY for g in growth.values())
    conns_flat = max(conns) <= 30 * len(replicas) and conns[-1] <= max(conns[: len(conns) // 2 + 1])
    return {
        "samples": len(samples),
        "rss_ratio_last_third_to_first_sample": growth,
        "db_connections": {"first": conns[0], "max": max(conns), "last": conns[-1]},
        "turns_sent": sum(s["sent"] for s in samples),
        "turns_failed": sum(s["failed"] for s in samples),
        "memory": "flat" if memory_flat else "growing",
        "connections": "flat" if conns_flat else "growing",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=4.0, help="turns per second")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    random.seed(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="deskbot-soak-"))
    result = asyncio.run(soak(args, folder))
    result["logs"] = str(folder)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
