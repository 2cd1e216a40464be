"""Local fakes of Microsoft's side of Teams, and real HTTP into deskbot's /api/messages.

`AzureFake` plays the Bot Framework's login service and Azure AD: OpenID metadata, the signing
keys (a JWKS endorsed for msteams) and the token endpoint deskbot gets its outbound tokens from.
It runs in its own thread, because botbuilder fetches keys with blocking `requests` calls.
`mint()` signs RS256 tokens as the Bot Connector does.

`FakeConnector` plays the Bot Connector service (the activity's serviceUrl) on the test's event
loop: it records every call, keeps the messages it was asked to post (and their updates), knows
a roster, and answers 429 or 502 on demand.

`Teams` posts activities into deskbot as Teams does; the builders below make them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt
from aiohttp import ClientSession, web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bot.channels.teams.auth import Cloud
from bot.channels.teams.channel import ROUTE, TeamsChannel, Tuning, registration
from bot.channels.teams.delivery import RetryPolicy
from bot.dialogue.services import Services
from bot.settings import DEMO_KB_PATH, Settings
from bot.wiring import Runtime, add_teams, build, prepare_knowledge
from retrieval.embedding import Embedder, HashEmbedder
from tests.clock import CLOCK
from tests.support import deliver_all, listening, start_server

APP_ID = "5f2b8a1e-0000-4000-8000-00000000d35c"
APP_PASSWORD = "app-secret-for-tests"
TENANT = "72f988bf-0000-4000-8000-000000000001"
ISSUER = "https://api.botframework.com"
SCOPE = "https://api.botframework.com"
BOT = {"id": "28:deskbot", "name": "deskbot"}
GENERAL = "19:general0000@thread.tacv2"  # a team's General channel (its id is the team's)
AGENTS = "19:agents0000@thread.tacv2"  # the service desk's channel, in the same team
NOT_LOOPBACK = "192.0.2.10"  # a documentation address: the build must not mount Teams itself


@dataclass(frozen=True)
class Person:
    id: str  # the Teams user id ("29:...")
    aad: str  # the Azure AD object id
    name: str
    email: str | None

    def account(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "aadObjectId": self.aad}


ALEX = Person("29:alex", "aad-alex", "Alex Morgan", "alex.morgan@example.com")
PRIYA = Person("29:priya", "aad-priya", "Priya Shah", "priya.shah@example.com")
GUEST = Person("29:guest", "aad-guest", "Guest Visitor", None)  # no e-mail in the roster
DANA = Person("29:dana", "aad-dana", "Dana Whitfield", "dana.whitfield@example.com")
CHRIS = Person("29:chris", "aad-chris", "Chris Okafor", "chris.okafor@example.com")
PEOPLE = (ALEX, PRIYA, GUEST, DANA, CHRIS)


# -- Azure AD and the Bot Framework login service, in a thread -------------------------------


class AzureFake:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "deskbot-test-key"
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=self.kid, use="sig", endorsements=["msteams"])
        self.jwks = {"keys": [jwk]}
        self.token_requests: list[dict[str, Any]] = []
        self.issued: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _AzureHandler)
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def cloud(self) -> Cloud:
        return Cloud(
            openid_metadata_url=f"{self.url}/v1/.well-known/openidconfiguration",
            token_issuer=ISSUER,
            emulator_openid_metadata_url=f"{self.url}/emulator/.well-known/openid-configuration",
            login_url=f"{self.url}/",
            oauth_scope=SCOPE,
        )

    def start(self) -> AzureFake:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def mint(self, service_url: str, **changes: Any) -> str:
        """A Bot Connector token for deskbot. `changes` override claims (None removes one);
        `kid=` and `key=` change the signature."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": APP_ID,
            "serviceurl": service_url,
            "nbf": now - 10,
            "iat": now - 10,
            "exp": now + 3600,
        }
        kid = changes.pop("kid", self.kid)
        key = changes.pop("key", self.key)
        claims.update(changes)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    def answer(self, path: str, form: Mapping[str, list[str]] | None) -> tuple[int, Any]:
        if path.endswith(("/openidconfiguration", "/openid-configuration")):
            return 200, {"issuer": ISSUER, "jwks_uri": f"{self.url}/keys"}
        if path == "/keys":
            return 200, self.jwks
        if path.endswith("/oauth2/v2.0/token") and form is not None:
            request = {k: v[0] for k, v in form.items()}
            self.token_requests.append({"tenant": path.split("/")[1], **request})
            if request.get("client_id") != APP_ID or request.get("client_secret") != APP_PASSWORD:
                return 401, {"error": "invalid_client"}
            token = f"outbound-{uuid.uuid4().hex[:12]}"
            self.issued.append(token)
            return 200, {"token_type": "Bearer", "expires_in": 3600, "access_token": token}
        return 404, {"error": "not found"}


