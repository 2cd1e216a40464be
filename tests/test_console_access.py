"""Who gets into the console: every route × every role (and anonymous) against the policy
pinned here from docs/console.md, CSRF on every state-changing route, sessions (fixation, idle
and absolute timeouts, rotation), cookie flags, the sign-in rate limit. Real HTTP into a real
server."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select, update
from yarl import URL

from bot.console.accounts import Role
from bot.console.app import ROUTES
from bot.console.auth import COOKIE, PRE_COOKIE, Route
from bot.console.sessions import MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_NAME
from bot.console.tables import audit_table, sessions_table
from tests.test_console_support import BARE_HANDLER, CSRF, PASSWORD, Server, serve

pytestmark = BARE_HANDLER

ROLES: tuple[Role | None, ...] = (None, Role.AGENT, Role.KNOWLEDGE_OWNER, Role.ADMIN)
GUARD_401 = "Sign in to the console first."
GUARD_403 = "Your role does not give access"


@pytest.fixture(scope="module")
async def shared(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Server, dict[str, str]]]:
    """One server for the matrix; the actions it triggers do not matter to the guard."""
    path = tmp_path_factory.mktemp("matrix") / "deskbot.db"
    shutil.copy(demo_template, path)
    async with serve(f"sqlite:///{path}") as server:
        for role in Role:
            server.add(f"matrix-{role.value}".replace("_", "-"), role)
        params = {
            "ticket_id": str(await server.handed_off()),
            "article_id": "vpn-install-connect",
            "table": "summary",
            "name": "console.css",
        }
        yield server, params


A, K, ADMIN = Role.AGENT, Role.KNOWLEDGE_OWNER, Role.ADMIN
SIGNED_IN = frozenset(Role)
PUBLIC = None


@dataclass(frozen=True)
class Pinned:
    """One console route and who may use it, written down from the role table in
    docs/console.md (not read from the product): agents have the queue and conversations,
    knowledge owners the unanswered questions and articles, both the dashboard, admins
    everything and the audit log."""

    method: str
    path: str
    roles: frozenset[Role] | None  # None: public
    api: bool = False  # the refresh endpoints answer 401 rather than redirect


TICKET = "/console/tickets/{ticket_id}"
ARTICLE = "/console/articles/{article_id}"
POLICY: tuple[Pinned, ...] = (
    Pinned("GET", "/console/static/{name}", PUBLIC),
    Pinned("GET", "/console/sign-in", PUBLIC),
    Pinned("POST", "/console/sign-in", PUBLIC),
    Pinned("GET", "/console", SIGNED_IN),
    Pinned("POST", "/console/sign-out", SIGNED_IN),
    Pinned("GET", "/console/queue", frozenset({A, ADMIN})),
    Pinned("GET", "/console/queue/rows", frozenset({A, ADMIN}), api=True),
    Pinned("GET", TICKET, frozenset({A, ADMIN})),
    Pinned("GET", TICKET + "/transcript", frozenset({A, ADMIN}), api=True),
    Pinned("POST", TICKET + "/claim", frozenset({A, ADMIN})),
    Pinned("POST", TICKET + "/reply", frozenset({A, ADMIN})),
    Pinned("POST", TICKET + "/note", frozenset({A, ADMIN})),
    Pinned("POST", TICKET + "/resolve", frozenset({A, ADMIN})),
    Pinned("POST", TICKET + "/hand-back", frozenset({A, ADMIN})),
    Pinned("GET", "/console/gaps", frozenset({K, ADMIN})),
    Pinned("POST", "/console/gaps/link", frozenset({K, ADMIN})),
    Pinned("POST", "/console/gaps/draft", frozenset({K, ADMIN})),
    Pinned("POST", "/console/gaps/dismiss", frozenset({K, ADMIN})),
    Pinned("GET", "/console/articles", frozenset({K, ADMIN})),
    Pinned("GET", ARTICLE, frozenset({K, ADMIN})),
    Pinned("POST", ARTICLE + "/save", frozenset({K, ADMIN})),
    Pinned("POST", ARTICLE + "/publish", frozenset({K, ADMIN})),
    Pinned("POST", ARTICLE + "/retire", frozenset({K, ADMIN})),
    Pinned("POST", ARTICLE + "/rollback", frozenset({K, ADMIN})),
    Pinned("POST", ARTICLE + "/try", frozenset({K, ADMIN})),
    # "try a question" is read-only; the role table does not name it: open to every role
    Pinned("GET", "/console/try", SIGNED_IN),
    Pinned("GET", "/console/dashboard", SIGNED_IN),
    Pinned("GET", "/console/dashboard/{table}.csv", SIGNED_IN),
    Pinned("GET", "/console/audit", frozenset({ADMIN})),
)


def placeholder_names(path: str) -> str:
    """`/a/{x:[a-z]{0,3}}/b` -> `/a/{x}/b` (patterns may hold braces of their own)."""
    result, i = [], 0
    while i < len(path):
        if path[i] != "{":
            result.append(path[i])
            i += 1
            continue
        depth, j = 0, i
        for j in range(i, len(path)):
            depth += {"{": 1, "}": -1}.get(path[j], 0)
            if depth == 0:
                break
        result.append("{" + path[i + 1 : j].split(":", 1)[0] + "}")
        i = j + 1
    return "".join(result)


def concrete(path: str, params: dict[str, str]) -> str:
    for name, value in params.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, path
    return path


def allowed(pinned: Pinned, role: Role | None) -> bool:
    return pinned.roles is None or (role is not None and role in pinned.roles)


def form_for(path: str) -> dict[str, str]:
    """Inputs that a handler accepts or refuses on its own (never the guard)."""
    if path == "/console/sign-in":
        return {"name": "nobody", "password": "wrong password!"}
    return {"text": "hello", "resolution": "done", "version": "stale", "gap_ids": ""}


def test_the_route_table_holds_exactly_the_pinned_routes() -> None:
    """A route added to ROUTES must be added to POLICY above (with the role table's answer)."""
    declared = {(r.method, placeholder_names(r.path)) for r in ROUTES}
    pinned = {(p.method, p.path) for p in POLICY}
    assert declared - pinned == set(), "routes without a pinned policy"
    assert pinned - declared == set(), "pinned routes the console no longer has"
    assert len(declared) == len(ROUTES)


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
@pytest.mark.parametrize("pinned", POLICY, ids=lambda p: f"{p.method} {p.path}")
async def test_route_by_role(
    shared: tuple[Server, dict[str, str]], pinned: Pinned, role: Role | None
) -> None:
    server, params = shared
    path = concrete(pinned.path, params)
    async with server.client() as client:
        if role is not None:
            name = f"matrix-{role.value}".replace("_", "-")
            account = server.accounts.by_name(name)
            assert account is not None
            token, session = server.sessions.start(account.id)
            client.set_cookie(COOKIE, token)
            client.csrf = session.csrf
        if pinned.path == "/console/sign-in" and pinned.method == "POST":
            await client.get("/console/sign-in")  # the sign-in form's own token
        if pinned.method == "GET":
            response = await client.get(path, follow=False)
        else:
            response = await client.post(path, form_for(pinned.path))
    refused_anonymous = response.status == 401 and GUARD_401 in response.text
    redirected = response.status == 303 and response.headers.get("Location", "").startswith(
        "/console/sign-in?next="
    )
    refused_role = response.status == 403 and GUARD_403 in response.text
    assert response.status < 500
    if allowed(pinned, role):
        assert not (refused_anonymous or redirected or refused_role), response.status
        if pinned.method == "GET" and pinned.path not in ("/console", "/console/sign-in"):
            assert response.status == 200
    elif role is None:
        if pinned.api or pinned.method != "GET":
            assert refused_anonymous
        else:
            assert redirected
    else:
        assert refused_role


async def test_unknown_console_paths_are_not_found(demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.ADMIN)
        async with server.client() as client:
            assert (await client.get("/console/nothing-here", follow=False)).status == 404
            await client.sign_in("dana")
            assert (await client.get("/console/nothing-here", follow=False)).status == 404
            assert (await client.get("/console/static/../app.py", follow=False)).status == 404
            assert (await client.get("/console/static/app.py", follow=False)).status == 404


# -- CSRF -------------------------------------------------------------------------------------

STATE_CHANGING = [r for r in ROUTES if r.method == "POST"]


@pytest.mark.parametrize("route", STATE_CHANGING, ids=lambda r: r.path)
@pytest.mark.parametrize("token", ["missing", "wrong", "another session's"])
async def test_state_changing_requests_need_the_csrf_token(
    shared: tuple[Server, dict[str, str]], route: Route, token: str
) -> None:
    server, params = shared
    async with server.client() as client, server.client() as other:
        if route.public:
            await client.get("/console/sign-in")
            await other.get("/console/sign-in")
        else:
            role = next(iter(sorted(route.roles)))
            account = server.accounts.by_name(f"matrix-{role.value}".replace("_", "-"))
            assert account is not None
            cookie, _ = server.sessions.start(account.id)
            client.set_cookie(COOKIE, cookie)
            other.csrf = server.sessions.start(account.id)[1].csrf
        sent = {"missing": None, "wrong": "x" * 43, "another session's": other.csrf}[token]
        form = form_for(route.path)
        if sent is not None:
            form["csrf_token"] = sent
        response = await client.post(
            concrete(placeholder_names(route.path), params), form, csrf=False
        )
    assert response.status == 403
    assert "CSRF" in response.text


async def test_csrf_header_works_for_scripts_and_a_good_token_passes(demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT, "Dana Whitfield")
        ticket = await server.handed_off()
        async with server.client() as client:
            await client.sign_in("dana")
            await client.get(f"/console/tickets/{ticket}")
            response = await client.post(
                f"/console/tickets/{ticket}/claim",
                csrf=False,
                headers={"X-CSRF-Token": client.csrf},
            )
            assert response.status == 303 and "done=claimed" in response.headers["Location"]


# -- sessions ---------------------------------------------------------------------------------


def _session_rows(server: Server) -> list[dict[str, object]]:
    with server.sessions.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(sessions_table))]


