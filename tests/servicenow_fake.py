"""A local fake of ServiceNow's Table API and OAuth token endpoint.

It plays the subset deskbot uses, faithfully where it matters: Basic and Bearer sign-in (the
token from `POST /oauth_token.do`, password and refresh_token grants, tokens that expire),
per-table read/create/write ACLs, encoded queries (`=`, `!=`, `>`, `>=`, `<`, `<=`, `IN`,
`STARTSWITH`, `ORDERBY`/`ORDERBYDESC`, joined by `^`), `sysparm_fields` with dot-walking,
reference fields as `{"link", "value"}` unless `sysparm_exclude_reference_link=true`, paging
with a `Link` header, journal fields (`comments`, `work_notes`) written to
`sys_journal_field`, and errors as `{"error": {"message", "detail"}, "status": "failure"}`.
Unlike a real instance, an operator it does not know is a 400, not a silently ignored
condition (which on ServiceNow returns every row).

Times are UTC `YYYY-MM-DD HH:MM:SS`; the fake's clock advances one second per write unless a
test sets `tick = 0` to put several writes in the same second.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from tests.itsm_fake import BODY, WHO, FakeSystem, basic_user

USER = "deskbot.integration"
PASSWORD = "s3cret-Pa55word!"
CLIENT_ID = "a3f1c2d4e5b6478899aabbccddeeff00"
CLIENT_SECRET = "client-Secret-Value-42"
START = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)
REFERENCES = {"caller_id": "sys_user", "assigned_to": "sys_user", "requested_for": "sys_user"}
JOURNAL = ("comments", "work_notes")
_CONDITION = re.compile(r"^([a-z_][a-z0-9_.]*?)(!=|>=|<=|=|>|<|STARTSWITH|IN)(.*)$", re.S)


def sys_id() -> str:
    return uuid.uuid4().hex


class QueryError(ValueError):
    pass


def parse_query(query: str) -> tuple[list[tuple[str, str, str]], list[tuple[str, bool]]]:
    """Conditions [(field, operator, value)] and orderings [(field, descending)]."""
    conditions, order = [], []
    for part in filter(None, query.split("^")):
        if part.startswith("ORDERBYDESC"):
            order.append((part[len("ORDERBYDESC") :], True))
        elif part.startswith("ORDERBY"):
            order.append((part[len("ORDERBY") :], False))
        else:
            match = _CONDITION.match(part)
            if match is None:
                raise QueryError(f"unsupported condition {part!r}")
            conditions.append((match[1], match[2], match[3]))
    return conditions, order


def _matches(value: str, op: str, wanted: str) -> bool:
    v, w = value.lower(), wanted.lower()  # string comparison is case-insensitive on instances
    if op == "=":
        return v == w
    if op == "!=":
        return v != w
    if op == "IN":
        return v in {x.strip().lower() for x in wanted.split(",")}
    if op == "STARTSWITH":
        return v.startswith(w)
    number = re.fullmatch(r"-?\d+", value) and re.fullmatch(r"-?\d+", wanted)
    a, b = (int(value), int(wanted)) if number else (value, wanted)
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]  # type: ignore[operator]


class FakeServiceNow(FakeSystem):
    public = ("/oauth_token.do",)
    unauthenticated = ("User Not Authenticated", "Required to provide Auth information")

    def __init__(self) -> None:
        super().__init__()
        self.passwords = {USER: PASSWORD}
        self.clients = {CLIENT_ID: CLIENT_SECRET}
        self.token_lifetime = 1800
        self.tokens: dict[str, tuple[str, float]] = {}  # access token -> (user, expires at)
        self.refresh_tokens: dict[str, str] = {}
        self.token_clock = 0.0  # seconds; tests move it to expire tokens
        self.denied: set[tuple[str, str]] = set()  # (table, "read" | "create" | "write")
        self.tables: dict[str, list[dict[str, Any]]] = {
            t: [] for t in ("sys_user", "incident", "sc_req_item", "sys_journal_field")
        }
        self.max_page = 100
        self.clock = START
        self.tick = 1  # seconds the clock moves per write
        self._numbers = {"incident": itertools.count(10001), "sc_req_item": itertools.count(10001)}
        self.integration = self.add_user("deskbot@example.com", USER, "deskbot Integration")
        self.integration["time_zone"] = "UTC"

    # -- what tests set up ---------------------------------------------------------------------

    def add_user(self, email: str, user_name: str, name: str) -> dict[str, Any]:
        row = {
            "sys_id": sys_id(),
            "email": email,
            "user_name": user_name,
            "name": name,
            "active": "true",
            "time_zone": "",
        }
        self.tables["sys_user"].append(row)
        return row

    def user(self, user_name: str) -> dict[str, Any]:
        return next(u for u in self.tables["sys_user"] if u["user_name"] == user_name)

    def add_record(self, table: str, by: str = "admin", **values: Any) -> dict[str, Any]:
        now = self._now()
        prefix = "INC" if table == "incident" else "RITM"
        row = {
            "sys_id": sys_id(),
            "number": f"{prefix}{next(self._numbers[table]):07d}",
            "state": "1",
            "sys_created_on": now,
            "sys_updated_on": now,
            "sys_created_by": by,
            "sys_updated_by": by,
            "sys_mod_count": 0,
            "short_description": "",
            "description": "",
            "correlation_id": "",
            "caller_id": "",
            "assigned_to": "",
            "requested_for": "",
        }
        journal = {k: values.pop(k) for k in JOURNAL if k in values}
        row.update(values)
        self.tables[table].append(row)
        for element, text in journal.items():
            self._journal(table, row, element, str(text), by)
        return row

    def incident(self, number: str) -> dict[str, Any]:
        return next(r for r in self.tables["incident"] if r["number"] == number)

    def journal(self, number: str, element: str = "comments") -> list[dict[str, Any]]:
        row = self.incident(number)
        return [
            j
            for j in self.tables["sys_journal_field"]
            if j["element_id"] == row["sys_id"] and j["element"] == element
        ]

    # -- the agent's side ----------------------------------------------------------------------

    def agent_comment(self, number: str, text: str, by: str = "beth.anglin") -> None:
        row = self.incident(number)
        self._journal("incident", row, "comments", text, by)
        self._touch(row, by)

    def set_state(self, number: str, state: str, by: str = "beth.anglin") -> None:
        row = self.incident(number)
        row["state"] = state
        self._touch(row, by)

    # -- routes --------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/oauth_token.do", self._token)
        app.router.add_get("/api/now/table/{table}", self._list)
        app.router.add_get("/api/now/table/{table}/{sys_id}", self._get)
        app.router.add_post("/api/now/table/{table}", self._create)
        app.router.add_patch("/api/now/table/{table}/{sys_id}", self._update)

    def error(self, status: int, message: str, detail: str = "") -> web.Response:
        return web.json_response(
            {"error": {"message": message, "detail": detail}, "status": "failure"}, status=status
        )

    def authenticate(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            user, expires = self.tokens.get(header[7:], ("", 0.0))
            return user if user and self.token_clock < expires else None
        pair = basic_user(header)
        if pair is not None and self.passwords.get(pair[0]) == pair[1]:
            return pair[0]
        return None

    async def _token(self, request: web.Request) -> web.Response:
        form = request[BODY] or {}
        if self.clients.get(form.get("client_id", "")) != form.get("client_secret"):
            return web.json_response(
                {"error": "invalid_client", "error_description": "access_denied"}, status=401
            )
        if form.get("grant_type") == "password":
            user = form.get("username", "")
            if self.passwords.get(user) != form.get("password"):
                return web.json_response(
                    {"error": "server_error", "error_description": "access_denied"}, status=401
                )
        elif form.get("grant_type") == "refresh_token":
            user = self.refresh_tokens.pop(form.get("refresh_token", ""), "")
            if not user:
                return web.json_response(
                    {"error": "invalid_grant", "error_description": "access_denied"}, status=401
                )
        else:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        access, refresh = uuid.uuid4().hex, uuid.uuid4().hex
        self.tokens[access] = (user, self.token_clock + self.token_lifetime)
        self.refresh_tokens[refresh] = user
        return web.json_response(
            {
                "access_token": access,
                "refresh_token": refresh,
                "scope": "useraccount",
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
            }
        )

    async def _list(self, request: web.Request) -> web.Response:
        table = request.match_info["table"]
        if (table, "read") in self.denied or table not in self.tables:
            return self.error(403, "User Not Authorized", f"ACL restricts reading {table}")
        q = request.query
        try:
            conditions, order = parse_query(q.get("sysparm_query", ""))
            rows = [r for r in self.tables[table] if self._where(table, r, conditions)]
        except QueryError as exc:
            return self.error(400, "Invalid query", str(exc))
        for name, descending in reversed(order):
            rows.sort(key=lambda r, n=name: str(r.get(n, "")), reverse=descending)  # type: ignore[misc]
        limit = min(int(q.get("sysparm_limit", "10000")), self.max_page)
        offset = int(q.get("sysparm_offset", "0"))
        page = rows[offset : offset + limit]
        response = web.json_response({"result": [self._shape(table, r, q) for r in page]})
        response.headers["X-Total-Count"] = str(len(rows))
        if offset + limit < len(rows):
            params = {**q, "sysparm_offset": str(offset + limit), "sysparm_limit": str(limit)}
            link = f"{self.url}{request.path}?{urlencode(params)}"
            response.headers["Link"] = f'<{link}>;rel="next"'
        return response

    async def _get(self, request: web.Request) -> web.Response:
        table = request.match_info["table"]
        if (table, "read") in self.denied:
            return self.error(403, "User Not Authorized", f"ACL restricts reading {table}")
        row = self._find(table, request.match_info["sys_id"])
        if row is None:
            return self.error(
                404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
            )
        return web.json_response({"result": self._shape(table, row, request.query)})

    async def _create(self, request: web.Request) -> web.Response:
        table = request.match_info["table"]
        if (table, "create") in self.denied:
            return self.error(
                403, "Operation Failed", "ACL Exception Insert Failed due to security constraints"
            )
        body = request[BODY]
        if not isinstance(body, dict):
            return self.error(400, "Exception while reading request", "Invalid payload")
        row = self.add_record(table, by=request[WHO], **body)
        return web.json_response({"result": self._shape(table, row, request.query)}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        table = request.match_info["table"]
        if (table, "write") in self.denied:
            return self.error(
                403, "Operation Failed", "ACL Exception Update Failed due to security constraints"
            )
        row = self._find(table, request.match_info["sys_id"])
        if row is None:
            return self.error(
                404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
            )
        body = dict(request[BODY] or {})
        for element in JOURNAL:
            if element in body:
                self._journal(table, row, element, str(body.pop(element)), request[WHO])
        row.update(body)
        self._touch(row, request[WHO])
        return web.json_response({"result": self._shape(table, row, request.query)})

    # -- the table machinery -------------------------------------------------------------------

    def _now(self) -> str:
        now = self.clock
        self.clock += timedelta(seconds=self.tick)
        return now.strftime("%Y-%m-%d %H:%M:%S")

    def _touch(self, row: dict[str, Any], by: str) -> None:
        row["sys_updated_on"] = self._now()
        row["sys_updated_by"] = by
        row["sys_mod_count"] = int(row["sys_mod_count"]) + 1

    def _journal(self, table: str, row: dict[str, Any], element: str, text: str, by: str) -> None:
        self.tables["sys_journal_field"].append(
            {
                "sys_id": sys_id(),
                "name": table,
                "element": element,
                "element_id": row["sys_id"],
                "value": text,
                "sys_created_on": self._now(),
                "sys_created_by": by,
            }
        )

    def _find(self, table: str, key: str) -> dict[str, Any] | None:
        return next((r for r in self.tables.get(table, ()) if r["sys_id"] == key), None)

    def _value(self, table: str, row: Mapping[str, Any], name: str) -> Any:
        head, _, rest = name.partition(".")
        value = row.get(head, "")
        if not rest:
            return value
        target = REFERENCES.get(head)
        referenced = self._find(target, str(value)) if target else None
        return self._value(target or "", referenced, rest) if referenced else ""

    def _where(
        self, table: str, row: Mapping[str, Any], conditions: Iterable[tuple[str, str, str]]
    ) -> bool:
        return all(
            _matches(str(self._value(table, row, f)), op, v) for f, op, v in conditions
        )

    def _shape(
        self, table: str, row: Mapping[str, Any], query: Mapping[str, str]
    ) -> dict[str, Any]:
        names = [n for n in query.get("sysparm_fields", "").split(",") if n] or [
            *row.keys(),
            *(JOURNAL if table in ("incident", "sc_req_item") else ()),
        ]
        plain = query.get("sysparm_exclude_reference_link") == "true"
        out: dict[str, Any] = {}
        for name in names:
            value = "" if name in JOURNAL else self._value(table, row, name)
            if name in REFERENCES and value and not plain:
                link = f"{self.url}/api/now/table/{REFERENCES[name]}/{value}"
                value = {"link": link, "value": value}
            out[name] = str(value) if isinstance(value, int) else value
        return out
