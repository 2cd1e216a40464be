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
from bot.console.versions import entries
from bot.redaction import redact_text
from retrieval.articles import Article, Status
from retrieval.loader import ID_PATTERN
from retrieval.store import Change, Version

MAX_REASON = 500

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
    tried: object = None,
    history: list[Version] | None = None,
) -> web.Response:
    """The edit form; after a refused change it shows the edit, versioned as the stored one."""
    current = stored or article
    return page(
        request,
        "article.html",
        http_status=status,
        article=article,
        stored=current,
        version=version(current),
        problems=problems or [],
        check=check,
        tried=tried,
        history=entries(history or []),
        due=due_state(article, console_of(request).services.knowledge.clock()),
    )


async def _history(request: web.Request, article: Article) -> list[Version]:
    store = console_of(request).services.knowledge.store
    return await asyncio.to_thread(store.history, article.id)


async def article_page(request: web.Request) -> web.StreamResponse:
    article = _article(request)
    return _form_page(request, article, history=await _history(request, article))


def reason_of(form: Mapping[str, object], name: str = "reason") -> str:
    """An owner's written reason: one line, redacted, bounded."""
    return " ".join(redact_text(_field(form, name)).split())[:MAX_REASON]


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
    change = Change(account_of(request).name, "console", reason_of(form) or "saved draft")
    async with console.publishing:
        await asyncio.to_thread(console.publisher.apply_unchecked, [changed], change)
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
    override = reason_of(form, "override_reason")
    if _field(form, "override") and not override:
        problems = ["publish anyway: write why (the reason goes to the audit log)"]
        return _form_page(request, changed, stored=article, status=400, problems=problems)
    change = Change(account_of(request).name, "console", reason_of(form) or "published")
    return await publish_change(request, article, changed, change, override)


async def publish_change(
    request: web.Request, stored: Article, changed: Article, change: Change, override: str
) -> web.StreamResponse:
    """Publish after the check; refused: the form again with the questions and what to do."""
    console = console_of(request)
    async with console.publishing:
        check, report = await asyncio.to_thread(
            console.publisher.publish, [changed], change, override
        )
    if report is None:
        await audit(request, "publish_refused", stored.id, {"failures": len(check.failures)})
        return _form_page(
            request,
            changed,
            stored=stored,
            status=409,
            check=check,
            history=await _history(request, stored),
        )
    if not check.ok:
        await audit(
            request,
            "override",
            stored.id,
            {"action": change.via, "failures": len(check.failures), "reason": override},
        )
    detail = {"checked": check.checked, "new_answers": len(check.new_answers)}
    await audit(
        request, "published" if change.via != "rollback" else "rolled_back", stored.id, detail
    )
    done = "published_relabel" if check.new_answers else "published"
    if change.via == "rollback":
        done = "rolled_back"
    raise web.HTTPSeeOther(f"/console/articles/{stored.id}?done={done}")


async def rollback(request: web.Request) -> web.StreamResponse:
    """Make an earlier version current again: a new version, through the same check."""
    article = _article(request)
    form = await request.post()
    _fresh(request, article, form)
    number = _field(form, "to_version")
    store = console_of(request).services.knowledge.store
    old = (
        await asyncio.to_thread(store.version, article.id, int(number))
        if number.isdigit()
        else None
    )
    if old is None:
        raise refusal(request, 400, "There is no such version of this article.")
    target = replace(old.article, source=article.source)
    reason = f"rolled back to version {old.number}"
    written = reason_of(form)
    change = Change(
        account_of(request).name, "rollback", f"{reason}: {written}" if written else reason
    )
    override = reason_of(form, "override_reason")
    if target.status is not Status.VALIDATED:
        console = console_of(request)
        async with console.publishing:
            await asyncio.to_thread(console.publisher.apply_unchecked, [target], change)
        await audit(request, "rolled_back", article.id, {"to": old.number})
        raise web.HTTPSeeOther(f"/console/articles/{article.id}?done=rolled_back")
    return await publish_change(request, article, target, change, override)


async def retire(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    article = _article(request)
    form = await request.post()
    _fresh(request, article, form)
    if article.status is not Status.RETIRED:
        change = Change(account_of(request).name, "console", reason_of(form) or "retired")
        async with console.publishing:
            await asyncio.to_thread(
                console.publisher.apply_unchecked, [replace(article, status=Status.RETIRED)], change
            )
        await audit(request, "retired", article.id)
    raise web.HTTPSeeOther(f"/console/articles/{article.id}?done=retired")


async def try_edit(request: web.Request) -> web.StreamResponse:
    """Try a question on the edit in the form: now, and after publishing it. Nothing is saved;
    the form comes back with the edit."""
    from bot.console.tryout import as_published, question_of, try_question

    console = console_of(request)
    article = _article(request)
    form = await request.post()
    changed, problems = edited(article, form)
    question = question_of(form.get("try_question"))
    if not question:
        problems.append("try a question: write a question")
    if problems:
        return _form_page(request, changed, stored=article, status=400, problems=problems)
    today = console.services.knowledge.clock()
    preview = as_published(changed, today)
    tried = await asyncio.to_thread(try_question, console.publisher, question, [preview])
    return _form_page(
        request, changed, stored=article, tried=tried, history=await _history(request, article)
    )
