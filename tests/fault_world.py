"""Real deskbot processes to kill, stop and cut off from their database, for the fault tests
and `bench/faults.py`.

`python -m tests.fault_world --port N` runs the real server (`build()` + `serve()` with its
SIGTERM drain) configured from the environment like `deskbot serve`, with the fast hash
embedder instead of the model, and prints `ready` once it listens. `TcpProxy` stands between
deskbot and PostgreSQL: `down()` cuts every connection and refuses new ones, `pause()` keeps
them open but passes nothing (a stalled network), `up()`/`resume()` restore it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the deskbot process ------------------------------------------------------------------------


def main() -> None:  # pragma: no cover - runs in the child process
    from bot.cli.common import setup_logging
    from bot.settings import DEMO_QUESTIONS_PATH, Settings
    from bot.wiring import build, prepare_knowledge, serve
    from retrieval.embedding import HashEmbedder
    from retrieval.evaluation import fit_calibration, load_queries

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fit", action="store_true", help="fit a calibration for the hash")
    args = parser.parse_args()
    setup_logging()
    settings = Settings()
    runtime = build(settings, embedder=HashEmbedder())
    prepare_knowledge(settings, runtime.services, import_path=False)
    if args.fit:  # the shipped calibration is for MiniLM
        kb = runtime.services.knowledge
        kb.use_calibration(
            fit_calibration(kb, load_queries(DEMO_QUESTIONS_PATH), 0.9, "faults"), persist=True
        )
    ready = asyncio.Event()

    async def run() -> None:
        task = asyncio.create_task(serve(runtime, "127.0.0.1", args.port, ready, signals=True))
        await ready.wait()
        print("ready", flush=True)
        await task

    asyncio.run(run())


@dataclass
class Deskbot:
    """One deskbot process."""

    env: Mapping[str, str]
    port: int = field(default_factory=free_port)
    fit: bool = False
    process: asyncio.subprocess.Process | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, within: float = 60.0) -> Deskbot:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **self.env}
        stderr: Any = self.log.open("ab") if self.log is not None else asyncio.subprocess.DEVNULL
        try:
            self.process = await self._spawn(env, stderr)
        finally:
            if self.log is not None:
                stderr.close()  # the child has its own descriptor
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), within)
        if line.strip() != b"ready":
            await self.kill()
            raise RuntimeError(f"deskbot did not start (see {self.log})")
        return self

    async def _spawn(self, env: Mapping[str, str], stderr: Any) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.fault_world",
            f"--port={self.port}",
            *(["--fit"] if self.fit else []),
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )

    async def kill(self) -> None:
        """kill -9: nothing runs after this."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def terminate(self, within: float = 60.0) -> int:
        """SIGTERM, then wait for the drain; the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), within)


# -- a TCP proxy in front of PostgreSQL ---------------------------------------------------------


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def up(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        return self

    async def down(self) -> None:
        """The database is gone: connections cut, new ones refused."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def pause(self) -> None:
        """The network stalls: connections stay open, nothing passes."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    async def close(self) -> None:
        self.resume()
        await self.down()
        await asyncio.sleep(0.1)  # the pipes see their connections end

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        with contextlib.suppress(asyncio.CancelledError):  # the loop closing: nothing to pass on
            await asyncio.gather(
                self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
            )
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            await self._flowing.wait()
            if writer.transport.is_closing():
                return
            writer.write(data)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        writer.transport.abort()


if __name__ == "__main__":  # pragma: no cover
    main()


# -- the scenarios (tests/test_faults.py asserts on them, bench/faults.py reports them) -----------

QUESTIONS = (  # none with a word that cues redaction: the tally finds each line by its text
    "how do I connect to the VPN from home",
    "how do I add a printer",
    "my mailbox is full",
    "my laptop is slow",
)


@dataclass
class Tally:
    """What happened to the messages of one fault run."""

    fault: str
    sent: int = 0
    acknowledged: int = 0  # answered 2xx by deskbot
    saved: int = 0  # stored exactly once
    answered: int = 0  # answered exactly once
    lost: int = 0  # never stored, or stored but never answered
    duplicated: int = 0  # stored or answered more than once
    failed: int = 0  # 5xx answers, or turns that ended in an error
    kept: int = 0  # "your message was kept" answers
    notes: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        extra = "  ".join(f"{k}={v:g}" for k, v in self.notes.items())
        return (
            f"{self.fault:<34} sent={self.sent:<4} acked={self.acknowledged:<4} "
            f"lost={self.lost} duplicated={self.duplicated} failed={self.failed} "
            f"kept={self.kept}  {extra}"
        )


def _user_lines(database_url: str, texts: list[str]) -> dict[str, int]:
    from sqlalchemy import func, select

    from bot.db import make_engine
    from bot.dialogue.conversations import messages_table

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(messages_table.c.text, func.count())
                .where(messages_table.c.role == "user", messages_table.c.text.in_(texts))
                .group_by(messages_table.c.text)
            ).all()
    finally:
        engine.dispose()
    return {text: int(n) for text, n in rows}


def _errors(database_url: str) -> int:
    """Turns that ended in the error apology."""
    from sqlalchemy import func, select

    from bot.db import make_engine
    from bot.dialogue.conversations import messages_table

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(
                        messages_table.c.role == "bot",
                        messages_table.c.text.like("Sorry, something went wrong%"),
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


async def _until(check: Callable[[], bool], within: float, every: float = 0.25) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if check():
            return True
        await asyncio.sleep(every)
    return False


async def slack_fault(
    database_url: str, workdir: Path, *, how: str = "kill", count: int = 40, after: float = 0.6
) -> Tally:
    """`count` Slack DMs from as many people at once; `how` ("kill": kill -9, "term": SIGTERM,
    "none": the baseline, no fault) `after` seconds; a new process starts; Slack resends what it
    got no 200 for (and a few it did, as it does when slow)."""
    from aiohttp import ClientSession

    from tests.slack_fake import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackSender, dm

    fake = await FakeSlack().start()
    fake.delays["users.info"] = 1.0  # the turns are in flight when the fault lands
    env = {
        "DESKBOT_DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "DESKBOT_SLACK_API_URL": fake.api_url,
        "DESKBOT_SPOOL_FILE": str(workdir / "spool.jsonl"),
        "DESKBOT_INBOX_LEASE_SECONDS": "2",
        "DESKBOT_DRAIN_SECONDS": "8",
    }
    fault = {"kill": "kill -9", "term": "SIGTERM"}.get(how, "no fault")
    tally = Tally(f"slack: {count} DMs, {fault}")
    run = uuid.uuid4().hex[:6]
    users = [fake.person(f"Person {n}", f"person{n}.{run}@example.com") for n in range(count)]
    events = [
        (f"Ev{run}{n:03d}", dm(user, f"{QUESTIONS[n % len(QUESTIONS)]} (#{run}{n})"))
        for n, user in enumerate(users)
    ]
    texts = [str(event["text"]) for _, event in events]
    first = await Deskbot(env, log=workdir / "first.log").start()
    second: Deskbot | None = None
    try:
        async with ClientSession() as session:
            sender = SlackSender(session, first.url + "/slack/events")
            await sender.event(dm(fake.person("Warm Up", None), "hello"))  # a warm process
            await _until(lambda: bool(fake.posts()), 10.0)
            warm = len(fake.posts())
            sending = [asyncio.ensure_future(sender.event(e, i)) for i, e in events]
            await asyncio.sleep(after)
            tally.notes["answered_before_fault"] = len(fake.posts()) - warm
            if how == "kill":
                await first.kill()
            elif how == "term":
                tally.notes["exit_status"] = await first.terminate()
                tally.notes["answered_by_drain"] = len(fake.posts()) - warm
            results = await asyncio.gather(*sending, return_exceptions=True)
            statuses = [getattr(r, "status", 0) for r in results]
            acked = {i for (i, _), status in zip(events, statuses, strict=True) if status == 200}
            tally.sent, tally.acknowledged = count, len(acked)
            tally.failed += sum(1 for status in statuses if status >= 500)
            if how != "none":
                second = await Deskbot(env, log=workdir / "second.log").start()
                sender = SlackSender(session, second.url + "/slack/events")
            for i, e in events:
                if i not in acked:
                    await sender.event(e, i, retry=1)  # Slack retries what got no 200
            for i, e in events[:5]:
                await sender.event(e, i, retry=1)  # and, when slow, some that did

            def settled() -> bool:
                return len({p.channel for p in fake.posts()}) >= count + 1

            await _until(settled, 30.0)
            await asyncio.sleep(1.0)  # anything doubled would show up now
        lines = _user_lines(database_url, texts)
        posts: dict[str, int] = {}
        for post in fake.posts():
            posts[post.channel] = posts.get(post.channel, 0) + 1
        for (_, event), text in zip(events, texts, strict=True):
            saved, answers = lines.get(text, 0), posts.get(str(event["channel"]), 0)
            tally.saved += saved == 1
            tally.answered += answers == 1
            tally.lost += saved == 0 or answers == 0
            tally.duplicated += saved > 1 or answers > 1
        tally.failed += _errors(database_url)
        return tally
    finally:
        await first.kill()
        if second is not None:
            await second.kill()
        await fake.close()


def _transcripts(database_url: str, channel: str) -> dict[str, tuple[list[str], int]]:
    """Per conversation key: its users' lines, and how many lines deskbot said."""
    from sqlalchemy import select

    from bot.db import make_engine
    from bot.dialogue.conversations import conversations_table, messages_table

    engine = make_engine(database_url)
    c, m = conversations_table, messages_table
    found: dict[str, tuple[list[str], int]] = {}
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(c.c.external_key, m.c.role, m.c.text)
                .join(m, m.c.conversation_id == c.c.id)
                .where(c.c.channel == channel)
            ).all()
    finally:
        engine.dispose()
    for key, role, text in rows:
        users, said = found.get(key, ([], 0))
        found[key] = ([*users, text], said) if role == "user" else (users, said + 1)
    return found


