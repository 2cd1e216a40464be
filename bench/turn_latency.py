"""Per-turn latency of the dialogue core, in process, beside the bare encoder call.

    python bench/turn_latency.py [--turns 300]

Each turn goes through `Turns.handle` exactly as a channel's would (redaction, state,
routing, retrieval, policy, persistence and audit on a SQLite file), one after another; the
bare `encode([text])` of the same text is timed right before it, so both see the same
machine state. Half the turns open a new conversation, half continue one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bot import wiring
from bot.dialogue.messages import Identity, IncomingMessage
from bot.dialogue.turns import Turns
from bot.settings import DEMO_KB_PATH, DEMO_QUESTIONS_PATH, Settings
from retrieval.loader import load_path


async def run(turns: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="deskbot-turns-"))
    settings = Settings(DESKBOT_DATABASE_URL=f"sqlite:///{folder / 'deskbot.db'}")  # type: ignore[call-arg]
    engine = wiring.database(settings)
    services = wiring.services(settings, engine)
    services.knowledge.import_articles(load_path(DEMO_KB_PATH).articles)
    wiring.warm_up(services)
    core = Turns(services)
    embedder = services.knowledge.embedder
    questions = [json.loads(line)["query"] for line in DEMO_QUESTIONS_PATH.read_text().splitlines()]
    user = Identity("bench", "alex.morgan@example.com", "Alex")
    turn_times, encode_times = [], []
    for i in range(turns + 20):
        text = questions[i % len(questions)]
        t = time.perf_counter()
        embedder.encode([text])
        encode = time.perf_counter() - t
        t = time.perf_counter()
        await core.handle(IncomingMessage("web", f"c{i // 2}", user, text))
        turn = time.perf_counter() - t
        if i >= 20:  # warm-up turns are not counted
            encode_times.append(encode)
            turn_times.append(turn)
    services.encoder.close()

    def p(values: list[float], q: float) -> float:
        return float(np.percentile(values, q)) * 1000

    return {
        "turns": turns,
        "turn_p50_ms": p(turn_times, 50),
        "turn_p99_ms": p(turn_times, 99),
        "encode_p50_ms": p(encode_times, 50),
        "encode_p99_ms": p(encode_times, 99),
        "ratio_p50": statistics.median(turn_times) / statistics.median(encode_times),
        "ratio_p99_vs_encode_p99": float(
            np.percentile(turn_times, 99) / np.percentile(encode_times, 99)
        ),
        "ratio_p99_vs_encode_p50": float(
            np.percentile(turn_times, 99) / np.percentile(encode_times, 50)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=300)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.turns)), indent=2))


if __name__ == "__main__":
    main()
