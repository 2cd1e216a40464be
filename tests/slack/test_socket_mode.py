"""Socket Mode, offline: the fake answers apps.connections.open with its own websocket, says
hello, sends envelopes and reads deskbot's acks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.channels.slack import wording as slack_wording
from bot.dialogue import wording
from tests.slack_fake import (
    APP_TOKEN,
    World,
    block_actions,
    button,
    command,
    copy_database,
    dm,
    event_payload,
    slack_world,
    texts,
)

VPN = "how can I use the VPN at home"


@pytest.fixture(scope="module")
async def world(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """This module's own world: Socket Mode instead of the Events API."""
    url = copy_database(demo_template, tmp_path_factory.mktemp("slack"))
    async with slack_world(url, SLACK_APP_TOKEN=APP_TOKEN) as w:
        await w.fake.connected()
        yield w


async def test_connects_with_the_app_token_and_serves_no_http_endpoint(world: World) -> None:
    [opened] = world.fake.called("apps.connections.open")
    assert opened.token == APP_TOKEN
    answer = await world.slack.event(dm("UALEX", VPN))
    assert answer.status in (404, 405)  # nothing listens at /slack/events in Socket Mode


async def test_events_are_acked_and_answered_once(world: World) -> None:
    user = world.fake.person("Alex Morgan", "alex.morgan@example.com")
    payload = event_payload(dm(user, VPN))
    ack = await world.fake.envelope("events_api", payload)
    assert set(ack) == {"envelope_id"}
    [reply] = await world.fake.wait_posts("D" + user, 1)
    assert "vpn-install-connect" in texts(reply) and "not a person" in texts(reply)
    await world.fake.envelope("events_api", payload, retry_attempt=1)  # Slack retries
    await world.bot.settle()
    assert len(world.fake.posts("D" + user)) == 1


async def test_buttons_arrive_as_interactive_envelopes(world: World) -> None:
    user = world.fake.person("Sam Taylor", "sam.taylor@example.com")
    await world.fake.envelope("events_api", event_payload(dm(user, VPN)))
    [answer] = await world.fake.wait_posts("D" + user, 1)
    block_id, action_id, value = button(answer, "not_helpful")
    click = block_actions(user, answer.channel, answer, action_id, value, block_id)
    ack = await world.fake.envelope("interactive", click)
    assert ack["envelope_id"]
    posts = await world.fake.wait_posts("D" + user, 2)
    assert wording.FEEDBACK_SORRY.split(".")[0] in texts(posts[-1])


async def test_slash_commands_are_acked_with_a_note_then_answered(world: World) -> None:
    user = world.fake.person("Priya Shah", "priya.shah@example.com")
    ack = await world.fake.envelope("slash_commands", command(user, "CGENERAL", VPN))
    assert ack["payload"]["text"] == slack_wording.COMMAND_ACK
    [reply] = await world.fake.wait_posts("D" + user, 1)
    assert "vpn-install-connect" in texts(reply)
