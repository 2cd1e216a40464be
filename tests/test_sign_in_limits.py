"""The console's sign-in limit under attack: counted atomically in the database, so a burst of
wrong passwords over two replicas checks no more than the limit; and it cannot be turned
against a user who signs in correctly from elsewhere. On SQLite and PostgreSQL, real HTTP into
two real servers on one database; behind a reverse proxy, the forwarded client address."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import Engine, select

from bot.console.accounts import Role
from bot.console.sessions import MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_NAME
from bot.console.tables import audit_table
from tests.test_console_support import BARE_HANDLER, PASSWORD, Client, Server, serve

pytestmark = BARE_HANDLER
BURST = 40


def client_from(base: str, address: str) -> Client:
    """A browser whose connections come from `address` (any 127.x.y.z is this machine)."""
    client = Client(base)
    asyncio.get_running_loop().create_task(client.http.close())
    client.http = aiohttp.ClientSession(
        cookie_jar=client.jar, connector=aiohttp.TCPConnector(local_addr=(address, 0))
    )
    return client


def audited(engine: Engine, action: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(audit_table).where(audit_table.c.action == action))
        return [(r.actor, r.address) for r in rows]


@contextlib.asynccontextmanager
async def replicas(url: str, **settings: str) -> AsyncIterator[tuple[Server, Server]]:
    async with serve(url, **settings) as one, serve(url, **settings) as two:
        yield one, two


async def burst(servers: tuple[Server, Server], name: str, count: int) -> list[int]:
    """`count` wrong passwords for `name` at once, half through each replica."""
    clients = [Client(s.base) for s in servers]
    try:
        for client in clients:
            await client.get("/console/sign-in")
        answers = await asyncio.gather(
            *(
                clients[i % 2].post("/console/sign-in", {"name": name, "password": f"guess {i}"})
                for i in range(count)
            )
        )
        return [a.status for a in answers]
    finally:
        for client in clients:
            await client.close()


async def attack_then_sign_in(url: str) -> None:
    async with replicas(url) as servers:
        one, two = servers
        one.add("dana", Role.AGENT)
        one.add("root", Role.ADMIN)
        statuses = await burst(servers, "dana", BURST)
        engine = one.sessions.engine
        checked = audited(engine, "sign_in_failed")
        assert len(checked) == MAX_FAILURES_PER_NAME, statuses  # the rest never reached argon2
        assert statuses.count(401) == MAX_FAILURES_PER_NAME
        assert statuses.count(429) == BURST - MAX_FAILURES_PER_NAME
        async with Client(one.base) as attacker:  # the right password, from the attacker
            assert (await attacker.sign_in("dana")).status == 429
            assert (await attacker.sign_in("root")).status == 303  # an admin who never failed
        started = time.monotonic()
        async with client_from(two.base, "127.0.0.2") as dana:  # dana, from her own machine
            answer = await dana.sign_in("dana")
            assert answer.status == 303, answer.text[-300:]
            assert dana.cookie("deskbot_console")
        assert time.monotonic() - started < 8  # slowed down at most, never locked out
        assert [a for a, _ in audited(engine, "signed_in")] == ["root", "dana"]


async def test_a_burst_over_two_replicas_checks_at_most_the_limit_on_sqlite(
    demo_template: Path, tmp_path: Path
) -> None:
    shutil.copy(demo_template, tmp_path / "deskbot.db")
    await attack_then_sign_in(f"sqlite:///{tmp_path / 'deskbot.db'}")


@pytest.mark.postgres
async def test_a_burst_over_two_replicas_checks_at_most_the_limit_on_postgresql(
    pg_engine: Engine, pg_database: str
) -> None:
    await attack_then_sign_in(pg_database)


async def test_guessing_from_many_addresses_slows_a_name_down_but_never_locks_it(
    demo_template: Path, tmp_path: Path
) -> None:
    shutil.copy(demo_template, tmp_path / "deskbot.db")
    async with serve(f"sqlite:///{tmp_path / 'deskbot.db'}") as server:
        server.add("dana", Role.AGENT)
        for n in range(2, 2 + 2 * MAX_FAILURES_PER_NAME):  # one guess each from ten addresses
            async with client_from(server.base, f"127.0.1.{n}") as guesser:
                assert (await guesser.sign_in("dana", "not it")).status == 401
        async with client_from(server.base, "127.0.1.2") as guesser:  # an address that failed
            assert (await guesser.sign_in("dana", "not it")).status == 429
        async with client_from(server.base, "127.0.2.1") as dana:  # a clean one, right password
            assert (await dana.sign_in("dana")).status == 303
        async with client_from(server.base, "127.0.1.3") as guesser:  # dana's success reset it
            assert (await guesser.sign_in("dana", "not it")).status == 401


async def test_behind_a_trusted_proxy_the_forwarded_address_is_limited(
    demo_template: Path, tmp_path: Path
) -> None:
    shutil.copy(demo_template, tmp_path / "deskbot.db")
    url = f"sqlite:///{tmp_path / 'deskbot.db'}"
    async with serve(url, DESKBOT_TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8") as server:
        server.add("dana", Role.AGENT)
        attacker = {"X-Forwarded-For": "203.0.113.9, 10.1.2.3"}  # client, then an inner proxy
        async with Client(server.base) as proxy:
            await proxy.get("/console/sign-in")
            for _ in range(MAX_FAILURES_PER_NAME):
                r = await proxy.post(
                    "/console/sign-in", {"name": "dana", "password": "nope"}, headers=attacker
                )
                assert r.status == 401
            r = await proxy.post(
                "/console/sign-in", {"name": "dana", "password": PASSWORD}, headers=attacker
            )
            assert r.status == 429  # the attacker's forwarded address is now limited
            r = await proxy.post(
                "/console/sign-in",
                {"name": "dana", "password": PASSWORD},
                headers={"X-Forwarded-For": "198.51.100.20"},
            )
            assert r.status == 303  # another client behind the same proxy is not
        addresses = [a for _, a in audited(server.sessions.engine, "sign_in_failed")]
        assert addresses.count("203.0.113.9") == MAX_FAILURES_PER_NAME


async def test_without_trusted_proxies_a_forwarded_header_changes_nothing(
    demo_template: Path, tmp_path: Path
) -> None:
    shutil.copy(demo_template, tmp_path / "deskbot.db")
    async with serve(f"sqlite:///{tmp_path / 'deskbot.db'}") as server:
        server.add("dana", Role.AGENT)
        async with Client(server.base) as client:
            await client.get("/console/sign-in")
            for n in range(MAX_FAILURES_PER_ADDRESS):
                r = await client.post(
                    "/console/sign-in",
                    {"name": f"guess-{n}", "password": "nope"},
                    headers={"X-Forwarded-For": f"198.51.100.{n}"},
                )
                assert r.status == 401
            r = await client.post(
                "/console/sign-in",
                {"name": "dana", "password": PASSWORD},
                headers={"X-Forwarded-For": "198.51.100.99"},
            )
            assert r.status == 429  # the spoofed header did not spread the attempts


def test_trusted_proxies_must_be_addresses() -> None:
    from bot.settings import Settings

    with pytest.raises(ValueError, match=r"DESKBOT_TRUSTED_PROXIES: 'proxy\.local'"):
        Settings(DESKBOT_TRUSTED_PROXIES="10.0.0.0/8, proxy.local")
    assert Settings(DESKBOT_TRUSTED_PROXIES=" 10.0.0.1,fd00::/8 ").trusted_proxies


def test_counts_live_in_windows_and_a_success_takes_its_attempt_back(engine: Engine) -> None:
    """The store itself, on SQLite and PostgreSQL, with a clock."""
    from datetime import UTC, datetime, timedelta

    from bot.console.sessions import SignInLimit
    from bot.console.tables import sign_in_counts_table

    now = [datetime(2026, 12, 2, 12, 0, tzinfo=UTC)]
    limit = SignInLimit(engine, clock=lambda: now[0])
    for _ in range(MAX_FAILURES_PER_NAME):
        assert limit.begin("dana", "192.0.2.1").wait is None
    assert limit.begin("dana", "192.0.2.1").wait == timedelta(minutes=15)
    now[0] += timedelta(minutes=10)
    assert limit.begin("dana", "192.0.2.1").wait == timedelta(minutes=5)
    clean = limit.begin("dana", "192.0.2.2")
    assert clean.wait is None and clean.delay == 1.0  # slowed, not refused
    limit.succeeded("dana", "192.0.2.2")
    assert limit.begin("dana", "192.0.2.1").wait == timedelta(minutes=5)  # its own pair
    now[0] += timedelta(minutes=5, seconds=1)
    fresh = limit.begin("dana", "192.0.2.1")
    assert fresh.wait is None and fresh.delay == 0.0  # a new window
    for _ in range(MAX_FAILURES_PER_NAME):  # a success from an address keeps none of its count
        limit.begin("sam", "192.0.2.3")
        limit.succeeded("sam", "192.0.2.3")
    assert limit.begin("sam", "192.0.2.3").wait is None
    now[0] += timedelta(hours=1)
    limit.succeeded("sam", "192.0.2.3")  # also clears counts whose window is over
    with engine.connect() as conn:
        left = conn.execute(select(sign_in_counts_table.c.key)).scalars().all()
    assert left == []
