"""The Slack tests' world: the real server with the Slack channel attached, the fake Slack it
talks to, and Slack's side of the wire; one per test module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.slack_fake import World, copy_database, slack_world


@pytest.fixture(scope="module")
async def world(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    async with slack_world(copy_database(demo_template, tmp_path_factory.mktemp("slack"))) as w:
        yield w
