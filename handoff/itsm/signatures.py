"""Checking that a push from a ticket system is genuine: HMAC over the exact body received.

A push only wakes the poller early (the poll reads what changed), so a replayed push does no
harm; a forged one is refused so nobody can make deskbot hammer the system. Each function is
pure: the endpoint that receives the push passes the raw bytes and the header values.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def _mac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def verify_servicenow(body: bytes, signature: str, secret: str) -> bool:
    """A Business Rule's push: `X-Deskbot-Signature` is base64(HMAC-SHA256(secret, body)),
    which is what `GlideCertificateEncryption.generateMac` returns (see docs/itsm.md)."""
    if not secret or not signature:
        return False
    expected = base64.b64encode(_mac(secret, body)).decode("ascii")
    return hmac.compare_digest(expected, signature.strip())


def verify_jira(body: bytes, header: str, secret: str) -> bool:
    """A Jira Cloud webhook registered with a secret: `X-Hub-Signature: sha256=<hex>`."""
    method, _, digest = header.strip().partition("=")
    if not secret or method != "sha256" or not digest:
        return False
    return hmac.compare_digest(_mac(secret, body).hex(), digest.lower())


def verify_zendesk(body: bytes, signature: str, timestamp: str, secret: str) -> bool:
    """A Zendesk webhook: `X-Zendesk-Webhook-Signature` is base64(HMAC-SHA256(secret,
    timestamp + body)) with the `X-Zendesk-Webhook-Signature-Timestamp` header's value."""
    if not secret or not signature or not timestamp:
        return False
    expected = base64.b64encode(_mac(secret, timestamp.encode() + body)).decode("ascii")
    return hmac.compare_digest(expected, signature.strip())
