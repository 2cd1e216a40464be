"""The status of the user's own requests.

Only requests whose requester is the channel-verified identity are visible. A number that
belongs to someone else gets exactly the same answer as a number that does not exist, so the
bot cannot be used to probe other people's requests.
"""

from __future__ import annotations

import re

from flows.intents import Decision, Intent
from flows.router import Route
from flows.says import (
    Say,
    StatusList,
    StatusNoIdentity,
    StatusNone,
    StatusNoneOpen,
    StatusNotFound,
)
from flows.types import Decided, FlowState, Outcome, Requests, UserTurn
from handoff.tickets import RequestView
from retrieval.text import tokenize

# deskbot's REQ2000001 and ServiceNow's INC0010001 and RITM0010001 (any case, a space allowed),
# a Jira key as Jira writes it (IT-42), a Zendesk ticket as #123.
NUMBER = re.compile(
    r"(?<![\w#-])(?:(?i:(req|inc|ritm) ?(\d{7}))|([A-Z][A-Z0-9_]+-\d+)|(#\d+))(?![\w-])"
)
OPEN_STATES = {"new", "open", "in_progress", "waiting", "on_hold", "pending", "claimed"}
SHOWN = 5


def request_status(state: FlowState, turn: UserTurn, route: Route, requests: Requests) -> Outcome:
    def reply(say: Say) -> Outcome:
        return Outcome(
            state,
            (say,),
            Decided(Intent.REQUEST_STATUS, Decision.REPLY, route=route.via),
        )

    if not turn.requester:
        return reply(StatusNoIdentity())
    mine = sorted(requests.requests_of(turn.requester), key=lambda r: r.updated_at, reverse=True)
    numbers = numbers_in(turn.text)
    if numbers:
        by_number = {_key(r.number): r for r in mine}
        looked = {n: by_number.get(_key(n)) or requests.request(turn.requester, n) for n in numbers}
        found = [r for r in looked.values() if r is not None]
        missing = [n for n, r in looked.items() if r is None]
        if not found:
            return reply(StatusNotFound(tuple(missing)))
        return reply(StatusList(tuple(found), tuple(missing)))
    open_ = [r for r in mine if r.status in OPEN_STATES]
    if not mine:
        return reply(StatusNone())
    topical = _matching(turn.text, mine)
    if topical:
        return reply(StatusList(tuple(topical[:SHOWN])))
    if not open_:
        return reply(StatusNoneOpen(tuple(mine[:SHOWN])))
    return reply(StatusList(tuple(open_[:SHOWN])))


def numbers_in(text: str) -> list[str]:
    """The request numbers in a message, written as their systems write them."""
    return [f"{p.upper()}{d}" if p else key or zd for p, d, key, zd in NUMBER.findall(text)]


def _key(number: str) -> str:
    return number.upper().lstrip("#")


_GENERIC = set(
    tokenize("status ticket tickets request requests update news open my any progress order")
)


def _matching(text: str, requests: list[RequestView]) -> list[RequestView]:
    """Requests whose title shares a topic word with the message ("my VPN ticket")."""
    words = set(tokenize(text)) - _GENERIC
    if not words:
        return []
    return [r for r in requests if words & set(tokenize(r.title))]
