"""The README, followed as a newcomer would on a fresh clone: every command and example it
gives is taken from README.md itself and run as written, as the installed `deskbot` console
script, in an empty working directory with a fresh SQLite database.

Bounded where running a command literally is not possible in a test: `make` targets are
checked with `make -n` (what they would run) and `make run` is then run as that command,
`deskbot demo`, on a free port instead of 8080/8090; `make test` is not run (it would be this
suite again). The fast test makes sure every command in the README has a step here, so a
command added to the README without being tried fails the suite."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.test_console_support import Client

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DESKBOT = str(Path(sys.executable).with_name("deskbot"))
DEMO_KB = ROOT / "bot" / "demo" / "kb"
DEMO_QUESTIONS = ROOT / "bot" / "demo" / "questions.jsonl"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
INLINE = re.compile(r"`((?:deskbot|make) [^`]+)`")
START_TIMEOUT = 900  # s: the first start embeds every article, slowly on a busy machine


def readme() -> str:
    return README.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Transcript:
    """A terminal example: the command after `$`, what is typed, and what is printed."""

    command: str
    typed: list[str]
    printed: str


def transcripts() -> list[Transcript]:
    out = []
    for _, body in FENCE.findall(readme()):
        lines = body.splitlines()
        if not lines or not lines[0].startswith("$ "):
            continue
        # what is typed follows the chat's greeting; everything else is printed
        after = next(n for n, line in enumerate(lines) if line.startswith("Type your question"))
        typed = [lines[after + 1]]
        printed = "\n".join([*lines[1 : after + 1], *lines[after + 2 :]])
        out.append(Transcript(lines[0][2:], typed, printed))
    return out


def commands() -> set[str]:
    """Every command the README gives: shell blocks, `$` examples and inline code."""
    text = readme()
    found: set[str] = set()
    for lang, body in FENCE.findall(text):
        if lang == "sh":
            found |= {line.split("#")[0].strip() for line in body.splitlines() if line.strip()}
    found |= {t.command for t in transcripts()}
    found |= set(INLINE.findall(FENCE.sub("", text)))
    return found


# Each README command, and the step of test_following_the_readme that runs it.
STEPS = {
    "make run": "demo",
    "make run PORT=8090": "demo",
    "make test": "make test",
    "deskbot demo": "demo",
    "deskbot demo --port 8090": "demo",
    "deskbot chat --as alex.morgan@example.com": "chat",
    "deskbot serve [--host 127.0.0.1] [--port 8080]": "serve",
    "deskbot migrate": "migrate",
    "deskbot kb import PATH": "kb import",
    "deskbot kb check": "kb check",
    "deskbot kb calibrate FILE": "kb calibrate",
    "deskbot eval": "eval",
    "deskbot gaps": "gaps",
    "deskbot user add|list|disable": "user",
    "deskbot itsm check": "itsm check",
}


def test_every_readme_command_is_tried() -> None:
    assert commands() == set(STEPS), "a README command without a step here, or a stale step"
    (example,) = transcripts()
    assert example.typed == ["my vpn says error 809"]


def test_make_targets_run_what_the_readme_says() -> None:
    if shutil.which("make") is None:
        pytest.skip("no make")

    def would_run(*args: str) -> list[str]:
        # run from `make test` too: the outer make's flags would add "Entering directory" lines
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        done = subprocess.run(
            ["make", "-n", "--no-print-directory", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        return done.stdout.splitlines()

    assert would_run("run")[-1] == ".venv/bin/deskbot demo --port 8080"
    assert would_run("run", "PORT=8090")[-1] == ".venv/bin/deskbot demo --port 8090"
    recipe = would_run("test")
    assert recipe[-3].startswith(".venv/bin/ruff check")
    assert recipe[-2].startswith(".venv/bin/mypy")
    assert recipe[-1].startswith(".venv/bin/pytest")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def clone(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An empty working directory (the SQLite file appears there) and a clean environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKBOT_")}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", COLUMNS="200")
    env["PWD"] = str(tmp_path)
    yield env


def run(env: dict[str, str], *args: str, typed: str = "") -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [DESKBOT, *args],
        cwd=env["PWD"],
        env=env,
        input=typed,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done


class Started:
    """A long-running command, its output read as it comes."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.log = Path(env["PWD"]) / f"{args[0]}-{time.monotonic_ns()}.out"
        self.errors = self.log.with_suffix(".err")
        with self.log.open("w") as out, self.errors.open("w") as err:
            self.process = subprocess.Popen(
                [DESKBOT, *args], cwd=env["PWD"], env=env, stdout=out, stderr=err
            )

    def wait_for(self, url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.errors.read_text()[-3000:]
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(1)
        raise AssertionError(f"{url} did not answer in {START_TIMEOUT} s")

    def stop(self) -> str:
        self.process.send_signal(signal.SIGINT)  # Ctrl+C
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.log.read_text()


def words(text: str) -> str:
    return " ".join(text.split())


def sign_in(base: str, name: str, password: str) -> int:
    async def go() -> int:
        async with Client(base) as client:
            response = await client.sign_in(name, password)
            return response.status

    return asyncio.run(go())


@pytest.mark.slow
def test_following_the_readme(clone: dict[str, str]) -> None:
    env = clone
    text = readme()

    # make run → deskbot demo (on a free port): URLs and sign-in first, the counts it states
    port = free_port()
    demo = Started(env, "demo", "--port", str(port))
    demo.wait_for(f"http://127.0.0.1:{port}/chat")
    time.sleep(0.5)  # the "Ready" line follows the listening socket
    printed = demo.stop()
    lines = printed.splitlines()
    assert lines[0] == f"deskbot demo on http://127.0.0.1:{port}"
    assert f"web chat: http://127.0.0.1:{port}/chat" in lines[1]
    assert f"console:  http://127.0.0.1:{port}/console" in lines[2]
    accounts = dict(re.findall(r"name (demo-\w+), password (\S+)", printed))
    assert set(accounts) == {"demo-agent", "demo-owner"}
    assert "54 articles, 52 answer (not: 1 draft, 1 retired)" in printed
    assert "54 IT\narticles, of which 52 answer: one is a draft and one is retired" in text
    assert "Ready: open" in lines[-1]
    assert "teams:" not in printed and "teams:" in demo.errors.read_text()  # logs apart

    # started again: the same passwords, and they sign in
    demo = Started(env, "demo", "--port", str(port))
    demo.wait_for(f"http://127.0.0.1:{port}/healthz")
    try:
        for name, password in accounts.items():
            assert sign_in(f"http://127.0.0.1:{port}", name, password) == 303
    finally:
        again = demo.stop()
    assert dict(re.findall(r"name (demo-\w+), password (\S+)", again)) == accounts

    # the terminal example, as printed in the README ("..." stands for the rest of a line)
    (example,) = transcripts()
    chat = run(env, *example.command.split()[1:], typed="\n".join([*example.typed, "/quit", ""]))
    # what the chat says of the user goes to stderr; the conversation, in order, to stdout
    printed = example.printed.splitlines()
    about_user = [line for line in printed if line.startswith("You chat as")]
    assert about_user and all(line in chat.stderr for line in about_user)
    shown = words(chat.stdout)
    position = 0
    for piece in "\n".join(x for x in printed if x not in about_user).split("..."):
        piece = words(piece)
        found = shown.find(piece, position)
        assert found >= 0, (piece, shown)
        position = found + len(piece)

    # the web chat examples of the README, through the same core in the terminal
    web_chat = text.split("- `/chat`")[1].split("- `/console`")[0]
    tries = [words(q) for q in re.findall(r'"([^"]+)"', web_chat)]
    assert len(tries) == 5, tries
    typed = "\n/new\n".join(tries) + "\n/quit\n"
    output = run(env, "chat", "--as", "alex.morgan@example.com", typed=typed).stdout
    vpn, status, secret, phishing, person = output.split("New conversation started.")
    assert "Automated answer from" in vpn
    assert "REQ0001234" in status and "VPN access for the new sales laptop" in status
    assert "hunter2" not in secret and "password" in secret
    assert "service desk" in phishing and "Automated answer from" not in phishing
    assert "service desk" in person

    # the other commands
    assert run(env, "serve", "--help").stdout.count("--host") == 1
    port = free_port()
    server = Started(env, "serve", "--host", "127.0.0.1", "--port", str(port))
    try:
        server.wait_for(f"http://127.0.0.1:{port}/healthz")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            assert r.status == 200
    finally:
        server.stop()
    assert "already at" in run(env, "migrate").stdout
    assert "54 unchanged" in run(env, "kb", "import", str(DEMO_KB)).stdout
    checked = run(env, "kb", "check")
    assert "54 article(s), 0 error(s), 1 warning(s)" in checked.stdout
    assert "field 'status': draft" in checked.stderr
    assert "stored:" in run(env, "kb", "calibrate", str(DEMO_QUESTIONS)).stdout
    assert "266 queries" in run(env, "eval").stdout
    gaps = run(env, "gaps").stdout
    assert "hunter2" not in gaps  # the README's question, if listed, keeps its marker:
    assert "[redacted password]" in gaps or "my password is" not in gaps
    secret = "a long enough secret"
    add = run(env, "user", "add", "dana", "--role", "agent", typed=f"{secret}\n{secret}\n")
    assert "added dana (agent)" in add.stdout
    assert "dana" in run(env, "user", "list").stdout
    assert "dana disabled" in run(env, "user", "disable", "dana").stdout
    assert run(env, "itsm", "check").stdout.strip()
