"""A local fake of the Zendesk Support API (the ticket and user endpoints deskbot uses).

It plays: Basic sign-in as `{email}/token` with an API token; `users/me`; user search by
e-mail; tickets created with a requester given by e-mail (an unknown address becomes an end
user) and an `external_id`, listed by `external_id`, read one by one or with `show_many`;
comments added by `PUT` (public or private, optionally authored as another user) and listed
with cursor pages (`page[size]`, `links.next`, `meta.has_more`) and `include=users`; the
requester's tickets sorted by `updated_at`; and Zendesk's error bodies. A test plays the
agent with `agent_comment` and `set_status`, and the requester with `requester_comment`.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from tests.itsm_fake import BODY, WHO, FakeSystem, basic_user

EMAIL = "deskbot@example.com"
API_TOKEN = "zd-api-token-0123456789abcdef"
ME = 1001
BETH = 1002
START = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)


class FakeZendesk(FakeSystem):
    unauthenticated = ("Couldn't authenticate you", "")

    def __init__(self) -> None:
        super().__init__()
        self.tokens = {EMAIL: API_TOKEN}
        self.users: dict[int, dict[str, Any]] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.clock = START
        self._ticket_ids = itertools.count(1)
        self._user_ids = itertools.count(2001)
        self._comment_ids = itertools.count(50001)
        self.add_user(EMAIL, "deskbot", "agent", ME)
        self.add_user("beth.anglin@example.com", "Beth Anglin", "agent", BETH)

    # -- what tests set up and read ------------------------------------------------------------

    def add_user(self, email: str, name: str, role: str = "end-user", user_id: int = 0) -> int:
        user_id = user_id or next(self._user_ids)
        self.users[user_id] = {"id": user_id, "name": name, "email": email, "role": role}
        return user_id

    def user_id(self, email: str) -> int:
        return next(u["id"] for u in self.users.values() if u["email"] == email)

    def add_ticket(self, requester: int, subject: str, **fields: Any) -> dict[str, Any]:
        now = self._now()
        ticket_id = next(self._ticket_ids)
        ticket = {
            "id": ticket_id,
            "url": f"{self.url}/api/v2/tickets/{ticket_id}.json",
            "subject": subject,
            "status": "new",
            "priority": None,
            "type": None,
            "requester_id": requester,
            "submitter_id": requester,
            "assignee_id": None,
            "external_id": None,
            "tags": [],
            "created_at": now,
            "updated_at": now,
            "comments": [],
        }
        ticket.update(fields)
        self.tickets[ticket_id] = ticket
        return ticket

    def comments(self, ticket_id: int | str, *, public: bool | None = None) -> list[dict[str, Any]]:
        return [
            c
            for c in self.tickets[int(ticket_id)]["comments"]
            if public is None or c["public"] == public
        ]

    # -- the agent's and the requester's side --------------------------------------------------

    def agent_comment(
        self, ticket_id: int | str, body: str, *, public: bool = True, by: int = BETH
    ) -> None:
        self._comment(self.tickets[int(ticket_id)], body, public, by)

    def requester_comment(self, ticket_id: int | str, body: str) -> None:
        ticket = self.tickets[int(ticket_id)]
        self._comment(ticket, body, True, ticket["requester_id"])

    def set_status(self, ticket_id: int | str, status: str) -> None:
        ticket = self.tickets[int(ticket_id)]
        ticket["status"] = status
        ticket["updated_at"] = self._now()

    # -- routes --------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/api/v2/users/me.json", self._me)
        r.add_get("/api/v2/users/search.json", self._search_users)
        r.add_get("/api/v2/users/{user}/tickets/requested.json", self._requested)
        r.add_post("/api/v2/tickets.json", self._create)
        r.add_get("/api/v2/tickets.json", self._list)
        r.add_get("/api/v2/tickets/show_many.json", self._show_many)
        r.add_get("/api/v2/tickets/{id}.json", self._show)
        r.add_put("/api/v2/tickets/{id}.json", self._update)
        r.add_get("/api/v2/tickets/{id}/comments.json", self._comments)

    def error(self, status: int, message: str, detail: str = "") -> web.Response:
        if status == 401:
            body: dict[str, Any] = {"error": message}
        elif status == 403:
            body = {"error": {"title": "Forbidden", "message": detail or message}}
        else:
            body = {"error": message, "description": detail}
        return web.json_response(body, status=status)

    def authenticate(self, request: web.Request) -> str | None:
        pair = basic_user(request.headers.get("Authorization", ""))
        if pair is None or not pair[0].endswith("/token"):
            return None
        email = pair[0].removesuffix("/token")
        return email if self.tokens.get(email) == pair[1] else None

    async def _me(self, request: web.Request) -> web.Response:
        return web.json_response({"user": self.users[self.user_id(request[WHO])]})

    async def _search_users(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "").lower()
        found = [u for u in self.users.values() if query and query in u["email"].lower()]
        return web.json_response({"users": found, "count": len(found), "next_page": None})

    async def _requested(self, request: web.Request) -> web.Response:
        user = int(request.match_info["user"])
        found = [self._public(t) for t in self.tickets.values() if t["requester_id"] == user]
        key = request.query.get("sort_by", "created_at")
        found.sort(key=lambda t: t[key], reverse=request.query.get("sort_order") == "desc")
        found = found[: int(request.query.get("per_page", "100"))]
        users = self._sideload(request, found)
        return web.json_response({"tickets": found, "count": len(found), **users})

    async def _create(self, request: web.Request) -> web.Response:
        fields = dict((request[BODY] or {}).get("ticket") or {})
        requester = fields.pop("requester", None) or {}
        email = str(requester.get("email") or "")
        if "@" not in email:
            return web.json_response(
                {
                    "error": "RecordInvalid",
                    "description": "Record validation errors",
                    "details": {"requester": [{"description": "Requester: Email is invalid"}]},
                },
                status=422,
            )
        known = [u["id"] for u in self.users.values() if u["email"].lower() == email.lower()]
        requester_id = known[0] if known else self.add_user(email, requester.get("name") or email)
        comment = fields.pop("comment", None) or {}
        ticket = self.add_ticket(requester_id, fields.pop("subject", ""), **fields)
        ticket["submitter_id"] = ME
        if comment:
            self._comment(ticket, str(comment.get("body", "")), comment.get("public", True), ME)
        return web.json_response({"ticket": self._public(ticket)}, status=201)

    async def _list(self, request: web.Request) -> web.Response:
        wanted = request.query.get("external_id")
        found = [
            self._public(t)
            for t in self.tickets.values()
            if wanted is None or t["external_id"] == wanted
        ]
        return web.json_response({"tickets": found, "count": len(found), "next_page": None})

    async def _show_many(self, request: web.Request) -> web.Response:
        ids = [int(i) for i in request.query.get("ids", "").split(",") if i]
        if len(ids) > 100:
            return self.error(400, "InvalidParameter", "at most 100 ids")
        found = [self._public(self.tickets[i]) for i in ids if i in self.tickets]
        return web.json_response({"tickets": found})

    async def _show(self, request: web.Request) -> web.Response:
        ticket = self.tickets.get(int(request.match_info["id"]))
        if ticket is None:
            return self.error(404, "RecordNotFound", "Not found")
        shown = self._public(ticket)
        return web.json_response({"ticket": shown, **self._sideload(request, [shown])})

    async def _update(self, request: web.Request) -> web.Response:
        ticket = self.tickets.get(int(request.match_info["id"]))
        if ticket is None:
            return self.error(404, "RecordNotFound", "Not found")
        fields = dict((request[BODY] or {}).get("ticket") or {})
        comment = fields.pop("comment", None)
        if comment:
            author = int(comment.get("author_id") or ME)
            if author not in self.users:
                return self.error(422, "RecordInvalid", "author_id: not a user")
            self._comment(ticket, str(comment.get("body", "")), comment.get("public", True), author)
        ticket.update(fields)
        ticket["updated_at"] = self._now()
        return web.json_response({"ticket": self._public(ticket)})

    async def _comments(self, request: web.Request) -> web.Response:
        ticket = self.tickets.get(int(request.match_info["id"]))
        if ticket is None:
            return self.error(404, "RecordNotFound", "Not found")
        size = int(request.query.get("page[size]", "100"))
        after = int(request.query.get("page[after]", "0"))
        rest = [c for c in ticket["comments"] if c["id"] > after]
        page, more = rest[:size], len(rest) > size
        next_url = None
        if more:
            params = {**request.query, "page[after]": str(page[-1]["id"])}
            next_url = f"{self.url}{request.path}?{urlencode(params)}"
        return web.json_response(
            {
                "comments": page,
                "meta": {"has_more": more, "after_cursor": str(page[-1]["id"]) if page else None},
                "links": {"next": next_url, "prev": None},
                **self._sideload(request, [{"assignee_id": c["author_id"]} for c in page]),
            }
        )

    # -- machinery -----------------------------------------------------------------------------

    def _now(self) -> str:
        now = self.clock
        self.clock += timedelta(seconds=1)
        return now.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _comment(self, ticket: dict[str, Any], body: str, public: bool, author: int) -> None:
        now = self._now()
        ticket["comments"].append(
            {
                "id": next(self._comment_ids),
                "type": "Comment",
                "author_id": author,
                "body": body,
                "plain_body": body,
                "public": public,
                "created_at": now,
            }
        )
        ticket["updated_at"] = now
        if ticket["status"] == "new" and author != ticket["requester_id"] and author != ME:
            ticket["status"] = "open"

    def _sideload(self, request: web.Request, tickets: list[dict[str, Any]]) -> dict[str, Any]:
        if request.query.get("include") != "users":
            return {}
        ids = {t.get(k) for t in tickets for k in ("requester_id", "assignee_id", "submitter_id")}
        return {"users": [u for i, u in self.users.items() if i in ids]}

    @staticmethod
    def _public(ticket: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in ticket.items() if k != "comments"}
        first = ticket["comments"][0]["body"] if ticket["comments"] else ""
        return {**shown, "description": first}
