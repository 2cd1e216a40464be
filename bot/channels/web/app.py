"""The one aiohttp application: web chat, health, metrics, static assets, and whatever the
configured channels mount (Slack at /slack/events, Teams at /api/messages, the console)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.channels.web.channel import WebChannel
from bot.channels.web.sessions import Signer
from bot.demo_data import DemoUser
from bot.dialogue.services import Services
from bot.dialogue.turns import Turns

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
Mount = Callable[[web.Application], None]

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)


def create_app(
    services: Services,
    turns: Turns,
    signer: Signer,
    *,
    demo_users: tuple[DemoUser, ...] = (),
    identity_header: str | None = None,
    secure_cookies: bool = False,
    mounts: tuple[Mount, ...] = (),
    background: bool = True,
) -> web.Application:
    app = web.Application(middlewares=[_errors, _timing], client_max_size=1024 * 1024)
    app[SERVICES] = services
    app.router.add_get("/healthz", _health)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/", _home)
    app.router.add_static("/static", STATIC, append_version=False)
    WebChannel(
        turns, services.conversations, signer, demo_users, identity_header, secure_cookies
    ).routes(app)
    for mount in mounts:
        mount(app)
    if background:
        app.cleanup_ctx.append(_outbox_dispatcher)
    return app


async def _home(request: web.Request) -> web.Response:
    raise web.HTTPFound("/chat")


async def _outbox_dispatcher(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[SERVICES].outbox.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _health(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    try:
        revision = await asyncio.to_thread(services.knowledge.store.revision)
    except Exception as exc:
        return web.json_response(
            {"status": "error", "database": exc.__class__.__name__}, status=503
        )
    return web.json_response(
        {"status": "ok", "articles": len(services.knowledge.index), "kb_revision": revision}
    )


async def _metrics(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    services.metrics.outbox_depth.set(await asyncio.to_thread(services.outbox.depth))
    body = generate_latest(services.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _timing(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    try:
        return await handler(request)
    finally:
        route = (
            request.match_info.route.resource.canonical
            if request.match_info.route.resource
            else "?"
        )
        request.app[SERVICES].metrics.http_latency.labels(route).observe(
            time.perf_counter() - started
        )


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Users never see exception text or stack traces."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        log.error(
            "unhandled error on %s: %s\n%s",
            request.path,
            exc.__class__.__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        return web.json_response({"error": "internal error"}, status=500)
