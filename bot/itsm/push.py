"""Optional push endpoints: a ServiceNow Business Rule, a Jira or a Zendesk webhook tells
deskbot that a ticket changed, so the poller reads it now instead of at the next interval.

A push carries nothing deskbot uses but its signature (HMAC over the exact body, checked
with `handoff.itsm.signatures`): it only wakes the poller, so a replayed push costs one poll
and a lost one a wait. Each endpoint is mounted only when its shared secret is configured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from handoff.itsm.signatures import verify_jira, verify_servicenow, verify_zendesk

log = logging.getLogger(__name__)

Check = Callable[[bytes, web.Request, str], bool]


def _servicenow(body: bytes, request: web.Request, secret: str) -> bool:
    return verify_servicenow(body, request.headers.get("X-Deskbot-Signature", ""), secret)


def _jira(body: bytes, request: web.Request, secret: str) -> bool:
    return verify_jira(body, request.headers.get("X-Hub-Signature", ""), secret)


def _zendesk(body: bytes, request: web.Request, secret: str) -> bool:
    return verify_zendesk(
        body,
        request.headers.get("X-Zendesk-Webhook-Signature", ""),
        request.headers.get("X-Zendesk-Webhook-Signature-Timestamp", ""),
        secret,
    )


# system -> (path, signature check)
ENDPOINTS: dict[str, tuple[str, Check]] = {
    "servicenow": ("/itsm/servicenow/push", _servicenow),
    "jira": ("/itsm/jira/webhook", _jira),
    "zendesk": ("/itsm/zendesk/webhook", _zendesk),
}


class PushEndpoint:
    """The configured system's endpoint; `wake` asks the poller for a poll now."""

    def __init__(self, system: str, secret: str, wake: Callable[[], None]) -> None:
        self.system = system
        self.path, self._check = ENDPOINTS[system]
        self._secret = secret
        self._wake = wake

    def mount(self, app: web.Application) -> None:
        app.router.add_post(self.path, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self._check(body, request, self._secret):
            log.warning("%s push refused: no valid signature", self.system)
            raise web.HTTPUnauthorized(text="Invalid signature.")
        self._wake()
        return web.Response(status=204)