async def test_sign_in_rotates_the_session_id_and_ends_the_planted_one(demo_url: str) -> None:
    """Session fixation: an id an attacker planted (even a valid one) is worthless after
    sign-in; the victim gets a fresh id."""
    async with serve(demo_url) as server:
        server.add("mallory", Role.AGENT)
        server.add("victim", Role.ADMIN)
        async with server.client() as attacker, server.client() as victim:
            await attacker.sign_in("mallory")
            planted = attacker.cookie(COOKIE)
            assert planted
            victim.set_cookie(COOKIE, planted)
            response = await victim.sign_in("victim")
            assert response.status == 303
            fresh = victim.cookie(COOKIE)
            assert fresh and fresh != planted
            # the attacker's copy of the id does not reach the victim's session (or any)
            after = await attacker.get("/console/audit", follow=False)
            assert after.status == 303 and after.headers["Location"].startswith("/console/sign-in")
            assert (await victim.get("/console/audit")).status == 200

        async with server.client() as browser:
            browser.set_cookie(COOKIE, "attacker-chosen-value")
            await browser.sign_in("victim")
            assert browser.cookie(COOKIE) not in (None, "attacker-chosen-value")
        stored = {str(r["id"]) for r in _session_rows(server)}
        assert "attacker-chosen-value" not in stored and planted not in stored  # hashes only


