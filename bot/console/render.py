"""Server-rendered console pages (Jinja2, autoescaped; every asset ships in the package)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from bot.console.accounts import ADMINS, AGENTS, EVERYONE, OWNERS, Role
from bot.console.charts import sparkline
from bot.console.context import ACCOUNT, SESSION
from bot.itsm.connection import LABELS as SYSTEM_NAMES

_env = Environment(
    loader=PackageLoader("bot.console", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

# (path, label, roles): the navigation each role sees
NAV: tuple[tuple[str, str, frozenset[Role]], ...] = (
    ("/console/queue", "Queue", AGENTS),
    ("/console/gaps", "Unanswered questions", OWNERS),
    ("/console/articles", "Articles", OWNERS),
    ("/console/try", "Try a question", EVERYONE),
    ("/console/dashboard", "Dashboard", EVERYONE),
    ("/console/audit", "Audit log", ADMINS),
)

# Notices after an action (redirect with ?done=key): never text taken from the request.
NOTICES = {
    "claimed": "You claimed this conversation; the employee has been told a person joined.",
    "claim_lost": "Someone else claimed this conversation first.",
    "replied": "Reply sent to the employee.",
    "noted": "Internal note added (the employee does not see it).",
    "resolved": "Resolved; the employee is back with the assistant.",
    "handed_back": "Handed back to the assistant; the request stays open.",
    "no_conversation": "Raised outside the chat: there is no conversation to hand back.",
    "not_yours": "Claim the conversation first.",
    "closed": "This request is closed.",
    "empty": "Nothing to send: the text was empty.",
    "linked": "The question now answers from the article: the assistant uses it at once.",
    "drafted": "Draft article started from the cluster.",
    "dismissed": "Cluster dismissed.",
    "saved": "Draft saved.",
    "published": "Published: the assistant answers from this version now.",
    "published_relabel": (
        "Published. Some labeled questions marked as having no answer (or another one) are "
        "now answered from this article: update their labels if that is right."
    ),
    "retired": "Article retired: it no longer answers.",
    "rolled_back": "Rolled back: the earlier version is current again (as a new version).",
}


def _age(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "—"
    delta = (now or datetime.now(UTC)) - value
    return duration(delta)


def duration(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def span(delta: timedelta | None) -> str:
    """A measured time, rounded to the nearest second under an hour (medians on the
    dashboard): 2 min 50 s, not a floored 2 min."""
    if delta is None:
        return "—"
    seconds = max(round(delta.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    minutes = round(seconds / 60)
    if minutes < 24 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    hours = round(seconds / 3600)
    return f"{hours // 24} d {hours % 24} h"


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def person(requester: str, name: str | None = None) -> str:
    """A requester as agents read it; web-chat guests have no verified identity."""
    if name:
        return name
    return "Guest (web chat)" if requester.startswith("web-guest:") else requester


_env.filters["age"] = _age
_env.filters["person"] = person
_env.filters["when"] = _when
_env.filters["pct"] = _pct
_env.filters["conf"] = lambda value: "—" if value is None else f"{value:.3f}"
_env.filters["duration"] = duration
_env.filters["span"] = span
_env.filters["system_name"] = lambda system: SYSTEM_NAMES.get(system, system)
_env.globals["sparkline"] = lambda values, label: Markup(sparkline(values, label))


def median_basis(count: int, done: str) -> str:
    """What a dashboard median is taken over, so a reader can tell which median it is."""
    if count == 0:
        return f"no request {done} yet"
    if count == 1:
        return f"1 request {done}: its own time"
    middle = "the middle one" if count % 2 else "halfway between the two middle ones"
    return f"of {count} requests {done}; {middle}"


_env.globals["median_basis"] = median_basis


def render(template: str, **context: Any) -> str:
    return _env.get_template(template).render(**context)


def page_html(request: web.Request, template: str, **context: Any) -> str:
    account = request.get(ACCOUNT)
    session = request.get(SESSION)
    nav = [(p, label) for p, label, roles in NAV if account and account.role in roles]
    return render(
        template,
        account=account,
        csrf=session.csrf if session else "",
        nav=nav,
        path=request.path,
        notice=NOTICES.get(request.query.get("done", "")),
        **context,
    )


def page(
    request: web.Request, template: str, *, http_status: int = 200, **context: Any
) -> web.Response:
    """A full console page for the signed-in account (or the sign-in page)."""
    html = page_html(request, template, **context)
    return web.Response(text=html, content_type="text/html", status=http_status)


REFUSALS: dict[int, tuple[type[web.HTTPException], str]] = {
    400: (web.HTTPBadRequest, "That request was not valid"),
    403: (web.HTTPForbidden, "Not allowed"),
    404: (web.HTTPNotFound, "Not found"),
    409: (web.HTTPConflict, "Changed by someone else"),
}


def refusal(request: web.Request, status: int, message: str = "") -> web.HTTPException:
    """An error page to raise; `message` is our own text, never the request's."""
    cls, title = REFUSALS[status]
    html = page_html(request, "error.html", title=title, message=message, code=status)
    return cls(text=html, content_type="text/html")


def fragment(template: str, **context: Any) -> web.Response:
    return web.Response(text=render(template, **context), content_type="text/html")


def svg(markup: str) -> Markup:
    """Chart markup built by bot.console.charts, which escapes every text it embeds."""
    return Markup(markup)
