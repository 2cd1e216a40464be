"""The web chat: a page and a small JSON API over the dialogue core, and the assets at /static
(the stylesheet is the console's too).

The browser sends a message and polls the transcript for new lines, so an agent's reply
reaches it the same way as the assistant's. Identity comes from the signed session: a demo
sign-in on a local demo, or the header of the single sign-on proxy in production.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.channels.web.sessions import ChatSession, Signer
from bot.channels.web.store import SignedOut
from bot.channels.web.templates import render
from bot.demo_data import DemoUser
from bot.dialogue import wording
from bot.dialogue.conversations import ConversationStore, StoredMessage
from bot.dialogue.faults import transient
from bot.dialogue.inbox import Entry
from bot.dialogue.messages import Identity, IncomingMessage
from bot.dialogue.turns import Turns
from bot.inbound import (
    MAX_ACTION,
    MAX_TEXT,
    Invalid,
    bounded,
    number_in,
    read_form,
    read_json,
    same_origin,
)
from bot.inbound import whole_number as number

CHANNEL = "web"
STATIC = Path(__file__).parent / "static"
COOKIE = "deskbot_chat"
MAX_EMAIL = 320  # the longest an e-mail address can be


@dataclass
class WebChannel:
    """The `Channel` at /chat. Its clients poll the transcript, so nothing is pushed to it."""

    name = CHANNEL
    turns: Turns
    conversations: ConversationStore
    signer: Signer
    demo_users: tuple[DemoUser, ...] = ()
    identity_header: str | None = None
    secure_cookies: bool = False
    public_url: str = ""
    signed_out: SignedOut | None = None

    reply_seconds: float = 20.0  # how long a post waits for its turn before "kept"

    def mount(self, app: web.Application) -> None:
        self.turns.s.inbox.register(CHANNEL, self.resume, polled=True)
        app.router.add_get("/", _home)
        app.router.add_static("/static", STATIC, append_version=False)
        app.router.add_get("/chat", self.page)
        app.router.add_post("/chat/session", self.sign_in)
        app.router.add_post("/chat/sign-out", self.sign_out)
        app.router.add_post("/chat/api/messages", self.send)
        app.router.add_get("/chat/api/messages", self.poll)
        app.router.add_post("/chat/api/new", self.new_conversation)

    # -- identity ------------------------------------------------------------------------------

    async def _session(self, request: web.Request) -> ChatSession | None:
        session = self.signer.session(request.cookies.get(COOKIE))
        if (
            session is not None
            and self.signed_out is not None
            and await asyncio.to_thread(self.signed_out.ended, session.sid)
        ):
            session = None  # signed out: a replayed cookie is worth nothing
        if self.identity_header:
            email = request.headers.get(self.identity_header, "").strip().lower()
            if not email or len(email) > MAX_EMAIL:
                return None
            if session is None or session.email != email:
                return ChatSession(secrets.token_urlsafe(16), email, email, None, time.time())
        return session

    def _guest(self) -> ChatSession:
        sid = secrets.token_urlsafe(16)
        return ChatSession(sid, f"web-guest:{sid}", None, None, time.time())

    def _set_cookie(self, response: web.StreamResponse, session: ChatSession) -> None:
        response.set_cookie(
            COOKIE,
            self.signer.token(session),
            httponly=True,
            samesite="Lax",
            secure=self.secure_cookies,
            path="/chat",
        )

    # -- pages ---------------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        session = await self._session(request)
        if session is None and self.demo_users:
            return web.Response(
                text=render("chat_sign_in.html", users=self.demo_users), content_type="text/html"
            )
        if session is None and self.identity_header:
            raise web.HTTPUnauthorized(text="Sign in through the company portal to use the chat.")
        session = session or self._guest()
        response = web.Response(
            text=render("chat.html", session=session, demo=bool(self.demo_users)),
            content_type="text/html",
        )
        self._set_cookie(response, session)
        return response

    async def sign_in(self, request: web.Request) -> web.Response:
        """Demo sign-in: pick one of the demo employees (only on a local demo)."""
        if not self.demo_users:
            raise web.HTTPNotFound()
        self._same_origin(request)
        try:
            form = await read_form(request)
        except Invalid as exc:
            raise exc.http() from None
        user = next((u for u in self.demo_users if u.email == form.get("email")), None)
        if user is None:
            raise web.HTTPBadRequest(text="Unknown demo user.")
        session = ChatSession(
            secrets.token_urlsafe(16), user.email, user.email, user.name, time.time()
        )
        response = web.HTTPSeeOther("/chat")
        self._set_cookie(response, session)
        raise response

    async def sign_out(self, request: web.Request) -> web.Response:
        """Ends the session on the server too, so a copy of the cookie stops working."""
        self._same_origin(request)
        session = self.signer.session(request.cookies.get(COOKIE))
        if session is not None and self.signed_out is not None:
            await asyncio.to_thread(
                self.signed_out.end, session.sid, session.issued, self.signer.max_age
            )
        response = web.HTTPSeeOther("/chat")
        response.del_cookie(COOKIE, path="/chat")
        raise response

    # -- API -----------------------------------------------------------------------------------

    def _same_origin(self, request: web.Request) -> None:
        if not same_origin(request, self.public_url):
            raise web.HTTPForbidden(text="Cross-site request refused.")

    async def _api_session(self, request: web.Request) -> ChatSession:
        if request.method == "POST":
            # JSON only: a cross-site form cannot send it without a CORS preflight we never allow
            if request.content_type != "application/json":
                raise web.HTTPUnsupportedMediaType(text="Send JSON.")
            self._same_origin(request)
        session = await self._session(request)
        if session is None:
            raise web.HTTPUnauthorized(text="No chat session; open /chat first.")
        return session

    async def send(self, request: web.Request) -> web.Response:
        session = await self._api_session(request)
        try:  # everything is checked before the turn is stored
            body: Any = await read_json(request)
            if not isinstance(body, dict):
                raise Invalid("expected a JSON object")
            text = bounded(body.get("text"), "text", MAX_TEXT) or ""
            action = bounded(body.get("action"), "action", MAX_ACTION) or None
            after = number(body.get("after", 0), "after")
        except Invalid as exc:
            raise exc.http() from None
        if not text.strip() and not action:
            raise web.HTTPBadRequest(text="Empty message.")
        identity = Identity(session.user_id, session.email, session.name)
        message = IncomingMessage(
            CHANNEL, session.sid, identity, text, action, reference={"sid": session.sid}
        )
        inbox = self.turns.s.inbox
        accepted = await inbox.receive(message)
        if accepted is None or accepted.entry is None:
            return self._kept(accepted is None)
        entry = accepted.entry
        replies = await inbox.process(
            entry, self.turns.handle(entry.message, entry), within=self.reply_seconds
        )
        if replies is None:  # in the inbox, answered once the database is back
            return self._kept(True)
        try:
            return web.json_response({"messages": await self._since(session, after)})
        except Exception as exc:
            if transient(exc):
                return self._kept(False)
            raise

    def _kept(self, kept: bool) -> web.Response:
        """The message is safe but not answered yet: the answer reaches the transcript later."""
        return web.json_response({"messages": [], "kept": kept, "notice": wording.KEPT})

    async def resume(self, entry: Entry) -> None:
        """A post taken over from another process or the spool: the browser polls for it."""
        await self.turns.handle(entry.message, entry)

    async def poll(self, request: web.Request) -> web.Response:
        session = await self._api_session(request)
        try:
            after = number_in(request.query.get("after", "0"), "after")
        except Invalid as exc:
            raise exc.http() from None
        try:
            messages = await self._since(session, after)
        except Exception as exc:
            if transient(exc):
                raise web.HTTPServiceUnavailable(
                    text="Temporarily unavailable; try again.", headers={"Retry-After": "5"}
                ) from None
            raise
        return web.json_response({"messages": messages})

    async def new_conversation(self, request: web.Request) -> web.Response:
        session = await self._api_session(request)
        fresh = ChatSession(
            secrets.token_urlsafe(16), session.user_id, session.email, session.name, time.time()
        )
        response = web.json_response({"ok": True})
        self._set_cookie(response, fresh)
        return response

    async def _since(self, session: ChatSession, after: int) -> list[dict[str, Any]]:
        conversation = await asyncio.to_thread(self.conversations.find, CHANNEL, session.sid)
        if conversation is None:
            return []
        rows = await asyncio.to_thread(self.conversations.messages, conversation.id, after)
        return [_message_json(m) for m in rows]


async def _home(request: web.Request) -> web.Response:
    raise web.HTTPFound("/chat")


def _message_json(m: StoredMessage) -> dict[str, Any]:
    reply = m.data.get("reply")
    return {"id": m.id, "role": m.role, "text": m.text, "at": m.at.isoformat(), "reply": reply}
