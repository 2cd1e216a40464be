"""The audit log page for admins: newest first, filtered by actor or action, paged by id."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.console.context import console_of
from bot.console.render import page, refusal
from bot.inbound import Invalid, number_in

PAGE = 100


async def audit_page(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    actor = request.query.get("actor", "").strip().lower()[:64] or None
    action = request.query.get("action", "").strip()[:32] or None
    before_raw = request.query.get("before", "").strip()
    try:
        before = number_in(before_raw, "before", 1) if before_raw else None
    except Invalid as exc:
        raise refusal(request, 400, exc.reason) from None
    entries = await asyncio.to_thread(
        console.audit.entries, actor=actor, action=action, before=before, limit=PAGE
    )
    return page(
        request,
        "audit.html",
        entries=entries,
        actor=actor or "",
        action=action or "",
        older=entries[-1].id if len(entries) == PAGE else None,
    )
