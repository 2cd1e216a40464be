"""What a newcomer meets in the first hour, through the real command line on a fresh SQLite
file: user text printed as it is, the terminal chat's commands and who it chats as, `eval`
without options, the `kb check` wording, the Makefile's port and the package metadata. The
fast fake embedder stands in for the model (the README test runs the real one)."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.licenses import canonicalize_license_expression
from sqlalchemy import select
from typer.testing import CliRunner

from bot import wiring
from bot.cli import app
from bot.db import make_engine
from bot.dialogue.conversations import conversations_table, messages_table
from bot.settings import DEMO_KB_PATH
from handoff.tickets import tickets_table
from retrieval.embedding import HashEmbedder
from retrieval.gaps import GapStore

ROOT = Path(__file__).parent.parent
runner = CliRunner()


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no database yet, as after a fresh clone; the fake embedder."""
    monkeypatch.setenv("DESKBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'deskbot.db'}")
    monkeypatch.delenv("DESKBOT_KB_PATH", raising=False)
    monkeypatch.delenv("DESKBOT_QUESTIONS_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(wiring, "embedder", lambda settings: HashEmbedder())
    return tmp_path


@pytest.fixture
def demo_db(demo_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The demo database (articles indexed with the fake embedder, demo requests)."""
    monkeypatch.setenv("DESKBOT_DATABASE_URL", demo_url)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(wiring, "embedder", lambda settings: HashEmbedder())
    return demo_url


def test_gaps_prints_what_users_wrote_not_markup(demo_db: str) -> None:
    engine = make_engine(demo_db)
    gaps = GapStore(engine)
    gaps.record_gap("my password is [redacted password] and it doesn't work", "low", None, 0.1)
    gaps.record_gap("[bold red]make me loud[/] :thumbs_up: \x1b[2J", "low", None, 0.1)
    engine.dispose()
    result = runner.invoke(app, ["gaps", "--similarity", "0.95"])
    assert result.exit_code == 0, result.output
    assert "my password is [redacted password] and it doesn't work" in result.output
    assert "[bold red]make me loud[/] :thumbs_up: \\x1b[2J" in result.output
    assert "\x1b" not in result.output  # no escape sequence reaches the terminal


def test_user_list_shows_names_as_typed(fresh: Path) -> None:
    added = runner.invoke(
        app,
        ["user", "add", "eve", "--role", "agent", "--full-name", "[red]Eve[/red] [link=x]"],
        input="a long enough secret\na long enough secret\n",
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["user", "list"], env={"COLUMNS": "200"})
    assert "[red]Eve[/red] [link=x]" in listed.output


def test_kb_check_names_the_status_of_a_draft(fresh: Path) -> None:
    result = runner.invoke(app, ["kb", "check"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "teams-phone-voicemail.md" in x)
    assert "field 'status': draft: excluded from answering until the status is validated" in line
    assert "reviewed_on" not in line
    assert "54 article(s), 0 error(s)" in result.output


def test_eval_as_in_the_readme_on_a_fresh_database(fresh: Path) -> None:
    result = runner.invoke(app, ["eval"])
    assert result.exit_code == 0, result.output
    assert f"evaluating the articles in {DEMO_KB_PATH}" in result.output
    assert "266 queries" in result.output  # the demo questions, DESKBOT_QUESTIONS_PATH
    assert "retriever   P@1" in result.output
    # --kb names other articles: the demo questions are not theirs
    other = runner.invoke(app, ["eval", "--kb", str(DEMO_KB_PATH)])
    assert other.exit_code == 2
    assert "--queries is needed with --kb" in other.output


def chat(lines: list[str], *args: str) -> str:
    result = runner.invoke(app, ["chat", *args], input="".join(f"{x}\n" for x in lines))
    assert result.exit_code == 0, result.output
    return result.output


def test_chat_says_who_you_chat_as(demo_db: str) -> None:
    unknown = chat(["/quit"], "--as", "nobody@example.com")
    assert "deskbot does not know nobody@example.com" in unknown
    assert "you chat as a guest" in unknown
    known = chat(["/quit"], "--as", "Alex.Morgan@example.com")
    assert "You chat as Alex Morgan (alex.morgan@example.com)." in known
    assert "does not know" not in known
    guest = chat(["/quit"])
    assert "You chat as a guest" in guest


def test_chat_help_and_new_are_never_sent(demo_db: str) -> None:
    output = chat(
        ["talk to a person", "/help", "/nonsense", "/new", "how do I connect to the vpn", "/quit"],
        "--as",
        "alex.morgan@example.com",
    )
    assert "/help   this list" in output and "/new    start a new conversation" in output
    assert "There is no command /nonsense" in output
    assert "New conversation started." in output
    engine = make_engine(demo_db)
    with engine.connect() as conn:
        texts = conn.execute(select(messages_table.c.text)).scalars().all()
        conversations = conn.execute(
            select(conversations_table.c.id).where(conversations_table.c.channel == "terminal")
        ).all()
        tickets = conn.execute(
            select(tickets_table.c.requester_name).where(tickets_table.c.channel == "terminal")
        ).all()
    engine.dispose()
    assert not [t for t in texts if t and t.startswith("/")]
    assert len(conversations) == 2  # /new started a second one
    # the hand-off is filed under the employee's name, which the console shows
    assert [t.requester_name for t in tickets] == ["Alex Morgan"]


def test_the_package_license_is_an_spdx_expression() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    license_ = project["project"]["license"]
    assert isinstance(license_, str)
    assert canonicalize_license_expression(license_) == license_
    backend = project["build-system"]["requires"]
    assert any(r.replace(" ", "").startswith("setuptools>=77") for r in backend)


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_run_takes_a_port() -> None:
    def dry_run(*args: str, env: dict[str, str] | None = None) -> str:
        # -n prints the recipe without running it (nothing is installed or started)
        return subprocess.run(
            ["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True, env=env
        ).stdout

    assert "deskbot demo --port 8090" in dry_run("run", "PORT=8090")
    environ = {"PATH": "/usr/bin:/bin", "PORT": "8091"}
    assert "deskbot demo --port 8091" in dry_run("run", env=environ)
    assert "deskbot demo --port 8080" in dry_run("run", env={"PATH": "/usr/bin:/bin"})
