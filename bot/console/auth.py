"""Access to the console: deny by default.

Every route is declared once with the roles allowed on it (`Route`); the guard middleware
lets a request through only when its route is in that table and the signed-in account has
one of those roles. State-changing requests also need the session's CSRF token (the sign-in
form has its own, tied to a pre-sign-in cookie), or they get 403.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web

from bot.console.accounts import Account, Role
from bot.console.context import ACCOUNT, SESSION, address_of, audit, console_of
from bot.console.render import page, refusal
from bot.console.sessions import Session
from bot.inbound import Invalid, number_in, read_form
from bot.server import secure

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

COOKIE = "deskbot_console"
PRE_COOKIE = "deskbot_console_pre"  # ties the sign-in form's CSRF token to this browser
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_PASSWORD = 1024
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
PUBLIC: frozenset[Role] = frozenset()
HOME = {
    Role.AGENT: "/console/queue",
    Role.KNOWLEDGE_OWNER: "/console/gaps",
    Role.ADMIN: "/console/dashboard",
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    roles: frozenset[Role]  # PUBLIC: no sign-in needed
    api: bool = False  # anonymous callers get 401 rather than a redirect to the sign-in page
    touch: bool = True  # counts as activity for the idle timeout (background polling does not)

    @property
    def public(self) -> bool:
        return not self.roles


TABLE: web.AppKey[dict[int, Route]] = web.AppKey("console_routes", dict)


def add_routes(app: web.Application, routes: tuple[Route, ...], prefix: str = "/console") -> None:
    """Register the routes on the console's sub-application (mounted at `prefix`)."""
    table: dict[int, Route] = {}
    for route in routes:
        path = route.path.removeprefix(prefix)
        registered = app.router.add_route(route.method, path, route.handler)
        table[id(registered)] = route
    app[TABLE] = table


def home_of(account: Account) -> str:
    return HOME[account.role]


# -- the guard --------------------------------------------------------------------------------


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.app[TABLE].get(id(request.match_info.route))
    if route is None:  # not declared: does not exist
        raise web.HTTPNotFound()
    token = request.cookies.get(COOKIE)
    session = await _session(request, token, route.touch)
    try:
        if not route.public:
            _check_role(request, route)
        await _check_input(request)
        if not route.public and request.method not in SAFE_METHODS:
            await _check_csrf(request, session)
        response = await handler(request)
    except web.HTTPException as exc:
        _finish(request, exc, token, session)
        raise
    _finish(request, response, token, session)
    return response


async def _session(request: web.Request, token: str | None, touch: bool) -> Session | None:
    if not token:
        return None
    console = console_of(request)
    session = await asyncio.to_thread(console.sessions.current, token, touch)
    if session is None:
        return None
    account = await asyncio.to_thread(console.accounts.get, session.account_id)
    if account is None or account.disabled:
        await asyncio.to_thread(console.sessions.end, token)
        return None
    request[SESSION] = session
    request[ACCOUNT] = account
    return session


def _check_role(request: web.Request, route: Route) -> None:
    account = request.get(ACCOUNT)
    if account is None:
        if route.api or request.method != "GET":
            raise web.HTTPUnauthorized(text="Sign in to the console first.")
        raise web.HTTPSeeOther(f"/console/sign-in?next={quote(request.path_qs, safe='/')}")
    if account.role not in route.roles:
        raise refusal(request, 403, "Your role does not give access to this page.")


async def _check_input(request: web.Request) -> None:
    """Ids in the path within what the database stores, and a form body that parses (read
    here once; handlers get it from aiohttp's cache): a 400 naming the problem otherwise."""
    try:
        for key, value in request.match_info.items():
            if key.endswith("_id") and value.isdigit():
                number_in(value, key.replace("_", " "), 1)
        if request.method not in SAFE_METHODS and request.content_type in FORMS:
            await read_form(request)
    except Invalid as exc:
        raise refusal(request, 400, exc.reason) from None


