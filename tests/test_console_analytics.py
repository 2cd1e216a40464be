"""The dashboard's numbers on rows with known timestamps (real SQLite), its SVG charts, and
the page and CSV export over real HTTP."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from bot.console.accounts import Role
from bot.console.analytics import Period, compute
from bot.console.charts import bar_chart, line_chart, sparkline
from bot.console.dashboard import tables
from bot.dialogue.conversations import conversations_table, decisions_table
from bot.dialogue.messages import Identity, IncomingMessage
from handoff.tickets import events_table, tickets_table
from retrieval.embedding import HashEmbedder
from retrieval.gaps import feedback_table, gaps_table
from tests.test_console_support import BARE_HANDLER, serve

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PERIOD = Period(date(2026, 11, 1), date(2026, 11, 10))


class Rows:
    """Writes the rows the assistant would have written, at chosen times."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.n = 0

    def conversation(self, requester: str, at: datetime) -> str:
        self.n += 1
        cid = f"conv-{self.n}"
        with self.engine.begin() as conn:
            conn.execute(
                insert(conversations_table).values(
                    id=cid, channel="web", external_key=cid, user_id=requester,
                    requester=requester, mode="bot", disclosed=True, flow_state={},
                    reference={}, created_at=at, updated_at=at,
                )
            )  # fmt: skip
        return cid

    def turn(
        self,
        cid: str,
        at: datetime,
        decision: str,
        *,
        intent: str = "faq",
        article: str | None = None,
        question: str | None = "a question",
        route: str = "default",
        reason: str | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(decisions_table).values(
                    at=at, conversation_id=cid, channel="web", intent=intent,
                    decision=decision, reason=reason, article_id=article, candidates=[],
                    route=route, question=question,
                )
            )  # fmt: skip

    def ticket(
        self,
        requester: str,
        at: datetime,
        reason: str = "user_request",
        claimed: timedelta | None = None,
        resolved: timedelta | None = None,
    ) -> None:
        self.n += 1
        with self.engine.begin() as conn:
            ticket_id = conn.execute(
                insert(tickets_table).values(
                    number=f"REQ{self.n}", status="resolved" if resolved else "new",
                    reason=reason, priority="normal", category="general", title="t",
                    summary="s", requester=requester, channel="web",
                    conversation_id=f"x-{self.n}", facts={}, questions=[], offered=[],
                    feedback=[], transcript=[], created_at=at, updated_at=at,
                    resolved_at=at + resolved if resolved else None,
                )
            ).inserted_primary_key[0]  # fmt: skip
            if claimed is not None:
                for later in (claimed, claimed + timedelta(hours=5)):  # the first claim counts
                    conn.execute(
                        insert(events_table).values(
                            ticket_id=ticket_id, at=at + later, kind="claimed", actor="a", body=""
                        )
                    )

    def feedback(self, article: str, helpful: bool, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(feedback_table).values(at=at, article_id=article, helpful=helpful))

    def gap(self, question: str, at: datetime, status: str = "open") -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(gaps_table).values(
                    at=at, question=question, reason="low_confidence",
                    nearest_article="vpn-troubleshooting", confidence=0.2, status=status,
                )
            )  # fmt: skip


