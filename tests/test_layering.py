"""The import directions of the design, enforced: retrieval and handoff import nothing of
ours, flows only those two; within bot, channels import neither each other nor the console, the
console imports no channel, the dialogue core no channel and no console; and only the channel
packages import their platform SDKs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "retrieval": {"retrieval"},
    "handoff": {"handoff"},
    "flows": {"flows", "retrieval", "handoff"},
    "bot": {"bot", "flows", "retrieval", "handoff"},
}
SDKS = {
    "slack_bolt": "bot/channels/slack/",
    "slack_sdk": "bot/channels/slack/",
    "botbuilder": "bot/channels/teams/",
}
CHANNELS = sorted(
    p.name for p in (ROOT / "bot" / "channels").iterdir() if (p / "__init__.py").exists()
)


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def modules(path: Path) -> set[str]:
    """Every module a file imports, dotted; `from a.b import c` counts as a.b and a.b.c."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_import_only_downwards(package: str) -> None:
    ours = set(ALLOWED)
    wrong = {
        str(path.relative_to(ROOT)): sorted((imports(path) & ours) - ALLOWED[package])
        for path in sources(package)
    }
    assert {k: v for k, v in wrong.items() if v} == {}


def test_platform_sdks_stay_in_their_channel_module() -> None:
    offenders = []
    for package in ALLOWED:
        for path in sources(package):
            rel = str(path.relative_to(ROOT))
            for sdk, home in SDKS.items():
                if sdk in imports(path) and not rel.startswith(home):
                    offenders.append(f"{rel} imports {sdk}")
    assert offenders == []


def forbidden_imports(package: str, forbidden: set[str]) -> dict[str, list[str]]:
    found = {
        str(path.relative_to(ROOT)): sorted(
            m for m in modules(path) if any(m == f or m.startswith(f + ".") for f in forbidden)
        )
        for path in sources(package)
    }
    return {k: v for k, v in found.items() if v}


def test_the_channels_are_there() -> None:
    assert {"slack", "teams", "web", "terminal"} <= set(CHANNELS)


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_channel_imports_no_other_channel_and_not_the_console(channel: str) -> None:
    others = {f"bot.channels.{c}" for c in CHANNELS if c != channel}
    assert forbidden_imports(f"bot/channels/{channel}", others | {"bot.console"}) == {}


def test_the_console_imports_no_channel() -> None:
    assert forbidden_imports("bot/console", {"bot.channels"}) == {}


def test_the_dialogue_core_imports_no_channel_and_not_the_console() -> None:
    assert forbidden_imports("bot/dialogue", {"bot.channels", "bot.console"}) == {}


def test_migrations_match_the_tables(sqlite_engine) -> None:  # type: ignore[no-untyped-def]
    """Every table and column the code declares exists after migrating, and nothing else."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.schema import all_metadata

    with sqlite_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, all_metadata())  # type: ignore[arg-type]
    assert [d for d in diff if not (isinstance(d, tuple) and d[1].name == "alembic_version")] == []
