"""Jira Service Management Cloud through its service desk API (no JQL).

- The employee: a customer of the service desk, found by e-mail, else created (that needs the
  Jira administrator permission; without it the hand-off fails with a message saying so) and
  added to the desk, so `raiseOnBehalfOf` can name their accountId.
- Create: `POST /rest/servicedeskapi/request` (summary, the employee's words as the
  description, deskbot's reference in it), then the summary, facts and transcript as an
  internal comment. The employee's later messages are public comments.
- Updates: webhooks (verified by `signatures.verify_jira`) can trigger a poll; the poll reads
  each watched request's `currentStatus` and its public comments after the last one seen.
- Status: the desk's requests by latest activity (up to `scan_pages` pages), kept when the
  employee is the reporter; a request asked for by key is read directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from handoff.itsm.config import JiraConfig
from handoff.itsm.errors import Forbidden, NotFound, Rejected
from handoff.itsm.http import Auth, BasicCredentials, Client, gather_bounded, write_once
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
from handoff.itsm.text import case_notes, chat_comment, described, reference_line
from handoff.tickets import NewTicket, RequestView

API = "/rest/servicedeskapi"
PAGE = 50
EXPERIMENTAL = {"X-ExperimentalApi": "opt-in"}  # the desk's customer list is still "experimental"
KEY = re.compile(r"^[A-Z][A-Z0-9_]+-\d+$")
_PARALLEL = 4  # watched requests read at once while polling


def credentials(config: JiraConfig, timing: Timing) -> Auth:
    """Basic authentication with the account's e-mail and an API token."""
    return BasicCredentials(config.email, config.api_token)


def read_error(data: Any) -> str:
    """JSM says `{"errorMessage"}`; the Jira platform `{"errorMessages": [], "errors": {}}`."""
    if not isinstance(data, dict):
        return ""
    if data.get("errorMessage"):
        return str(data["errorMessage"])
    parts = [str(m) for m in data.get("errorMessages") or ()]
    parts += [f"{k}: {v}" for k, v in (data.get("errors") or {}).items()]
    return "; ".join(parts) or str(data.get("message") or "")


def _when(stamp: Any) -> datetime:
    millis = stamp.get("epochMillis") if isinstance(stamp, dict) else None
    return datetime.fromtimestamp((millis or 0) / 1000, UTC)


def _field(request: Mapping[str, Any], field_id: str) -> str:
    for entry in request.get("requestFieldValues") or ():
        if entry.get("fieldId") == field_id:
            return str(entry.get("value") or "")
    return ""