def test_honest_deflection_counts_only_answers_that_stuck(sqlite_engine: Engine) -> None:
    rows = Rows(sqlite_engine)
    day = timedelta(days=1)
    # A: answered, nothing follows -> deflected
    a = rows.conversation("a@x", T0)
    rows.turn(a, T0, "answer", article="vpn-install-connect", question="vpn setup")
    # B: answered, handed off 3 days later (another conversation) -> not deflected
    b = rows.conversation("b@x", T0)
    rows.turn(b, T0, "answer", article="mailbox-full", question="mailbox full")
    rows.ticket("b@x", T0 + 3 * day)
    # C: answered, the same question again 2 days later -> not deflected
    c = rows.conversation("c@x", T0)
    rows.turn(c, T0, "answer", article="wifi-employees", question="Wifi  password?")
    c2 = rows.conversation("c@x", T0 + 2 * day)
    rows.turn(c2, T0 + 2 * day, "clarify", article="wifi-guests", question="wifi password?")
    # D: answered, asked something else whose best article is the same one -> not deflected
    d = rows.conversation("d@x", T0)
    rows.turn(d, T0, "answer", article="add-printer", question="add printer")
    rows.turn(d, T0 + day, "handoff", article="add-printer", question="printer still missing",
              reason="low_confidence")  # fmt: skip
    # E: answered, handed off only after 8 days; feedback presses do not count -> deflected
    e = rows.conversation("e@x", T0)
    rows.turn(e, T0, "answer", article="laptop-slow", question="laptop slow")
    rows.turn(e, T0 + timedelta(minutes=1), "reply", article="laptop-slow", route="button",
              question=None)  # fmt: skip
    rows.ticket("e@x", T0 + 8 * day)
    # F: someone else's handoff does not undo A's answer
    rows.ticket("f@x", T0 + day)

    board = compute(sqlite_engine, PERIOD, HashEmbedder(), now=T0 + 30 * day)
    assert board.answered == 5
    assert board.deflected == 2  # A and E
    assert board.deflection_rate == pytest.approx(0.4)
    assert board.deflection_final
    assert not compute(sqlite_engine, PERIOD, HashEmbedder(), now=T0 + day).deflection_final


def test_rates_medians_and_tables(sqlite_engine: Engine) -> None:
    rows = Rows(sqlite_engine)
    minute = timedelta(minutes=1)
    cid = rows.conversation("p@x", T0)
    rows.turn(cid, T0, "reply", intent="smalltalk", question="hello")  # not a question
    rows.turn(cid, T0 + minute, "answer", article="vpn-install-connect")
    rows.turn(cid, T0 + 2 * minute, "clarify", article="add-printer")  # then picked: answered
    rows.turn(cid, T0 + 3 * minute, "answer", article="add-printer", route="button", question=None)
    rows.turn(cid, T0 + 4 * minute, "clarify", article="laptop-slow")  # asked to rephrase
    rows.turn(cid, T0 + 5 * minute, "reply", intent="request_status")  # listed requests
    rows.turn(cid, T0 + 6 * minute, "handoff", intent="human", reason="user_request")
    outside = rows.conversation("q@x", T0 - timedelta(days=5))
    rows.turn(outside, T0 - timedelta(days=5), "answer", article="vpn-install-connect")
    for m, reason in ((10, "user_request"), (30, "low_confidence"), (50, "user_request")):
        rows.ticket("r@x", T0, reason, claimed=m * minute, resolved=2 * m * minute)
    rows.ticket("r@x", T0, "risky_intent")  # never claimed
    for helpful in (True, True, True, False):
        rows.feedback("vpn-install-connect", helpful, T0)
    rows.feedback("vpn-install-connect", False, T0 - timedelta(days=30))  # out of range
    rows.gap('=HYPERLINK("http://evil")', T0)
    rows.gap("vpn drops every hour", T0, status="fixed")

    board = compute(sqlite_engine, PERIOD, HashEmbedder(), now=T0 + timedelta(days=30))
    assert board.conversations == 1
    assert board.questions == 5  # two answers, a picked choice, a rephrase, a status, a handoff
    assert board.answered == 3
    assert board.automated_rate == pytest.approx(3 / board.questions)
    assert board.handoffs == [("user_request", 2), ("low_confidence", 1), ("risky_intent", 1)]
    assert board.median_claim == timedelta(minutes=30)
    assert board.median_resolve == timedelta(minutes=60)
    assert (board.helpful, board.not_helpful) == (3, 1)
    assert board.helpful_rate == pytest.approx(0.75)
    assert [(a.article_id, a.answers) for a in board.articles][:1] == [("vpn-install-connect", 1)]
    assert {g.example for g in board.gaps} == {'=HYPERLINK("http://evil")', "vpn drops every hour"}
    day = next(d for d in board.daily if d.day == T0.date())
    assert (day.conversations, day.questions, day.answered, day.handoffs) == (1, 5, 3, 4)
    assert len(board.daily) == 10

    exported = tables(board, {"vpn-install-connect": "Install and connect to the VPN"})
    assert set(exported) == {"summary", "daily", "handoffs", "articles", "gaps"}
    summary = dict(exported["summary"][1])
    assert summary["median_seconds_to_claim"] == "1800"
    assert exported["articles"][1][0][1] == "Install and connect to the VPN"