async def test_cookie_flags(demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT)
        async with server.client() as client:
            response = await client.sign_in("dana")
            cookie = next(c for c in response.headers.getall("Set-Cookie") if c.startswith(COOKIE))
            assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
            assert "Secure" not in cookie
            page = await client.get("/console/queue")
            assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
            assert page.headers["Cache-Control"] == "no-store"
    async with (
        serve(demo_url, DESKBOT_PUBLIC_URL="https://desk.example.com") as server,
        aiohttp.ClientSession() as http,
    ):
        # behind a TLS proxy: the browser would send the Secure cookies back
        async with http.get(server.base + "/console/sign-in") as form:
            pre = form.cookies[PRE_COOKIE]
            assert pre["secure"] and pre["httponly"] and pre["samesite"] == "Strict"
            token = CSRF.findall(await form.text())[-1]
        async with http.post(
            server.base + "/console/sign-in",
            data={"name": "dana", "password": PASSWORD, "csrf_token": token},
            headers={"Cookie": f"{PRE_COOKIE}={pre.value}"},
            allow_redirects=False,
        ) as response:
            assert response.status == 303
            session = response.cookies[COOKIE]
            assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"


def _age_session(server: Server, **delta: timedelta) -> None:
    now = datetime.now(UTC)
    values = {column: now - ago for column, ago in delta.items()}
    with server.sessions.engine.begin() as conn:
        conn.execute(update(sessions_table).values(values))


async def test_idle_timeout_is_30_minutes(demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT)
        async with server.client() as client:
            await client.sign_in("dana")
            _age_session(server, seen_at=timedelta(minutes=29))
            assert (await client.get("/console/queue", follow=False)).status == 200
            seen = _session_rows(server)[0]["seen_at"]
            assert isinstance(seen, datetime)  # touched by the page view
            _age_session(server, seen_at=timedelta(minutes=29))
            # background polling does not count as activity
            assert (await client.get("/console/queue/rows", follow=False)).status == 200
            _age_session(server, seen_at=timedelta(minutes=31))
            gone = await client.get("/console/queue", follow=False)
            assert gone.status == 303 and gone.headers["Location"].startswith("/console/sign-in")
            assert _session_rows(server) == []
            assert (await client.get("/console/queue/rows", follow=False)).status == 401


