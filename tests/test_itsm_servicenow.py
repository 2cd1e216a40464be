"""The ServiceNow adapter against a local fake of the Table API: what is written, what comes
back, and what only ServiceNow does (ACL messages, X-RateLimit-Reset, OAuth). What every
system must survive is in test_itsm_faults."""

from __future__ import annotations

import logging

import pytest

from handoff.itsm.errors import AuthFailed, Forbidden, RateLimited
from handoff.itsm.port import AgentComment, StateChange, TicketState
from handoff.itsm.servicenow import ServiceNow
from tests.itsm_fake import Opened, hand_off
from tests.servicenow_fake import CLIENT_ID, CLIENT_SECRET, PASSWORD, USER, FakeServiceNow

pytest_plugins = ("tests.itsm_fixtures",)  # fake, opened, system
SYSTEM = "servicenow"


@pytest.fixture
def snow(system: ServiceNow) -> ServiceNow:
    return system


# -- creating ------------------------------------------------------------------------------------


async def test_create_writes_an_incident_for_the_caller_with_notes_only_agents_see(
    fake: FakeServiceNow, snow: ServiceNow
) -> None:
    ref = await snow.create(hand_off(), "REQ2000001")

    row = fake.incident(ref.number)
    alex = fake.user("alex.morgan")
    assert ref.id == row["sys_id"] and ref.number.startswith("INC")
    assert ref.url == f"{fake.url}/incident.do?sys_id={row['sys_id']}"
    assert ref.requester_id == row["caller_id"] == alex["sys_id"]
    assert row["short_description"] == hand_off().title
    assert "my vpn says error 809 since this morning" in row["description"]
    assert "confident" not in row["description"]  # the summary is for agents only
    assert row["correlation_id"] == "REQ2000001"
    assert (row["contact_type"], row["category"]) == ("virtual_agent", "network")
    assert (row["urgency"], row["impact"]) == ("1", "2")  # high -> P2
    assert row["sys_created_by"] == USER
    [notes] = fake.journal(ref.number, "work_notes")
    assert "Why: the bot found no answer" in notes["value"]
    assert "Facts: error 809 · VPN" in notes["value"]
    assert "Employee: my password is [redacted password]" in notes["value"]
    assert notes["value"].rstrip().endswith("deskbot reference: REQ2000001")
    assert fake.journal(ref.number, "comments") == []  # nothing customer-visible beyond that


async def test_priority_category_and_contact_type_follow_the_configuration(
    fake: FakeServiceNow, opened: Opened
) -> None:
    snow = opened(
        priorities={"normal": (3, 1), "high": (1, 1)},
        categories={"printing": "printer"},
        default_category="request",
        contact_type="chat",
    )
    printing = await snow.create(hand_off(priority="normal", category="printing"), "R1")
    other = await snow.create(hand_off(priority="low", category="mystery"), "R2")

    row = fake.incident(printing.number)
    assert (row["urgency"], row["impact"], row["category"], row["contact_type"]) == (
        "3",
        "1",
        "printer",
        "chat",
    )
    row = fake.incident(other.number)  # unknown priority -> the "normal" mapping
    assert (row["urgency"], row["impact"], row["category"]) == ("3", "1", "request")


async def test_the_caller_is_looked_up_once_and_an_unknown_address_leaves_a_note(
    fake: FakeServiceNow, snow: ServiceNow
) -> None:
    await snow.create(hand_off(), "R1")
    await snow.create(hand_off(), "R2")
    stranger = await snow.create(hand_off("contractor@elsewhere.example"), "R3")

    lookups = [c for c in fake.calls_to("GET", "/api/now/table/sys_user")]
    assert [c.query["sysparm_query"] for c in lookups] == [
        "email=alex.morgan@example.com^active=true",
        "email=contractor@elsewhere.example^active=true",
    ]
    row = fake.incident(stranger.number)
    assert row["caller_id"] == "" and stranger.requester_id == ""
    [notes] = fake.journal(stranger.number, "work_notes")
    assert notes["value"].startswith("No active ServiceNow user has the e-mail contractor@")


