"""The analytics dashboard (charts as server-rendered SVG) and the CSV export of its tables."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from bot.console.analytics import Dashboard, Period, compute
from bot.console.audit import Entry
from bot.console.charts import bar_chart, line_chart
from bot.console.context import console_of
from bot.console.render import page, refusal, svg
from bot.inbound import FIRST_DAY, LAST_DAY, Invalid, day

MAX_OVERRIDES = 50
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _period(request: web.Request) -> Period:
    try:
        start, end = (day(request.query.get(k), k) for k in ("from", "to"))
        return Period.parse(
            start.isoformat() if start else None,
            end.isoformat() if end else None,
            datetime.now(UTC).date(),
        )
    except (Invalid, ValueError):
        raise refusal(
            request,
            400,
            f"Choose a start and end date (YYYY-MM-DD) from {FIRST_DAY} to {LAST_DAY},"
            " at most 366 days apart.",
        ) from None


async def _board(request: web.Request, gaps: bool = True) -> tuple[Dashboard, dict[str, str]]:
    console = console_of(request)
    period = _period(request)
    services = console.services
    board = await asyncio.to_thread(
        compute, services.conversations.engine, period, console.embedder, None, gaps
    )
    titles = {a.id: a.title for a in services.knowledge.articles()}
    return board, titles


def charts(board: Dashboard, titles: dict[str, str]) -> dict[str, Any]:
    days = [d.day for d in board.daily]
    return {
        "daily": svg(
            line_chart(
                "chart-daily",
                "Conversations, questions and answers per day",
                days,
                [
                    ("conversations", [d.conversations for d in board.daily]),
                    ("questions", [d.questions for d in board.daily]),
                    ("answered automatically", [d.answered for d in board.daily]),
                    ("handoffs", [d.handoffs for d in board.daily]),
                ],
            )
        ),
        "handoffs": svg(
            bar_chart(
                "chart-handoffs",
                "Handoffs by reason",
                [(r.replace("_", " "), n) for r, n in board.handoffs],
            )
        ),
        "articles": svg(
            bar_chart(
                "chart-articles",
                "Top articles by automatic answers",
                [(titles.get(a.article_id, a.article_id), a.answers) for a in board.articles],
            )
        ),
    }


async def _overrides(request: web.Request, board: Dashboard) -> list[Entry]:
    """Changes published although the check found questions they break, with the reason."""
    entries = await asyncio.to_thread(
        console_of(request).audit.entries, action="override", limit=MAX_OVERRIDES
    )
    start, end = board.period.start, board.period.end
    return [e for e in entries if start <= e.at.date() <= end]


async def dashboard_page(request: web.Request) -> web.StreamResponse:
    board, titles = await _board(request)
    return page(
        request,
        "dashboard.html",
        board=board,
        titles=titles,
        overrides=await _overrides(request, board),
        charts=charts(board, titles),
        range_query=f"from={board.period.start}&to={board.period.end}",
    )


def tables(
    board: Dashboard, titles: dict[str, str]
) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Every dashboard table, as CSV headers and rows."""

    def pct(value: float | None) -> str:
        return "" if value is None else f"{value:.4f}"

    def seconds(value: timedelta | None) -> str:
        return "" if value is None else f"{value.total_seconds():.0f}"

    return {
        "summary": (
            ["metric", "value"],
            [
                ["conversations", board.conversations],
                ["questions", board.questions],
                ["answered_automatically", board.answered],
                ["automated_answer_rate", pct(board.automated_rate)],
                ["honestly_deflected", board.deflected],
                ["honest_deflection_rate", pct(board.deflection_rate)],
                ["deflection_window_complete", board.deflection_final],
                ["helpful", board.helpful],
                ["not_helpful", board.not_helpful],
                ["helpful_rate", pct(board.helpful_rate)],
                ["median_seconds_to_claim", seconds(board.median_claim)],
                ["median_seconds_to_resolve", seconds(board.median_resolve)],
            ],
        ),
        "daily": (
            ["date", "conversations", "questions", "answered_automatically", "handoffs"],
            [
                [d.day.isoformat(), d.conversations, d.questions, d.answered, d.handoffs]
                for d in board.daily
            ],
        ),
        "handoffs": (["reason", "handoffs"], [[r, n] for r, n in board.handoffs]),
        "articles": (
            ["article_id", "title", "answers", "helpful", "not_helpful"],
            [
                [a.article_id, titles.get(a.article_id, ""), a.answers, a.helpful, a.not_helpful]
                for a in board.articles
            ],
        ),
        "gaps": (
            ["example_question", "questions", "still_open", "nearest_article"],
            [[g.example, g.size, g.open, g.nearest_article or ""] for g in board.gaps],
        ),
    }


def _cell(value: Any) -> Any:
    """Cells that a spreadsheet would run as a formula start with an apostrophe instead."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


async def export_csv(request: web.Request) -> web.StreamResponse:
    wanted = request.match_info["table"]
    board, titles = await _board(request, gaps=wanted == "gaps")
    table = tables(board, titles).get(wanted)
    if table is None:
        raise refusal(request, 404, "There is no such table.")
    header, rows = table
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    name = f"deskbot-{wanted}-{board.period.start}-{board.period.end}.csv"
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
