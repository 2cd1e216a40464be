"""POST /slack/events: the signature is checked here, before Bolt sees the request.

Bolt logs the whole raw body of a request it rejects, so a password pasted into a forged or
stale request would land in the log; here a rejection logs only why. The check is Slack's:
v0 HMAC-SHA256 over "v0:<timestamp>:<raw body>", timestamp within five minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body

from bot.channels.slack.events import malformed
from bot.inbound import Invalid, check_charset, check_depth, parse_json

log = logging.getLogger(__name__)

REJECTED = {"error": "invalid request"}
MAX_SKEW_SECONDS = 300  # Slack's replay window


def rejection(
    secret: bytes, body: bytes, timestamp: str | None, signature: str | None, now: float
) -> str:
    """Why a request is not from Slack ("" when it is): HMAC-SHA256 over the raw bytes."""
    if not timestamp or not signature:
        return "missing signature headers"
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return "bad timestamp"  # seconds since 1970; anything longer is not a time
    sent_at = int(timestamp)
    if abs(now - sent_at) > MAX_SKEW_SECONDS:
        return "stale timestamp"
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()
    return "" if hmac.compare_digest(expected, signature) else "bad signature"


class EventsEndpoint:
    def __init__(self, app: AsyncApp, signing_secret: str, clock: Callable[[], float] = time.time):
        self.app = app
        self.secret = signing_secret.encode()
        self.clock = clock

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if body.startswith(b"ssl_check=1"):
            return web.Response()  # Slack checking the certificate; nothing to process
        reason = rejection(
            self.secret,
            body,
            request.headers.get("X-Slack-Request-Timestamp"),
            request.headers.get("X-Slack-Signature"),
            self.clock(),
        )
        if reason:
            log.warning("slack: rejected a request (%s, %d bytes)", reason, len(body))
            return web.json_response(REJECTED, status=401)
        try:
            bolt_request = _readable(body, request)
        except Invalid as exc:  # the reason is ours, never the body's words
            log.warning("slack: malformed request (%s, %d bytes)", exc.reason, len(body))
            return web.json_response(
                {"error": f"malformed request: {exc.reason}"}, status=exc.status
            )
        response = await self.app.async_dispatch(bolt_request)
        return await to_aiohttp_response(response)


def _readable(body: bytes, request: web.Request) -> AsyncBoltRequest:
    """The request for Bolt, once its body is known to be well-formed (else `Invalid`)."""
    check_charset(request)
    if request.content_type == "application/json":
        parse_json(body)  # UTF-8 and not nested too deep for the parsers below
    try:
        text = body.decode("utf-8")
        parsed = parse_body(text, request.content_type)
    except Exception:  # Bolt's parser: bad JSON in a form's payload, nesting, ...
        raise Invalid("unreadable body") from None
    check_depth(parsed)  # a form's payload is JSON too
    problem = malformed(parsed)
    if problem is not None:
        raise Invalid(problem)
    try:
        return AsyncBoltRequest(
            body=text, query=request.query_string, headers=dict(request.headers)
        )
    except Exception:
        raise Invalid("unreadable request") from None
