"""Articles for knowledge owners: the list (status, owner, review due, feedback), "my articles
due for review", editing a draft, validating (publishing, after the labeled-question check),
and retiring."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta

from aiohttp import web

from bot.console.accounts import Account
from bot.console.context import account_of, audit, console_of
from bot.console.publishing import Check
from bot.console.render import page, refusal
from bot.redaction import redact_text
from retrieval.articles import Article, Status
from retrieval.loader import ID_PATTERN

DUE_SOON = timedelta(days=30)
DEFAULT_REVIEW_DAYS = 365
LIMITS = {"title": 200, "answer": 2000, "body": 50000, "link": 500}


@dataclass(frozen=True)
class Row:
    article: Article
    helpful: int
    not_helpful: int
    due: str  # "overdue", "soon" or ""


def due_state(article: Article, today: date) -> str:
    due = article.review_due
    if article.status is not Status.VALIDATED or due is None:
        return ""
    if today > due:
        return "overdue"
    return "soon" if due - today <= DUE_SOON else ""


def due_for(account: Account, rows: list[Row]) -> list[Row]:
    """The account's own articles whose review is overdue or due within 30 days."""
    return [r for r in rows if r.due and account.owns(r.article.owner)]


def version(article: Article) -> str:
    """Identifies the stored state a form was made from, to refuse lost updates."""
    return hashlib.sha256(repr(article).encode()).hexdigest()[:16]


async def articles_page(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    knowledge = console.services.knowledge
    counts = await asyncio.to_thread(console.services.gaps.feedback_counts)
    today = knowledge.clock()
    rows = [
        Row(a, *counts.get(a.id, (0, 0)), due_state(a, today))
        for a in sorted(knowledge.articles(), key=lambda a: a.title.lower())
    ]
    mine = due_for(account_of(request), rows)
    status = request.query.get("status", "")
    shown = (
        mine
        if request.query.get("view") == "mine_due"
        else [r for r in rows if not status or r.article.status.value == status]
    )
    return page(
        request,
        "articles.html",
        rows=shown,
        mine=mine,
        view=request.query.get("view", ""),
        status=status if status in {s.value for s in Status} else "",
        statuses=[s.value for s in Status],
    )


def _article(request: web.Request) -> Article:
    article = console_of(request).services.knowledge.article(request.match_info["article_id"])
    if article is None:
        raise refusal(request, 404, "There is no such article.")
    return article


def _form_page(
    request: web.Request,
    article: Article,
    *,
    stored: Article | None = None,
    status: int = 200,
    problems: list[str] | None = None,
    check: Check | None = None,
) -> web.Response:
    """The edit form; after a refused change it shows the edit, versioned as the stored one."""
    return page(
        request,
        "article.html",
        http_status=status,
        article=article,
        stored=stored or article,
        version=version(stored or article),
        problems=problems or [],
        check=check,
        due=due_state(article, console_of(request).services.knowledge.clock()),
    )


async def article_page(request: web.Request) -> web.StreamResponse:
    return _form_page(request, _article(request))


def _field(form: Mapping[str, object], name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def edited(article: Article, form: Mapping[str, object]) -> tuple[Article, list[str]]:
    """The article with the form's fields applied, and what is wrong with them."""
    problems = []
    for name, limit in LIMITS.items():
        if len(_field(form, name)) > limit:
            problems.append(f"{name} is longer than {limit} characters")
    questions = tuple(
        dict.fromkeys(redact_text(line).strip() for line in _field(form, "questions").splitlines())
    )
    tags = tuple(dict.fromkeys(t.strip().lower() for t in _field(form, "tags").split(",")))
    every = _field(form, "review_every_days")
    review_days = article.review_every_days
    if every:
        if every.isdigit() and 0 < int(every) <= 3650:
            review_days = int(every)
        else:
            problems.append("review every: a whole number of days from 1 to 3650")
    link = _field(form, "link")
    if link and not link.startswith(("https://", "http://")):
        problems.append("link: an http(s) address")
    changed = replace(
        article,
        title=_field(form, "title")[: LIMITS["title"]],
        answer=redact_text(_field(form, "answer"))[: LIMITS["answer"]],
        body=redact_text(_field(form, "body"))[: LIMITS["body"]],
        questions=tuple(q[:300] for q in questions if q),
        tags=tuple(t for t in tags if t),
        link=link[: LIMITS["link"]],
        review_every_days=review_days,
    )
    return changed, problems


def publish_problems(article: Article) -> list[str]:
    """What a validated article must have (the same contract as `deskbot kb import`)."""
    problems = []
    if not ID_PATTERN.match(article.id):
        problems.append("id: letters, digits, '.', '_' or '-'")
    if not article.title.strip():
        problems.append("title: missing")
    if not article.answer.strip():
        problems.append("answer: missing (the assistant replies with it)")
    if not article.owner.strip():
        problems.append("owner: missing")
    return problems


def _fresh(request: web.Request, article: Article, form: Mapping[str, object]) -> None:
    if _field(form, "version") != version(article):
        raise refusal(
            request, 409, "The article changed since you opened it. Reload and edit again."
        )


async def save(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    article = _article(request)
    if article.status is not Status.DRAFT:
        raise refusal(request, 409, "Only drafts are saved without publishing.")
    form = await request.post()
    _fresh(request, article, form)
    changed, problems = edited(article, form)
    if problems:
        return _form_page(request, changed, stored=article, status=400, problems=problems)
    async with console.publishing:
        await asyncio.to_thread(console.publisher.apply_unchecked, [changed])
    await audit(request, "draft_saved", article.id)
    raise web.HTTPSeeOther(f"/console/articles/{article.id}?done=saved")


async def publish(request: web.Request) -> web.StreamResponse:
    """Validate: the edit goes live (reviewed today) if no labeled question fails."""
    console = console_of(request)
    article = _article(request)
    if article.status is Status.RETIRED:
        raise refusal(request, 409, "A retired article cannot be published.")
    form = await request.post()
    _fresh(request, article, form)
    changed, problems = edited(article, form)
    changed = replace(
        changed,
        status=Status.VALIDATED,
        reviewed_on=console.services.knowledge.clock(),
        review_every_days=changed.review_every_days or DEFAULT_REVIEW_DAYS,
    )
    problems += publish_problems(changed)
    if problems:
        return _form_page(request, changed, stored=article, status=400, problems=problems)
    async with console.publishing:
        check, report = await asyncio.to_thread(console.publisher.publish, [changed])
    if report is None:
        await audit(request, "publish_refused", article.id, {"failures": len(check.failures)})
        return _form_page(request, changed, stored=article, status=409, check=check)
    detail = {"checked": check.checked, "new_answers": len(check.new_answers)}
    await audit(request, "published", article.id, detail)
    done = "published_relabel" if check.new_answers else "published"
    raise web.HTTPSeeOther(f"/console/articles/{article.id}?done={done}")


async def retire(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    article = _article(request)
    form = await request.post()
    _fresh(request, article, form)
    if article.status is not Status.RETIRED:
        async with console.publishing:
            await asyncio.to_thread(
                console.publisher.apply_unchecked, [replace(article, status=Status.RETIRED)]
            )
        await audit(request, "retired", article.id)
    raise web.HTTPSeeOther(f"/console/articles/{article.id}?done=retired")
