"""ServiceNow through its Table API: incidents for hand-offs, the journal for comments.

- Caller: `sys_user` by e-mail (cached). Create: `POST incident` with caller, short and long
  description, `correlation_id`, contact type, category and urgency/impact mapped from the
  priority; the summary, facts and transcript go into `work_notes`, which the caller never sees.
- Updates: incidents on the watch list whose `sys_mod_count` moved since the cursor; agents'
  comments from `sys_journal_field` (element=comments). An entry created by the integration
  user or by the caller is not relayed. Times are UTC `YYYY-MM-DD HH:MM:SS` literals (the
  integration user's time zone must be UTC; `deskbot itsm check` says when it is not).
- Status: the caller's incidents and requested items (`sc_req_item.requested_for`).
Paging follows the `Link` header.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from handoff.itsm.config import ServiceNowConfig
from handoff.itsm.errors import Rejected
from handoff.itsm.http import Auth, BasicCredentials, Client, write_once
from handoff.itsm.port import (
    AgentComment,
    Change,
    Changes,
    Probe,
    ProbeWarning,
    StateChange,
    TicketRef,
    TicketState,
    news,
    ordered,
)
from handoff.itsm.resilience import Timing
from handoff.itsm.servicenow_auth import ServiceNowOAuth
from handoff.itsm.text import case_notes, chat_comment, described
from handoff.tickets import NewTicket, RequestView

TABLE = "/api/now/table/"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
PAGE = 100
CHUNK = 50  # sys_ids per IN query, keeping URLs short
UTC_ZONES = {"UTC", "GMT", "Etc/UTC", "Etc/GMT"}
_REF_FIELDS = "sys_id,number,caller_id"


def credentials(config: ServiceNowConfig, timing: Timing) -> Auth:
    """OAuth when a client id and secret are configured, else Basic."""
    if config.oauth:
        return ServiceNowOAuth(config, timing)
    return BasicCredentials(config.user, config.password)


def read_error(data: Any) -> str:
    """ServiceNow's error body: `{"error": {"message", "detail"}, "status": "failure"}`;
    the token endpoint's is `{"error", "error_description"}`."""
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    if isinstance(error, dict):
        parts = [str(error.get(k) or "").strip() for k in ("message", "detail")]
        return " — ".join(p for p in parts if p)
    if isinstance(error, str):
        return " ".join(p for p in (error, str(data.get("error_description") or "")) if p)
    return ""


def sn_time(value: str) -> datetime:
    return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)


def literal(value: str) -> str:
    """A value safe inside an encoded query: `^` separates conditions and cannot be escaped."""
    if "^" in value or "\n" in value:
        raise Rejected("ServiceNow", "a value in a ServiceNow query cannot contain ^ or a newline")
    return value


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


@dataclass(frozen=True)
class Caller:
    sys_id: str
    user_name: str
    name: str


@dataclass
class _Cursor:
    """Where polling stands: the newest time seen, the journal entries at exactly that second
    (a later poll asks `>=` it, so nothing written in the same second is missed), and per
    watched incident its last state and modification count."""

    at: str | None
    seen: set[str]
    incidents: dict[str, tuple[str, int]]

    @classmethod
    def load(cls, text: str | None) -> _Cursor:
        if not text:
            return cls(None, set(), {})
        raw = json.loads(text)
        return cls(
            raw.get("at"),
            set(raw.get("seen", ())),
            {k: (str(v[0]), int(v[1])) for k, v in raw.get("incidents", {}).items()},
        )

    def dump(self) -> str:
        return json.dumps(
            {"at": self.at, "seen": sorted(self.seen), "incidents": self.incidents},
            sort_keys=True,
        )


