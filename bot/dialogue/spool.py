"""The last resort when the database is unreachable: a redacted message is appended to a
local file so it is not lost, and `deskbot serve` replays the file into the database at start."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)
_lock = threading.Lock()


def spool(path: Path, channel: str, conversation: str, redacted_text: str) -> None:
    line = json.dumps(
        {
            "at": datetime.now(UTC).isoformat(),
            "channel": channel,
            "conversation": conversation,
            "text": redacted_text,
        }
    )
    try:
        with _lock, path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
    except OSError as exc:  # pragma: no cover - nothing more we can do
        log.critical("message could not be spooled: %s", exc.__class__.__name__)


def drain(path: Path) -> list[dict[str, str]]:
    """Read and clear the spool."""
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
