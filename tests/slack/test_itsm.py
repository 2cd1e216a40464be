"""A Slack direct message handed to a desk that works in ServiceNow: signed events into the real
server, the incident in ServiceNow's fake (the caller, the work notes), the agent's comment
there back in the employee's DM as a person's, the employee's reply as a comment, and the
incident resolved there ending the hand-off; then the status lists the employee's incidents
and requested items."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.dialogue import wording
from handoff.itsm.systems import connect
from tests.itsm_cases import CASES
from tests.itsm_deskbot import ALEX, POLICY, Clock, system_settings
from tests.itsm_fake import serving
from tests.servicenow_fake import FakeServiceNow
from tests.slack_fake import World, copy_database, dm, slack_world, texts


@dataclass
class Desk:
    world: World
    fake: FakeServiceNow
    clock: Clock

    async def poll(self) -> int:
        """The next scheduled poll, then whatever it queued for Slack."""
        runtime = self.world.bot.runtime
        assert runtime.itsm is not None
        self.clock.advance(runtime.settings.itsm_poll_seconds)
        relayed = await runtime.itsm.poller.poll()
        await self.world.bot.settle()
        return relayed


@pytest.fixture
async def desk(demo_template: Path, tmp_path: Path) -> AsyncIterator[Desk]:
    case = CASES["servicenow"]
    async with serving(FakeServiceNow()) as fake:
        case.setup(fake)
        clock = Clock()
        config = dataclasses.replace(case.config(fake), retry=POLICY)
        system = connect(config, timing=clock.fake.timing())
        async with slack_world(
            copy_database(demo_template, tmp_path),
            build_options={"system": system, "clock": clock},
            DESKBOT_TICKETS="servicenow",
            **system_settings("servicenow", fake),
        ) as world:
            yield Desk(world, fake, clock)


def dm_texts(desk: Desk, user: str) -> list[str]:
    return [texts(p) for p in desk.world.fake.posts("D" + user)]


async def test_a_slack_dm_handed_off_to_servicenow_and_answered_from_there(desk: Desk) -> None:
    world, fake = desk.world, desk.fake
    alex = world.fake.person("Alex Morgan", ALEX)
    await world.dm(alex, "my vpn fails with error 809 at the hotel")
    handed = texts(await world.dm(alex, "talk to a person"))
    assert "REQ2" in handed
    await world.bot.settle()

    (incident,) = fake.tables["incident"]
    assert incident["caller_id"] == fake.user("alex.morgan")["sys_id"]
    assert "my vpn fails with error 809 at the hotel" in incident["description"]
    (notes,) = fake.journal(incident["number"], "work_notes")
    assert "Transcript (UTC, secrets removed)" in notes["value"]
    assert "deskbot reference: REQ2" in notes["value"]
    number = incident["number"]
    assert f"as {number}." in dm_texts(desk, alex)[-1]  # the number the desk knows it by

    fake.agent_comment(number, "Which hotel network are you on?")
    assert await desk.poll() == 1
    joined, answer = dm_texts(desk, alex)[-2:]
    assert wording.AGENT_JOINED.format(agent="Beth Anglin") in joined
    assert "Which hotel network are you on?" in answer and "Beth Anglin" in answer

    await world.slack.event(dm(alex, "the one called Lobby-Guest"))
    await world.bot.settle()
    comments = [j["value"] for j in fake.journal(number, "comments")]
    assert comments[-1] == "Alex Morgan wrote in chat:\nthe one called Lobby-Guest"
    assert await desk.poll() == 0  # the employee's own words never come back

    fake.set_state(number, "6")
    assert await desk.poll() == 1
    assert f"marked request {number} as resolved" in dm_texts(desk, alex)[-1]

    alex_id = fake.user("alex.morgan")["sys_id"]
    item = fake.add_record("sc_req_item", requested_for=alex_id, short_description="A monitor")
    status = texts(await world.dm(alex, "what is the status of my requests"))
    assert f"• {item['number']} — A monitor" in status  # the open ones
    status = texts(await world.dm(alex, f"what is the status of my ticket {number}"))
    assert f"• {number} — " in status and "resolved" in status
