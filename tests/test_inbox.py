"""The inbox: an accepted event is in the database before it is acknowledged, one process holds
it at a time, a redelivery is answered only if its turn was never saved, and text is cleaned at
the edge. Real SQLite and PostgreSQL; several `Inbox` objects play several processes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from bot import wiring
from bot.db import make_engine
from bot.dialogue.cleaning import clean
from bot.dialogue.conversations import messages_table
from bot.dialogue.inbox import ANSWERED, DONE, PENDING, REJECTED, AlreadyHandled, Inbox, inbox_table
from bot.dialogue.messages import Identity, IncomingMessage
from bot.dialogue.spool import rejected, spool, spool_entry
from bot.dialogue.turns import Turns
from bot.settings import DEMO_KB_PATH
from retrieval.embedding import HashEmbedder
from retrieval.loader import load_path
from tests.conftest import ON_POSTGRES, test_settings

ALEX = Identity("u-alex", "alex.morgan@example.com", "Alex Morgan")
VPN = "how do I connect to the VPN from home"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def rows(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(inbox_table).order_by("id"))]


def message(text: str = VPN, delivery: str | None = "Ev1", key: str = "D1") -> IncomingMessage:
    return IncomingMessage("slack", key, ALEX, text, message_id=delivery)


def test_an_accepted_event_is_held_by_one_process_until_its_lease_lapses(
    engine: Engine, tmp_path: Path
) -> None:
    clock = Clock()
    one = Inbox(engine, tmp_path / "spool", lease_seconds=10, clock=clock, owner="one")
    two = Inbox(engine, tmp_path / "spool", lease_seconds=10, clock=clock, owner="two")
    one.register("slack", lambda entry: asyncio.sleep(0))
    two.register("slack", lambda entry: asyncio.sleep(0))

    first = one.accept(message())
    assert first.entry is not None and not first.duplicate
    retry = two.accept(message())  # Slack retries while the first receiver still works on it
    assert retry.entry is None and retry.duplicate
    assert two.claim_due() == []

    clock.advance(11)  # the first receiver died: nobody renewed its lease
    taken = two.accept(message())
    assert taken.entry is not None and taken.entry.attempts == 2
    assert one.claim_due() == []  # two holds it now
    with pytest.raises(AlreadyHandled), engine.begin() as conn:
        one.finish(conn, first.entry)  # the dead process's late commit is refused
    with engine.begin() as conn:
        two.finish(conn, taken.entry)
    assert [r["state"] for r in rows(engine)] == [DONE]
    assert two.accept(message()).entry is None  # handled: a later redelivery does nothing


def test_lapsed_rows_are_taken_over_once_and_handed_back_rows_at_once(
    engine: Engine, tmp_path: Path
) -> None:
    clock = Clock()
    dead = Inbox(engine, tmp_path / "spool", lease_seconds=5, clock=clock, owner="dead")
    live = [
        Inbox(engine, tmp_path / "spool", lease_seconds=5, clock=clock, owner=f"r{n}")
        for n in range(3)
    ]
    for inbox in live:
        inbox.register("slack", lambda entry: asyncio.sleep(0))
    for n in range(6):
        dead.accept(message(delivery=f"Ev{n}", key=f"D{n}"))
    assert all(inbox.claim_due() == [] for inbox in live)
    clock.advance(6)
    claimed = [e.key for inbox in live for e in inbox.claim_due(limit=4)]
    assert sorted(claimed) == [f"Ev{n}" for n in range(6)]  # each row by exactly one

    # a drain hands its rows back: claimable at once, without waiting for the lease
    held = {str(r["key"]) for r in rows(engine) if r["owner"] == "r0"}
    assert live[0].hand_back() == len(held) == 4
    assert {e.key for e in live[1].claim_due()} == held


def test_stored_text_is_cleaned_and_redacted(engine: Engine, tmp_path: Path) -> None:
    inbox = Inbox(engine, tmp_path / "spool")
    text = "vpn\x00 fails \ud83d my password is Hunter2!Secret"
    accepted = inbox.accept(message(text))
    assert accepted.entry is not None
    stored = rows(engine)[0]["message"]
    assert isinstance(stored, dict)
    assert "\x00" not in stored["text"] and "\ud83d" not in stored["text"]
    assert "Hunter2" not in stored["text"] and stored["kinds"]
    assert accepted.entry.message.text == stored["text"]


def test_clean_keeps_text_and_pairs_and_drops_what_no_database_takes() -> None:
    assert clean("line one\nline two\ttab") == "line one\nline two\ttab"
    assert clean("a\x00b\x07c\x7f") == "abc"
    assert clean("\ud83d vpn") == "\ufffd vpn"
    assert clean("\ud83d\ude00 ok") == "\U0001f600 ok"  # a proper pair, as JSON may send it
    assert clean("café") == "café"


# -- turns through the inbox ---------------------------------------------------------------------


def turns_on(url: str, spool_file: Path, owner: str, lease: float = 30.0) -> Turns:
    settings = test_settings(url)
    services = wiring.services(settings, make_engine(url), HashEmbedder())
    if not services.knowledge.articles():
        services.knowledge.import_articles(load_path(DEMO_KB_PATH).articles)
    wiring.warm_up(services)
    services.inbox = Inbox(
        services.conversations.engine, spool_file, lease_seconds=lease, owner=owner
    )
    return Turns(services)


def user_lines(engine: Engine, text: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    messages_table.c.role == "user", messages_table.c.text == text
                )
            ).scalar_one()
        )


@pytest.fixture(params=ON_POSTGRES)
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return str(request.getfixturevalue("demo_url"))
    request.getfixturevalue("pg_engine")  # emptied
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
def replicas(url: str, tmp_path: Path) -> Iterator[Callable[..., Turns]]:
    """`replicas(owner, lease=...)`: the dialogue core of one more process on the database."""
    made: list[Turns] = []

    def make(owner: str, lease: float = 30.0) -> Turns:
        made.append(turns_on(url, tmp_path / "spool", owner, lease))
        return made[-1]

    yield make
    for turns in made:
        turns.s.encoder.close()
        turns.s.conversations.engine.dispose()


async def test_a_redelivery_after_the_receiver_died_is_answered_once(
    replicas: Callable[..., Turns],
) -> None:
    """Teams: the activity reached a replica that died before its turn was saved; the Bot
    Connector's retries reach another. Before the inbox, the delivery id was marked seen before
    the turn, and every retry was dropped."""
    dead, live = replicas("dead", lease=0.3), replicas("live", lease=0.3)
    msgs = [
        IncomingMessage("teams", f"conv-{n}", ALEX, f"{VPN} #{n}", message_id=f"act-{n}")
        for n in range(5)
    ]
    for m in msgs:  # accepted, then the process is gone (kill -9): no turn ran
        assert dead.s.inbox.accept(m).entry is not None
    await asyncio.sleep(0.4)
    answered = 0
    for _ in range(2):  # the connector retries each activity twice
        for m in msgs:
            accepted = await asyncio.to_thread(live.s.inbox.accept, m)
            if accepted.entry is not None:
                replies = await live.handle(accepted.entry.message, accepted.entry)
                answered += bool(replies)
    engine = live.s.conversations.engine
    assert answered == 5
    assert [user_lines(engine, f"{VPN} #{n}") for n in range(5)] == [1] * 5
    # saved, and the replies kept with the row until the channel says they left
    assert {r["state"] for r in rows(engine)} == {ANSWERED}


async def test_replies_saved_by_a_process_that_died_before_sending_them_are_sent_not_redone(
    replicas: Callable[..., Turns],
) -> None:
    dead, live = replicas("dead", lease=0.3), replicas("live", lease=0.3)
    live.s.inbox.register("teams", lambda entry: asyncio.sleep(0))
    first = IncomingMessage("teams", "conv-x", ALEX, VPN, message_id="act-x")
    entry = dead.s.inbox.accept(first).entry
    assert entry is not None
    replies = await dead.handle(entry.message, entry)  # saved; then kill -9 before sending
    await asyncio.sleep(0.4)
    (taken,) = live.s.inbox.claim_due()
    assert taken.replies is not None
    assert [r.text for r in taken.replies] == [r.text for r in replies]
    live.s.inbox.sent(taken)
    engine = live.s.conversations.engine
    assert [r["state"] for r in rows(engine)] == [DONE] and user_lines(engine, VPN) == 1
    assert live.s.inbox.accept(first).entry is None  # a later redelivery: nothing left to do


async def test_a_delivery_counts_as_handled_only_once_its_turn_is_committed(
    replicas: Callable[..., Turns],
) -> None:
    """Without the inbox (the terminal, tests), a delivery id is recorded with the turn."""
    turns = replicas("one")
    first = IncomingMessage("web", "c-1", ALEX, VPN, message_id="m-1")
    assert await turns.handle(first)
    assert await turns.handle(first) == []
    assert user_lines(turns.s.conversations.engine, VPN) == 1


async def test_twenty_at_once_and_one_lone_surrogate_all_get_their_answer(
    replicas: Callable[..., Turns],
) -> None:
    turns = replicas("one")
    people = [Identity(f"u{n}", f"user{n}@example.com") for n in range(20)]
    good = [IncomingMessage("web", f"c{n}", p, VPN) for n, p in enumerate(people)]
    bad = IncomingMessage("web", "c-bad", ALEX, "\ud83d vpn\x00")
    entries = [turns.s.inbox.accept(m).entry for m in [*good, bad]]
    results = await asyncio.gather(*(turns.handle(e.message, e) for e in entries if e))
    assert len(results) == 21
    for replies in results[:20]:
        assert [r.kind for r in replies][-1] == "answer", [r.text for r in replies]
    assert results[20] and all(r.kind != "error" for r in results[20])
    assert turns.s.metrics.errors._value.get() == 0
    assert user_lines(turns.s.conversations.engine, "\ufffd vpn") == 1


# -- the spool ---------------------------------------------------------------------------------


def test_spool_replay_is_idempotent_and_rejects_what_can_never_be_saved(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "spool.jsonl"
    inbox = Inbox(engine, path, owner="one")
    inbox.register("web", lambda entry: asyncio.sleep(0))
    kept = message(delivery="Ev-kept")
    # the insert that timed out did land, and the spool holds the same event under its key
    assert inbox.accept(kept, key="Ev-kept").entry is not None
    from bot.dialogue.inbox import _encode, prepare

    stored, kinds = prepare(kept)
    spool_entry(path, "slack", "Ev-kept", _encode(stored, kinds, {}))
    spool_entry(path, "web", "k-2", _encode(prepare(message("printer jam"))[0], kinds, {}))
    spool_entry(path, "web", "k-2", _encode(prepare(message("printer jam"))[0], kinds, {}))
    spool(path, "web", "c-legacy", "\ud83d vpn\x00")  # a line from before the inbox
    with path.open("a", encoding="utf-8") as f:
        f.write('{"channel": "web", "key": "k-3", "message": \n')  # cut short by a crash
    assert inbox.replay_spool() == 2  # printer jam once, and the legacy line, cleaned
    assert not path.exists()
    assert inbox.replay_spool() == 0  # nothing is retried forever
    states = sorted((r["key"], r["state"]) for r in rows(engine))
    assert len(states) == 3 and ("Ev-kept", PENDING) in states and ("k-2", PENDING) in states
    legacy = next(r for r in rows(engine) if str(r["key"]).startswith("spool:"))
    assert legacy["message"]["text"] == "\ufffd vpn"  # type: ignore[index]
    (line,) = rejected(path).read_text().splitlines()
    assert json.loads(line)["reason"] == "JSONDecodeError"


def test_a_row_that_keeps_failing_is_rejected_not_retried_forever(
    engine: Engine, tmp_path: Path
) -> None:
    inbox = Inbox(engine, tmp_path / "spool", owner="one")
    entry = inbox.accept(message()).entry
    assert entry is not None
    inbox.reject(entry, "ValueError")
    assert [r["state"] for r in rows(engine)] == [REJECTED]
    assert inbox.claim_due() == [] and inbox.accept(message()).entry is None


async def test_twenty_web_chat_posts_and_a_lone_surrogate_over_http(demo_url: str) -> None:
    """The issue's reproduction through the web chat: 20 people ask at once while one sends
    `{"text": "\\ud83d vpn"}`."""
    from aiohttp import ClientSession, CookieJar

    from tests.support import listening

    runtime = wiring.build(test_settings(demo_url), embedder=HashEmbedder(), background=False)

    async def ask(base: str, body: bytes) -> tuple[int, list[dict[str, object]]]:
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
            async with session.get(base + "/chat") as page:
                assert page.status == 200
            headers = {"Content-Type": "application/json"}
            async with session.post(base + "/chat/api/messages", data=body, headers=headers) as r:
                return r.status, (await r.json())["messages"] if r.status == 200 else []

    async with listening(runtime.app) as base:
        good = json.dumps({"text": VPN}).encode()
        bad = b'{"text": "\\ud83d vpn"}'
        answers = await asyncio.gather(*(ask(base, good) for _ in range(20)), ask(base, bad))
    for status, messages in answers[:20]:
        assert status == 200
        assert [m["reply"]["kind"] for m in messages if m["role"] == "bot"][-1] == "answer"  # type: ignore[index]
    status, messages = answers[20]
    assert status == 200 and messages[0]["text"] == "\ufffd vpn"
    assert all(m["reply"]["kind"] != "error" for m in messages if m["role"] == "bot")  # type: ignore[index]
    assert runtime.services.metrics.errors._value.get() == 0
    runtime.services.encoder.close()
