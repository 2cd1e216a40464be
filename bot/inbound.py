"""Reading requests at the edge, shared by the channels and the console: a malformed request
is refused with a 4xx naming what is wrong (and the limit, when one was passed) before any work
is stored, and every length is bounded.

Helpers raise `Invalid`; each endpoint turns it into the answer its callers expect
(`Invalid.json()` for APIs, `Invalid.http()` for pages and forms).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from aiohttp import web

MAX_TEXT = 4000  # characters of one message the dialogue core reads
MAX_ACTION = 200  # characters of a button's action
MAX_ID = 200  # characters of an id from a platform: what the id columns hold
MAX_JSON_DEPTH = 64  # nesting of a JSON body (Slack blocks and Teams cards stay well within)
MAX_INT = 2**63 - 1  # the largest id the databases store (BIGINT)
FIRST_DAY = date(2000, 1, 1)  # dates the console accepts in its filters
LAST_DAY = date(2999, 12, 31)
UTF8 = frozenset({"utf-8", "utf8"})


class Invalid(Exception):
    """A request refused for a reason the caller may read."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status

    def json(self) -> web.Response:
        return web.json_response({"error": self.reason}, status=self.status)

    def http(self) -> web.HTTPException:
        """The aiohttp exception to raise, with the reason as plain text."""
        if self.status == 413:
            return web.HTTPRequestEntityTooLarge(0, 0, text=self.reason)
        kind = _STATUS.get(self.status, web.HTTPBadRequest)
        return kind(text=self.reason)


_STATUS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    403: web.HTTPForbidden,
    415: web.HTTPUnsupportedMediaType,
}


# -- bodies -------------------------------------------------------------------------------------


def check_charset(request: web.BaseRequest) -> None:
    charset = request.charset
    if charset and charset.strip().lower() not in UTF8:
        raise Invalid("unsupported charset: send UTF-8", 415)


def parse_json(raw: bytes) -> Any:
    """JSON from raw bytes: UTF-8, at most MAX_JSON_DEPTH levels deep."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("the body is not UTF-8") from None
    try:
        value = json.loads(text)
    except RecursionError:  # far deeper than allowed: the parser gave up
        raise Invalid(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:
        raise Invalid("invalid JSON") from None
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH:
        check_depth(value)
    return value


def check_depth(value: Any) -> None:
    """Refuse parsed JSON nested deeper than MAX_JSON_DEPTH (what reads it later recurses),
    level by level."""
    level, depth = [value] if isinstance(value, (dict, list)) else [], 1
    while level:
        if depth > MAX_JSON_DEPTH:
            raise Invalid(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        inner: list[Any] = []
        for node in level:
            items = node.values() if isinstance(node, dict) else node
            inner += [c for c in items if isinstance(c, (dict, list))]
        level, depth = inner, depth + 1


async def read_json(request: web.Request) -> Any:
    """The request's JSON body: application/json in UTF-8, well-formed, not too deep."""
    if request.content_type != "application/json":
        raise Invalid("expected application/json", 415)
    check_charset(request)
    return parse_json(await request.read())


async def read_form(request: web.Request) -> Mapping[str, Any]:
    """A form body (urlencoded or multipart); a malformed one is a 400, not a crash."""
    check_charset(request)
    try:
        return await request.post()
    except web.HTTPException:
        raise
    except Exception:
        raise Invalid("malformed form data") from None


# -- fields -------------------------------------------------------------------------------------


def bounded(value: Any, name: str, limit: int, *, required: bool = False) -> str | None:
    """A string field of at most `limit` characters (None when absent and not required)."""
    if value is None or value == "":
        if required:
            raise Invalid(f"'{name}' is required")
        return None if value is None else ""
    if not isinstance(value, str):
        raise Invalid(f"'{name}' must be a string")
    if len(value) > limit:
        raise Invalid(f"'{name}' is longer than {limit} characters", 413)
    return value


def whole_number(value: Any, name: str, low: int = 0, high: int = MAX_INT) -> int:
    """A JSON integer within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(f"'{name}' must be a whole number from {low} to {high}")
    return value


def number_in(text: str, name: str, low: int = 0, high: int = MAX_INT) -> int:
    """A whole number written in a query string or a path, within [low, high]."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        raise Invalid(f"'{name}' must be a whole number from {low} to {high}")
    return whole_number(int(text), name, low, high)


def day(value: str | None, name: str) -> date | None:
    """A YYYY-MM-DD date within the range the console works with."""
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value[:10]) if len(value) == 10 else None
    except ValueError:
        parsed = None
    if parsed is None or not FIRST_DAY <= parsed <= LAST_DAY:
        raise Invalid(f"'{name}' must be a date (YYYY-MM-DD) from {FIRST_DAY} to {LAST_DAY}")
    return parsed


# -- where a request comes from -----------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(setting: str) -> tuple[Network, ...]:
    """DESKBOT_TRUSTED_PROXIES: addresses or networks, separated by commas or spaces."""
    found = []
    for part in setting.replace(",", " ").split():
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(
                f"DESKBOT_TRUSTED_PROXIES: {part!r} is not an IP address or network"
            ) from None
    return tuple(found)


def _trusted(address: str, proxies: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(request: web.BaseRequest, proxies: tuple[Network, ...]) -> str:
    """The address of the client. Behind trusted proxies, the right-most address in
    X-Forwarded-For that is not one of them (what a client writes there itself is further
    left, so it cannot pose as someone else)."""
    peer = request.remote or ""
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _trusted(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop.strip("[]")))
            except ValueError:
                return peer  # garbage where an address should be: fall back to the proxy
    return peer


def same_origin(request: web.BaseRequest, public_url: str = "") -> bool:
    """Whether a browser request comes from our own pages: Origin (or, without it, the
    Fetch metadata) names this host or the public URL. Requests without either are not from
    a browser form on another site."""
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        host = origin.split("://", 1)[-1].rstrip("/")
        ours = {request.host}
        if public_url:
            ours.add(public_url.split("://", 1)[-1].split("/", 1)[0])
        return host in ours
    if origin == "null":
        return False
    site = request.headers.get("Sec-Fetch-Site")
    return site is None or site in ("same-origin", "none")
