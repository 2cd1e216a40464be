"""Articles and their lifecycle.

Only a `validated` article whose review is not overdue may answer. Everything that decides
that lives here, so the loader, the index and the console agree on it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from functools import cached_property


class Status(StrEnum):
    DRAFT = "draft"
    VALIDATED = "validated"
    RETIRED = "retired"


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    body: str = ""
    answer: str = ""
    questions: tuple[str, ...] = ()
    owner: str = ""
    status: Status = Status.VALIDATED
    reviewed_on: date | None = None
    review_every_days: int | None = None
    tags: tuple[str, ...] = ()
    link: str = ""
    source: str = field(default="", compare=False)

    @property
    def review_due(self) -> date | None:
        """The date the article must be reviewed again, or None if it has no review cycle."""
        if self.reviewed_on is None or self.review_every_days is None:
            return None
        return self.reviewed_on + timedelta(days=self.review_every_days)

    def is_stale(self, today: date) -> bool:
        due = self.review_due
        return due is not None and today > due

    def is_answerable(self, today: date) -> bool:
        return self.status is Status.VALIDATED and not self.is_stale(today)

    def exclusion_reason(self, today: date) -> str | None:
        """Why this article may not answer today (None when it may)."""
        if self.status is not Status.VALIDATED:
            return f"status is {self.status.value}"
        if self.is_stale(today):
            return f"review was due on {self.review_due}"
        return None

    @cached_property
    def content_hash(self) -> str:
        """Hash of everything that is embedded: a change here means re-embedding. Computed once
        per article: loading a large knowledge base asks for it several times per article."""
        payload = json.dumps(
            [self.title, list(self.questions), self.answer, self.body], ensure_ascii=False
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    @property
    def short_answer(self) -> str:
        """The chat answer; bulk-imported articles without one fall back to the body's start."""
        if self.answer.strip():
            return self.answer.strip()
        return summarize_body(self.body)


def summarize_body(body: str, limit: int = 400) -> str:
    """The first paragraph of a body, cut at a word boundary."""
    first = next((p.strip() for p in body.split("\n\n") if p.strip()), "")
    if len(first) <= limit:
        return first
    cut = first[:limit].rsplit(" ", 1)[0]
    return cut + " …"
