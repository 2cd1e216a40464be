"""Zendesk Support through its REST API (an agent's API token).

- Create: a ticket with the employee as requester by e-mail (Zendesk finds or creates the
  end user), the employee's words as the public description, deskbot's id as `external_id`;
  then the summary, facts and transcript as a private comment.
- The employee's later messages are public comments authored as the employee, so the agent
  reads them as the requester's; agents' public comments come back. A comment by the API
  token's own user or by the requester is never relayed (recognised by author id).
- Updates: the watched tickets (`show_many`) whose `updated_at` moved, then their comments
  after the last one seen. Status: the requester's tickets, most recently updated first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from handoff.itsm.config import ZendeskConfig
from handoff.itsm.errors import NotFound, Rejected
from handoff.itsm.http import Auth, BasicCredentials, Client, gather_bounded, write_once
from handoff.itsm.port import (
    AgentComment,
    Change,
    Changes,
    Probe,
    StateChange,
    TicketRef,
    TicketState,
    news,
    ordered,
)
from handoff.itsm.resilience import Timing
from handoff.itsm.text import case_notes, described, reference_line
from handoff.tickets import NewTicket, RequestView

API = "/api/v2"
MANY = 100  # tickets per show_many call
PARALLEL = 4  # tickets whose comments are read at once
AGENT_ROLES = {"agent", "admin"}


def credentials(config: ZendeskConfig, timing: Timing) -> Auth:
    """An API token: Basic authentication as `<e-mail>/token`."""
    return BasicCredentials(f"{config.email}/token", config.api_token, config.email)


def read_error(data: Any) -> str:
    """`{"error": "RecordInvalid", "description", "details"}` or `{"error": {"title",
    "message"}}`, depending on the endpoint."""
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    if isinstance(error, dict):
        return " — ".join(str(error[k]) for k in ("title", "message") if error.get(k))
    parts = [str(p) for p in (error, data.get("description")) if p]
    for field, problems in (data.get("details") or {}).items():
        for problem in problems if isinstance(problems, list) else ():
            parts.append(f"{field}: {problem.get('description', '')}")
    return "; ".join(parts)


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value)).astimezone(UTC)


def _seen(before: Mapping[str, Any], ticket: Mapping[str, Any]) -> Mapping[str, Any]:
    """What the cursor remembers of a ticket: updated_at, status, last comment id."""
    return before.get(str(ticket["id"])) or {}


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), MANY):
        yield items[i : i + MANY]


class Zendesk:
    name = "zendesk"

    def __init__(self, config: ZendeskConfig, client: Client) -> None:
        self.config = config
        self.client = client
        self._me: dict[str, Any] = {}

    # -- the port ----------------------------------------------------------------------------

    async def create(
        self, ticket: NewTicket, correlation_id: str, *, retry: bool = False
    ) -> TicketRef:
        c = self.config
        body = {
            "ticket": {
                "subject": ticket.title,
                "comment": {"body": described(ticket), "public": True},
                "requester": {"email": ticket.requester, "name": ticket.requester_name or ""},
                "external_id": correlation_id,
                "priority": c.priorities.get(ticket.priority, "normal"),
                "type": c.ticket_type,
                "tags": [*c.tags, ticket.category],
            }
        }
        found_earlier = False

        async def write() -> TicketRef:
            response = await self.client.call(
                "POST", f"{API}/tickets.json", json=body, needs="permission to create tickets"
            )
            return self._ref((response.data or {}).get("ticket"))

        async def find() -> TicketRef | None:
            nonlocal found_earlier
            response = await self.client.call(
                "GET",
                f"{API}/tickets.json",
                params={"external_id": correlation_id},
                needs="permission to list tickets",
            )
            tickets = (response.data or {}).get("tickets") or []
            found_earlier = bool(tickets)
            return self._ref(tickets[0]) if tickets else None

        ref = await write_once(write, find, self.client, look_first=retry)
        me = await self._myself()
        notes = case_notes(ticket, correlation_id)
        marker = reference_line(correlation_id)

        def ours(c: Mapping[str, Any]) -> bool:
            return c.get("author_id") == me["id"] and marker in str(c.get("body", ""))

        private = {"body": notes, "public": False}
        await self._add_comment(ref, private, mine=ours, check=found_earlier)
        return ref

    async def comment(
        self, ticket: TicketRef, text: str, author: str, *, retry: bool = False
    ) -> None:
        requester = int(ticket.requester_id) if ticket.requester_id else None
        comment: dict[str, Any] = {"body": text, "public": True}
        if requester is not None:
            comment["author_id"] = requester  # the agent reads it as the requester's

        def mine(c: Mapping[str, Any]) -> bool:
            return c.get("author_id") == requester and c.get("body") == text

        await self._add_comment(ticket, comment, mine=mine, check=retry)

    async def changes(self, cursor: str | None, watching: Sequence[TicketRef]) -> Changes:
        before: dict[str, Any] = json.loads(cursor) if cursor else {}
        me = (await self._myself())["id"]
        tickets: list[dict[str, Any]] = []
        for chunk in _chunks([t.id for t in watching]):
            response = await self.client.call(
                "GET",
                f"{API}/tickets/show_many.json",
                params={"ids": ",".join(chunk)},
                needs="permission to read tickets",
            )
            tickets += (response.data or {}).get("tickets") or []
        after = {t.id: before[t.id] for t in watching if t.id in before}
        comments: list[Change] = []
        states: list[Change] = []
        moved = [t for t in tickets if _seen(before, t).get("updated") != t["updated_at"]]
        found = await gather_bounded(
            [self._new_comments(t, _seen(before, t), me) for t in moved], PARALLEL
        )
        for ticket, (fresh, last) in zip(moved, found, strict=True):
            key = str(ticket["id"])
            was = (before.get(key) or {}).get("status")
            status = str(ticket["status"])
            if status != was and news(self._state(was) if was else None, self._state(status)):
                states.append(
                    StateChange(key, self._state(status), status, _time(ticket["updated_at"]))
                )
            comments += fresh
            after[key] = {"updated": ticket["updated_at"], "status": status, "last": last}
        return Changes(ordered(comments, states), json.dumps(after, sort_keys=True))

    async def requests_of(self, email: str, limit: int = 10) -> list[RequestView]:
        user = await self._user(email)
        if user is None:
            return []
        response = await self.client.call(
            "GET",
            f"{API}/users/{user}/tickets/requested.json",
            params={
                "sort_by": "updated_at",
                "sort_order": "desc",
                "per_page": str(limit),
                "include": "users",
            },
            needs="permission to read tickets",
        )
        data = response.data or {}
        names = {u["id"]: u.get("name") for u in data.get("users") or ()}
        return [self._view(t, names) for t in (data.get("tickets") or ())[:limit]]

    async def request(self, email: str, number: str) -> RequestView | None:
        wanted = number.strip().lstrip("#")
        if not wanted.isdigit():
            return None
        user = await self._user(email)
        if user is None:
            return None
        try:
            response = await self.client.call(
                "GET",
                f"{API}/tickets/{wanted}.json",
                params={"include": "users"},
                needs="permission to read tickets",
            )
        except NotFound:
            return None
        data = response.data or {}
        ticket = data.get("ticket") or {}
        if ticket.get("requester_id") != user:
            return None
        return self._view(ticket, {u["id"]: u.get("name") for u in data.get("users") or ()})

    def probes(self) -> Sequence[Probe]:
        async def sign_in() -> str:
            me = await self._myself()
            return f"{me.get('name')} ({me.get('role')})"

        async def users() -> str:
            await self._user(self.config.email)
            return "ok"

        async def tickets() -> str:
            me = await self._myself()
            await self.client.call(
                "GET",
                f"{API}/users/{me['id']}/tickets/requested.json",
                params={"per_page": "1"},
                needs="permission to read tickets",
            )
            return "ok"

        return [
            Probe(f"sign in as {self.config.email} (an agent's API token)", sign_in),
            Probe("read access to users (requesters by e-mail)", users),
            Probe("read access to tickets", tickets),
        ]

    async def close(self) -> None:
        await self.client.close()

    # -- helpers -----------------------------------------------------------------------------

    async def _myself(self) -> dict[str, Any]:
        if not self._me:
            response = await self.client.call(
                "GET", f"{API}/users/me.json", needs="permission to read its own profile"
            )
            me = (response.data or {}).get("user") or {}
            if me.get("id") is None or me.get("role") not in AGENT_ROLES:
                raise Rejected(
                    "Zendesk",
                    f"Zendesk: {self.config.email} is not an agent (role "
                    f"{me.get('role') or 'anonymous'}); deskbot needs an agent's API token",
                )
            self._me = me
        return self._me

    async def _user(self, email: str) -> int | None:
        response = await self.client.call(
            "GET",
            f"{API}/users/search.json",
            params={"query": email},
            needs="permission to read users",
        )
        for user in (response.data or {}).get("users") or ():
            if str(user.get("email") or "").lower() == email.strip().lower():
                return int(user["id"])
        return None

    async def _add_comment(
        self,
        ref: TicketRef,
        comment: Mapping[str, Any],
        *,
        mine: Callable[[Mapping[str, Any]], bool],
        check: bool,
    ) -> None:
        async def write() -> bool:
            await self.client.call(
                "PUT",
                f"{API}/tickets/{ref.id}.json",
                json={"ticket": {"comment": dict(comment)}},
                needs="permission to update tickets",
                idempotent=False,  # each PUT with a comment adds one
            )
            return True

        async def find() -> bool | None:
            all_comments = await self._comments(ref.id)
            return True if all_comments and mine(all_comments[-1]) else None

        await write_once(write, find, self.client, look_first=check)

    async def _comments(self, ticket_id: str) -> list[dict[str, Any]]:
        """Every comment of a ticket, oldest first, following cursor pages."""
        out: list[dict[str, Any]] = []
        response = await self.client.call(
            "GET",
            f"{API}/tickets/{ticket_id}/comments.json",
            params={"page[size]": "100", "include": "users"},
            needs="permission to read tickets",
        )
        while True:
            data = response.data or {}
            names = {u["id"]: u.get("name") for u in data.get("users") or ()}
            for c in data.get("comments") or ():
                out.append({**c, "author_name": names.get(c.get("author_id"))})
            nxt = (data.get("links") or {}).get("next")
            if not (data.get("meta") or {}).get("has_more") or not nxt:
                return out
            response = await self.client.call("GET", nxt, needs="permission to read tickets")

    async def _new_comments(
        self, ticket: Mapping[str, Any], before: Mapping[str, Any], me: int
    ) -> tuple[list[Change], int]:
        key = str(ticket["id"])
        last = int(before.get("last", 0))
        skip = {me, ticket.get("requester_id")}
        out: list[Change] = []
        for c in await self._comments(key):
            cid = int(c["id"])
            if cid <= last:
                continue
            last = cid
            if not c.get("public") or c.get("author_id") in skip:
                continue
            out.append(
                AgentComment(
                    key,
                    str(cid),
                    str(c.get("author_name") or ""),
                    str(c.get("plain_body") or c.get("body") or ""),
                    _time(c["created_at"]),
                )
            )
        return out, last

    def _state(self, status: str) -> TicketState:
        return self.config.statuses.get(status, TicketState.IN_PROGRESS)

    def _ref(self, ticket: Any) -> TicketRef:
        if not isinstance(ticket, dict) or ticket.get("id") is None:
            raise Rejected("Zendesk", "Zendesk answered without the ticket")
        number = str(ticket["id"])
        return TicketRef(
            self.name,
            number,
            number,
            f"{self.config.url.rstrip('/')}/agent/tickets/{number}",
            str(ticket.get("requester_id") or ""),
        )

    def _view(self, ticket: Mapping[str, Any], names: Mapping[Any, Any]) -> RequestView:
        return RequestView(
            str(ticket["id"]),
            str(ticket.get("subject") or ""),
            self._state(str(ticket.get("status"))).value,
            _time(ticket["updated_at"]),
            names.get(ticket.get("assignee_id")) if ticket.get("assignee_id") else None,
        )