async def teams_fault(database_url: str, workdir: Path, *, count: int = 30) -> Tally:
    """`count` Teams activities at once while the Bot Connector is slow to take replies; kill -9
    before any response; a new process starts and the connector sends every activity again,
    twice, as it retries."""
    from aiohttp import ClientSession

    from bot.channels.teams import wording as teams_wording
    from bot.dialogue import wording
    from tests.teams_fake import FakeConnector, Person, Teams, message, personal

    connector = await FakeConnector().start()
    run = uuid.uuid4().hex[:6]
    people = [
        Person(f"29:{run}{n}", f"aad-{run}-{n}", f"Fault Person {n}", f"f{n}.{run}@example.com")
        for n in range(count + 1)
    ]
    connector.roster.update({p.id: p for p in people})
    env = {
        "DESKBOT_DATABASE_URL": database_url,
        "DESKBOT_SPOOL_FILE": str(workdir / "spool.jsonl"),
        "DESKBOT_INBOX_LEASE_SECONDS": "2",
        "DESKBOT_DRAIN_SECONDS": "5",
    }
    tally = Tally(f"teams: {count} activities, kill -9")
    activities = [
        message(p, f"{QUESTIONS[n % len(QUESTIONS)]} (#{run}{n})") for n, p in enumerate(people)
    ]
    warm, burst = activities[0], activities[1:]
    notices = {teams_wording.STILL_WORKING, wording.KEPT}
    first = await Deskbot(env, log=workdir / "first.log").start()
    second: Deskbot | None = None
    try:
        async with ClientSession() as session:
            teams = Teams(session, first.url + "/api/messages", connector, None)
            await teams.send(warm)
            connector.send_delay = 1.5  # replies are in flight when the kill lands
            sending = [asyncio.ensure_future(teams.send(dict(a))) for a in burst]
            await asyncio.sleep(0.6)
            await first.kill()
            results = await asyncio.gather(*sending, return_exceptions=True)
            tally.sent = count
            tally.acknowledged = sum(1 for r in results if 200 <= getattr(r, "status", 0) < 300)
            tally.notes["answered_before_fault"] = len(connector.posted) - 2
            connector.send_delay = 0.0
            second = await Deskbot(env, log=workdir / "second.log").start()
            teams = Teams(session, second.url + "/api/messages", connector, None)
            for _ in range(2):  # the Bot Connector retries what got no response
                answers = await asyncio.gather(*(teams.send(dict(a)) for a in burst))
                tally.failed += sum(1 for a in answers if a.status >= 500)
                await asyncio.sleep(2.5)

            def posts(key: str) -> int:
                return sum(
                    1
                    for p in connector.in_conversation(key)
                    if not any(n in p.words for n in notices)
                )

            keys = [personal(p)["id"] for p in people[1:]]

            def settled() -> bool:
                said = _transcripts(database_url, "teams")
                return all(k in said and posts(k) >= said[k][1] > 0 for k in keys)

            await _until(settled, 30.0, every=1.0)
            await asyncio.sleep(1.0)
        said = _transcripts(database_url, "teams")
        for key, activity in zip(keys, burst, strict=True):
            users, lines = said.get(key, ([], 0))
            saved = users.count(str(activity["text"]))
            tally.saved += saved == 1
            tally.answered += 0 < lines == posts(key)
            tally.lost += saved == 0 or posts(key) == 0
            tally.duplicated += saved > 1 or posts(key) > lines
        tally.failed += _errors(database_url)
        return tally
    finally:
        await first.kill()
        if second is not None:
            await second.kill()
        await connector.close()


