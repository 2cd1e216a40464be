"""Logging a failure without the user's words. The messages of database, HTTP and platform
errors can quote what a user wrote (SQL parameters, API error bodies), so a failure is logged
as what failed, the exception's class and where it was raised, never the exception's text."""

from __future__ import annotations

import logging
import traceback


def log_failure(log: logging.Logger, what: str, exc: BaseException) -> None:
    """Log at error level that `what` failed, with the exception's class and frames."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("%s failed: %s\n%s", what, exc.__class__.__name__, frames)