class ServiceNow:
    name = "servicenow"

    def __init__(self, config: ServiceNowConfig, client: Client) -> None:
        self.config = config
        self.client = client
        self._callers: dict[str, tuple[float, Caller]] = {}
        self._names: dict[str, str] = {}

    # -- the port ----------------------------------------------------------------------------

    async def create(
        self, ticket: NewTicket, correlation_id: str, *, retry: bool = False
    ) -> TicketRef:
        c = self.config
        caller = await self._caller(ticket.requester)
        urgency, impact = c.priorities.get(ticket.priority) or c.priorities.get("normal", (3, 3))
        notes = case_notes(ticket, correlation_id)
        if caller is None:
            notes = f"No active ServiceNow user has the e-mail {ticket.requester}.\n\n{notes}"
        record = {
            "short_description": ticket.title[:160],
            "description": described(ticket),
            "correlation_id": correlation_id,
            "correlation_display": "deskbot",
            "contact_type": c.contact_type,
            "category": c.categories.get(ticket.category, c.default_category),
            "urgency": str(urgency),
            "impact": str(impact),
            "work_notes": notes,
        }
        if caller is not None:
            record["caller_id"] = caller.sys_id

        async def write() -> TicketRef:
            response = await self.client.call(
                "POST",
                TABLE + "incident",
                params={"sysparm_fields": _REF_FIELDS, "sysparm_exclude_reference_link": "true"},
                json=record,
                needs="create access to incident",
            )
            return self._ref(_result(response.data))

        async def find() -> TicketRef | None:
            rows = await self._rows(
                "incident", f"correlation_id={literal(correlation_id)}", _REF_FIELDS, limit=1
            )
            return self._ref(rows[0]) if rows else None

        return await write_once(write, find, self.client, look_first=retry)

    async def comment(
        self, ticket: TicketRef, text: str, author: str, *, retry: bool = False
    ) -> None:
        body = chat_comment(author, text)

        async def write() -> bool:
            await self.client.call(
                "PATCH",
                f"{TABLE}incident/{ticket.id}",
                params={"sysparm_fields": "sys_id"},
                json={"comments": body},
                needs="write access to incident",
                idempotent=False,  # every PATCH of comments adds a journal entry
            )
            return True

        async def find() -> bool | None:
            rows = await self._rows(
                "sys_journal_field",
                f"element_id={literal(ticket.id)}^element=comments"
                f"^sys_created_by={literal(self.config.user)}^ORDERBYDESCsys_created_on",
                "value",
                limit=1,
            )
            return True if rows and rows[0].get("value") == body else None

        await write_once(write, find, self.client, look_first=retry)

    async def changes(self, cursor: str | None, watching: Sequence[TicketRef]) -> Changes:
        state = _Cursor.load(cursor)
        ids = [t.id for t in watching]
        # Incidents seen before: only those updated since the cursor. Incidents watched for
        # the first time: all of them, so nothing written before they were watched is lost.
        first = {i for i in ids if i not in state.incidents}
        rows = await self._among(
            "incident",
            "sys_id",
            ids,
            first=first,
            since=f"^sys_updated_on>={state.at}" if state.at else "",
            fields="sys_id,state,sys_mod_count,sys_updated_on,caller_id.user_name",
        )
        incidents = {k: v for k, v in state.incidents.items() if k in ids}
        states: list[Change] = []
        moved: dict[str, str] = {}  # sys_id -> the caller's user name
        latest = state.at or ""
        for row in rows:
            sys_id, raw = row["sys_id"], str(row["state"])
            mods = int(row.get("sys_mod_count") or 0)
            before = incidents.get(sys_id)
            if before is not None and before[1] == mods:
                continue
            incidents[sys_id] = (raw, mods)
            moved[sys_id] = str(row.get("caller_id.user_name") or "")
            latest = max(latest, row["sys_updated_on"])
            now_state = self._state(raw)
            if news(self._state(before[0]) if before else None, now_state):
                states.append(StateChange(sys_id, now_state, raw, sn_time(row["sys_updated_on"])))
        comments: list[Change] = []
        seen = set(state.seen)
        if moved:
            comments, latest, seen = await self._comments(moved, first, state, latest)
        return Changes(ordered(comments, states), _Cursor(latest or None, seen, incidents).dump())

    async def requests_of(self, email: str, limit: int = 10) -> list[RequestView]:
        caller = await self._caller(email)
        if caller is None:
            return []
        fields = "number,short_description,state,sys_updated_on,assigned_to.name"
        order = "^ORDERBYDESCsys_updated_on"
        incidents, items = await asyncio.gather(
            self._rows("incident", f"caller_id={caller.sys_id}{order}", fields, limit=limit),
            self._rows("sc_req_item", f"requested_for={caller.sys_id}{order}", fields, limit=limit),
        )
        views = [self._view(r, self.config.states) for r in incidents]
        views += [self._view(r, self.config.item_states) for r in items]
        views.sort(key=lambda v: v.updated_at, reverse=True)
        return views[:limit]

    async def request(self, email: str, number: str) -> RequestView | None:
        wanted = number.strip().upper()
        kinds = {
            "INC": ("incident", "caller_id", self.config.states),
            "RITM": ("sc_req_item", "requested_for", self.config.item_states),
        }
        kind = next((v for k, v in kinds.items() if wanted.startswith(k)), None)
        if kind is None or not wanted.isalnum():
            return None
        caller = await self._caller(email)
        if caller is None:
            return None
        table, field, states = kind
        rows = await self._rows(
            table,
            f"number={wanted}^{field}={caller.sys_id}",
            "number,short_description,state,sys_updated_on,assigned_to.name",
            limit=1,
        )
        return self._view(rows[0], states) if rows else None

    def probes(self) -> Sequence[Probe]:
        user = self.config.user

        async def sign_in() -> str:
            rows = await self._rows(
                "sys_user", f"user_name={literal(user)}", "sys_id,name,time_zone", limit=1
            )
            if not rows:
                raise ProbeWarning(f"signed in, but user {user} cannot read its own sys_user row")
            zone = str(rows[0].get("time_zone") or "")
            if zone not in UTC_ZONES:
                raise ProbeWarning(
                    f"user {user}'s time zone is {zone or 'the instance default'}: set it to UTC,"
                    " or query times and journal times will disagree"
                )
            return f"user {user}, time zone {zone}"

        def read(table: str, query: str = "") -> Probe:
            async def run() -> str:
                await self._rows(table, query, "sys_id", limit=1)
                return "ok"

            return Probe(f"read access to {table}", run)

        return [
            Probe(f"sign in as {user}" + (" (OAuth)" if self.config.oauth else ""), sign_in),
            read("sys_user"),
            read("incident"),
            read("sys_journal_field", "element=comments"),
            read("sc_req_item"),
        ]

    async def close(self) -> None:
        await self.client.close()

    # -- reading -----------------------------------------------------------------------------

    async def _rows(
        self, table: str, query: str, fields: str, *, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Rows of `table` matching `query`: one page of `limit`, or every page via Link."""
        params = {
            "sysparm_query": query,
            "sysparm_fields": fields,
            "sysparm_limit": str(limit or PAGE),
            "sysparm_exclude_reference_link": "true",
        }
        needs = f"read access to {table}"
        response = await self.client.call("GET", TABLE + table, params=params, needs=needs)
        rows = _results(response.data)
        while limit is None and response.next_url:
            response = await self.client.call("GET", response.next_url, needs=needs)
            rows += _results(response.data)
        return rows

    async def _caller(self, email: str) -> Caller | None:
        key = email.strip().lower()
        now = self.client.timing.monotonic()
        cached = self._callers.get(key)
        if cached is not None and now - cached[0] < self.config.caller_cache_seconds:
            return cached[1]
        if not key:
            return None
        rows = await self._rows(
            "sys_user", f"email={literal(key)}^active=true", "sys_id,user_name,name", limit=1
        )
        if not rows:
            return None  # not cached: the account may be created any minute
        caller = Caller(rows[0]["sys_id"], rows[0].get("user_name", ""), rows[0].get("name", ""))
        self._callers[key] = (now, caller)
        return caller

    async def _among(
        self,
        table: str,
        key: str,
        ids: Sequence[str],
        *,
        first: set[str],
        since: str,
        fields: str,
        where: str = "",
    ) -> list[dict[str, Any]]:
        """Rows matching `where` whose `key` is one of `ids`; the `since` condition applies
        to all but the `first` ones (watched for the first time: everything counts)."""
        rows: list[dict[str, Any]] = []
        later = [i for i in ids if i not in first]
        for group, condition in ((later, since), ([i for i in ids if i in first], "")):
            for chunk in _chunks(group):
                query = f"{where}{key}IN{','.join(chunk)}{condition}"
                rows += await self._rows(table, query, fields)
        return rows

    async def _comments(
        self, moved: Mapping[str, str], first: set[str], state: _Cursor, latest: str
    ) -> tuple[list[Change], str, set[str]]:
        entries = await self._among(
            "sys_journal_field",
            "element_id",
            list(moved),
            first=first,
            since=f"^sys_created_on>={state.at}" if state.at else "",
            fields="sys_id,element_id,value,sys_created_on,sys_created_by",
            where="element=comments^",  # comments only: work notes are internal
        )
        ours = self.config.user.lower()
        fresh = [e for e in entries if e["sys_id"] not in state.seen]
        relayed = [
            e
            for e in fresh
            if str(e.get("sys_created_by", "")).lower()
            not in {ours, moved.get(e["element_id"], "").lower()}
        ]
        names = await self._display_names({e["sys_created_by"] for e in relayed})
        out: list[Change] = [
            AgentComment(
                e["element_id"],
                e["sys_id"],
                names.get(e["sys_created_by"], e["sys_created_by"]),
                str(e.get("value", "")),
                sn_time(e["sys_created_on"]),
            )
            for e in relayed
        ]
        newest = max([latest, *(e["sys_created_on"] for e in entries)])
        at_newest = {e["sys_id"] for e in entries if e["sys_created_on"] == newest}
        seen = (state.seen | at_newest) if newest == state.at else at_newest
        return out, newest, seen

    async def _display_names(self, user_names: set[str]) -> dict[str, str]:
        missing = sorted(u for u in user_names if u and u not in self._names)
        if missing:
            rows = await self._rows(
                "sys_user", f"user_nameIN{','.join(map(literal, missing))}", "user_name,name"
            )
            for row in rows:
                self._names[row["user_name"]] = row.get("name") or row["user_name"]
        return {u: self._names.get(u, u) for u in user_names}

    def _state(self, raw: str) -> TicketState:
        return self.config.states.get(raw, TicketState.IN_PROGRESS)

    def _ref(self, row: Mapping[str, Any]) -> TicketRef:
        sys_id = str(row["sys_id"])
        return TicketRef(
            self.name,
            sys_id,
            str(row["number"]),
            f"{self.config.url.rstrip('/')}/incident.do?sys_id={sys_id}",
            str(row.get("caller_id") or ""),
        )

    @staticmethod
    def _view(row: Mapping[str, Any], states: Mapping[str, TicketState]) -> RequestView:
        state = states.get(str(row.get("state")), TicketState.IN_PROGRESS)
        return RequestView(
            str(row["number"]),
            str(row.get("short_description") or ""),
            state.value,
            sn_time(row["sys_updated_on"]),
            row.get("assigned_to.name") or None,
        )


def _results(data: Any) -> list[dict[str, Any]]:
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, list):
        raise Rejected("ServiceNow", "ServiceNow answered without a result list")
    return result


def _result(data: Any) -> dict[str, Any]:
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, dict):
        raise Rejected("ServiceNow", "ServiceNow answered without the created record")
    return result
