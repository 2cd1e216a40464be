"""What can go wrong talking to a ticket system, as a small hierarchy that carries data.

Every message names the system and what was refused or missing, so an operator reading a log
line or `deskbot itsm check` knows what to fix. No message ever holds a password, token or
Authorization header: they are built from the user name, the method and path (never the
query, which can hold e-mail addresses) and the system's own error text.
"""

from __future__ import annotations


class ItsmError(Exception):
    """A ticket system refused or failed a call. `retryable` says whether trying again later
    (the outbox's next attempt) can succeed without anyone changing configuration."""

    retryable = False

    def __init__(self, system: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.system = system
        self.message = message
        self.status = status


class AuthFailed(ItsmError):
    """401: the credentials are wrong, expired or locked."""


class Forbidden(ItsmError):
    """403: signed in, but the user lacks a role or access right (`needs` names it)."""

    def __init__(self, system: str, message: str, *, needs: str, status: int | None = 403) -> None:
        super().__init__(system, message, status=status)
        self.needs = needs


class NotFound(ItsmError):
    """404: the record or endpoint does not exist (or is hidden from this user)."""


class Rejected(ItsmError):
    """Another 4xx: the system refused what we sent (a field, a value, a configuration id)."""


class RateLimited(ItsmError):
    """429 on every attempt, or a Retry-After longer than we wait in-line."""

    retryable = True

    def __init__(self, system: str, message: str, *, retry_after: float | None) -> None:
        super().__init__(system, message, status=429)
        self.retry_after = retry_after


class Unavailable(ItsmError):
    """5xx, a timeout, no connection, or the circuit breaker is open."""

    retryable = True


class Uncertain(Unavailable):
    """A write timed out or got a 5xx after it was sent: it may have been applied. The caller
    looks for the record before writing again."""
