"""Throughput of the web chat JSON API on loopback with many concurrent conversations.

    python bench/chat_throughput.py [--conversations 64] [--turns 8] [--port 8765]

Runs `deskbot migrate`, then `deskbot serve` in its own process on 127.0.0.1 (the demo
knowledge base on a fresh SQLite file), then drives it from this process: each simulated
employee opens /chat for a session and sends questions one after another; all conversations
run at once. Prints
sustained turns/s, latency percentiles and errors. Server and client share the machine.
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
from pathlib import Path

import aiohttp
import numpy as np

from bot.settings import DEMO_QUESTIONS_PATH


async def wait_ready(base: str) -> None:
    async with asyncio.timeout(180), aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"{base}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)


async def conversation(
    base: str, questions: list[str], latencies: list[float], errors: list[str]
) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{base}/chat") as r:
            await r.read()
        after = 0
        for text in questions:
            started = time.perf_counter()
            try:
                async with http.post(
                    f"{base}/chat/api/messages", json={"text": text, "after": after}
                ) as r:
                    body = await r.json()
                    if r.status != 200 or not body["messages"]:
                        errors.append(f"HTTP {r.status}")
                        continue
                    after = body["messages"][-1]["id"]
            except (aiohttp.ClientError, ValueError, KeyError) as exc:
                errors.append(exc.__class__.__name__)
                continue
            latencies.append(time.perf_counter() - started)


async def drive(base: str, conversations: int, turns: int) -> dict[str, float]:
    questions = [json.loads(line)["query"] for line in DEMO_QUESTIONS_PATH.read_text().splitlines()]
    plans = [
        [questions[(c * turns + t) % len(questions)] for t in range(turns)]
        for c in range(conversations)
    ]
    latencies: list[float] = []
    errors: list[str] = []
    # warm-up: one conversation's worth
    await conversation(base, questions[:4], [], [])
    started = time.perf_counter()
    await asyncio.gather(*(conversation(base, plan, latencies, errors) for plan in plans))
    elapsed = time.perf_counter() - started
    return {
        "conversations": conversations,
        "turns": len(latencies),
        "errors": len(errors),
        "seconds": elapsed,
        "turns_per_s": len(latencies) / elapsed,
        "latency_p50_ms": float(np.percentile(latencies, 50)) * 1000,
        "latency_p99_ms": float(np.percentile(latencies, 99)) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=64)
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--database", help="default: a fresh SQLite file")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="deskbot-chat-"))
    env = dict(
        os.environ,
        DESKBOT_DATABASE_URL=args.database or f"sqlite:///{folder / 'deskbot.db'}",
        HF_HUB_OFFLINE="1",
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
        result = asyncio.run(drive(base, args.conversations, args.turns))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
