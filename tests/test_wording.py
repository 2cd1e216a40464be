"""The flows -> wording seam: every kind of reply a flow can decide on has its words."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

import pytest
from sqlalchemy import Engine

from bot.dialogue import wording
from flows.intents import Reason, SmalltalkKind
from flows.says import (
    Answer,
    Choose,
    FeedbackNothing,
    FeedbackSorry,
    FeedbackThanks,
    HandoffNotice,
    Rephrase,
    Say,
    SmallTalk,
    Solved,
    StatusList,
    StatusNoIdentity,
    StatusNone,
    StatusNoneOpen,
    StatusNotFound,
)
from handoff.tickets import NewTicket, RequestView, Ticket, TicketStore
from retrieval.articles import Article

VPN = Article(
    id="vpn", title="Connect to the VPN", body="...", answer="Open the VPN app and sign in."
)
PRINTER = Article(id="printer", title="Add a printer", body="...", answer="Use Settings.")
REQUEST = RequestView(
    "REQ0001234", "VPN drops", "claimed", datetime(2026, 11, 2, tzinfo=UTC), "Dana"
)


def risky_ticket(engine: Engine) -> Ticket:
    new = NewTicket("risky_intent", "high", "lost_device", "Lost laptop", "...", "a@x", "web")
    return TicketStore(engine).create(new)


def test_every_kind_of_reply_is_worded(sqlite_engine: Engine) -> None:
    samples: list[Say] = [
        Answer(VPN),
        Choose((VPN, PRINTER)),
        Rephrase(),
        HandoffNotice(Reason.RISKY_INTENT, "high"),
        FeedbackThanks(),
        FeedbackSorry(),
        FeedbackNothing(),
        Solved(),
        *(SmallTalk(kind) for kind in SmalltalkKind),
        StatusNoIdentity(),
        StatusNotFound(("REQ0000001",)),
        StatusNone(),
        StatusList((REQUEST,), ("REQ0000002",)),
        StatusNoneOpen((REQUEST,)),
    ]
    assert {type(s) for s in samples} == set(get_args(Say))  # a new kind needs a sample here
    ticket = risky_ticket(sqlite_engine)
    replies = [wording.reply(say, ticket) for say in samples]
    assert all(r.text.strip() and r.automated for r in replies)
    smalltalk = [r.text for r, s in zip(replies, samples, strict=True) if isinstance(s, SmallTalk)]
    assert len(set(smalltalk)) == len(SmalltalkKind)  # each kind its own words

    by_kind = dict(zip((type(s) for s in samples), replies, strict=False))
    assert ticket.number in by_kind[HandoffNotice].text
    assert wording.RISKY_ADVICE["lost_device"] in by_kind[HandoffNotice].text
    assert [b.action for b in by_kind[Choose].buttons] == ["choose:vpn", "choose:printer", "human"]
    status = by_kind[StatusList].text
    assert "REQ0001234" in status and "with Dana" in status and "REQ0000002" in status


def test_a_handoff_notice_names_a_ticket_or_fails() -> None:
    with pytest.raises(ValueError, match="ticket"):
        wording.reply(HandoffNotice(Reason.USER_REQUEST, "normal"))


def test_removed_secrets_are_named_and_personal_numbers_are_not_to_be_changed() -> None:
    credential = wording.secret_removed(["one_time_code", "password"]).text
    assert "one-time sign-in code and password" in credential
    assert "please change it now" in credential
    personal = wording.secret_removed(["iban"]).text
    assert "bank account number (IBAN)" in personal
    assert "change it" not in personal
    mixed = wording.secret_removed(["ssn", "password"]).text
    assert "please change it now" in mixed
