"""Tests for handoff.summary: an agent must grasp a handed-over case in about ten seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from handoff.case import Case, new_ticket
from handoff.facts import Facts, extract_facts
from handoff.summary import SUMMARY_LIMIT, TITLE_LIMIT, CaseOutline, summarize, ticket_title

REASONS = [
    "user_request",
    "low_confidence",
    "risky_intent",
    "negative_feedback",
    "repeated_failure",
    "error",
]
VPN_QUESTION = "vpn keeps dropping with error 809 at the hotel since this morning on my laptop"


def outline(**changes: Any) -> CaseOutline:
    base = CaseOutline(
        reason="negative_feedback",
        priority="normal",
        category="vpn",
        requester="jane.doe@example.com",
        channel="web",
        questions=("hi", VPN_QUESTION, "still the same", "agent please"),
        offered=(("Fix VPN connection errors", 0.62),),
        feedback=(("Fix VPN connection errors", False),),
        requester_name="Jane Doe",
    )
    return replace(base, **changes)


def lines_of(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


def assert_ten_second_bound(text: str) -> None:
    assert len(text) <= SUMMARY_LIMIT
    assert len(text.splitlines()) <= 6
    assert all(line.strip() for line in text.splitlines())


# --------------------------------------------------------------------------------------------
# The whole summary
# --------------------------------------------------------------------------------------------


def test_typical_summary() -> None:
    assert summarize(outline()) == "\n".join(
        [
            "Why: the user asked for a person (after an answer they found not helpful).",
            f'Asked: "{VPN_QUESTION}" (+3 more messages)',
            "Tried: Fix VPN connection errors (conf 0.62) — not helpful",
            "Facts: error 809 · VPN · laptop · since this morning",
            "Priority: normal · topic: vpn",
            "From: Jane Doe <jane.doe@example.com> · web chat",
        ]
    )


def test_deterministic_across_processes() -> None:
    """The same conversation gives the same summary and title in another process, whatever
    order its sets and dicts iterate in there (string hashing is seeded per process)."""
    here = json.dumps([summarize(outline()), ticket_title(outline())])
    script = (
        "import json; from tests.test_handoff_summary import outline, summarize, ticket_title;"
        "print(json.dumps([summarize(outline()), ticket_title(outline())]))"
    )
    root = Path(__file__).resolve().parent.parent
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == here


LONG = (
    "Hello there! My laptop shows 0x80070005 in Outlook, then Teams, OneDrive, SharePoint and "
    "Excel fail too since this morning, and the VPN drops with error 809 every few minutes " * 4
)
HEAVY = [
    outline(questions=[LONG] * 30),
    outline(questions=[f"message {i}: " + LONG for i in range(30)], requester_name="N" * 300),
    outline(
        questions=["line one\nline two\n\n\nline three " * 40] * 30,
        offered=[(f"Article {i} " + "with a very long title " * 10, 0.5) for i in range(20)],
        feedback=[
            (f"Article {i} " + "with a very long title " * 10, i % 2 == 0) for i in range(20)
        ],
    ),
    outline(
        reason="something_new_" * 20,
        priority="p" * 200,
        category="c" * 200,
        requester="r" * 300 + "@example.com",
        channel="carrier pigeon " * 20,
        questions=["x" * 5000] * 30,
    ),
    outline(
        questions=["error 809"] * 30,
        facts=Facts(
            error_codes=tuple(f"{i}" for i in range(40)),
            applications=("Outlook",) * 5,
            times=("since a very long time ago " * 10,),
        ),
    ),
    outline(questions=[]),
]


@pytest.mark.parametrize("case", HEAVY, ids=[f"heavy-{i}" for i in range(len(HEAVY))])
def test_ten_second_bound(case: CaseOutline) -> None:
    assert_ten_second_bound(summarize(case))
    title = ticket_title(case)
    assert 0 < len(title) <= TITLE_LIMIT
    assert "\n" not in title


def test_thirty_long_messages_still_quote_the_question() -> None:
    text = summarize(outline(questions=[LONG] * 30))
    (asked,) = lines_of(text, "Asked: ")
    assert asked.startswith('Asked: "My laptop shows 0x80070005')
    assert asked.endswith('…" (+29 more messages)')
    assert len(asked) <= 200


def test_line_order() -> None:
    text = summarize(outline())
    assert [line.split(":")[0] for line in text.splitlines()] == [
        "Why",
        "Asked",
        "Tried",
        "Facts",
        "Priority",
        "From",
    ]


# --------------------------------------------------------------------------------------------
# Why
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", REASONS)
def test_each_reason_has_its_own_wording(reason: str) -> None:
    (why,) = lines_of(summarize(outline(reason=reason)), "Why: ")
    assert "handed over" not in why  # the wording for unknown codes
    assert "_" not in why  # human wording, not the code
    others = [lines_of(summarize(outline(reason=r)), "Why: ")[0] for r in REASONS if r != reason]
    assert why not in others


def test_unknown_reason_still_says_why() -> None:
    (why,) = lines_of(summarize(outline(reason="quota_exceeded")), "Why: ")
    assert why == "Why: handed over (quota exceeded)."


# --------------------------------------------------------------------------------------------
# Asked
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("others", "suffix"),
    [(0, '"'), (1, '" (+1 more message)'), (2, '" (+2 more messages)')],
)
def test_more_messages_are_counted(others: int, suffix: str) -> None:
    questions = [VPN_QUESTION, *(["thanks"] * others)]
    (asked,) = lines_of(summarize(outline(questions=questions)), "Asked: ")
    assert asked == f'Asked: "{VPN_QUESTION}{suffix}'


def test_quote_is_trimmed_to_about_160_characters() -> None:
    question = "my outlook search " + "returns nothing useful at all " * 20
    (asked,) = lines_of(summarize(outline(questions=[question])), "Asked: ")
    quoted = asked.removeprefix('Asked: "').removesuffix('"')
    assert 120 <= len(quoted) <= 160
    assert quoted.endswith("…")
    assert question.startswith(quoted.removesuffix("…"))


def test_no_questions_no_asked_line() -> None:
    assert not lines_of(summarize(outline(questions=["", "  "])), "Asked: ")


def test_only_filler_quotes_the_last_message() -> None:
    (asked,) = lines_of(summarize(outline(questions=["hi", "agent please"])), "Asked: ")
    assert asked == 'Asked: "agent please" (+1 more message)'


# --------------------------------------------------------------------------------------------
# Tried
# --------------------------------------------------------------------------------------------


def test_tried_shows_confidence_and_feedback() -> None:
    text = summarize(
        outline(
            offered=[("Reset your password", 0.81), ("Unlock your account", None)],
            feedback=[("Reset your password", True), ("Set up MFA", False)],
        )
    )
    (tried,) = lines_of(text, "Tried: ")
    assert tried == (
        "Tried: Reset your password (conf 0.81) — helpful; Unlock your account; "
        "Set up MFA — not helpful"
    )


def test_tried_absent_when_nothing_was_offered() -> None:
    assert not lines_of(summarize(outline(offered=(), feedback=())), "Tried: ")


def test_many_articles_are_counted_not_listed() -> None:
    offered = [(f"Article number {i} about printers", 0.5) for i in range(12)]
    (tried,) = lines_of(summarize(outline(offered=offered, feedback=())), "Tried: ")
    assert tried.endswith(" more)")
    assert len(tried) <= 120


# --------------------------------------------------------------------------------------------
# Facts
# --------------------------------------------------------------------------------------------


def test_facts_line_absent_without_facts() -> None:
    text = summarize(outline(questions=["hi", "my email is broken, agent please"]))
    assert not lines_of(text, "Facts: ")
    assert_ten_second_bound(text)


def test_facts_from_the_outline_win_over_extraction() -> None:
    facts = Facts(applications=("Salesforce",), ticket_numbers=("REQ0001234",))
    (line,) = lines_of(summarize(outline(facts=facts)), "Facts: ")
    assert line == "Facts: Salesforce · REQ0001234"


def test_facts_line_labels_bare_numbers_as_errors() -> None:
    facts = Facts(error_codes=("809", "0x80070005", "HTTP 503", "30088-26"))
    (line,) = lines_of(summarize(outline(facts=facts)), "Facts: ")
    assert line == "Facts: error 809 · 0x80070005 · HTTP 503 · error 30088-26"


def test_redaction_placeholders_never_become_facts() -> None:
    questions = ["my password is [redacted password]", "token [redacted api_key] error"]
    text = summarize(outline(questions=questions))
    assert not lines_of(text, "Facts: ")
    assert extract_facts(questions).empty


# --------------------------------------------------------------------------------------------
# Priority and requester
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "priority", "category", "expected"),
    [
        ("risky_intent", "high", "security_incident", "Priority: high (security incident)"),
        ("risky_intent", "high", "lost_device", "Priority: high (lost device)"),
        ("user_request", "normal", "vpn", "Priority: normal · topic: vpn"),
        ("user_request", "low", "general", "Priority: low"),
    ],
)
def test_priority_line(reason: str, priority: str, category: str, expected: str) -> None:
    text = summarize(outline(reason=reason, priority=priority, category=category))
    assert lines_of(text, "Priority: ") == [expected]


@pytest.mark.parametrize(
    ("name", "requester", "channel", "expected"),
    [
        ("Jane Doe", "jane@example.com", "slack", "From: Jane Doe <jane@example.com> · Slack"),
        (None, "U02ABC", "teams", "From: U02ABC · Microsoft Teams"),
        ("Sam", "E1234", "terminal", "From: Sam (E1234) · terminal"),
    ],
)
def test_from_line(name: str | None, requester: str, channel: str, expected: str) -> None:
    text = summarize(outline(requester_name=name, requester=requester, channel=channel))
    assert lines_of(text, "From: ") == [expected]


# --------------------------------------------------------------------------------------------
# Title
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "questions",
    [
        ["hi", "agent please", VPN_QUESTION],
        ["Hello!", VPN_QUESTION, "can I talk to a human please"],
        [VPN_QUESTION, "this is not helpful", "get me a real person"],
        ["good morning", "speak to someone", VPN_QUESTION, "thanks"],
        ["Hi there, " + VPN_QUESTION, "human"],
    ],
)
def test_greetings_and_asking_for_a_person_do_not_become_the_title(
    questions: list[str],
) -> None:
    assert ticket_title(outline(questions=questions)) == VPN_QUESTION


def test_the_most_informative_question_wins() -> None:
    questions = ["my computer is slow", "Outlook crashes with 0x80070005 when opening PDFs"]
    assert ticket_title(outline(questions=questions)) == questions[1]


def test_ties_go_to_the_earliest_question() -> None:
    questions = ["printer on floor 2 jams", "printer on floor 3 jams"]
    assert ticket_title(outline(questions=questions)) == questions[0]


@pytest.mark.parametrize(
    ("reason", "channel", "category", "expected"),
    [
        ("user_request", "web", "general", "Asked for a person (web chat)"),
        (
            "negative_feedback",
            "slack",
            "general",
            "Asked for a person after an unhelpful answer (Slack)",
        ),
        ("risky_intent", "teams", "security_incident", "Security incident (Microsoft Teams)"),
        ("low_confidence", "terminal", "general", "Question the bot could not answer (terminal)"),
    ],
)
def test_fallback_title(reason: str, channel: str, category: str, expected: str) -> None:
    case = outline(reason=reason, channel=channel, category=category, questions=["hi", "agent pls"])
    assert ticket_title(case) == expected


def test_long_title_is_trimmed_at_a_word_boundary() -> None:
    question = "when I open the shared finance workbook in excel " * 5
    title = ticket_title(outline(questions=[question]))
    assert len(title) <= TITLE_LIMIT
    assert title.endswith("…")
    assert (title.removesuffix("…") + " ") in question


def test_title_never_cuts_a_placeholder_in_half() -> None:
    before = "my colleague sent me her new login for the finance portal and it is"
    title = ticket_title(outline(questions=[f"{before} [redacted password] in Salesforce"]))
    assert title == f"{before}…"


def test_title_is_one_line() -> None:
    title = ticket_title(outline(questions=["printer\n\non floor 2\tjams   again"]))
    assert title == "printer on floor 2 jams again"


# --------------------------------------------------------------------------------------------
# The case as a ticket, in one call
# --------------------------------------------------------------------------------------------


def test_a_case_becomes_a_ticket_whose_fields_agree_with_its_summary() -> None:
    case = Case(
        reason="negative_feedback",
        priority="normal",
        category="vpn",
        requester="jane.doe@example.com",
        requester_name="Jane Doe",
        channel="web",
        conversation_id="c-1",
        questions=("hi", VPN_QUESTION, "agent please"),
        offered=(("vpn-errors", 0.62), ("retired-article", 0.4)),
        feedback=(("vpn-errors", False),),
        titles={"vpn-errors": "Fix VPN connection errors"},  # the retired one has no title now
        transcript=({"at": "2026-11-23T09:00:00+00:00", "role": "user", "text": "hi"},),
    )
    ticket = new_ticket(case)
    assert ticket.title == ticket_title(outline(questions=case.questions)) == VPN_QUESTION
    assert ticket.facts == extract_facts(case.questions).as_dict()
    assert "809" in ticket.facts["error_codes"]
    (tried,) = lines_of(ticket.summary, "Tried: ")
    assert "Fix VPN connection errors" in tried and "retired-article" in tried
    assert ticket.offered == [("vpn-errors", 0.62), ("retired-article", 0.4)]  # ids, not titles
    assert (ticket.conversation_id, ticket.requester_name) == ("c-1", "Jane Doe")