async def _check_csrf(request: web.Request, session: Session | None) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in FORMS:
        form = await request.post()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if session is None or not sent or not hmac.compare_digest(sent, session.csrf):
        raise web.HTTPForbidden(text="Missing or wrong CSRF token; reload the page.")


def _finish(
    request: web.Request, response: web.StreamResponse, token: str | None, session: Session | None
) -> None:
    if token and session is None and COOKIE not in response.cookies:
        response.del_cookie(COOKIE, path="/console")  # ended or expired: forget it
    secure(request, response)


# -- signing in and out -----------------------------------------------------------------------


def _login_token(key: bytes, nonce: str) -> str:
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()


def _safe_next(value: str | None) -> str | None:
    if value and value.startswith("/console/") and "//" not in value and "\\" not in value:
        return value
    return None


def _set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="Lax" if name == COOKIE else "Strict",
        secure=console_of(request).secure_cookies,
        path="/console",
    )


async def home(request: web.Request) -> web.StreamResponse:
    account = request.get(ACCOUNT)
    raise web.HTTPSeeOther(home_of(account) if account else "/console/sign-in")


async def sign_in_page(request: web.Request) -> web.StreamResponse:
    """The form, also when signed in: signing in again replaces the session (switching
    accounts), and any id the browser held is ended."""
    return _sign_in_form(request)


def _sign_in_form(
    request: web.Request, *, error: str | None = None, status: int = 200, name: str = ""
) -> web.Response:
    console = console_of(request)
    nonce = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
    response = page(
        request,
        "sign_in.html",
        http_status=status,
        login_csrf=_login_token(console.login_key, nonce),
        next=_safe_next(request.query.get("next")) or "",
        error=error,
        name=name,
    )
    _set_cookie(request, response, PRE_COOKIE, nonce)
    return response


async def sign_in(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    form = await request.post()
    nonce = request.cookies.get(PRE_COOKIE, "")
    sent = form.get(CSRF_FIELD)
    expected = _login_token(console.login_key, nonce)
    if not nonce or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise web.HTTPForbidden(text="Missing or wrong CSRF token; reload the sign-in page.")
    name = str(form.get("name", "")).strip().lower()[:64]
    password = str(form.get("password", ""))
    if len(password) > MAX_PASSWORD:
        raise refusal(request, 400, f"The password is longer than {MAX_PASSWORD} characters.")
    address = address_of(request)
    attempt = await asyncio.to_thread(console.limit.begin, name, address)
    if attempt.wait is not None:
        minutes = max(1, round(attempt.wait.total_seconds() / 60))
        response = _sign_in_form(
            request,
            error=f"Too many failed attempts. Try again in {minutes} min.",
            status=429,
            name=name,
        )
        response.headers["Retry-After"] = str(int(attempt.wait.total_seconds()))
        return response
    if attempt.delay:
        await asyncio.sleep(attempt.delay)  # this name is under attack: slow, never locked
    account = await asyncio.to_thread(console.accounts.verify, name, password)
    if account is None:
        await asyncio.to_thread(
            console.audit.record, name or "-", "sign_in_failed", "", None, address
        )
        return _sign_in_form(request, error="Wrong name or password.", status=401, name=name)
    await asyncio.to_thread(console.limit.succeeded, name, address)
    token, session = await asyncio.to_thread(
        console.sessions.start, account.id, request.cookies.get(COOKIE)
    )
    request[SESSION] = session
    request[ACCOUNT] = account
    await audit(request, "signed_in", account.name)
    target = _safe_next(str(form.get("next", ""))) or home_of(account)
    response = web.HTTPSeeOther(target)
    _set_cookie(request, response, COOKIE, token)
    response.del_cookie(PRE_COOKIE, path="/console")
    raise response


async def sign_out(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    token = request.cookies.get(COOKIE)
    await audit(request, "signed_out", request[ACCOUNT].name)
    if token:
        await asyncio.to_thread(console.sessions.end, token)
    response = web.HTTPSeeOther("/console/sign-in")
    response.del_cookie(COOKIE, path="/console")
    raise response
