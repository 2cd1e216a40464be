"""The last resort when the database is unreachable: a message, cleaned and redacted, is
appended to a local file so it is not lost, and replayed into the inbox once the database is
back (at start and while the server runs).

Replay is idempotent: every line carries the inbox key of its message (the channel's delivery id
or one of our own), and the inbox takes a key once. A line that can never be saved is moved to
`<spool>.rejected` with the reason, and the log names the file and line; it is not retried.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.dialogue.faults import transient

log = logging.getLogger(__name__)
_lock = threading.Lock()


def _append(path: Path, record: Mapping[str, Any]) -> None:
    line = json.dumps({"at": datetime.now(UTC).isoformat(), **record})
    try:
        with _lock, path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
    except OSError as exc:  # pragma: no cover - nothing more we can do
        log.critical("message could not be spooled: %s", exc.__class__.__name__)


def spool(path: Path, channel: str, conversation: str, redacted_text: str) -> None:
    """A message outside the inbox (the terminal chat) that could not be saved."""
    _append(path, {"channel": channel, "conversation": conversation, "text": redacted_text})


def spool_entry(path: Path, channel: str, key: str, message: Mapping[str, Any]) -> None:
    """An event the inbox could not take: `message` is the inbox's own record of it."""
    _append(path, {"channel": channel, "key": key, "message": dict(message)})


def replaying(path: Path) -> Path:
    return path.with_name(path.name + ".replaying")


def rejected(path: Path) -> Path:
    return path.with_name(path.name + ".rejected")


def replay(path: Path, restore: Callable[[dict[str, Any]], bool]) -> tuple[int, int]:
    """Hand every spooled line to `restore` (True: stored now; False: stored before). Returns
    (stored, rejected). While the database is away it raises, and the file stays for the next
    attempt."""
    work = replaying(path)
    with _lock:
        if not work.exists():
            if not path.exists():
                return 0, 0
            path.rename(work)  # new lines go to a fresh spool meanwhile
    stored = failed = 0
    for number, line in enumerate(work.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
            stored += restore(row)
        except Exception as exc:
            if transient(exc):
                raise
            failed += 1
            reason = exc.__class__.__name__
            log.error(
                "spool %s line %d can never be saved (%s): moved to %s",
                work,
                number,
                reason,
                rejected(path),
            )
            with rejected(path).open("a", encoding="utf-8") as f:
                f.write(json.dumps({"reason": reason, "line": line}) + "\n")
    work.unlink()
    return stored, failed


def drain(path: Path) -> list[dict[str, str]]:
    """Read and clear the spool (without replaying: tests and tools)."""
    with _lock:
        if not path.exists():
            return []
        rows = [
            json.loads(line)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        path.unlink()
    return rows