class Jira:
    name = "jira"

    def __init__(self, config: JiraConfig, client: Client) -> None:
        self.config = config
        self.client = client
        self._me = ""
        self._accounts: dict[str, str] = {}  # e-mail -> accountId of a customer of the desk

    # -- the port ----------------------------------------------------------------------------

    async def create(
        self, ticket: NewTicket, correlation_id: str, *, retry: bool = False
    ) -> TicketRef:
        c = self.config
        account = await self._customer(ticket.requester, ticket.requester_name)
        fields: dict[str, Any] = {
            "summary": ticket.title[:255],
            "description": f"{described(ticket)}\n\n{reference_line(correlation_id)}",
        }
        if c.priorities is not None and ticket.priority in c.priorities:
            fields["priority"] = {"name": c.priorities[ticket.priority]}
        body = {
            "serviceDeskId": c.service_desk_id,
            "requestTypeId": c.request_types.get(ticket.category, c.request_type_id),
            "requestFieldValues": fields,
            "raiseOnBehalfOf": account,
        }
        found_earlier = False

        async def write() -> TicketRef:
            response = await self.client.call(
                "POST", f"{API}/request", json=body, needs="permission to raise requests"
            )
            return self._ref(response.data)

        async def find() -> TicketRef | None:
            nonlocal found_earlier
            page = await self._page(0, PAGE)
            marker = reference_line(correlation_id)
            for request in page.get("values") or ():
                if marker in _field(request, "description"):
                    found_earlier = True
                    return self._ref(request)
            return None

        ref = await write_once(write, find, self.client, look_first=retry)
        await self._add_comment(
            ref, case_notes(ticket, correlation_id), public=False, check=found_earlier
        )
        return ref

    async def comment(
        self, ticket: TicketRef, text: str, author: str, *, retry: bool = False
    ) -> None:
        await self._add_comment(ticket, chat_comment(author, text), public=True, check=retry)

    async def changes(self, cursor: str | None, watching: Sequence[TicketRef]) -> Changes:
        before: dict[str, Any] = json.loads(cursor) if cursor else {}
        me = await self._myself()
        results = await gather_bounded(
            [self._poll_one(ref, before.get(ref.id, {}), me) for ref in watching], _PARALLEL
        )
        after = {key: state for key, state, _, _ in results}
        comments = [e for _, _, found, _ in results for e in found]
        states = [e for _, _, _, moved in results for e in moved]
        return Changes(ordered(comments, states), json.dumps(after, sort_keys=True))

    async def requests_of(self, email: str, limit: int = 10) -> list[RequestView]:
        account = await self._find_customer(email)
        if account is None:
            return []
        views: list[RequestView] = []
        for number in range(self.config.scan_pages):
            page = await self._page(number * PAGE, PAGE)
            views += [
                self._view(r)
                for r in page.get("values") or ()
                if (r.get("reporter") or {}).get("accountId") == account
            ]
            if len(views) >= limit or page.get("isLastPage", True):
                break
        return views[:limit]

    async def request(self, email: str, number: str) -> RequestView | None:
        key = number.strip().upper()
        if not KEY.match(key):
            return None
        account = await self._find_customer(email)
        if account is None:
            return None
        try:
            response = await self.client.call(
                "GET", f"{API}/request/{key}", needs="permission to browse the service desk"
            )
        except NotFound:
            return None
        request = response.data or {}
        if (request.get("reporter") or {}).get("accountId") != account:
            return None
        return self._view(request)

    def probes(self) -> Sequence[Probe]:
        c = self.config

        async def sign_in() -> str:
            me = await self._myself()
            return f"{c.email} (account {me})"

        def named(path: str, needs: str, field: str) -> Probe:
            async def run() -> str:
                response = await self.client.call("GET", path, needs=needs)
                return str((response.data or {}).get(field) or "ok")

            return Probe(needs, run)

        async def customers() -> str:
            await self.client.call(
                "GET",
                f"{API}/servicedesk/{c.service_desk_id}/customer",
                params={"limit": "1"},
                headers=EXPERIMENTAL,
                needs="permission to read the service desk's customers",
            )
            response = await self.client.call(
                "GET",
                "/rest/api/3/mypermissions",
                params={"permissions": "ADMINISTER"},
                needs="permission to read its own permissions",
            )
            perms = (response.data or {}).get("permissions") or {}
            if not (perms.get("ADMINISTER") or {}).get("havePermission"):
                raise ProbeWarning(
                    "customers can be found but not created: employees who are not yet "
                    "customers of the desk cannot be handed over (needs Jira administrator)"
                )
            return "can find and create customers"

        return [
            Probe(f"sign in as {c.email}", sign_in),
            named(
                f"{API}/servicedesk/{c.service_desk_id}",
                f"agent access to service desk {c.service_desk_id}",
                "projectName",
            ),
            named(
                f"{API}/servicedesk/{c.service_desk_id}/requesttype/{c.request_type_id}",
                f"access to request type {c.request_type_id}",
                "name",
            ),
            Probe("customers of the desk", customers),
        ]

    async def close(self) -> None:
        await self.client.close()

    # -- customers ---------------------------------------------------------------------------

    async def _customer(self, email: str, name: str | None) -> str:
        """The accountId to raise the request for: found, or created and added to the desk."""
        found = await self._find_customer(email)
        if found is not None:
            return found
        try:
            response = await self.client.call(
                "POST",
                f"{API}/customer",
                json={"email": email, "displayName": name or email},
                needs="permission to create customers",
                idempotent=True,  # a second create of the same e-mail is refused, not doubled
            )
            account = str((response.data or {}).get("accountId") or "")
        except Forbidden as exc:
            raise Forbidden(
                "Jira",
                f"Jira: {email} is not a customer of service desk {self.config.service_desk_id} "
                f"and user {self.config.email} may not create customers (that needs the Jira "
                "administrator permission): add the employee as a customer, or grant it",
                needs=exc.needs,
            ) from None
        except Rejected:  # the address already has an Atlassian account: find it
            account = await self._account_by_email(email)
        await self.client.call(
            "POST",
            f"{API}/servicedesk/{self.config.service_desk_id}/customer",
            json={"accountIds": [account]},
            headers=EXPERIMENTAL,
            needs="permission to add customers to the service desk",
            idempotent=True,  # adding a customer twice is a no-op
        )
        self._accounts[email.lower()] = account
        return account

    async def _find_customer(self, email: str) -> str | None:
        key = email.strip().lower()
        if key in self._accounts:
            return self._accounts[key]
        response = await self.client.call(
            "GET",
            f"{API}/servicedesk/{self.config.service_desk_id}/customer",
            params={"query": key, "limit": str(PAGE)},
            headers=EXPERIMENTAL,
            needs="permission to read the service desk's customers",
        )
        for customer in (response.data or {}).get("values") or ():
            if str(customer.get("emailAddress") or "").lower() == key:
                self._accounts[key] = str(customer["accountId"])
                return self._accounts[key]
        return None

    async def _account_by_email(self, email: str) -> str:
        response = await self.client.call(
            "GET",
            "/rest/api/3/user/search",
            params={"query": email},
            needs="the Browse users and groups permission",
        )
        users = response.data if isinstance(response.data, list) else []
        exact = [u for u in users if str(u.get("emailAddress") or "").lower() == email.lower()]
        if len(exact) == 1 or len(users) == 1:
            return str((exact or users)[0]["accountId"])
        raise Rejected("Jira", f"Jira: no single account has the e-mail {email}")

    async def _myself(self) -> str:
        if not self._me:
            response = await self.client.call(
                "GET", "/rest/api/3/myself", needs="permission to read its own profile"
            )
            self._me = str((response.data or {}).get("accountId") or "")
        return self._me

    # -- requests and comments ---------------------------------------------------------------

    async def _page(self, start: int, limit: int) -> dict[str, Any]:
        """A page of the desk's requests, most recent activity first."""
        response = await self.client.call(
            "GET",
            f"{API}/request",
            params={
                "serviceDeskId": self.config.service_desk_id,
                "requestOwnership": "ALL_REQUESTS",
                "requestStatus": "ALL_REQUESTS",
                "start": str(start),
                "limit": str(limit),
            },
            needs="permission to browse the service desk",
        )
        return response.data if isinstance(response.data, dict) else {}

    async def _comments(self, key: str, *, public: bool, start: int = 0) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            response = await self.client.call(
                "GET",
                f"{API}/request/{key}/comment",
                params={
                    "public": str(public).lower(),
                    "internal": str(not public).lower(),
                    "start": str(start),
                    "limit": str(PAGE),
                },
                needs="permission to browse the service desk",
            )
            page = response.data if isinstance(response.data, dict) else {}
            values = list(page.get("values") or ())
            out += values
            if page.get("isLastPage", True) or not values:
                return out
            start += len(values)

    async def _add_comment(self, ref: TicketRef, body: str, *, public: bool, check: bool) -> None:
        async def write() -> bool:
            await self.client.call(
                "POST",
                f"{API}/request/{ref.id}/comment",
                json={"body": body, "public": public},
                needs="permission to comment on requests",
            )
            return True

        async def find() -> bool | None:
            me = await self._myself()
            ours = [
                c
                for c in await self._comments(ref.id, public=public)
                if (c.get("author") or {}).get("accountId") == me
            ]
            return True if ours and ours[-1].get("body") == body else None

        await write_once(write, find, self.client, look_first=check)

    async def _poll_one(
        self, ref: TicketRef, before: Mapping[str, Any], me: str
    ) -> tuple[str, dict[str, Any], list[Change], list[Change]]:
        try:
            response = await self.client.call(
                "GET", f"{API}/request/{ref.id}", needs="permission to browse the service desk"
            )
        except NotFound:
            return ref.id, dict(before), [], []  # deleted or moved: nothing more will come
        request = response.data or {}
        status = request.get("currentStatus") or {}
        name = str(status.get("status") or "")
        states: list[Change] = []
        if name and name != before.get("status"):
            state = self._state(status)
            was = self._state({"status": before["status"]}) if "status" in before else None
            if news(was, state):
                states.append(StateChange(ref.id, state, name, _when(status.get("statusDate"))))
        seen, last = int(before.get("seen", 0)), int(before.get("last", 0))
        # a few back: a deleted comment shifts the indexes; ids tell what is new
        fresh = await self._comments(ref.id, public=True, start=max(0, seen - 5))
        reporter = (request.get("reporter") or {}).get("accountId") or ref.requester_id
        comments: list[Change] = []
        for c in fresh:
            cid = int(c.get("id") or 0)
            if cid <= last:
                continue
            last = cid
            seen += 1
            author = c.get("author") or {}
            if author.get("accountId") in (me, reporter):
                continue
            comments.append(
                AgentComment(
                    ref.id,
                    str(cid),
                    str(author.get("displayName") or ""),
                    str(c.get("body") or ""),
                    _when(c.get("created")),
                )
            )
        return ref.id, {"status": name, "seen": seen, "last": last}, comments, states

    def _state(self, status: Mapping[str, Any]) -> TicketState:
        name = str(status.get("status") or "").lower()
        by_name = self.config.statuses.get(name)
        if by_name is not None:
            return by_name
        category = str(status.get("statusCategory") or "")
        return self.config.status_categories.get(category, TicketState.IN_PROGRESS)

    def _ref(self, request: Any) -> TicketRef:
        if not isinstance(request, dict) or not request.get("issueKey"):
            raise Rejected("Jira", "Jira answered without the request's key")
        key = str(request["issueKey"])
        links = request.get("_links") or {}
        return TicketRef(
            self.name,
            key,
            key,
            str(links.get("agent") or links.get("web") or ""),
            str((request.get("reporter") or {}).get("accountId") or ""),
        )

    def _view(self, request: Mapping[str, Any]) -> RequestView:
        status = request.get("currentStatus") or {}
        when = status.get("statusDate") or request.get("createdDate")
        return RequestView(
            str(request.get("issueKey")),
            _field(request, "summary"),
            self._state(status).value,
            _when(when),
            None,
        )

