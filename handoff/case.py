"""A handed-over conversation as a new ticket, in one call: the title, the summary and the
facts come from one outline of the case, so the ticket's fields and what the agent reads first
never drift apart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handoff.facts import extract_facts
from handoff.summary import CaseOutline, summarize, ticket_title
from handoff.tickets import NewTicket


@dataclass(frozen=True)
class Case:
    """What is known of a handed-over conversation; all texts already redacted."""

    reason: str  # user_request, low_confidence, risky_intent, ...
    priority: str  # high, normal, low
    category: str  # vpn, security_incident, general, ...
    requester: str  # e-mail or id
    requester_name: str | None
    channel: str  # web, slack, teams, terminal
    conversation_id: str | None
    questions: Sequence[str]  # the user's messages, oldest first
    offered: Sequence[tuple[str, float]] = ()  # (article id, confidence), in the order offered
    feedback: Sequence[tuple[str, bool]] = ()  # (article id, helpful?)
    titles: Mapping[str, str] = field(default_factory=dict)  # article id -> title
    transcript: Sequence[Mapping[str, Any]] = ()  # [{"at", "role", "text"}]


def new_ticket(case: Case) -> NewTicket:
    """The ticket for a case, with its title, summary and facts."""

    def title(article_id: str) -> str:
        return case.titles.get(article_id, article_id)

    outline = CaseOutline(
        reason=case.reason,
        priority=case.priority,
        category=case.category,
        requester=case.requester,
        channel=case.channel,
        questions=case.questions,
        offered=[(title(a), c) for a, c in case.offered],
        feedback=[(title(a), helpful) for a, helpful in case.feedback],
        facts=extract_facts(case.questions),
        requester_name=case.requester_name,
    )
    return NewTicket(
        reason=case.reason,
        priority=case.priority,
        category=case.category,
        title=ticket_title(outline),
        summary=summarize(outline),
        requester=case.requester,
        requester_name=case.requester_name,
        channel=case.channel,
        conversation_id=case.conversation_id,
        facts=outline.facts.as_dict(),
        questions=list(case.questions),
        offered=list(case.offered),
        feedback=list(case.feedback),
        transcript=list(case.transcript),
    )