# -- comments and polling ------------------------------------------------------------------------


async def test_the_employees_message_becomes_a_customer_visible_comment(
    fake: FakeServiceNow, snow: ServiceNow
) -> None:
    ref = await snow.create(hand_off(), "R1")
    await snow.comment(ref, "it is still failing after the restart", "Alex Morgan")

    [entry] = fake.journal(ref.number, "comments")
    assert entry["value"] == "Alex Morgan wrote in chat:\nit is still failing after the restart"
    assert entry["sys_created_by"] == USER


async def test_polling_returns_agent_comments_and_states_but_never_our_own_or_the_callers(
    fake: FakeServiceNow, snow: ServiceNow
) -> None:
    ref = await snow.create(hand_off(), "R1")
    first = await snow.changes(None, [ref])
    assert first.events == ()

    await snow.comment(ref, "any news?", "Alex Morgan")  # ours
    fake.agent_comment(ref.number, "replying from the portal", by="alex.morgan")  # the caller
    fake.set_state(ref.number, "2")
    fake.agent_comment(ref.number, "Hi Alex, I am looking at your VPN profile now.")
    second = await snow.changes(first.cursor, [ref])

    assert [type(e) for e in second.events] == [AgentComment, StateChange]
    comment, state = second.events
    assert isinstance(state, StateChange) and isinstance(comment, AgentComment)
    assert (state.ticket_id, state.state, state.label) == (ref.id, TicketState.IN_PROGRESS, "2")
    assert comment.text == "Hi Alex, I am looking at your VPN profile now."
    assert comment.author == "Beth Anglin" and comment.ticket_id == ref.id

    again = await snow.changes(second.cursor, [ref])
    assert again.events == ()

    fake.agent_comment(ref.number, "Fixed: please reconnect.")
    fake.set_state(ref.number, "6")
    third = await snow.changes(again.cursor, [ref])
    assert [getattr(e, "text", None) or e.state for e in third.events] == [  # type: ignore[union-attr]
        "Fixed: please reconnect.",
        TicketState.RESOLVED,
    ]
    assert isinstance(third.events[1], StateChange) and third.events[1].state.ended


async def test_comments_written_in_the_same_second_as_the_cursor_are_not_missed(
    fake: FakeServiceNow, snow: ServiceNow
) -> None:
    ref = await snow.create(hand_off(), "R1")
    fake.tick = 0  # every write from now on in the same second
    fake.agent_comment(ref.number, "first")
    seen = await snow.changes(None, [ref])
    fake.agent_comment(ref.number, "second, same second")
    later = await snow.changes(seen.cursor, [ref])

    assert [e.text for e in seen.events if isinstance(e, AgentComment)] == ["first"]
    assert [e.text for e in later.events if isinstance(e, AgentComment)] == [
        "second, same second"
    ]


async def test_an_idle_poll_is_one_request_and_nothing_watched_is_none(
    fake: FakeServiceNow, snow: ServiceNow
) -> None:
    ref = await snow.create(hand_off(), "R1")
    cursor = (await snow.changes(None, [ref])).cursor
    before = len(fake.calls)
    idle = await snow.changes(cursor, [ref])
    assert idle.events == () and len(fake.calls) == before + 1
    assert (await snow.changes(cursor, [])).events == ()
    assert len(fake.calls) == before + 1


async def test_state_mapping_is_configurable_for_customised_instances(
    fake: FakeServiceNow, opened: Opened
) -> None:
    snow = opened(states={"1": TicketState.NEW, "10": TicketState.ON_HOLD})
    ref = await snow.create(hand_off(), "R1")
    cursor = (await snow.changes(None, [ref])).cursor
    fake.set_state(ref.number, "10")
    [change] = (await snow.changes(cursor, [ref])).events
    assert isinstance(change, StateChange) and change.state is TicketState.ON_HOLD


