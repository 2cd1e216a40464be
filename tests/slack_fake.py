"""A local fake of the Slack Web API (and Socket Mode), plus signed requests into deskbot.

`FakeSlack` listens on 127.0.0.1 on a free port and records every Web API call, so tests can
assert what deskbot sent. It keeps the messages it was asked to post (and their updates), can
answer 429 to prove rate limits are honoured, and speaks enough of Socket Mode (hello,
envelopes, acks) to drive the Socket Mode client offline. `SlackSender` plays Slack's side of
the Events API: real signatures over the exact bytes it sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import ClientSession, WSMsgType, web

from bot.channels.slack.channel import SlackChannel
from bot.channels.slack.post import Pacer
from bot.dialogue.services import Services
from bot.settings import DEMO_KB_PATH, Settings
from bot.wiring import Runtime, add_slack, build, prepare_knowledge
from retrieval.embedding import HashEmbedder
from tests.clock import CLOCK
from tests.support import listening, start_server

BOT_USER = "UBOT"
BOT_ID = "BBOT"
TEAM = "T0001"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"

# Workspace members known to users.info: id -> (real name, e-mail or None)
USERS: dict[str, tuple[str, str | None]] = {
    "UALEX": ("Alex Morgan", "alex.morgan@example.com"),
    "USAM": ("Sam Taylor", "sam.taylor@example.com"),
    "UGUEST": ("Guest Visitor", None),  # no e-mail visible (scope or guest account)
    "UDANA": ("Dana Whitfield", "dana.whitfield@example.com"),
    "UCHRIS": ("Chris Okafor", "chris.okafor@example.com"),
}


@dataclass(frozen=True)
class Call:
    method: str
    params: Mapping[str, Any]
    token: str | None
    at: float


@dataclass
class Posted:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    updates: int = 0


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    error: str


@dataclass
class FakeSlack:
    users: dict[str, tuple[str, str | None]] = field(default_factory=lambda: dict(USERS))
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], Posted] = field(default_factory=dict)
    views: list[dict[str, Any]] = field(default_factory=list)  # modals opened, in order
    acks: list[dict[str, Any]] = field(default_factory=list)
    delays: dict[str, float] = field(default_factory=dict)  # method -> seconds before answering
    port: int = 0

    def __post_init__(self) -> None:
        self._failures: dict[str, list[_Failure]] = {}
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Condition()
        self._sockets: list[web.WebSocketResponse] = []
        self._acked: dict[str, asyncio.Future[dict[str, Any]]] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_get("/link", self._socket)
        app.router.add_route("*", "/api/{method}", self._api)
        self._runner, self.port = await start_server(app)
        return self

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    # -- what tests set up and read ------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int | None = 1,
        error: str = "ratelimited",
    ) -> None:
        """Answer the next call of `method` with an error (429 + Retry-After by default)."""
        self._failures.setdefault(method, []).append(_Failure(status, retry_after, error))

    def person(self, name: str, email: str | None) -> str:
        """A new workspace member; returns their user id (each test gets its own DM)."""
        user_id = "U" + uuid.uuid4().hex[:8].upper()
        self.users[user_id] = (name, email)
        return user_id

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def posts(self, channel: str | None = None) -> list[Posted]:
        """Messages posted (in order), with their latest content after any chat.update."""
        return [p for p in self.messages.values() if channel is None or p.channel == channel]

    def thread(self, channel: str, ts: str) -> list[Posted]:
        return [p for p in self.posts(channel) if p.thread_ts == ts]

    async def wait_for(
        self, check: Callable[[FakeSlack], Any], within: float = 10.0, what: str = "condition"
    ) -> Any:
        """Wait until `check(self)` is truthy (deskbot works after it acknowledges)."""
        deadline = time.monotonic() + within
        async with self._changed:
            while True:
                result = check(self)
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; calls: {self.summary()}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=left)

    async def wait_posts(self, channel: str, count: int, within: float = 10.0) -> list[Posted]:
        posts: list[Posted] = await self.wait_for(
            lambda s: len(s.posts(channel)) >= count and s.posts(channel),
            within,
            f"{count} posts in {channel}",
        )
        return posts

    def summary(self) -> list[str]:
        return [c.method for c in self.calls]

    # -- Web API -------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(dict(await request.post()))
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") or params.get("token")
        self.calls.append(Call(method, params, token, time.monotonic()))
        if method in self.delays:
            await asyncio.sleep(self.delays[method])
        failures = self._failures.get(method)
        if failures:
            failure = failures.pop(0)
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
            response = web.json_response(
                {"ok": False, "error": failure.error}, status=failure.status, headers=headers
            )
        else:
            handler = self._handlers().get(method, self._unknown)
            response = web.json_response(handler(params))
        await self._notify()
        return response

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "auth.test": lambda p: {
                "ok": True,
                "url": "https://example.slack.com/",
                "team": "Example",
                "team_id": TEAM,
                "user": "deskbot",
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
            },
            "users.info": self._users_info,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": lambda p: {"ok": True, "message_ts": self._next_ts()},
            "views.open": self._views_open,
            "conversations.open": lambda p: {
                "ok": True,
                "channel": {"id": "D" + str(p.get("users", "")).split(",")[0]},
            },
            "apps.connections.open": lambda p: {
                "ok": True,
                "url": f"ws://127.0.0.1:{self.port}/link",
            },
        }

    @staticmethod
    def _unknown(params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": False, "error": "unknown_method"}

    def _next_ts(self) -> str:
        n = next(self._ts)
        return f"{1_800_000_000 + n}.{n:06d}"

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = str(params.get("user", ""))
        if user_id not in self.users:
            return {"ok": False, "error": "user_not_found"}
        name, email = self.users[user_id]
        profile: dict[str, Any] = {"real_name": name, "display_name": name.split()[0]}
        if email:
            profile["email"] = email
        return {
            "ok": True,
            "user": {"id": user_id, "name": name.lower(), "real_name": name, "profile": profile},
        }

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not params.get("trigger_id") or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        self.views.append(view)
        return {"ok": True, "view": {**view, "id": f"V{len(self.views):04d}"}}

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        channel = str(params["channel"])
        blocks = params.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        self.messages[(channel, ts)] = Posted(
            channel, ts, str(params.get("text", "")), blocks, params.get("thread_ts")
        )
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": params.get("text")}}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (str(params["channel"]), str(params["ts"]))
        posted = self.messages.get(key)
        if posted is None:
            return {"ok": False, "error": "message_not_found"}
        blocks = params.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        posted.text = str(params.get("text", posted.text))
        posted.blocks = blocks
        posted.updates += 1
        return {"ok": True, "channel": key[0], "ts": key[1]}

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- Socket Mode ---------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "debug_info": {}})
        await self._notify()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                ack = json.loads(msg.data)
                self.acks.append(ack)
                future = self._acked.pop(ack.get("envelope_id", ""), None)
                if future is not None and not future.done():
                    future.set_result(ack)
                await self._notify()
        finally:
            self._sockets.remove(ws)
        return ws

    async def connected(self, within: float = 10.0) -> None:
        await self.wait_for(lambda s: s._sockets, within, "a Socket Mode connection")

    async def envelope(
        self, kind: str, payload: Mapping[str, Any], retry_attempt: int = 0
    ) -> dict[str, Any]:
        """Send one Socket Mode envelope and return deskbot's ack."""
        envelope_id = str(uuid.uuid4())
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acked[envelope_id] = future
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": dict(payload),
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "" if retry_attempt == 0 else "timeout",
            }
        )
        return await asyncio.wait_for(future, timeout=3.0)


