"""The knowledge owners' side of unanswered questions: clusters, and the three things to do
with one (link a question to an existing article, start a draft, dismiss), plus the fixes
made earlier with whether each gap closed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime

from aiohttp import web

from bot.console.articles import reason_of
from bot.console.context import Console, account_of, audit, console_of
from bot.console.gaps import ClusterView, FixOutcome, clusters
from bot.console.publishing import Check
from bot.console.render import page, refusal
from bot.redaction import redact_text
from retrieval.articles import Article, Status
from retrieval.gaps import Gap
from retrieval.store import Change

MAX_QUESTION = 300
MAX_OPEN_GAPS = 3000  # the most recent ones; older gaps still count once fixed
DRAFT_REVIEW_DAYS = 180


def _data(console: Console) -> tuple[list[ClusterView], list[FixOutcome]]:
    now = datetime.now(UTC)
    gaps = console.services.gaps.gaps("open", latest=MAX_OPEN_GAPS)
    views = clusters(gaps, console.embedder, console.services.knowledge, now)
    fixes = console.fixes.outcomes(console.fixes.recent(), console.embedder)
    return views, fixes


async def _render(
    request: web.Request,
    *,
    status: int = 200,
    refused: Check | None = None,
    tried: str = "",
    attempt: Mapping[str, str] | None = None,
) -> web.Response:
    console = console_of(request)
    views, fixes = await asyncio.to_thread(_data, console)
    articles = sorted(
        (a for a in console.services.knowledge.articles() if a.status is Status.VALIDATED),
        key=lambda a: a.title.lower(),
    )
    return page(
        request,
        "gaps.html",
        http_status=status,
        clusters=views,
        fixes=fixes,
        articles=articles,
        refused=refused,
        tried=tried,
        attempt=attempt or {},
        now=datetime.now(UTC),
    )


async def gaps_page(request: web.Request) -> web.StreamResponse:
    return await _render(request)


async def _chosen(request: web.Request, form: Mapping[str, object]) -> list[Gap]:
    """The open gaps named by the form; someone else may have acted on some meanwhile."""
    raw = form.get("gap_ids")
    try:
        ids = {int(x) for x in str(raw or "").split(",") if x.strip()}
    except ValueError:
        raise refusal(request, 400, "The cluster was not recognised.") from None
    services = console_of(request).services
    chosen = [g for g in await asyncio.to_thread(services.gaps.gaps, "open") if g.id in ids]
    if not chosen:
        raise refusal(request, 409, "Someone has already acted on these questions.")
    return chosen


async def _close(request: web.Request, gaps: list[Gap], status: str, resolution: str) -> None:
    services = console_of(request).services
    await asyncio.to_thread(services.gaps.close, [g.id for g in gaps], status, resolution)


async def link(request: web.Request) -> web.StreamResponse:
    """Add a question as an alternative phrasing of an article: answered at once."""
    console = console_of(request)
    form = await request.post()
    gaps = await _chosen(request, form)
    question = redact_text(str(form.get("question", ""))).strip()
    if not question or len(question) > MAX_QUESTION:
        raise refusal(request, 400, f"The question must have 1 to {MAX_QUESTION} characters.")
    article = console.services.knowledge.article(str(form.get("article_id", "")))
    if article is None or article.status is not Status.VALIDATED:
        raise refusal(request, 400, "Choose a validated article.")
    override = reason_of(form, "override_reason")
    if str(form.get("override", "")) and not override:
        raise refusal(request, 400, "Publishing anyway needs a written reason.")
    known = {q.lower() for q in article.questions}
    if question.lower() not in known:
        changed = replace(article, questions=(*article.questions, question))
        change = Change(account_of(request).name, "link", f"linked the question '{question}'")
        async with console.publishing:
            check, report = await asyncio.to_thread(
                console.publisher.publish, [changed], change, override
            )
        if report is None:
            await audit(request, "link_refused", article.id, {"failures": len(check.failures)})
            return await _render(
                request,
                status=409,
                refused=check,
                tried=article.id,
                attempt={"gap_ids": str(form.get("gap_ids", "")), "question": question},
            )
        if not check.ok:
            await audit(
                request,
                "override",
                article.id,
                {"action": "link", "failures": len(check.failures), "reason": override},
            )
    await _close(request, gaps, "fixed", f"added to article {article.id}")
    actor = account_of(request).name
    await asyncio.to_thread(console.fixes.record, actor, "linked", article.id, gaps)
    await audit(request, "linked", article.id, {"gaps": len(gaps)})
    raise web.HTTPSeeOther("/console/gaps?done=linked")


def slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words)[:60].strip("-") or "article"


def free_id(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


async def draft(request: web.Request) -> web.StreamResponse:
    """Start a draft article from a cluster, owned by the signed-in owner."""
    console = console_of(request)
    form = await request.post()
    gaps = await _chosen(request, form)
    questions = tuple(dict.fromkeys(g.question for g in gaps))[:10]
    kb = console.services.knowledge
    article = Article(
        id=free_id(slug(questions[0]), {a.id for a in kb.articles()}),
        title=questions[0][:1].upper() + questions[0][1:200],
        questions=questions,
        owner=account_of(request).owner_label,
        status=Status.DRAFT,
        review_every_days=DRAFT_REVIEW_DAYS,
    )
    change = Change(account_of(request).name, "draft", "draft started from unanswered questions")
    async with console.publishing:
        await asyncio.to_thread(console.publisher.apply_unchecked, [article], change)
    await _close(request, gaps, "fixed", f"draft article {article.id}")
    actor = account_of(request).name
    await asyncio.to_thread(console.fixes.record, actor, "drafted", article.id, gaps)
    await audit(request, "drafted", article.id, {"gaps": len(gaps)})
    raise web.HTTPSeeOther(f"/console/articles/{article.id}?done=drafted")


async def dismiss(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    gaps = await _chosen(request, form)
    await _close(request, gaps, "dismissed", f"dismissed by {account_of(request).name}")
    await audit(request, "dismissed", "", {"gaps": len(gaps)})
    raise web.HTTPSeeOther("/console/gaps?done=dismissed")
