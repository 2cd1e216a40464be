"""Everything that speaks botbuilder 4.17.1 besides authentication: the /api/messages handler,
the turn, and the calls to the Bot Connector. The rest of the Teams channel works on activity
JSON, so moving to the Microsoft 365 Agents SDK replaces this module and auth.py only.

Our own thin handler instead of `CloudAdapter.process()`, which in 4.17.1 answers 500 to every
invoke with a body (it serialises the body twice), to bad or expired tokens and to a missing
Content-Type.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from aiohttp import web
from botbuilder.core import BotAdapter, InvokeResponse, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
    Entity,
)
from botframework.connector.auth import AuthenticationConstants, ClaimsIdentity, ConnectorFactory
from msrest.exceptions import HttpOperationError

from bot.channels.teams.activity import conversation_id, malformed, not_supported
from bot.channels.teams.auth import App, Cloud, SigningKeys, TokenSource, authentication
from bot.channels.teams.delivery import RateLimiter, RetryPolicy, with_retries
from bot.inbound import Invalid, read_json

log = logging.getLogger(__name__)
T = TypeVar("T")
JSON = Mapping[str, Any]


class Turn:
    """One incoming activity as the rest of the channel sees it: the JSON as received, and the
    ways to answer it."""

    def __init__(
        self, framework: BotFramework, context: TurnContext, activity: JSON, received: float
    ) -> None:
        self.activity = activity
        self.received = received  # the framework's clock when the request came in
        self._framework = framework
        self._context = context

    async def reply(self, activity: JSON) -> str | None:
        """Answer in this conversation (in a channel: in the thread)."""
        outgoing = Activity().deserialize(dict(activity))
        sent = await self._framework.call(
            conversation_id(self.activity), lambda: self._context.send_activity(outgoing)
        )
        return getattr(sent, "id", None)

    async def member(self, user_id: str) -> JSON:
        """The roster entry of a member of this conversation (name, e-mail, UPN, AAD id)."""
        client = self._context.turn_state[BotAdapter.BOT_CONNECTOR_CLIENT_KEY]
        conversation = conversation_id(self.activity)
        raw = await self._framework.call(
            None,
            lambda: client.conversations.get_conversation_member(conversation, user_id, raw=True),
        )
        member = raw.response.json()
        return member if isinstance(member, dict) else {}

    async def respond(self, body: JSON, status: int = 200) -> None:
        """The HTTP response to an invoke (e.g. the updated card after Action.Execute)."""
        response = InvokeResponse(status=status, body=dict(body))
        await self._context.send_activity(
            Activity(type=ActivityTypes.invoke_response, value=response)
        )


OnTurn = Callable[[Turn], Awaitable[None]]


class BotFramework:
    def __init__(
        self,
        app: App,
        cloud: Cloud,
        retry: RetryPolicy,
        limiter: RateLimiter,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # msrest drops an entity's fields beyond "type" unless told to send them, and Teams'
        # AI-generated label lives in those fields (idempotent, for the whole process)
        Entity.enable_additional_properties_sending()
        self.app = app
        self.tokens = TokenSource(app, cloud)
        self._keys = SigningKeys(cloud)
        self._auth = authentication(app, cloud, self.tokens)
        self._adapter = CloudAdapter(self._auth)
        claims = {AuthenticationConstants.AUDIENCE_CLAIM: app.app_id}
        claims[AuthenticationConstants.APP_ID_CLAIM] = app.app_id
        self._connectors = _Connectors(
            self._auth.create_connector_factory(ClaimsIdentity(claims, True))
        )
        self._retry = retry
        self._limiter = limiter
        self.clock = clock

    @property
    def auth_enabled(self) -> bool:
        return bool(self.app.app_id)

    async def handle(self, request: web.Request, on_turn: OnTurn) -> web.StreamResponse:
        """415 wrong content type, 400 unreadable activity, 401 any authentication failure,
        then the turn: the invoke response as JSON, or 201."""
        received = self.clock()
        try:
            body = await read_json(request)
        except Invalid as exc:
            log.info("teams: rejected a request: %s", exc.reason)
            return exc.json()
        problem = malformed(body)
        if problem is None:
            try:
                activity = Activity().deserialize(body)
            except Exception:
                problem = "not an activity"
        if problem is not None:
            log.info("teams: rejected an activity: %s", problem)
            return _error(400, problem)
        try:
            authenticated = await self._authenticate(activity, request.headers.get("Authorization"))
        except Exception as exc:
            log.info("teams: authentication failed: %s", exc.__class__.__name__)
            return _error(401, "unauthorized")
        authenticated.connector_factory = self._connectors

        async def logic(context: TurnContext) -> None:
            await on_turn(Turn(self, context, body, received))

        invoke = await self._adapter.process_activity(authenticated, activity, logic)
        if invoke is None:
            return web.Response(status=201)
        if invoke.status == 501:  # an invoke nobody answered: say so, as Teams expects
            return web.json_response(not_supported(body))
        if invoke.body is None:
            return web.Response(status=int(invoke.status))
        return web.json_response(invoke.body, status=int(invoke.status))

    async def _authenticate(self, activity: Any, header: str | None) -> Any:
        if not self.auth_enabled:  # local mode: nothing to check a token against
            header = None
        else:
            await self._keys.warm()
        return await self._auth.authenticate_request(activity, header or None)

    # -- calls to the Bot Connector outside a turn --------------------------------------------

    async def send(self, reference: JSON, activity: JSON) -> str | None:
        """A proactive message: a new message in a conversation we were in before."""
        ref = ConversationReference().deserialize(dict(reference))
        outgoing = TurnContext.apply_conversation_reference(
            Activity().deserialize(dict(activity)), ref
        )
        outgoing.reply_to_id = None
        return await self._send(ref.service_url, ref.conversation.id, outgoing)

    async def post(self, service_url: str, conversation: str, activity: JSON) -> str | None:
        """A new message in a conversation known by its id (e.g. a channel thread)."""
        return await self._send(service_url, conversation, Activity().deserialize(dict(activity)))

    async def _send(self, service_url: str, conversation: str, activity: Any) -> str | None:
        client = await self._connectors.create(service_url)
        sent = await self.call(
            conversation, lambda: client.conversations.send_to_conversation(conversation, activity)
        )
        return getattr(sent, "id", None)

    async def start_thread(
        self, reference: JSON, channel_id: str, tenant_id: str | None, activity: JSON
    ) -> tuple[str, str]:
        """A new post in a Teams channel; returns (thread conversation id, post id)."""
        ref = ConversationReference().deserialize(dict(reference))
        parameters = ConversationParameters(
            is_group=True,
            bot=ref.bot,
            channel_data={"channel": {"id": channel_id}},
            activity=Activity().deserialize(dict(activity)),
            tenant_id=tenant_id,
        )
        client = await self._connectors.create(ref.service_url)
        created = await self.call(
            channel_id, lambda: client.conversations.create_conversation(parameters)
        )
        return str(created.id), str(created.activity_id)

    async def update(
        self, service_url: str, conversation: str, activity_id: str, activity: JSON
    ) -> None:
        outgoing = Activity().deserialize(dict(activity))
        outgoing.id = activity_id
        outgoing.conversation = ConversationAccount(id=conversation)
        client = await self._connectors.create(service_url)
        await self.call(
            conversation,
            lambda: client.conversations.update_activity(conversation, activity_id, outgoing),
        )

    async def call(self, pace: str | None, make: Callable[[], Awaitable[T]]) -> T:
        """One Bot Connector call: token ready, within the conversation's rate, retried when
        Teams asks for it."""
        await self.tokens.warm()
        if pace is not None:
            await self._limiter.wait(pace)
        return await with_retries(make, self._retry, _status_of)

    async def close(self) -> None:
        await self._connectors.close()


class _Connectors(ConnectorFactory):  # type: ignore[misc]
    """One connector client per service URL, kept across turns (botbuilder makes a new one, and
    a new HTTP session, every turn), with the library's blocking retries off: `call` retries
    without holding a worker thread."""

    def __init__(self, inner: Any, limit: int = 32) -> None:
        self._inner = inner
        self._limit = limit
        self._clients: OrderedDict[str, Any] = OrderedDict()
        self._creating = asyncio.Lock()

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        async with self._creating:  # two turns at once must not both make one
            client = self._clients.get(service_url)
            if client is None:
                client = await self._inner.create(service_url, audience)
                client.config.retry_policy.retries = 0
                self._clients[service_url] = client
                if len(self._clients) > self._limit:
                    _, oldest = self._clients.popitem(last=False)
                    await oldest.__aexit__(None, None, None)
            self._clients.move_to_end(service_url)
            return client

    async def close(self) -> None:
        while self._clients:
            _, client = self._clients.popitem()
            await client.__aexit__(None, None, None)


def _status_of(exc: BaseException) -> tuple[int | None, float | None]:
    if not isinstance(exc, HttpOperationError) or exc.response is None:
        return None, None
    status = exc.response.status_code
    header = exc.response.headers.get("Retry-After")
    try:
        return status, float(header) if header else None
    except ValueError:  # an HTTP date: fall back to our own backoff
        return status, None


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)