async def test_polling_follows_the_link_header_across_pages(
    fake: FakeServiceNow, snow: ServiceNow
) -> None:
    refs = [await snow.create(hand_off(), f"R{i}") for i in range(5)]
    fake.max_page = 2
    for ref in refs:
        fake.agent_comment(ref.number, f"answer for {ref.number}")
    changes = await snow.changes(None, refs)
    texts = sorted(e.text for e in changes.events if isinstance(e, AgentComment))
    assert texts == sorted(f"answer for {r.number}" for r in refs)
    pages = fake.calls_to("GET", "/api/now/table/sys_journal_field")
    assert [c.query.get("sysparm_offset", "0") for c in pages] == ["0", "2", "4"]


# -- status --------------------------------------------------------------------------------------


async def test_status_lists_the_callers_incidents_and_items_newest_first(
    fake: FakeServiceNow, snow: ServiceNow
) -> None:
    alex, sam = fake.user("alex.morgan"), fake.user("sam.taylor")
    beth = fake.user("beth.anglin")
    old = fake.add_record("incident", caller_id=alex["sys_id"], short_description="Printer jam")
    theirs = fake.add_record("incident", caller_id=sam["sys_id"], short_description="Not yours")
    item = fake.add_record(
        "sc_req_item",
        requested_for=alex["sys_id"],
        short_description="New laptop",
        state="2",
        assigned_to=beth["sys_id"],
    )
    fake.set_state(old["number"], "6")  # updated last: newest

    views = await snow.requests_of("Alex.Morgan@example.com")

    assert [(v.number, v.title, v.status, v.assignee) for v in views] == [
        (old["number"], "Printer jam", "resolved", None),
        (item["number"], "New laptop", "in_progress", "Beth Anglin"),
    ]
    assert theirs["number"] not in {v.number for v in views}
    assert await snow.requests_of("nobody@example.com") == []


async def test_someone_elses_number_is_answered_like_a_missing_one(
    fake: FakeServiceNow, snow: ServiceNow
) -> None:
    alex, sam = fake.user("alex.morgan"), fake.user("sam.taylor")
    mine = fake.add_record("incident", caller_id=alex["sys_id"], short_description="Mine")
    item = fake.add_record("sc_req_item", requested_for=alex["sys_id"], short_description="Mouse")
    theirs = fake.add_record("incident", caller_id=sam["sys_id"], short_description="Theirs")

    found = await snow.request("alex.morgan@example.com", mine["number"].lower())
    assert found is not None and found.title == "Mine"
    found_item = await snow.request("alex.morgan@example.com", item["number"])
    assert found_item is not None and found_item.title == "Mouse"
    assert await snow.request("alex.morgan@example.com", theirs["number"]) is None
    assert await snow.request("alex.morgan@example.com", "INC9999999") is None
    assert await snow.request("alex.morgan@example.com", "CHG0000001") is None


# -- refusals, limits, outages -------------------------------------------------------------------


async def test_a_missing_read_right_is_named(fake: FakeServiceNow, snow: ServiceNow) -> None:
    fake.denied.add(("sys_user", "read"))
    with pytest.raises(Forbidden) as caught:
        await snow.create(hand_off(), "R1")
    assert str(caught.value).startswith(f"ServiceNow: no read access to sys_user for user {USER}")
    assert caught.value.needs == "read access to sys_user"


async def test_a_missing_create_right_is_named(fake: FakeServiceNow, snow: ServiceNow) -> None:
    fake.denied.add(("incident", "create"))
    with pytest.raises(Forbidden, match=r"no create access to incident .*ACL Exception Insert"):
        await snow.create(hand_off(), "R1")


async def test_servicenows_rate_limit_reset_is_waited_for(
    fake: FakeServiceNow, snow: ServiceNow, opened: Opened
) -> None:
    reset = opened.clock.wall_now + 30  # the epoch second the window opens again
    fake.fail_next(
        "POST", "/api/now/table/incident", 429, headers={"X-RateLimit-Reset": f"{reset:.0f}"}
    )
    await snow.create(hand_off(), "R1")
    assert len(fake.tables["incident"]) == 1
    assert opened.clock.wall_now >= reset and len(opened.clock.sleeps) == 1


