"""Which failures are the database being away (unreachable, stalled, out of connections) rather
than something wrong with the work itself: those are retried later, never turned into an error
hand-off or dropped."""

from __future__ import annotations

from sqlalchemy import exc as sa

TRANSIENT: tuple[type[BaseException], ...] = (
    sa.OperationalError,  # connection refused or lost, statement timeout, SQLite busy
    sa.InterfaceError,
    sa.DisconnectionError,
    sa.TimeoutError,  # no pooled connection within the pool timeout
    TimeoutError,
    ConnectionError,
)


def transient(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) is the database being away."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TRANSIENT):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