# -- Slack's side of the Events API -------------------------------------------------------------


def sign(body: bytes, timestamp: int | str, secret: str = SIGNING_SECRET) -> str:
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: bytes, timestamp: int | None = None, secret: str = SIGNING_SECRET, **extra: str
) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(body, ts, secret),
        **extra,
    }


def event_payload(event: Mapping[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "legacy",
        "team_id": TEAM,
        "api_app_id": "A0001",
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
        "event": dict(event),
    }


_ts = itertools.count(1)


def message_ts() -> str:
    n = next(_ts)
    return f"{1_700_000_000 + n}.{n:06d}"


def dm(user: str, text: str, **extra: Any) -> dict[str, Any]:
    """A direct message to the bot (also what the App Home messages tab sends)."""
    return {
        "type": "message",
        "channel": "D" + user,
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": message_ts(),
        **extra,
    }


def mention(user: str, channel: str, text: str, thread_ts: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "app_mention",
        "channel": channel,
        "user": user,
        "text": f"<@{BOT_USER}> {text}",
        "ts": message_ts(),
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def channel_message(user: str, channel: str, text: str, thread_ts: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "channel_type": "channel",
        "user": user,
        "text": text,
        "ts": message_ts(),
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def block_actions(
    user: str,
    channel: str,
    message: Posted,
    action_id: str,
    value: str,
    block_id: str = "",
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    msg: dict[str, Any] = {"type": "message", "ts": message.ts, "text": message.text}
    msg["blocks"] = message.blocks
    if message.thread_ts:
        container["thread_ts"] = message.thread_ts
        msg["thread_ts"] = message.thread_ts
    return {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "example"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM},
        "api_app_id": "A0001",
        "token": "legacy",
        "container": container,
        "trigger_id": f"{uuid.uuid4().int % 10**12}.1.{uuid.uuid4().hex[:8]}",
        "channel": {"id": channel, "name": "directmessage" if channel.startswith("D") else "c"},
        "message": msg,
        "response_url": f"https://hooks.slack.invalid/actions/{uuid.uuid4().hex}",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def view_submission(user: str, view: Mapping[str, Any], values: Mapping[str, Any]) -> dict:
    """What Slack sends when `user` submits the modal `view` with `values` typed in:
    {block_id: {action_id: text}}."""
    state = {
        block: {
            action: {"type": "plain_text_input", "value": text} for action, text in inputs.items()
        }
        for block, inputs in values.items()
    }
    return {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "example"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A0001",
        "token": "legacy",
        "trigger_id": f"{uuid.uuid4().int % 10**12}.1.{uuid.uuid4().hex[:8]}",
        "view": {
            "id": "V0001",
            "team_id": TEAM,
            "type": "modal",
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": state},
            "hash": uuid.uuid4().hex[:16],
            "title": view.get("title"),
            "app_id": "A0001",
            "bot_id": BOT_ID,
        },
        "response_urls": [],
        "is_enterprise_install": False,
    }


def button(message: Posted, action: str) -> tuple[str, str, str]:
    """(block_id, action_id, value) of the button in `message` whose value is `action`."""
    for block in message.blocks:
        if block.get("type") != "actions":
            continue
        for element in block["elements"]:
            if element.get("value") == action or element.get("action_id") == action:
                return block["block_id"], element["action_id"], element["value"]
    raise AssertionError(f"no {action!r} button in {message.blocks}")


def command(user: str, channel: str, text: str, name: str = "/helpdesk") -> dict[str, str]:
    return {
        "token": "legacy",
        "team_id": TEAM,
        "team_domain": "example",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": name,
        "text": text,
        "api_app_id": "A0001",
        "response_url": f"https://hooks.slack.invalid/commands/{uuid.uuid4().hex}",
        "trigger_id": f"{uuid.uuid4().int % 10**12}.1.{uuid.uuid4().hex[:8]}",
    }


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


class SlackSender:
    """Sends signed requests to deskbot's /slack/events, as Slack does."""

    def __init__(self, session: ClientSession, url: str, secret: str = SIGNING_SECRET) -> None:
        self.session = session
        self.url = url
        self.secret = secret

    async def raw(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        started = time.perf_counter()
        async with self.session.post(self.url, data=body, headers=dict(headers)) as response:
            text = await response.text()
            return Answer(response.status, text, time.perf_counter() - started)

    async def signed(
        self,
        body: bytes,
        content_type: str,
        timestamp: int | None = None,
        **extra: str,
    ) -> Answer:
        headers = signed_headers(body, timestamp, self.secret, **extra)
        headers["Content-Type"] = content_type
        return await self.raw(body, headers)

    async def event(
        self, event: Mapping[str, Any], event_id: str | None = None, retry: int | None = None
    ) -> Answer:
        body = json.dumps(event_payload(event, event_id)).encode()
        extra = {} if retry is None else {"X-Slack-Retry-Num": str(retry)}
        if retry:
            extra["X-Slack-Retry-Reason"] = "http_timeout"
        return await self.signed(body, "application/json", **extra)

    async def payload(self, payload: Mapping[str, Any]) -> Answer:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.signed(body, "application/x-www-form-urlencoded")

    async def click(
        self, user: str, message: Posted, action: str, channel: str | None = None
    ) -> Answer:
        block_id, action_id, value = button(message, action)
        return await self.payload(
            block_actions(user, channel or message.channel, message, action_id, value, block_id)
        )

    async def submit(self, user: str, view: Mapping[str, Any], values: Mapping[str, Any]) -> Answer:
        return await self.payload(view_submission(user, view, values))

    async def command(self, user: str, channel: str, text: str) -> Answer:
        body = urlencode(command(user, channel, text)).encode()
        return await self.signed(body, "application/x-www-form-urlencoded")


class SettableClock:
    """The clock deskbot checks signature timestamps against: real time unless `now` is set."""

    def __init__(self) -> None:
        self.now: float | None = None

    def __call__(self) -> float:
        return time.time() if self.now is None else self.now


# -- deskbot with Slack, served on 127.0.0.1 ----------------------------------------------------

AGENT_CHANNEL = "CDESK"


def slack_settings(database_url: str, fake: FakeSlack, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "DESKBOT_DATABASE_URL": database_url,
        "DESKBOT_KB_PATH": DEMO_KB_PATH,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "DESKBOT_SLACK_API_URL": fake.api_url,
        "DESKBOT_SLACK_AGENT_CHANNEL": AGENT_CHANNEL,
        **extra,
    }
    return Settings(**values)


@dataclass
class Deskbot:
    runtime: Runtime
    slack: SlackChannel
    url: str

    @property
    def services(self) -> Services:
        return self.runtime.services

    async def settle(self) -> None:
        """Let the work after the acks finish and deliver what it queued in the outbox."""
        await self.slack.work.idle()
        while await self.services.outbox.deliver_due():
            await self.slack.work.idle()

    def sender(self, session: ClientSession) -> SlackSender:
        return SlackSender(session, self.url + "/slack/events")


@contextlib.asynccontextmanager
async def serve_deskbot(
    settings: Settings,
    clock: Callable[[], float] = time.time,
    pacer: Pacer | None = None,
    build_options: Mapping[str, Any] | None = None,
) -> AsyncIterator[Deskbot]:
    """The real server (web app, core, outbox) with the Slack channel attached, on a free port.

    The server is built without Slack settings and the channel attached here, so a test can
    give the channel its own clock and pace; `build_options` go to `bot.wiring.build`."""
    plain = settings.model_copy(
        update={"slack_bot_token": None, "slack_signing_secret": None, "slack_app_token": None}
    )
    options = {"today": CLOCK.today, **(build_options or {})}
    runtime = build(plain, embedder=HashEmbedder(), background=False, **options)
    prepare_knowledge(plain, runtime.services, import_path=False)
    slack = SlackChannel(
        settings,
        runtime.services,
        runtime.turns,
        runtime.relay,
        clock=clock,
        pacer=pacer or Pacer(rate=100.0, burst=20),
    )
    add_slack(runtime, slack)
    try:
        async with listening(runtime.app) as url:
            yield Deskbot(runtime, slack, url)
    finally:
        runtime.services.conversations.engine.dispose()


@dataclass
class World:
    """deskbot with Slack attached, the fake Slack it talks to, and Slack's side of the wire."""

    fake: FakeSlack
    bot: Deskbot
    slack: SlackSender
    clock: SettableClock

    async def dm(self, user: str, text: str, **extra: Any) -> Posted:
        """Send a direct message; returns the bot's answer once it is posted."""
        channel = "D" + user
        before = len(self.fake.posts(channel))
        answer = await self.slack.event(dm(user, text, **extra))
        assert answer.status == 200, answer
        return (await self.fake.wait_posts(channel, before + 1))[-1]

    async def resolve(self, agent: str, post: Posted, note: str = "") -> Mapping[str, Any]:
        """An agent presses Resolve on a request's post and submits the dialog it opens;
        returns the dialog as deskbot built it."""
        before = len(self.fake.views)
        assert (await self.slack.click(agent, post, "deskbot.resolve")).status == 200
        await self.bot.slack.work.idle()
        assert len(self.fake.views) == before + 1, "Resolve opened no dialog"
        view = self.fake.views[-1]
        values = {"deskbot.note": {"deskbot.note_text": note}} if note else {}
        assert (await self.slack.submit(agent, view, values)).status == 200
        await self.bot.settle()
        return view

    async def press(self, user: str, message: Posted, action: str) -> Posted:
        """Press a button in an employee's message; returns the bot's answer."""
        before = len(self.fake.posts(message.channel))
        answer = await self.slack.click(user, message, action)
        assert answer.status == 200, answer
        return (await self.fake.wait_posts(message.channel, before + 1))[-1]


@contextlib.asynccontextmanager
async def slack_world(
    database_url: str, build_options: Mapping[str, Any] | None = None, **settings: Any
) -> AsyncIterator[World]:
    fake = await FakeSlack().start()
    clock = SettableClock()
    config = slack_settings(database_url, fake, **settings)
    try:
        async with (
            serve_deskbot(config, clock, build_options=build_options) as bot,
            ClientSession() as session,
        ):
            yield World(fake, bot, bot.sender(session), clock)
    finally:
        await fake.close()


def copy_database(template: Path, folder: Path) -> str:
    """A private copy of a prepared SQLite database (see the demo_template fixture)."""
    path = folder / "deskbot.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


def texts(post: Posted) -> str:
    """All the words of a posted message (sections, contexts, buttons), for assertions."""
    found = [post.text]
    for block in post.blocks:
        if "text" in block and isinstance(block["text"], dict):
            found.append(block["text"]["text"])
        for item in block.get("elements", []) + block.get("fields", []):
            text = item.get("text")
            found.append(text["text"] if isinstance(text, dict) else str(text or ""))
    return "\n".join(found)


def buttons(post: Posted) -> dict[str, str]:
    """value -> label of every button in a posted message."""
    return {
        element["value"]: element["text"]["text"]
        for block in post.blocks
        if block.get("type") == "actions"
        for element in block["elements"]
    }