async def test_a_retry_after_beyond_the_longest_wait_is_raised_for_a_later_attempt(
    fake: FakeServiceNow, snow: ServiceNow, opened: Opened
) -> None:
    fake.fail_next("GET", "/api/now/table/sys_user", 429, headers={"Retry-After": "3600"})
    with pytest.raises(RateLimited) as caught:
        await snow.create(hand_off(), "R1")
    assert caught.value.retryable and caught.value.retry_after == 3600
    assert opened.clock.sleeps == []


async def test_a_comment_that_timed_out_after_it_was_written_is_not_doubled(
    fake: FakeServiceNow, snow: ServiceNow
) -> None:
    ref = await snow.create(hand_off(), "R1")
    fake.stall_after("PATCH", "/api/now/table/incident", 0.6)
    await snow.comment(ref, "still broken", "Alex Morgan")
    await snow.comment(ref, "still broken", "Alex Morgan", retry=True)  # the outbox tries again
    [entry] = fake.journal(ref.number)
    assert entry["value"] == "Alex Morgan wrote in chat:\nstill broken"


# -- OAuth ---------------------------------------------------------------------------------------


async def test_oauth_signs_in_with_the_password_grant_and_renews_before_expiry(
    fake: FakeServiceNow, opened: Opened
) -> None:
    snow = opened(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    ref = await snow.create(hand_off(), "R1")
    [grant] = fake.calls_to("POST", "/oauth_token.do")
    assert grant.body["grant_type"] == "password" and grant.body["username"] == USER
    assert grant.authorization == ""  # the token request carries no Authorization header
    assert {c.authorization for c in fake.calls if c.path.startswith("/api/")} == {"Bearer"}

    opened.clock.advance(1750)  # within a minute of the token's 1800 s
    await snow.comment(ref, "hello", "Alex Morgan")
    grants = [c.body["grant_type"] for c in fake.calls_to("POST", "/oauth_token.do")]
    assert grants == ["password", "refresh_token"]
    assert all(c.who == USER for c in fake.calls if c.path.startswith("/api/"))


async def test_oauth_gets_a_new_token_when_the_instance_drops_it(
    fake: FakeServiceNow, opened: Opened
) -> None:
    snow = opened(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    await snow.requests_of("alex.morgan@example.com")
    fake.tokens.clear()  # revoked on the instance
    fake.refresh_tokens.clear()
    await snow.requests_of("sam.taylor@example.com")
    grants = [c.body["grant_type"] for c in fake.calls_to("POST", "/oauth_token.do")]
    assert grants == ["password", "refresh_token", "password"]


async def test_oauth_with_a_wrong_client_secret_is_named_without_the_secret(
    opened: Opened, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    snow = opened(client_id=CLIENT_ID, client_secret="not-the-secret")
    with pytest.raises(AuthFailed) as caught:
        await snow.requests_of("alex.morgan@example.com")
    assert f"refused the credentials for user {USER}" in str(caught.value)
    for secret in ("not-the-secret", PASSWORD):
        assert secret not in str(caught.value) + repr(snow.config) + caplog.text


async def test_a_ticket_watched_late_still_gets_what_was_written_before(
    fake: FakeServiceNow, snow: ServiceNow
) -> None:
    early = await snow.create(hand_off(), "R1")
    fake.agent_comment(early.number, "written before anyone watched")
    fake.add_record("incident", work_notes="internal, never relayed")
    late = await snow.create(hand_off(), "R2")
    fake.agent_comment(late.number, "on the watched one")
    cursor = (await snow.changes(None, [late])).cursor  # the cursor moves past both comments
    fake.set_state(late.number, "2")
    changes = await snow.changes(cursor, [late, early])
    texts = [e.text for e in changes.events if isinstance(e, AgentComment)]
    assert texts == ["written before anyone watched"]
