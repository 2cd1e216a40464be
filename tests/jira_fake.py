"""A local fake of Jira Service Management Cloud's service desk API (the JQL-free part).

It plays: Basic sign-in with an e-mail and API token; the service desk, its request types
and customers (the customer list needs `X-ExperimentalApi: opt-in`); creating customers
(only for an administrator; an address that already has an account is a 400); customer
requests raised on behalf of a customer of the desk; public and internal comments; the
request list ordered by latest activity with `start`/`limit`/`isLastPage` paging; and JSM's
error body `{"errorMessage", "i18nErrorMessage"}`. A test plays the agent with
`agent_comment` and `transition`, and the customer with `customer_comment`.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.itsm_fake import BODY, WHO, FakeSystem, basic_user

EMAIL = "deskbot@example.com"
API_TOKEN = "ATATT3xFfGF0-jira-token-value"
ME = "5b10ac8d82e05b22cc7d4ef5"
BETH = "5b10a2844c20165700ede21g"
DESK = "1"
REQUEST_TYPE = "10"
START = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)


class FakeJira(FakeSystem):
    unauthenticated = ("Client must be authenticated to access this resource.", "")

    def __init__(self) -> None:
        super().__init__()
        self.tokens = {EMAIL: API_TOKEN}
        self.admins = {EMAIL}  # who may create customers
        self.accounts: dict[str, dict[str, Any]] = {}
        self.customers: set[str] = set()  # accountIds that are customers of the desk
        self.requests: list[dict[str, Any]] = []
        self.request_types = {
            REQUEST_TYPE: "Get IT help",
            "11": "Report a security incident",
        }
        self.max_page = 50
        self.clock = START
        self._ids = itertools.count(10001)
        self._keys = itertools.count(1)
        self._accounts = itertools.count(1)
        self.add_account(EMAIL, "deskbot", ME)
        self.add_account("beth.anglin@example.com", "Beth Anglin", BETH)

    # -- what tests set up and read ------------------------------------------------------------

    def add_account(
        self, email: str, name: str, account_id: str = "", *, customer: bool = False
    ) -> dict[str, Any]:
        account_id = account_id or f"qm:{next(self._accounts):04d}"
        account = {"accountId": account_id, "emailAddress": email, "displayName": name}
        self.accounts[account_id] = account
        if customer:
            self.customers.add(account_id)
        return account

    def account(self, email: str) -> dict[str, Any]:
        return next(a for a in self.accounts.values() if a["emailAddress"] == email)

    def request(self, key: str) -> dict[str, Any]:
        return next(r for r in self.requests if r["issueKey"] == key)

    def add_request(self, reporter: str, summary: str, description: str = "") -> dict[str, Any]:
        created = self._stamp()
        key = f"IT-{next(self._keys)}"
        request = {
            "issueId": str(next(self._ids)),
            "issueKey": key,
            "requestTypeId": REQUEST_TYPE,
            "serviceDeskId": DESK,
            "createdDate": created,
            "reporter": self.accounts[reporter],
            "requestFieldValues": [
                {"fieldId": "summary", "label": "Summary", "value": summary},
                {"fieldId": "description", "label": "Description", "value": description},
            ],
            "currentStatus": {
                "status": "Waiting for support",
                "statusCategory": "NEW",
                "statusDate": created,
            },
            "_links": {
                "web": f"{self.url}/servicedesk/customer/portal/1/{key}",
                "agent": f"{self.url}/browse/{key}",
                "self": f"{self.url}/rest/servicedeskapi/request/{key}",
            },
            "comments": [],
            "activity": created["epochMillis"],
        }
        self.requests.append(request)
        return request

    def comments(self, key: str, *, public: bool | None = None) -> list[dict[str, Any]]:
        return [
            c for c in self.request(key)["comments"] if public is None or c["public"] == public
        ]

    # -- the agent's and the customer's side ---------------------------------------------------

    def agent_comment(self, key: str, body: str, *, public: bool = True, by: str = BETH) -> None:
        self._comment(self.request(key), body, public, by)

    def customer_comment(self, key: str, body: str) -> None:
        request = self.request(key)
        self._comment(request, body, True, request["reporter"]["accountId"])

    def transition(self, key: str, status: str, category: str) -> None:
        request = self.request(key)
        stamp = self._stamp()
        request["currentStatus"] = {
            "status": status,
            "statusCategory": category,
            "statusDate": stamp,
        }
        request["activity"] = stamp["epochMillis"]

    # -- routes --------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/rest/api/3/myself", self._myself)
        r.add_get("/rest/api/3/mypermissions", self._permissions)
        r.add_get("/rest/api/3/user/search", self._user_search)
        r.add_get("/rest/servicedeskapi/servicedesk/{desk}", self._desk)
        r.add_get("/rest/servicedeskapi/servicedesk/{desk}/requesttype/{rt}", self._request_type)
        r.add_get("/rest/servicedeskapi/servicedesk/{desk}/customer", self._desk_customers)
        r.add_post("/rest/servicedeskapi/servicedesk/{desk}/customer", self._add_customers)
        r.add_post("/rest/servicedeskapi/customer", self._create_customer)
        r.add_post("/rest/servicedeskapi/request", self._create_request)
        r.add_get("/rest/servicedeskapi/request", self._list_requests)
        r.add_get("/rest/servicedeskapi/request/{key}", self._get_request)
        r.add_post("/rest/servicedeskapi/request/{key}/comment", self._add_comment)
        r.add_get("/rest/servicedeskapi/request/{key}/comment", self._list_comments)

    def error(self, status: int, message: str, detail: str = "") -> web.Response:
        return web.json_response(
            {"errorMessage": message, "i18nErrorMessage": {"i18nKey": "", "parameters": []}},
            status=status,
        )

    def authenticate(self, request: web.Request) -> str | None:
        pair = basic_user(request.headers.get("Authorization", ""))
        if pair is not None and self.tokens.get(pair[0]) == pair[1]:
            return pair[0]
        return None

    async def _myself(self, request: web.Request) -> web.Response:
        return web.json_response(self.account(request[WHO]))

    async def _permissions(self, request: web.Request) -> web.Response:
        admin = request[WHO] in self.admins
        return web.json_response(
            {"permissions": {"ADMINISTER": {"key": "ADMINISTER", "havePermission": admin}}}
        )

    async def _user_search(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "").lower()
        return web.json_response(
            [a for a in self.accounts.values() if query and query in a["emailAddress"].lower()]
        )

    async def _desk(self, request: web.Request) -> web.Response:
        if request.match_info["desk"] != DESK:
            return self.error(404, "Service desk does not exist")
        return web.json_response({"id": DESK, "projectKey": "IT", "projectName": "IT Support"})

    async def _request_type(self, request: web.Request) -> web.Response:
        name = self.request_types.get(request.match_info["rt"])
        if name is None or request.match_info["desk"] != DESK:
            return self.error(404, "The request type does not exist")
        return web.json_response({"id": request.match_info["rt"], "name": name})

    async def _desk_customers(self, request: web.Request) -> web.Response:
        if request.headers.get("X-ExperimentalApi") != "opt-in":
            return self.error(412, "This API is experimental: send X-ExperimentalApi: opt-in")
        query = request.query.get("query", "").lower()
        found = [
            self.accounts[a]
            for a in sorted(self.customers)
            if query in self.accounts[a]["emailAddress"].lower()
        ]
        return self._paged(request, found)

    async def _add_customers(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("X-ExperimentalApi") != "opt-in":
            return self.error(412, "This API is experimental: send X-ExperimentalApi: opt-in")
        for account in request[BODY].get("accountIds", ()):
            if account not in self.accounts:
                return self.error(400, f"The account {account} does not exist")
            self.customers.add(account)
        return web.Response(status=204)

    async def _create_customer(self, request: web.Request) -> web.Response:
        if request[WHO] not in self.admins:
            return self.error(403, "You do not have permission to create customers.")
        body = request[BODY]
        email = str(body.get("email", ""))
        if any(a["emailAddress"].lower() == email.lower() for a in self.accounts.values()):
            return self.error(400, "An account already exists for this email.")
        account = self.add_account(email, str(body.get("displayName") or email))
        return web.json_response(account, status=201)

    async def _create_request(self, request: web.Request) -> web.Response:
        body = request[BODY]
        if body.get("serviceDeskId") != DESK or body.get("requestTypeId") not in self.request_types:
            return self.error(400, "The service desk or request type does not exist")
        fields = body.get("requestFieldValues") or {}
        unknown = set(fields) - {"summary", "description"}
        if unknown:
            return self.error(400, f"Field {sorted(unknown)[0]} is not valid for this request type")
        reporter = body.get("raiseOnBehalfOf") or self.account(request[WHO])["accountId"]
        if reporter not in self.customers:
            return self.error(
                400, f"The user '{reporter}' does not have permission to raise requests here."
            )
        made = self.add_request(reporter, fields.get("summary", ""), fields.get("description", ""))
        made["requestTypeId"] = body["requestTypeId"]
        return web.json_response(self._public(made), status=201)

    async def _list_requests(self, request: web.Request) -> web.Response:
        desk = request.query.get("serviceDeskId")
        found = [r for r in self.requests if desk in (None, r["serviceDeskId"])]
        found.sort(key=lambda r: r["activity"], reverse=True)
        return self._paged(request, [self._public(r) for r in found])

    async def _get_request(self, request: web.Request) -> web.Response:
        found = self._find(request.match_info["key"])
        if found is None:
            return self.error(404, "Request does not exist or you do not have access to it.")
        return web.json_response(self._public(found))

    async def _add_comment(self, request: web.Request) -> web.Response:
        found = self._find(request.match_info["key"])
        if found is None:
            return self.error(404, "Request does not exist or you do not have access to it.")
        body = request[BODY]
        account = self.account(request[WHO])["accountId"]
        comment = self._comment(found, str(body.get("body", "")), bool(body.get("public")), account)
        return web.json_response(comment, status=201)

    async def _list_comments(self, request: web.Request) -> web.Response:
        found = self._find(request.match_info["key"])
        if found is None:
            return self.error(404, "Request does not exist or you do not have access to it.")
        public = request.query.get("public", "true") == "true"
        internal = request.query.get("internal", "true") == "true"
        shown = [
            c for c in found["comments"] if (public if c["public"] else internal)
        ]
        return self._paged(request, shown)

    # -- machinery -----------------------------------------------------------------------------

    def _stamp(self) -> dict[str, Any]:
        now = self.clock
        self.clock += timedelta(seconds=1)
        return {
            "iso8601": now.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "epochMillis": int(now.timestamp() * 1000),
            "friendly": now.strftime("%d/%b/%y %I:%M %p"),
        }

    def _comment(
        self, request: dict[str, Any], body: str, public: bool, account: str
    ) -> dict[str, Any]:
        stamp = self._stamp()
        comment = {
            "id": str(next(self._ids)),
            "body": body,
            "public": public,
            "author": self.accounts[account],
            "created": stamp,
        }
        request["comments"].append(comment)
        request["activity"] = stamp["epochMillis"]
        return comment

    def _find(self, key: str) -> dict[str, Any] | None:
        return next((r for r in self.requests if key in (r["issueKey"], r["issueId"])), None)

    @staticmethod
    def _public(request: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in request.items() if k not in ("comments", "activity")}

    def _paged(self, request: web.Request, values: list[Any]) -> web.Response:
        start = int(request.query.get("start", "0"))
        limit = min(int(request.query.get("limit", "50")), self.max_page)
        page = values[start : start + limit]
        return web.json_response(
            {
                "size": len(page),
                "start": start,
                "limit": limit,
                "isLastPage": start + limit >= len(values),
                "values": page,
            }
        )
