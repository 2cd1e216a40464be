"""Retrieval latency, index build time, start-up time and memory.

    python bench/retrieval_latency.py [--sizes 100 1000 10000] [--queries 200]

- Per-query latency of `KnowledgeBase.search` (encode + BM25 + dense + fusion + confidence)
  at each size, beside the bare encoder call for the same query measured in the same run,
  interleaved so both see the same machine state. Articles are synthetic, built from the demo
  knowledge base's sentences; beyond 1,000 articles their passage vectors are random unit
  vectors (searching costs the same whatever the vectors hold, and embedding 10,000 articles
  would take half an hour).
- Index build time for 1,000 articles (embedding included), time from process start to the
  first answer with that base unchanged (model load included), and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bot.db import make_engine, migrate
from bot.settings import DEMO_KB_PATH, DEMO_QUESTIONS_PATH
from bot.wiring import DEFAULT_CALIBRATION, single_threaded_blas
from retrieval.articles import Article
from retrieval.confidence import Calibration
from retrieval.embedding import SentenceEmbedder
from retrieval.index import ArticleVectors
from retrieval.knowledge import KnowledgeBase
from retrieval.loader import load_path
from retrieval.store import KnowledgeStore
from retrieval.text import passages

WORDS = (
    "laptop printer vpn outlook teams wifi badge monitor dock headset keyboard password "
    "account mailbox calendar sharepoint onedrive license software update driver battery "
    "screen camera phone tablet network proxy browser certificate folder drive archive"
).split()


def synthetic(n: int, seed: int = 7) -> list[Article]:
    """n articles that look like the demo ones: shuffled real sentences, varied titles."""
    rng = random.Random(seed)
    demo = [a for a in load_path(DEMO_KB_PATH).articles if a.status.value == "validated"]
    sentences = [
        s.strip() for a in demo for s in a.body.replace("\n", " ").split(". ") if len(s) > 30
    ]
    out = []
    for i in range(n):
        base = demo[i % len(demo)]
        topic = " ".join(rng.sample(WORDS, 2))
        out.append(
            replace(
                base,
                id=f"syn-{i:05d}",
                title=f"{base.title} ({topic} {i})",
                questions=tuple(f"{q} {topic}" for q in base.questions[:3]),
                answer=". ".join(rng.sample(sentences, 2)),
                body="\n\n".join(". ".join(rng.sample(sentences, 4)) for _ in range(2)),
            )
        )
    return out


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p))


def knowledge_base(url: str, embedder: SentenceEmbedder) -> KnowledgeBase:
    engine = make_engine(url)
    migrate(engine)
    calibration = Calibration.from_json(DEFAULT_CALIBRATION.read_text())
    return KnowledgeBase(KnowledgeStore(engine), embedder, calibration)


def random_vectors(articles: list[Article], dim: int, seed: int = 3) -> dict[str, ArticleVectors]:
    rng = np.random.default_rng(seed)
    out = {}
    for a in articles:
        views = tuple(p.view for p in passages(a))
        v = rng.normal(size=(len(views), dim)).astype(np.float32)
        out[a.content_hash] = ArticleVectors(v / np.linalg.norm(v, axis=1, keepdims=True), views)
    return out


def latency(kb: KnowledgeBase, embedder: SentenceEmbedder, queries: list[str]) -> dict[str, float]:
    search, bare = [], []
    for q in queries[:10]:  # warm caches and the allocator
        kb.search(q)
        embedder.encode([q])
    for q in queries:
        t = time.perf_counter()
        embedder.encode([q])
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        kb.search(q)
        search.append(time.perf_counter() - t)
    return {
        "search_p50_ms": percentile(search, 50) * 1000,
        "search_p99_ms": percentile(search, 99) * 1000,
        "encode_p50_ms": percentile(bare, 50) * 1000,
        "encode_p99_ms": percentile(bare, 99) * 1000,
        "ratio_p50": statistics.median(search) / statistics.median(bare),
    }


FIRST_ANSWER = """
import time, resource, sys
started = time.time()
from bot.db import make_engine, migrate
from bot.wiring import DEFAULT_CALIBRATION
from retrieval.confidence import Calibration
from retrieval.embedding import SentenceEmbedder
from retrieval.knowledge import KnowledgeBase
from retrieval.store import KnowledgeStore
engine = make_engine(sys.argv[1])
kb = KnowledgeBase(KnowledgeStore(engine), SentenceEmbedder(),
                   Calibration.from_json(DEFAULT_CALIBRATION.read_text()))
stats = kb.load()
hit = kb.search("how do I connect to the VPN from home")
print(time.time(), time.time() - started, stats.embedded, hit.top.id if hit.top else None,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    single_threaded_blas()  # as the server runs
    embedder = SentenceEmbedder()
    embedder.warm_up()
    queries = [json.loads(line)["query"] for line in DEMO_QUESTIONS_PATH.read_text().splitlines()]
    queries = (queries * (args.queries // len(queries) + 1))[: args.queries]
    work = Path(tempfile.mkdtemp(prefix="deskbot-bench-"))
    results: dict[str, object] = {}

    # build a real 1,000-article base (embedding included) and time it
    url = f"sqlite:///{work / 'kb1000.db'}"
    kb = knowledge_base(url, embedder)
    articles = synthetic(1000)
    started = time.perf_counter()
    kb.import_articles(articles)
    results["build_1000_s"] = time.perf_counter() - started
    results["build_1000_passages"] = sum(len(passages(a)) for a in articles)

    # process start -> first answer on the unchanged base, and peak memory; the child reports
    # the wall-clock time of its answer, so its exit (freeing the model) is not counted
    started = time.time()
    out = subprocess.run(
        [sys.executable, "-c", FIRST_ANSWER, url], capture_output=True, text=True, check=True
    )
    answered_at, in_process, embedded, top, rss_mb = out.stdout.split()
    results["start_to_first_answer_s"] = float(answered_at) - started
    results["start_to_first_answer_in_process_s"] = float(in_process)
    results["start_reembedded_articles"] = int(embedded)
    results["start_first_answer_article"] = top
    results["start_peak_rss_mb"] = float(rss_mb)

    for size in args.sizes:
        if size <= 1000:
            sized = knowledge_base("sqlite://", embedder)
            sized._vector_store = kb.store  # reuse the vectors embedded above
            sized.import_articles(articles[:size])
        else:
            sized = knowledge_base("sqlite://", embedder)
            big = synthetic(size)
            sized._vector_store.save_vectors(random_vectors(big, 384), embedder.name)
            started = time.perf_counter()
            sized.import_articles(big)
            results[f"index_{size}_s_without_embedding"] = time.perf_counter() - started
        results[f"latency_{size}"] = latency(sized, embedder, queries)

    import resource

    results["bench_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
