"""Signed session cookies for the web chat (and the console).

The cookie carries an id and the identity the server verified (a demo sign-in, or a header
set by the single sign-on proxy in front of deskbot), signed with HMAC-SHA256 so a browser
cannot change who it is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ChatSession:
    sid: str
    user_id: str
    email: str | None
    name: str | None
    issued: float


class Signer:
    def __init__(self, secret: bytes, max_age_seconds: int = 7 * 24 * 3600) -> None:
        self._secret = secret
        self.max_age = max_age_seconds

    def dumps(self, data: dict[str, Any]) -> str:
        payload = base64.urlsafe_b64encode(
            json.dumps(data, separators=(",", ":")).encode()
        ).decode()
        return f"{payload}.{self._sign(payload)}"

    def loads(self, token: str) -> dict[str, Any] | None:
        payload, _, signature = token.rpartition(".")
        if not payload or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload.encode()))
        except (ValueError, json.JSONDecodeError):
            return None
        if not isinstance(data, dict) or time.time() - float(data.get("issued", 0)) > self.max_age:
            return None
        return data

    def _sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()

    def session(self, token: str | None) -> ChatSession | None:
        data = self.loads(token) if token else None
        if data is None:
            return None
        try:
            return ChatSession(
                data["sid"],
                data["user_id"],
                data.get("email"),
                data.get("name"),
                float(data["issued"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def token(self, session: ChatSession) -> str:
        return self.dumps(
            {
                "sid": session.sid,
                "user_id": session.user_id,
                "email": session.email,
                "name": session.name,
                "issued": session.issued,
            }
        )