class _AzureHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._reply(*self.server.fake.answer(self.path, None))  # type: ignore[attr-defined]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        self._reply(*self.server.fake.answer(self.path, form))  # type: ignore[attr-defined]

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def azure_fake() -> Iterator[AzureFake]:
    fake = AzureFake().start()
    try:
        yield fake
    finally:
        fake.stop()


# -- the Bot Connector service, on the test's loop ---------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    conversation: str | None
    body: Any
    authorization: str | None
    at: float


@dataclass
class Posted:
    """A message deskbot posted (or the root of a thread it started)."""

    id: str
    conversation: str
    activity: dict[str, Any]
    reply_to: str | None
    at: float
    updates: int = 0

    @property
    def words(self) -> str:
        return words(self.activity)


@dataclass
class _Failure:
    status: int
    retry_after: str | None
    method: str | None


@dataclass
class FakeConnector:
    roster: dict[str, Person] = field(default_factory=lambda: {p.id: p for p in PEOPLE})
    calls: list[Call] = field(default_factory=list)
    posted: list[Posted] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1_700_000_000_001))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    url: str = ""
    # seconds before a message is taken (a slow connector); one whose sender is gone by then is
    # dropped, as a request cut off before it reached the connector
    send_delay: float = 0.0

    async def start(self) -> FakeConnector:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._send)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        app.router.add_get("/v3/conversations/{conversation}/members/{member}", self._member)
        self._runner, port = await start_server(app)
        self.url = f"http://127.0.0.1:{port}/"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(
        self, status: int, times: int = 1, retry_after: str | None = None, method: str | None = None
    ) -> None:
        """Answer the next `times` calls (of `method`, if given) with `status`."""
        self._failures.extend(_Failure(status, retry_after, method) for _ in range(times))

    def in_conversation(self, conversation: str) -> list[Posted]:
        return [p for p in self.posted if p.conversation == conversation]

    def threads_in(self, channel: str) -> list[Posted]:
        """Thread roots deskbot started in a channel."""
        return [p for p in self.posted if p.conversation == f"{channel};messageid={p.id}"]

    def find(self, id_: str) -> Posted:
        return next(p for p in self.posted if p.id == id_)

    async def wait_for(self, check: Callable[[], Any], within: float = 10.0) -> Any:
        deadline = time.monotonic() + within
        while not (result := check()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; posted: {[p.words[:80] for p in self.posted]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))
        return result

    async def wait_posts(self, conversation: str, count: int, within: float = 10.0) -> list[Posted]:
        posts: list[Posted] = await self.wait_for(
            lambda: (
                len(self.in_conversation(conversation)) >= count
                and self.in_conversation(conversation)
            ),
            within,
        )
        return posts

    async def _record(self, request: web.Request) -> tuple[Any, web.Response | None]:
        body = await request.json() if request.can_read_body else None
        conversation = request.match_info.get("conversation")
        self.calls.append(
            Call(
                request.method,
                request.path,
                conversation,
                body,
                request.headers.get("Authorization"),
                time.monotonic(),
            )
        )
        for failure in self._failures:
            if failure.method in (None, request.method):
                self._failures.remove(failure)
                headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
                error = {"error": {"code": "Throttled", "message": "try again later"}}
                return body, web.json_response(error, status=failure.status, headers=headers)
        return body, None

    def _post(self, conversation: str, activity: dict[str, Any], reply_to: str | None) -> Posted:
        posted = Posted(str(next(self._ids)), conversation, activity, reply_to, time.monotonic())
        self.posted.append(posted)
        self._changed.set()
        return posted

    async def _create(self, request: web.Request) -> web.Response:
        body, failed = await self._record(request)
        if failed:
            return failed
        channel = body["channelData"]["channel"]["id"]
        root = self._post("", body["activity"], None)
        root.conversation = f"{channel};messageid={root.id}"
        return web.json_response({"id": root.conversation, "activityId": root.id}, status=201)

    async def _send(self, request: web.Request) -> web.Response:
        if self.send_delay:
            await asyncio.sleep(self.send_delay)
            if request.transport is None or request.transport.is_closing():
                # the sender died before the connector took the message: it never arrived
                return web.Response(status=499)
        body, failed = await self._record(request)
        if failed:
            return failed
        conversation = request.match_info["conversation"]
        posted = self._post(conversation, body, request.match_info.get("activity"))
        return web.json_response({"id": posted.id}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        body, failed = await self._record(request)
        if failed:
            return failed
        posted = self.find(request.match_info["activity"])
        posted.activity = body
        posted.updates += 1
        self._changed.set()
        return web.json_response({"id": posted.id})

    async def _member(self, request: web.Request) -> web.Response:
        _, failed = await self._record(request)
        if failed:
            return failed
        person = self.roster.get(request.match_info["member"])
        if person is None:
            return web.json_response({"error": {"code": "MemberNotFound"}}, status=404)
        member = {
            **person.account(),
            "givenName": person.name.split()[0],
            "userRole": "user",
            "tenantId": TENANT,
        }
        if person.email:
            member.update(email=person.email, userPrincipalName=person.email)
        return web.json_response(member)


# -- what a card or message says ---------------------------------------------------------------


def words(activity: Mapping[str, Any]) -> str:
    """Every word of an activity: its text and everything its cards say, for assertions."""
    parts = [str(activity.get("text") or "")]
    for attachment in activity.get("attachments") or ():
        parts.extend(_card_words(attachment.get("content") or {}))
    return "\n".join(p for p in parts if p)


def _card_words(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key in ("text", "title", "value", "placeholder"):
            if isinstance(node.get(key), str):
                yield node[key]
        for value in node.values():
            if isinstance(value, (dict, list)):
                yield from _card_words(value)
    elif isinstance(node, list):
        for item in node:
            yield from _card_words(item)


def actions(activity: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The buttons of an activity's cards."""
    found: list[dict[str, Any]] = []
    for attachment in activity.get("attachments") or ():
        found.extend((attachment.get("content") or {}).get("actions") or ())
    return found


def ai_labelled(activity: Mapping[str, Any]) -> bool:
    return any(
        "AIGeneratedContent" in (e.get("additionalType") or ())
        for e in activity.get("entities") or ()
    )


# -- activities, as Teams sends them -----------------------------------------------------------

_activity_ids = itertools.count(1_800_000_000_001)


def new_id() -> str:
    return str(next(_activity_ids))


def personal(person: Person) -> dict[str, Any]:
    return {"id": f"a:1{person.aad}", "conversationType": "personal", "tenantId": TENANT}


def in_channel(channel: str, thread: str | None = None) -> dict[str, Any]:
    return {
        "id": f"{channel};messageid={thread or new_id()}",
        "conversationType": "channel",
        "isGroup": True,
        "tenantId": TENANT,
    }


def _channel_data(channel: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {"tenant": {"id": TENANT}}
    if channel is not None:
        data.update(channel={"id": channel}, team={"id": GENERAL, "name": "IT"})
    return data


def activity(
    kind: str, person: Person, conversation: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    channel = (
        None if conversation["conversationType"] == "personal" else conversation["id"].split(";")[0]
    )
    return {
        "type": kind,
        "id": new_id(),
        "timestamp": "2026-11-23T10:00:00.000Z",
        "channelId": "msteams",
        "from": person.account(),
        "conversation": conversation,
        "recipient": dict(BOT),
        "channelData": _channel_data(channel),
        "locale": "en-GB",
        **extra,
    }


def message(person: Person, text: str, **extra: Any) -> dict[str, Any]:
    """A message in the person's 1:1 chat with deskbot."""
    return activity("message", person, personal(person), text=text, textFormat="plain", **extra)


def mention(
    person: Person, channel: str, text: str, thread: str | None = None, **extra: Any
) -> dict[str, Any]:
    """ "@deskbot <text>" in a channel: a new post, or a reply in `thread` (its conversation id)."""
    conversation = {**in_channel(channel), "id": thread} if thread else in_channel(channel)
    tag = f"<at>{BOT['name']}</at>"
    entity = {"type": "mention", "mentioned": dict(BOT), "text": tag}
    return activity(
        "message", person, conversation, text=f"{tag} {text}", entities=[entity], **extra
    )


def thread_reply(person: Person, thread: str, text: str) -> dict[str, Any]:
    """A reply in a channel thread without @mention (delivered with the RSC permission)."""
    conversation = {**in_channel(thread.split(";")[0]), "id": thread}
    return activity("message", person, conversation, text=text)


def submit(person: Person, data: Mapping[str, Any], conversation: dict[str, Any]) -> dict[str, Any]:
    """Action.Submit on a card: a message without text, the button's data as value."""
    return activity("message", person, conversation, value=dict(data))


def press(person: Person, posted: Posted, title: str) -> dict[str, Any]:
    """Press a button (by its title) on a card deskbot posted."""
    button = next(a for a in actions(posted.activity) if a["title"] == title)
    conversation = (
        personal(person)
        if posted.conversation.startswith("a:")
        else {**in_channel(posted.conversation.split(";")[0]), "id": posted.conversation}
    )
    if button["type"] == "Action.Execute":
        return execute(person, posted.conversation, button["verb"], button["data"])
    return submit(person, button["data"], conversation) | {"replyToId": posted.id}


def execute(
    person: Person, thread: str, verb: str, data: Mapping[str, Any], **inputs: str
) -> dict[str, Any]:
    """Action.Execute on a card in a channel thread: an adaptiveCard/action invoke."""
    conversation = {**in_channel(thread.split(";")[0]), "id": thread}
    value = {"action": {"type": "Action.Execute", "verb": verb, "data": {**data, **inputs}}}
    return activity("invoke", person, conversation, name="adaptiveCard/action", value=value)


def installed(person: Person, team: bool = False) -> dict[str, Any]:
    """The conversationUpdate Teams sends when the app is added for a person (or to a team)."""
    conversation = (
        {"id": GENERAL, "conversationType": "channel", "isGroup": True, "tenantId": TENANT}
        if team
        else personal(person)
    )
    update = activity("conversationUpdate", person, conversation, membersAdded=[dict(BOT)])
    if team:
        update["channelData"] = {
            "team": {"id": GENERAL, "name": "IT"},
            "eventType": "teamMemberAdded",
            "tenant": {"id": TENANT},
        }
    return update


# -- deskbot served on a free port, and Teams' side of the wire --------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Teams:
    """Posts activities to deskbot the way the Bot Connector does: JSON, with a signed token
    when deskbot has an app id."""

    def __init__(
        self, session: ClientSession, url: str, connector: FakeConnector, azure: AzureFake | None
    ) -> None:
        self.session = session
        self.url = url
        self.connector = connector
        self.azure = azure

    async def raw(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        async with self.session.post(self.url, data=body, headers=dict(headers)) as response:
            return Answer(response.status, await response.read())

    async def send(self, activity: dict[str, Any], token: str | None = "mint") -> Answer:
        """Post an activity; `token` "mint" signs a valid one (when authenticating), None sends
        no Authorization header, anything else is sent as the header."""
        activity.setdefault("serviceUrl", self.connector.url)
        headers = {"Content-Type": "application/json"}
        if token == "mint":
            token = (
                None if self.azure is None else f"Bearer {self.azure.mint(activity['serviceUrl'])}"
            )
        if token is not None:
            headers["Authorization"] = token
        return await self.raw(json.dumps(activity).encode(), headers)


@dataclass
class Deskbot:
    runtime: Runtime
    url: str

    @property
    def services(self) -> Services:
        return self.runtime.services

    async def deliver(self) -> int:
        """Deliver everything due in the outbox (the dispatcher's job in production)."""
        return await deliver_all(self.services.outbox)


def teams_settings(database_url: str, auth: bool = False, **extra: Any) -> Settings:
    values: dict[str, Any] = {"DESKBOT_DATABASE_URL": database_url, "DESKBOT_KB_PATH": DEMO_KB_PATH}
    if auth:
        values.update(MicrosoftAppId=APP_ID, MicrosoftAppPassword=APP_PASSWORD)
    values.update(extra)
    return Settings(**values)


@contextlib.asynccontextmanager
async def serve_deskbot(
    settings: Settings,
    cloud: Cloud,
    tuning: Tuning,
    embedder: Embedder | None = None,
    clock: Callable[[], datetime] | None = None,
) -> AsyncIterator[Deskbot]:
    """The real server (web app, core, outbox) with the Teams channel mounted, on a free port.

    The server is built without Teams settings on a non-loopback host, so it does not mount
    Teams itself, and the channel is mounted here with the fake cloud and short timings."""
    plain = settings.model_copy(update={"microsoft_app_id": ""})
    runtime = build(
        plain,
        host=NOT_LOOPBACK,
        embedder=embedder or HashEmbedder(),
        background=False,
        clock=clock,
        today=CLOCK.today,
    )
    prepare_knowledge(plain, runtime.services, import_path=False)
    app = registration(settings, "127.0.0.1")
    assert app is not None
    teams = TeamsChannel(
        settings, runtime.services, runtime.turns, runtime.relay, app, cloud=cloud, tuning=tuning
    )
    add_teams(runtime, teams)
    try:
        async with listening(runtime.app) as url:
            yield Deskbot(runtime, url)
    finally:
        runtime.services.encoder.close()
        runtime.services.conversations.engine.dispose()


# Generous first-reply budget (the machine running the tests may be busy), quick retries.
FAST = Tuning(first_reply_seconds=30.0, retry=RetryPolicy(attempts=4, base_seconds=0.05))


@dataclass
class World:
    """deskbot with Teams mounted, the fake Bot Connector, and Teams' side of the wire."""

    connector: FakeConnector
    azure: AzureFake | None
    bot: Deskbot
    teams: Teams

    async def say(self, person: Person, text: str) -> list[Posted]:
        """A 1:1 message; returns deskbot's replies to it once they are posted."""
        sent = message(person, text)
        answer = await self.teams.send(sent)
        assert answer.status == 201, answer
        return [p for p in self.connector.posted if p.reply_to == sent["id"]]

    def chat(self, person: Person) -> list[Posted]:
        return self.connector.in_conversation(personal(person)["id"])

    async def settle(self) -> None:
        await self.bot.deliver()


@contextlib.asynccontextmanager
async def teams_world(
    database_url: str,
    azure: AzureFake | None = None,
    tuning: Tuning = FAST,
    embedder: Embedder | None = None,
    connector: FakeConnector | None = None,
    clock: Callable[[], datetime] | None = None,
    **settings: Any,
) -> AsyncIterator[World]:
    """deskbot on `database_url` with Teams mounted: authenticated when `azure` is given.
    Pass a `connector` to keep the same Bot Connector across a restart, a `clock` for the
    outbox's backoff."""
    own = connector is None
    connector = connector or await FakeConnector().start()
    cloud = azure.cloud if azure is not None else Cloud()
    try:
        async with (
            serve_deskbot(
                teams_settings(database_url, auth=azure is not None, **settings),
                cloud,
                tuning,
                embedder,
                clock,
            ) as bot,
            ClientSession() as session,
        ):
            teams_ = Teams(session, f"{bot.url}{ROUTE}", connector, azure)
            yield World(connector, azure, bot, teams_)
    finally:
        if own:
            await connector.close()
