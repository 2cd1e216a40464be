"""The texts a hand-off becomes in a ticket system, built only from the (redacted) ticket.

Two parts, because every system separates what the employee sees from what only agents read:
`described` is the employee's own words (the customer-visible description); `case_notes` is
the summary (which carries the facts deskbot noticed) and the transcript (work notes, an
internal comment, a private comment). Both are capped; when the notes are too long the
oldest transcript lines go first, since the summary already says what the conversation was
about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from handoff.tickets import NewTicket

DESCRIPTION_LIMIT = 4000  # ServiceNow's description column; JSM and Zendesk allow more
NOTES_LIMIT = 30000  # under JSM's 32767 per comment and ServiceNow's journal entry size
_ROLES = {"user": "Employee", "bot": "deskbot", "agent": "Agent"}
_CHANNELS = {"web": "the web chat", "slack": "Slack", "teams": "Microsoft Teams"}


def reference_line(correlation_id: str) -> str:
    """The line that carries deskbot's id in texts, where a system has no field for it."""
    return f"deskbot reference: {correlation_id}"


def described(ticket: NewTicket) -> str:
    """What the employee asked, in their words (already redacted), for the description."""
    where = _CHANNELS.get(ticket.channel, ticket.channel)
    asked = [q.strip() for q in ticket.questions if q.strip()]
    lines = [f"Raised through deskbot in {where}."]
    if asked:
        lines += ["", *asked]
    return _cap("\n".join(lines), DESCRIPTION_LIMIT)


def case_notes(ticket: NewTicket, correlation_id: str) -> str:
    """Summary (with its facts line) and transcript for agents only, with deskbot's reference
    at the end."""
    lines = _transcript(ticket.transcript)
    body = ticket.summary.strip()
    end = "\n" + reference_line(correlation_id)
    room = NOTES_LIMIT - len(body) - len(end) - 2
    kept = _newest_that_fit(lines, room)
    if kept:
        dropped = len(lines) - len(kept)
        title = "Transcript (UTC, secrets removed)" + (
            f", the {dropped} earliest lines left out:" if dropped else ":"
        )
        body += "\n\n" + title + "\n" + "\n".join(kept)
    return _cap(body + "\n" + end, NOTES_LIMIT)


def chat_comment(author: str, text: str) -> str:
    """An employee's chat message as a comment written by the integration user."""
    return f"{author} wrote in chat:\n{text}"


def _transcript(transcript: Sequence[Mapping[str, Any]]) -> list[str]:
    out = []
    for entry in transcript:
        text = " ".join(str(entry.get("text", "")).split())
        if not text:
            continue
        role = _ROLES.get(str(entry.get("role", "")), str(entry.get("role", "")))
        out.append(f"[{_clock(entry.get('at'))}] {role}: {text}")
    return out


def _clock(at: object) -> str:
    if isinstance(at, datetime):
        return at.strftime("%H:%M")
    try:
        return datetime.fromisoformat(str(at)).strftime("%H:%M")
    except ValueError:
        return "--:--"


def _newest_that_fit(lines: list[str], room: int) -> list[str]:
    kept: list[str] = []
    used = 60  # the transcript's title line
    for line in reversed(lines):
        if used + len(line) + 1 > room:
            break
        kept.append(line)
        used += len(line) + 1
    return kept[::-1]


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
