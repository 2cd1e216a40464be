"""Demo employees and requests for `make run`: enough to try every flow on a fresh machine."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import update

from handoff.tickets import NewTicket, Status, TicketStore, tickets_table
from retrieval.articles import Article
from retrieval.loader import LoadResult, load_path

DEMO = Path(__file__).parent / "demo"
KB = DEMO / "kb"
# The day the demo articles' "reviewed on" dates were written for. Loaded on another day, they
# move by the difference, so the demo looks the same whenever it runs (never all overdue).
WRITTEN_FOR = date(2026, 11, 23)


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: str


def users() -> list[DemoUser]:
    rows: list[dict[str, Any]] = yaml.safe_load((DEMO / "users.yaml").read_text(encoding="utf-8"))
    return [DemoUser(r["email"], r["name"], r.get("role", "")) for r in rows]


def seed_tickets(store: TicketStore, today: datetime | None = None) -> int:
    """Create the demo requests that do not exist yet. Returns how many were created."""
    now = today or datetime.now(UTC)
    rows: list[dict[str, Any]] = yaml.safe_load((DEMO / "tickets.yaml").read_text(encoding="utf-8"))
    names = {u.email: u.name for u in users()}
    created = 0
    for row in rows:
        if store.by_number(row["number"]) is not None:
            continue
        when = now - timedelta(days=int(row.get("days_ago", 0)))
        resolved = when + timedelta(hours=float(row.get("resolved_after_hours", 0)))
        with store.engine.begin() as conn:
            ticket = store.create(
                NewTicket(
                    reason="user_request",
                    priority="normal",
                    category=row["category"],
                    title=row["title"],
                    summary=f"Demo request: {row['title']}",
                    requester=row["requester"],
                    requester_name=names.get(row["requester"]),
                    channel="portal",
                    number=row["number"],
                    status=Status(row["status"]),
                ),
                conn,
            )
            conn.execute(
                update(tickets_table)
                .where(tickets_table.c.id == ticket.id)
                .values(
                    created_at=when,
                    updated_at=when,
                    claimed_by=row.get("agent"),
                    resolved_at=resolved if row["status"] == "resolved" else None,
                    resolved_by=row.get("agent") if row["status"] == "resolved" else None,
                )
            )
        created += 1
    return created


def rebased(articles: list[Article], today: date) -> list[Article]:
    """The demo articles with their review dates moved from `WRITTEN_FOR` to `today`."""
    shift = today - WRITTEN_FOR
    return [
        replace(a, reviewed_on=a.reviewed_on + shift) if a.reviewed_on is not None else a
        for a in articles
    ]


def load_articles(path: Path, today: date) -> LoadResult:
    """Articles from `path`; the demo knowledge base as it reads on `today` (`WRITTEN_FOR`)."""
    loaded = load_path(path)
    if path.exists() and path.resolve() == KB.resolve():
        loaded.articles[:] = rebased(loaded.articles, today)
    return loaded
