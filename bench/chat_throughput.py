"""Throughput of the web chat JSON API on loopback with many concurrent conversations, beside
the bare batched encoder measured in the same run.

    python bench/chat_throughput.py [--conversations 64] [--turns 16] [--port 8765]
                                    [--backend onnx]

Runs `deskbot migrate`, then `deskbot serve` in its own process on 127.0.0.1 (the demo
knowledge base on a fresh SQLite file), then drives it from this process: each simulated
employee opens /chat for a session and sends questions one after another; all
conversations run at once. After a hand-off the employee starts a new conversation, so that
every turn is one the assistant decides. Prints turns/s, latency percentiles and errors,
for the whole run and for its steady state (once every conversation has had its first
answer, until the first one ends).

The baseline is the encoder alone on the same backend: a fresh process encoding the same
questions in batches of 64 (the server's largest batch), measured right before and right
after the load, while the server is idle. `ratio_to_bare_encoder` is turns/s over the mean
of the two (each turn encodes one sentence, so 1.0 would be a server that costs nothing
but its encoder); `p99_over_p50` is the spread of the turn latency. Server and client share
the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import numpy as np

from bot.settings import DEMO_QUESTIONS_PATH

BARE = """
import json, sys, time
from bot.wiring import single_threaded_blas
from retrieval.embedding import SentenceEmbedder
single_threaded_blas()  # as the server runs
texts = json.loads(sys.stdin.read())
embedder = SentenceEmbedder(backend=sys.argv[1])
embedder.encode(texts[:64])
batches = [texts[i : i + 64] for i in range(0, len(texts), 64)]
started = time.perf_counter()
done = 0
while time.perf_counter() - started < float(sys.argv[2]):
    for batch in batches:
        embedder.encode(batch)
        done += len(batch)
print(done / (time.perf_counter() - started))
"""


def demo_questions() -> list[str]:
    """The demo questions an article answers: the FAQ traffic the assistant is there for
    (the off-topic and uncovered ones are handed off at once, which costs a ticket each)."""
    rows = [json.loads(line) for line in DEMO_QUESTIONS_PATH.read_text().splitlines()]
    return [r["query"] for r in rows if r["relevant_ids"]]


def bare_encoder(backend: str, seconds: float = 8.0) -> float:
    """Sentences/s of the encoder alone on `backend`, in batches of 64, in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", BARE, backend, str(seconds)],
        input=json.dumps(demo_questions()),
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false"),
    )
    return float(out.stdout.strip().splitlines()[-1])


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def wait_ready(base: str) -> None:
    async with asyncio.timeout(900), aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"{base}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)


@dataclass
class Turn:
    started: float
    ended: float
    conversation: int
    first: bool  # the first turn of a conversation: the all-at-once start of the run


@dataclass
class Run:
    turns: list[Turn] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    handed_off: int = 0  # conversations handed to a person (the employee then starts anew)


async def conversation(base: str, number: int, questions: list[str], run: Run) -> None:
    """One employee: a question at a time. After a hand-off the conversation is a person's
    and the assistant no longer answers, so the employee starts a new one: every turn
    measured is one the assistant decides, with its question encoded."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{base}/chat") as r:
            await r.read()
        after, first = 0, True
        for text in questions:
            started = time.perf_counter()
            try:
                async with http.post(
                    f"{base}/chat/api/messages", json={"text": text, "after": after}
                ) as r:
                    body = await r.json()
                    if r.status != 200 or not body["messages"]:
                        run.errors.append(f"HTTP {r.status}")
                        continue
                    after = body["messages"][-1]["id"]
            except (aiohttp.ClientError, ValueError, KeyError) as exc:
                run.errors.append(exc.__class__.__name__)
                continue
            run.turns.append(Turn(started, time.perf_counter(), number, first))
            first = False
            kinds = {(m.get("reply") or {}).get("kind") for m in body["messages"]}
            if "handoff" in kinds:
                run.handed_off += 1
                async with http.post(f"{base}/chat/api/new") as r:
                    await r.read()
                after = 0


def figures(turns: list[Turn], seconds: float) -> dict[str, float]:
    latencies = [t.ended - t.started for t in turns]
    p50, p99 = np.percentile(latencies, 50), np.percentile(latencies, 99)
    return {
        "turns": len(turns),
        "seconds": seconds,
        "turns_per_s": len(turns) / seconds,
        "latency_p50_ms": float(p50) * 1000,
        "latency_p99_ms": float(p99) * 1000,
        "p99_over_p50": float(p99 / p50),
    }


async def drive(base: str, conversations: int, turns: int) -> dict[str, object]:
    """All conversations at once. Beside the whole run, the steady state: the turns started
    after every conversation's first answer (64 conversations opened in the same instant
    queue behind each other once) and finished before the first conversation ended."""
    questions = demo_questions()
    plans = [
        [questions[(c * turns + t) % len(questions)] for t in range(turns)]
        for c in range(conversations)
    ]
    run = Run()
    await conversation(base, -1, questions[:4], Run())  # warm-up
    started = time.perf_counter()
    await asyncio.gather(*(conversation(base, c, plan, run) for c, plan in enumerate(plans)))
    elapsed = time.perf_counter() - started
    ramp_up = max(t.ended for t in run.turns if t.first)
    ramp_down = min(
        max(t.ended for t in run.turns if t.conversation == c)
        for c in {t.conversation for t in run.turns}
    )
    steady = [t for t in run.turns if t.started >= ramp_up and t.ended <= ramp_down]
    out: dict[str, object] = {
        "conversations": conversations,
        "errors": len(run.errors),
        "handed_off_and_restarted": run.handed_off,
        "whole_run": figures(run.turns, elapsed),
    }
    if len(steady) >= 50:
        out["steady_state"] = figures(steady, ramp_down - ramp_up)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=64)
    parser.add_argument("--turns", type=int, default=16)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--database", help="default: a fresh SQLite file")
    parser.add_argument("--backend", default="onnx", help="DESKBOT_ENCODER_BACKEND")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="deskbot-chat-"))
    env = dict(
        os.environ,
        DESKBOT_DATABASE_URL=args.database or f"sqlite:///{folder / 'deskbot.db'}",
        HF_HUB_OFFLINE="1",
        DESKBOT_ENCODER_BACKEND=args.backend,
    )
    deskbot = str(Path(sys.executable).parent / "deskbot")
    subprocess.run([deskbot, "migrate"], env=env, cwd=folder, check=True)
    server = subprocess.Popen(
        [
            deskbot,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
            "--import-kb",
        ],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=(folder / "server.log").open("w"),  # a pipe nobody reads would stall the server
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        try:
            asyncio.run(wait_ready(base))
        except TimeoutError:
            sys.exit("the server did not start:\n" + (folder / "server.log").read_text()[-3000:])
        before = bare_encoder(args.backend)
        loads = [load_average()]
        result = asyncio.run(drive(base, args.conversations, args.turns))
        loads.append(load_average())
        after = bare_encoder(args.backend)
    finally:
        server.terminate()
        server.wait(timeout=30)
    bare = (before + after) / 2
    result.update(
        backend=args.backend,
        bare_encoder_sentences_per_s={"before": before, "after": after},
        load_average=loads,
    )
    for part in ("whole_run", "steady_state"):
        if part in result:
            measured: dict[str, float] = result[part]  # type: ignore[assignment]
            measured["ratio_to_bare_encoder"] = measured["turns_per_s"] / bare
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