def test_period_parsing() -> None:
    today = date(2026, 11, 23)
    assert Period.parse(None, None, today) == Period(date(2026, 10, 25), today)
    assert Period.parse("2026-11-01", "2026-11-03", today).days[-1] == date(2026, 11, 3)
    for start, end in (("2026-11-05", "2026-11-01"), ("2024-01-01", "2026-01-01"), ("x", None)):
        with pytest.raises(ValueError):
            Period.parse(start, end, today)


def test_charts_are_well_formed_accessible_svg_and_escape_text() -> None:
    hostile = '<script>alert("x")</script>'
    for markup in (
        bar_chart("c1", "Handoffs", [(hostile, 3), ("low confidence", 1)]),
        bar_chart("c2", "Nothing", []),
        line_chart(
            "c3",
            "Per day",
            [date(2026, 11, 1), date(2026, 11, 2)],
            [("conversations", [1, 4]), (hostile, [0, 2])],
        ),
        sparkline([0, 1, 5, 2], hostile),
    ):
        root = ET.fromstring(markup)  # well-formed XML
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert root.get("role") == "img"
        assert "<script>" not in markup
    bars = ET.fromstring(bar_chart("c1", "Handoffs", [("user request", 3), ("risky", 1)]))
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert bars.find("s:title", ns).text == "Handoffs"  # type: ignore[union-attr]
    assert bars.find("s:desc", ns).text == "user request: 3; risky: 1"  # type: ignore[union-attr]
    widths = [float(r.get("width", 0)) for r in bars.findall("s:rect", ns)]
    assert widths[0] == pytest.approx(3 * widths[1], abs=0.5)


@BARE_HANDLER
async def test_dashboard_page_and_csv_export(demo_url: str) -> None:
    async with serve(demo_url) as server:
        user = Identity("u-1", "alex.morgan@example.com", "Alex Morgan")
        turns = server.runtime.turns
        for n, text in enumerate(
            ["how can I use the VPN at home", "talk to a person", "parking permit"]
        ):
            await turns.handle(IncomingMessage("web", f"c-{n}", user, text))
        server.services.gaps.record_gap('=HYPERLINK("http://x")', "low_confidence", None, 0.1)
        server.add("dana", Role.AGENT, "Dana Whitfield")
        async with server.client() as client:
            await client.sign_in("dana")
            page = await client.get("/console/dashboard")
            assert page.status == 200
            for chart in ("chart-daily", "chart-handoffs", "chart-articles"):
                assert f'<svg class="chart" id="{chart}" role="img"' in page.text
            assert re.search(r'id="kpi-conversations">3<', page.text)
            assert re.search(r'id="kpi-automated">33%<', page.text)
            today = datetime.now(UTC).date()
            csv_text = await client.get(
                f"/console/dashboard/gaps.csv?from={today - timedelta(days=6)}&to={today}"
            )
            assert csv_text.headers["Content-Type"].startswith("text/csv")
            assert "attachment" in csv_text.headers["Content-Disposition"]
            parsed = list(csv.reader(io.StringIO(csv_text.text)))
            assert parsed[0] == ["example_question", "questions", "still_open", "nearest_article"]
            firsts = [row[0] for row in parsed[1:]]
            assert '\'=HYPERLINK("http://x")' in firsts  # never a live formula
            assert not any(cell.startswith("=") for cell in firsts)
            handoffs = await client.get("/console/dashboard/handoffs.csv")
            rows: list[list[Any]] = list(csv.reader(io.StringIO(handoffs.text)))
            assert ["user_request", "1"] in rows
            bad = await client.get("/console/dashboard?from=2026-12-01&to=2026-01-01", follow=False)
            assert bad.status == 400
            assert (await client.get("/console/dashboard/secrets.csv", follow=False)).status == 404
