"""An article's history for the console: each version with what changed from the one before,
line by line."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.articles import Article
from retrieval.store import Version, record

LABELS = {
    "title": "Title",
    "answer": "Short answer",
    "questions": "Questions",
    "body": "Body",
    "status": "Status",
    "owner": "Owner",
    "reviewed_on": "Reviewed on",
    "review_every_days": "Review every (days)",
    "tags": "Tags",
    "link": "Link",
}


@dataclass(frozen=True)
class FieldChange:
    label: str
    lines: tuple[tuple[str, str], ...]  # ("+" added, "-" removed, " " kept, text)


@dataclass(frozen=True)
class Entry:
    version: Version
    changes: tuple[FieldChange, ...]


def _lines(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value).splitlines()


def field_changes(old: Article | None, new: Article) -> tuple[FieldChange, ...]:
    before = record(old) if old is not None else {}
    after = record(new)
    out = []
    for name, label in LABELS.items():
        a, b = _lines(before.get(name)), _lines(after.get(name))
        if a == b:
            continue
        lines = tuple(
            (line[0], line[2:])
            for line in difflib.ndiff(a, b)
            if line[:1] in ("+", "-", " ") and not line.startswith("? ")
        )
        out.append(FieldChange(label, lines))
    return tuple(out)


def entries(history: Sequence[Version]) -> list[Entry]:
    """Newest first, as the store returns them; each against the version before it."""
    out = []
    for i, version in enumerate(history):
        previous = history[i + 1].article if i + 1 < len(history) else None
        out.append(Entry(version, field_changes(previous, version.article)))
    return out
