"""The Teams app package (deploy/teams): what Teams checks on upload, checked before it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from PIL import Image

from bot.channels.teams.activity import is_setup_command

PACKAGE = Path(__file__).resolve().parent.parent / "deploy" / "teams"
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PACKAGE / "manifest.json").read_text(encoding="utf-8"))
    return data


def test_the_manifest_has_what_teams_requires() -> None:
    m = manifest()
    assert m["manifestVersion"] == "1.17" and "v1.17" in m["$schema"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", m["version"])
    # one placeholder for the admin to replace with the bot's MicrosoftAppId (docs/teams.md)
    [bot] = m["bots"]
    assert GUID.fullmatch(m["id"]) and m["id"] == bot["botId"] == m["webApplicationInfo"]["id"]
    assert len(m["name"]["short"]) <= 30 and len(m["name"]["full"]) <= 100
    assert len(m["description"]["short"]) <= 80 and len(m["description"]["full"]) <= 4000
    assert re.fullmatch(r"#[0-9A-Fa-f]{6}", m["accentColor"])
    developer = m["developer"]
    assert developer["name"].strip()
    links = {key: url for key, url in developer.items() if key.endswith("Url")}
    assert {"websiteUrl", "privacyUrl", "termsOfUseUrl"} <= set(links)  # Teams requires these
    assert all(url.startswith("https://") for url in links.values()), links
    assert set(bot["scopes"]) == {"personal", "team"}
    for commands in bot["commandLists"]:
        for command in commands["commands"]:
            assert len(command["title"]) <= 32 and len(command["description"]) <= 128


def test_channel_messages_reach_the_desk_threads_without_a_mention() -> None:
    """The resource-specific permission lets agents reply in a hand-off thread without
    @deskbot; deskbot ignores channel messages that are neither in a thread nor for it."""
    m = manifest()
    permissions = m["authorization"]["permissions"]["resourceSpecific"]
    assert {"name": "ChannelMessage.Read.Group", "type": "Application"} in permissions


def test_the_team_command_is_the_setup_command() -> None:
    [bot] = manifest()["bots"]
    team = next(c for c in bot["commandLists"] if c["scopes"] == ["team"])
    assert [is_setup_command(c["title"]) for c in team["commands"]] == [True]


def test_icons_have_the_sizes_teams_requires() -> None:
    m = manifest()
    with Image.open(PACKAGE / m["icons"]["color"]) as color:
        assert color.size == (192, 192)
    with Image.open(PACKAGE / m["icons"]["outline"]) as outline:
        assert outline.size == (32, 32) and outline.mode == "RGBA"
        raw = outline.tobytes()
        pixels = [tuple(raw[i : i + 4]) for i in range(0, len(raw), 4)]
        assert any(p[3] == 0 for p in pixels)  # a transparent background
        assert all(p[:3] == (255, 255, 255) for p in pixels if p[3])  # white only
