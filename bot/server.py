"""The one aiohttp application: health and readiness, metrics, the error and timing middlewares,
the outbox dispatcher and the inbox worker. What it serves besides is mounted by the composition
root (bot.wiring): the channels (web chat at /chat, Slack at /slack/events, Teams at
/api/messages) and the console."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from bot.db import SchemaState, SchemaStatus, schema_status
from bot.dialogue.faults import transient
from bot.dialogue.services import Services
from bot.failures import log_failure
from bot.lifecycle import Lifecycle, Probe

log = logging.getLogger(__name__)
Mount = Callable[[web.Application], None]  # adds routes (and lifetimes) to the application

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
LIFECYCLE: web.AppKey[Lifecycle] = web.AppKey("lifecycle", Lifecycle)
PROBE_SECONDS = 1.0  # readiness waits this long for the database, whatever it does
HEALTH_SECONDS = 0.3  # liveness only reports the database: it waits less

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


@dataclass
class _Probes:
    database: Probe[None]
    schema: Probe[SchemaStatus]


PROBES: web.AppKey[_Probes] = web.AppKey("probes", _Probes)


def create_app(services: Services, lifecycle: Lifecycle | None = None) -> web.Application:
    app = web.Application(
        middlewares=[_security_headers, _errors, _timing], client_max_size=1024 * 1024
    )
    app[SERVICES] = services
    app[LIFECYCLE] = lifecycle or Lifecycle(started=True)
    engine = services.conversations.engine

    def ping() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    app[PROBES] = _Probes(
        Probe(ping, PROBE_SECONDS), Probe(lambda: schema_status(engine), PROBE_SECONDS)
    )
    app.router.add_get("/healthz", _health)
    app.router.add_get("/readyz", _ready)
    app.router.add_get("/metrics", _metrics)
    app.on_cleanup.append(_close_probes)
    return app


async def _close_probes(app: web.Application) -> None:
    app[PROBES].database.close()
    app[PROBES].schema.close()


async def inbox_worker(app: web.Application) -> AsyncIterator[None]:
    """Take over and replay accepted events while the server runs (`app.cleanup_ctx`)."""
    task = asyncio.create_task(app[SERVICES].inbox.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def outbox_dispatcher(app: web.Application) -> AsyncIterator[None]:
    """Deliver the outbox while the server runs (`app.cleanup_ctx`); append it after the
    channels, so it starts after them and stops before them."""
    task = asyncio.create_task(app[SERVICES].outbox.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _health(request: web.Request) -> web.Response:
    """Liveness: the process answers, at once. The database's state is reported, not required
    (a database outage is no reason to restart deskbot)."""
    services = request.app[SERVICES]
    database, _ = await request.app[PROBES].database(HEALTH_SECONDS)
    return web.json_response(
        {
            "status": "ok",
            "database": database,
            "draining": request.app[LIFECYCLE].draining,
            "articles": len(services.knowledge.index),
            "kb_revision": services.knowledge.revision,
        }
    )


async def _ready(request: web.Request) -> web.Response:
    """Readiness: the database answers, the model is loaded, the schema is current, and the
    process is not draining. 503 with what is missing otherwise."""
    lifecycle = request.app[LIFECYCLE]
    database, _ = await request.app[PROBES].database()
    schema = "unknown"
    if database == "ok":
        checked, status = await request.app[PROBES].schema()
        schema = status.state.value if status is not None else checked
    ready = (
        lifecycle.started
        and not lifecycle.draining
        and database == "ok"
        and schema == SchemaState.CURRENT.value
    )
    body = {
        "ready": ready,
        "database": database,
        "schema": schema,
        "model": "loaded" if lifecycle.started else "loading",
        "draining": lifecycle.draining,
    }
    return web.json_response(body, status=200 if ready else 503)


async def _metrics(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    services.metrics.outbox_depth.set(await asyncio.to_thread(services.outbox.depth))
    services.metrics.inbox_depth.set(await asyncio.to_thread(services.inbox.pending))
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
        if transient(exc):  # the database is away: say so, and that trying again will work
            log.warning(
                "a request to %s: database unavailable (%s)", request.path, type(exc).__name__
            )
            return web.json_response(
                {"error": "temporarily unavailable"}, status=503, headers={"Retry-After": "5"}
            )
        log_failure(log, f"a request to {request.path}", exc)
        return web.json_response({"error": "internal error"}, status=500)
