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

NUMBER = re.compile(r"\breq ?(\d{7})\b", re.IGNORECASE)
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
    numbers = [f"REQ{m}" for m in NUMBER.findall(turn.text)]
    if numbers:
        by_number = {r.number.upper(): r for r in mine}
        found = [by_number[n] for n in numbers if n in by_number]
        missing = [n for n in numbers if n not in by_number]
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


_GENERIC = set(
    tokenize("status ticket tickets request requests update news open my any progress order")
)


def _matching(text: str, requests: list[RequestView]) -> list[RequestView]:
    """Requests whose title shares a topic word with the message ("my VPN ticket")."""
    words = set(tokenize(text)) - _GENERIC
    if not words:
        return []
    return [r for r in requests if words & set(tokenize(r.title))]
