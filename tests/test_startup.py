"""Start only what is needed: the commands that need no model run with the model unavailable
and never import a model runtime; the terminal chat shows its prompt before it has loaded;
`deskbot demo` on a database that has the demo already embeds nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot import wiring
from bot.channels.terminal.wording import GREETING
from bot.cli.run import prepare_demo
from bot.dialogue.messages import Identity, IncomingMessage
from bot.dialogue.turns import Turns
from bot.settings import DEMO_KB_PATH, Settings
from retrieval.embedding import HashEmbedder, Vectors
from retrieval.gaps import GapStore
from retrieval.loader import load_path

# The model folder the commands are pointed at: it does not exist, so loading it fails.
MISSING_MODEL = "all-MiniLM-L6-v2"
MODEL_MODULES = ("torch", "sentence_transformers", "onnxruntime", "retrieval.onnx_encoder")

RUN = """
import json, sys
from bot.cli import app
try:
    app(sys.argv[2:], prog_name="deskbot")
except SystemExit as exc:
    code = exc.code or 0
else:
    code = 0
modules = [m for m in json.loads(sys.argv[1]) if m in sys.modules]
print(json.dumps({"exit": code, "model_modules": modules}), file=sys.stderr)
"""


class StoredAs(HashEmbedder):
    """The fast test embedder under the name the real model has with the commands' settings:
    the vectors it stores are what those commands find, so they need no model."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name
        self.encoded = 0

    @property
    def name(self) -> str:
        return self._name

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.encoded += len(texts)
        return super().encode(texts)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


def environment(folder: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DESKBOT_DATABASE_URL": f"sqlite:///{folder / 'deskbot.db'}",
        "DESKBOT_MODEL_PATH": str(folder / "models" / MISSING_MODEL),
        "DESKBOT_ENCODER_BACKEND": "onnx",
        "DESKBOT_SPOOL_FILE": str(folder / "spool.jsonl"),
        # its own: the session's cache holds the real model's vectors under the same name
        "DESKBOT_CACHE_DIR": str(folder / "cache"),
    }


def settings_of(folder: Path) -> Settings:
    env = environment(folder)
    return Settings(
        DESKBOT_DATABASE_URL=env["DESKBOT_DATABASE_URL"],
        DESKBOT_MODEL_PATH=env["DESKBOT_MODEL_PATH"],
        DESKBOT_ENCODER_BACKEND="onnx",
        DESKBOT_SPOOL_FILE=env["DESKBOT_SPOOL_FILE"],
        DESKBOT_CACHE_DIR=env["DESKBOT_CACHE_DIR"],
    )


def deskbot(folder: Path, *args: str) -> tuple[int, str, list[str]]:
    """Run a command in a fresh process: its exit code, output and the model modules it
    imported."""
    done = subprocess.run(
        [sys.executable, "-c", RUN, json.dumps(MODEL_MODULES), *args],
        capture_output=True,
        text=True,
        env=environment(folder),
        cwd=folder,
        timeout=300,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["exit"], done.stdout, report["model_modules"]


def model_name(folder: Path) -> str:
    return wiring.embedder(settings_of(folder)).name


async def with_gaps(folder: Path) -> None:
    """The demo knowledge base and a few unanswered questions, as a running deskbot stores
    them (vectors included)."""
    settings = settings_of(folder)
    services = wiring.services(settings, wiring.database(settings), StoredAs(model_name(folder)))
    services.knowledge.import_articles(load_path(DEMO_KB_PATH).articles)
    wiring.warm_up(services)
    turns = Turns(services)
    for n, text in enumerate(
        ["where is the canteen menu", "where is the canteen menu today", "book me a flight"]
    ):
        await turns.handle(IncomingMessage("web", f"c{n}", Identity(f"u{n}"), text))
    services.encoder.close()


def test_help_and_kb_check_need_no_model(folder: Path) -> None:
    code, output, modules = deskbot(folder, "--help")
    assert code == 0 and "kb" in output and "chat" in output
    assert modules == []
    code, output, modules = deskbot(
        folder, "kb", "check", str(DEMO_KB_PATH), "--no-near-duplicates"
    )
    assert code == 0, output
    assert f"{len(load_path(DEMO_KB_PATH).articles)} article(s), 0 error(s)" in output
    assert modules == []


def test_user_commands_need_no_model(folder: Path) -> None:
    code, output, modules = deskbot(folder, "user", "list")
    assert code == 0, output
    assert modules == []


async def test_gaps_are_clustered_from_stored_vectors(folder: Path) -> None:
    await with_gaps(folder)
    stored = GapStore(wiring.database(settings_of(folder)))
    questions = [g.question for g in stored.gaps()]
    assert len(questions) >= 2
    assert set(stored.question_vectors(questions, model_name(folder))) == set(questions)

    code, output, modules = deskbot(folder, "gaps", "--json")
    assert code == 0, output
    assert modules == []
    clusters = json.loads(output)
    shown = [e for c in clusters for e in c["examples"]]
    assert sorted(shown) == sorted(set(questions))
    assert all(c["nearest_article"] for c in clusters)


def test_the_chat_prompt_comes_before_loading(folder: Path) -> None:
    """With the model missing, the prompt still shows at once; the first question then gets
    the apology and a way to a person, never a stack trace."""
    settings = settings_of(folder)
    stored = StoredAs(model_name(folder))
    services = wiring.services(settings, wiring.database(settings), stored)
    services.knowledge.import_articles(load_path(DEMO_KB_PATH).articles)
    wiring.warm_up(services)  # the router's training is cached under the model's name
    done = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "chat"],
        input="how do I connect to the VPN from home\n",
        capture_output=True,
        text=True,
        env=environment(folder),
        cwd=folder,
        timeout=300,
    )
    lines = done.stdout.splitlines()
    assert lines[0] == GREETING
    assert "Traceback" not in done.stdout
    assert any("service desk" in line or "person" in line for line in lines[1:])


def test_demo_on_an_existing_database_embeds_nothing(folder: Path) -> None:
    settings = settings_of(folder)
    first = StoredAs(model_name(folder))
    prepare_demo(settings, embedder=first).services.encoder.close()
    assert first.encoded > 0
    again = StoredAs(model_name(folder))
    runtime = prepare_demo(settings, embedder=again)
    runtime.services.encoder.close()
    assert again.encoded == 0
    assert len(runtime.services.knowledge.index) == first_count(settings)


def first_count(settings: Settings) -> int:
    return len([a for a in load_path(DEMO_KB_PATH).articles if a.status.value == "validated"])
