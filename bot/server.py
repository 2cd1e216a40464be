"""The one aiohttp application: health, metrics, the error and timing middlewares, and the
outbox dispatcher. What it serves besides is mounted by the composition root (bot.wiring): the
channels (web chat at /chat, Slack at /slack/events, Teams at /api/messages) and the console."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.dialogue.services import Services
from bot.failures import log_failure

log = logging.getLogger(__name__)
Mount = Callable[[web.Application], None]  # adds routes (and lifetimes) to the application

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)

# Sent with every response (pages, their APIs, errors); static assets may still be cached.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STATIC_PREFIXES = ("/static/", "/console/static/")


def create_app(services: Services) -> web.Application:
    app = web.Application(
        middlewares=[_security_headers, _errors, _timing], client_max_size=1024 * 1024
    )
    app[SERVICES] = services
    app.router.add_get("/healthz", _health)
    app.router.add_get("/metrics", _metrics)
    return app


async def outbox_dispatcher(app: web.Application) -> AsyncIterator[None]:
    """Deliver the outbox while the server runs (`app.cleanup_ctx`); append it after the
    channels, so it starts after them and stops before them."""
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


def secure(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """Add the security headers a response does not set itself."""
    if response.prepared:
        return
    static = request.path.startswith(STATIC_PREFIXES)
    for name, value in SECURITY_HEADERS.items():
        if not (static and name == "Cache-Control"):
            response.headers.setdefault(name, value)


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        secure(request, exc)
        raise
    secure(request, response)
    return response


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Users never see exception text or stack traces."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        log_failure(log, f"a request to {request.path}", exc)
        return web.json_response({"error": "internal error"}, status=500)
