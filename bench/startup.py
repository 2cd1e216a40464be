"""Process start to first answer on an unchanged 1,000-article knowledge base, per encoder
backend, beside the bare model load measured in the same run.

    python bench/startup.py [--backends torch onnx onnx-int8] [--rounds 3] [--articles 1000]
                            [--embed] [--serve]

- bare model load: a fresh Python process that imports the encoder, loads the model and
  encodes one sentence; timed from spawning it to its first vector (the floor: a process
  that answers has to do at least this).
- chat: `deskbot chat` spawned with a question already on its standard input and `/quit`
  after it; timed from spawning it to the prompt, and to the last line of its answer.
- serve (`--serve`): `deskbot serve` spawned, then one web chat message sent as soon as
  /healthz answers; timed from spawning it to the HTTP answer.

The knowledge base is built first (synthetic articles made of the demo's sentences, see
`bench/retrieval_latency.py`), with each backend's vectors stored, as a deployment has them
after its first start: random unit vectors by default (loading costs the same whatever they
hold), or real ones with `--embed` (slow). Each backend is started once before the rounds,
so its router training is in the cache (a restart with nothing changed). Rounds interleave
the backends and the figures are medians; ratios are to the bare model load of the same
backend in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from retrieval_latency import random_vectors, synthetic  # noqa: E402 - after the path set-up

QUESTION = "how do I connect to the VPN from home"
DESKBOT = str(Path(sys.executable).parent / "deskbot")

BARE = """
import sys
from retrieval.embedding import SentenceEmbedder
SentenceEmbedder(backend=sys.argv[1]).encode(["how do I connect to the VPN from home"])
"""


def build_base(url: str, backends: list[str], articles: int, embed: bool) -> None:
    from bot.db import make_engine, migrate
    from bot.settings import Settings
    from bot.wiring import knowledge_base
    from retrieval.embedding import SentenceEmbedder

    engine = make_engine(url)
    migrate(engine)
    items = synthetic(articles)
    for backend in backends:
        embedder = SentenceEmbedder(backend=backend)  # type: ignore[arg-type]
        kb = knowledge_base(Settings(DESKBOT_DATABASE_URL=url), engine, embedder)
        if not embed:
            kb._vector_store.save_vectors(random_vectors(items, 384), embedder.name)
        kb.import_articles(items)


def bare_load(backend: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", BARE, backend], env=env, check=True)
    return time.perf_counter() - started


def chat(env: dict[str, str], cwd: Path) -> dict[str, float]:
    """Spawn -> prompt, spawn -> the last line of the first answer."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [DESKBOT, "chat"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
        text=True,
        bufsize=1,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(f"{QUESTION}\n/quit\n")
    process.stdin.flush()
    times: list[float] = []
    lines: list[str] = []
    for line in process.stdout:
        times.append(time.perf_counter() - started)
        lines.append(line)
    process.wait(timeout=60)
    if process.returncode != 0 or len(lines) < 2:
        raise SystemExit(f"deskbot chat failed ({process.returncode}): {''.join(lines)[-2000:]}")
    return {"prompt_s": times[0], "first_answer_s": times[-1]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def first_web_answer(base: str, started: float) -> float:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with asyncio.timeout(300):
            while True:
                try:
                    async with http.get(f"{base}/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.02)
        async with http.get(f"{base}/chat") as r:
            await r.read()
        async with http.post(f"{base}/chat/api/messages", json={"text": QUESTION, "after": 0}) as r:
            body = await r.json()
            assert r.status == 200 and body["messages"], body
    return time.perf_counter() - started


def serve(env: dict[str, str], cwd: Path) -> float:
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [DESKBOT, "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
    )
    try:
        return asyncio.run(first_web_answer(f"http://127.0.0.1:{port}", started))
    finally:
        process.terminate()
        process.wait(timeout=30)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx", "onnx-int8"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--embed", action="store_true", help="real vectors (slow)")
    parser.add_argument("--serve", action="store_true", help="also time deskbot serve")
    parser.add_argument("--database", help="reuse this SQLite file (built if missing)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="deskbot-startup-"))
    db = Path(args.database) if args.database else work / "kb.db"
    url = f"sqlite:///{db}"
    started = time.perf_counter()
    if not db.exists() or not args.database:
        build_base(url, args.backends, args.articles, args.embed)
    build_s = time.perf_counter() - started
    base_env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "DESKBOT_DATABASE_URL": url,
        "DESKBOT_CACHE_DIR": str(work / "cache"),
        "DESKBOT_SPOOL_FILE": str(work / "spool.jsonl"),
    }
    envs = {b: {**base_env, "DESKBOT_ENCODER_BACKEND": b} for b in args.backends}
    for backend in args.backends:  # the first start of each: exports, router training cached
        chat(envs[backend], work)
    runs: dict[str, list[dict[str, float]]] = {b: [] for b in args.backends}
    loads = [load_average()]
    for _ in range(args.rounds):
        for backend in args.backends:
            run = {"bare_model_load_s": bare_load(backend, envs[backend])}
            run.update(chat(envs[backend], work))
            if args.serve:
                run["serve_first_answer_s"] = serve(envs[backend], work)
            runs[backend].append(run)
        loads.append(load_average())
    results: dict[str, object] = {
        "articles": args.articles,
        "vectors": "embedded" if args.embed else "random unit vectors",
        "knowledge_base_build_s": round(build_s, 1),
        "cores": os.cpu_count(),
        "load_average_during": loads,
    }
    for backend, figures in runs.items():
        medians = {k: statistics.median(f[k] for f in figures) for k in figures[0]}
        bare = medians["bare_model_load_s"]
        results[backend] = {
            **{k: round(v, 2) for k, v in medians.items()},
            "ratio_to_bare_model_load": {
                k: round(v / bare, 2) for k, v in medians.items() if k != "bare_model_load_s"
            },
            "rounds": [{k: round(v, 2) for k, v in f.items()} for f in figures],
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