async def test_polling_does_not_keep_a_session_alive(demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT)
        async with server.client() as client:
            await client.sign_in("dana")
            _age_session(server, seen_at=timedelta(minutes=29))
            before = _session_rows(server)[0]["seen_at"]
            assert (await client.get("/console/queue/rows")).status == 200
            assert _session_rows(server)[0]["seen_at"] == before


async def test_absolute_timeout_is_12_hours_even_when_active(demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT)
        async with server.client() as client:
            await client.sign_in("dana")
            _age_session(server, created_at=timedelta(hours=11, minutes=59))
            assert (await client.get("/console/queue", follow=False)).status == 200
            _age_session(server, created_at=timedelta(hours=12, minutes=1))
            assert (await client.get("/console/queue", follow=False)).status == 303


async def test_sign_out_ends_the_session(demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT)
        async with server.client() as client:
            await client.sign_in("dana")
            token = client.cookie(COOKIE)
            response = await client.post("/console/sign-out")
            assert response.status == 303
            assert _session_rows(server) == []
            client.set_cookie(COOKIE, token or "")
            assert (await client.get("/console/queue", follow=False)).status == 303


async def test_disabling_an_account_ends_its_sessions_at_once(demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT)
        async with server.client() as client:
            await client.sign_in("dana")
            assert (await client.get("/console/queue", follow=False)).status == 200
            server.accounts.set_disabled("dana", True)  # the account row alone is enough
            assert (await client.get("/console/queue", follow=False)).status == 303
            response = await client.sign_in("dana")
            assert response.status == 401


# -- signing in -------------------------------------------------------------------------------


async def test_sign_in_goes_to_the_page_asked_for_but_never_off_site(demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT)
        async with server.client() as client:
            first = await client.get("/console/queue?priority=high&channel=web", follow=False)
            location = URL(first.headers["Location"])
            assert location.path == "/console/sign-in"
            assert dict(location.query) == {"next": "/console/queue?priority=high&channel=web"}
            form = await client.get(first.headers["Location"])
            assert 'name="next" value="/console/queue?priority=high&amp;channel=web"' in form.text
            response = await client.post(
                "/console/sign-in",
                {
                    "name": "dana",
                    "password": PASSWORD,
                    "next": "/console/queue?priority=high&channel=web",
                },
            )
            assert response.headers["Location"] == "/console/queue?priority=high&channel=web"
        async with server.client() as client:
            await client.get("/console/sign-in")
            response = await client.post(
                "/console/sign-in",
                {"name": "dana", "password": PASSWORD, "next": "//evil.example/console/"},
            )
            assert response.headers["Location"] == "/console/queue"


async def test_sign_in_is_rate_limited_per_name_and_per_address(demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT)
        server.add("sam", Role.AGENT)
        async with server.client() as client:
            for _ in range(MAX_FAILURES_PER_NAME):
                assert (await client.sign_in("dana", "not the password")).status == 401
            blocked = await client.sign_in("dana")  # even the right password waits now
            assert blocked.status == 429
            assert int(blocked.headers["Retry-After"]) > 0
            assert "Too many failed attempts" in blocked.text
            assert client.cookie(COOKIE) is None
            assert (await client.sign_in("sam")).status == 303  # another name is not blocked
            for n in range(MAX_FAILURES_PER_ADDRESS - MAX_FAILURES_PER_NAME):
                await client.sign_in(f"guess-{n}", "not the password")
            assert (await client.sign_in("sam")).status == 429  # the address is now
        with server.sessions.engine.connect() as conn:
            actions = [r.action for r in conn.execute(select(audit_table))]
        assert actions.count("sign_in_failed") == MAX_FAILURES_PER_ADDRESS
        assert actions.count("signed_in") == 1


async def test_wrong_password_and_unknown_name_look_the_same(demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT)
        async with server.client() as client:
            wrong = await client.sign_in("dana", "not the password")
            unknown = await client.sign_in("nobody-here", "not the password")
        assert wrong.status == unknown.status == 401
        assert "Wrong name or password." in wrong.text and "Wrong name or password." in unknown.text


async def test_sign_in_form_needs_its_own_csrf_token(demo_url: str) -> None:
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT)
        async with server.client() as client:
            response = await client.post(
                "/console/sign-in", {"name": "dana", "password": PASSWORD}, csrf=False
            )
            assert response.status == 403
            await client.get("/console/sign-in")
            forged = await client.post(
                "/console/sign-in", {"name": "dana", "password": PASSWORD, "csrf_token": "0" * 64}
            )
            assert forged.status == 403
            assert client.cookie(COOKIE) is None