def _answered(database_url: str, texts: list[str]) -> dict[str, tuple[int, bool]]:
    """Per text: how many times a user said it, and whether deskbot answered right after."""
    from sqlalchemy import select

    from bot.db import make_engine
    from bot.dialogue.conversations import messages_table as m

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(m.c.conversation_id, m.c.role, m.c.text).order_by(
                    m.c.conversation_id, m.c.id
                )
            ).all()
    finally:
        engine.dispose()
    wanted = set(texts)
    found: dict[str, tuple[int, bool]] = {}
    for n, (conversation, role, text) in enumerate(rows):
        if role != "user" or text not in wanted:
            continue
        after = rows[n + 1] if n + 1 < len(rows) else None
        answered = after is not None and after[0] == conversation and after[1] == "bot"
        times, before = found.get(text, (0, True))
        found[text] = (times + 1, before and answered)
    return found


async def web_outage(
    database_url: str,
    workdir: Path,
    *,
    how: str = "down",
    seconds: float = 10.0,
    people: int = 6,
    every: float = 0.5,
) -> Tally:
    """Web chat users keep writing while PostgreSQL, behind a TCP proxy, goes away (`down`:
    connections cut and refused) or stalls (`pause`: nothing passes) for `seconds`."""
    from aiohttp import ClientSession, ClientTimeout, CookieJar
    from sqlalchemy.engine import make_url

    target = make_url(database_url)
    proxy = await TcpProxy(target.host or "127.0.0.1", target.port or 5432).up()
    proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    env = {
        "DESKBOT_DATABASE_URL": proxied,
        "DESKBOT_SPOOL_FILE": str(workdir / "spool.jsonl"),
        "DESKBOT_INBOX_LEASE_SECONDS": "3",
        "DESKBOT_DB_TIMEOUT_SECONDS": "2",
        "DESKBOT_DB_STATEMENT_TIMEOUT_SECONDS": "5",
        "DESKBOT_DRAIN_SECONDS": "5",
    }
    tally = Tally(f"web: database {'cut' if how == 'down' else 'stalled'} {seconds:g} s")
    run = uuid.uuid4().hex[:6]
    bot = await Deskbot(env, fit=True, log=workdir / "deskbot.log").start(within=180)
    texts: list[str] = []
    stop = asyncio.Event()
    statuses: list[int] = []
    timeout = ClientTimeout(total=60)
    try:
        async with ClientSession(timeout=timeout) as probe:

            async def chatter(person: int) -> None:
                jar = CookieJar(unsafe=True)  # cookies for 127.0.0.1
                async with ClientSession(cookie_jar=jar, timeout=timeout) as session:
                    async with session.get(bot.url + "/chat") as page:
                        assert page.status == 200
                    n = 0
                    while not stop.is_set():
                        text = f"{QUESTIONS[n % len(QUESTIONS)]} (#{run}{person}x{n})"
                        texts.append(text)
                        n += 1
                        async with session.post(
                            bot.url + "/chat/api/messages", json={"text": text}
                        ) as r:
                            statuses.append(r.status)
                            body = await r.json() if r.status == 200 else {}
                            tally.kept += bool(body.get("kept"))
                        await asyncio.sleep(every)

            chatting = [asyncio.ensure_future(chatter(p)) for p in range(people)]
            await asyncio.sleep(2.0)
            if how == "down":
                await proxy.down()
            else:
                proxy.pause()
            await asyncio.sleep(min(3.0, seconds / 2))
            started = asyncio.get_running_loop().time()
            async with probe.get(bot.url + "/healthz") as health:
                tally.notes["healthz_seconds"] = round(
                    asyncio.get_running_loop().time() - started, 2
                )
                tally.notes["healthz_says_database_ok"] = (await health.json())["database"] == "ok"
            async with probe.get(bot.url + "/readyz") as ready:
                tally.notes["readyz_status"] = ready.status
            await asyncio.sleep(max(0.0, seconds - min(3.0, seconds / 2)))
            if how == "down":
                await proxy.up()
            else:
                proxy.resume()
            await asyncio.sleep(4.0)
            stop.set()
            await asyncio.gather(*chatting)

            def settled() -> bool:
                found = _answered(database_url, texts)
                return len(found) == len(texts) and all(ok for _, ok in found.values())

            await _until(settled, 60.0, every=1.0)
            async with probe.get(bot.url + "/readyz") as ready:
                tally.notes["ready_after"] = ready.status
        found = _answered(database_url, texts)
        tally.sent = len(texts)
        tally.acknowledged = sum(1 for s in statuses if s == 200)
        tally.failed = sum(1 for s in statuses if s >= 500) + _errors(database_url)
        for text in texts:
            times, answered = found.get(text, (0, False))
            tally.saved += times == 1
            tally.answered += times == 1 and answered
            tally.lost += times == 0 or not answered
            tally.duplicated += times > 1
        return tally
    finally:
        stop.set()
        await bot.kill()
        await proxy.close()
