"""Retrieval latency, index build time, start-up time and memory, for each encoder backend.

    python bench/retrieval_latency.py [--backends torch onnx onnx-int8]
                                      [--sizes 1000 10000 50000] [--queries 200] [--model PATH]

- Per-query latency of `KnowledgeBase.search` (encode + BM25 + dense + fusion + confidence)
  at each size and on each backend, beside the bare encoder call for the same query on the
  same backend, measured in the same run and interleaved so both see the same machine state;
  with the time of BM25 scoring alone and its share of the search. Beside it, rank-bm25's own
  `get_scores` (a Python loop over every document) on the same documents, which the sparse
  BM25 matrix in `retrieval/bm25.py` replaces.
  Articles are synthetic, built from the demo knowledge base's sentences (real titles with two
  topic words and a number added, four real questions, answers and bodies made of shuffled
  real sentences), so BM25 sees real vocabulary and document lengths; their passage vectors
  are random unit vectors (searching costs the same whatever the vectors hold, and embedding
  50,000 articles would take hours).
- Index build time for 1,000 articles (embedding included), time from process start to the
  first answer with that base unchanged (model load included), and peak RSS, per backend.
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
from rank_bm25 import BM25Okapi

from bot.db import make_engine, migrate
from bot.settings import DEMO_KB_PATH, DEMO_QUESTIONS_PATH
from bot.wiring import DEFAULT_CALIBRATION, single_threaded_blas
from retrieval.articles import Article
from retrieval.confidence import Calibration
from retrieval.embedding import Backend, SentenceEmbedder
from retrieval.index import ArticleVectors
from retrieval.knowledge import KnowledgeBase
from retrieval.loader import load_path
from retrieval.store import KnowledgeStore
from retrieval.text import passages, tokenize

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
    kb.embedder = embedder
    bm25_index = kb.index.bm25
    search, bare, bm25 = [], [], []
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
        t = time.perf_counter()
        terms = tokenize(q)
        bm25_index.scores(terms)
        bm25_index.ceiling(terms)
        bm25.append(time.perf_counter() - t)
    return {
        "search_p50_ms": percentile(search, 50) * 1000,
        "search_p99_ms": percentile(search, 99) * 1000,
        "encode_p50_ms": percentile(bare, 50) * 1000,
        "encode_p99_ms": percentile(bare, 99) * 1000,
        "ratio_p50": statistics.median(search) / statistics.median(bare),
        "ratio_p99": percentile(search, 99) / percentile(bare, 99),
        "bm25_p50_ms": percentile(bm25, 50) * 1000,
        "bm25_share_of_search_p50": statistics.median(bm25) / statistics.median(search),
    }


def rank_bm25_latency(articles: list[Article], queries: list[str]) -> dict[str, float]:
    """rank-bm25's own scoring on the same documents: a Python loop over all of them."""
    from retrieval.index import ArticleTerms

    okapi = BM25Okapi([ArticleTerms.of(a).tokens or ["\x00"] for a in articles])
    times = []
    for q in queries:
        terms = tokenize(q)
        t = time.perf_counter()
        okapi.get_scores(terms)
        times.append(time.perf_counter() - t)
    return {"p50_ms": percentile(times, 50) * 1000, "p99_ms": percentile(times, 99) * 1000}


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
model = sys.argv[3] if len(sys.argv) > 3 else None
kb = KnowledgeBase(KnowledgeStore(engine), SentenceEmbedder(model, backend=sys.argv[2]),
                   Calibration.from_json(DEFAULT_CALIBRATION.read_text()))
stats = kb.load()
hit = kb.search("how do I connect to the VPN from home")
print(time.time(), time.time() - started, stats.embedded, hit.top.id if hit.top else None,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def start_to_first_answer(url: str, backend: Backend, model: Path | None) -> dict[str, object]:
    """Process start -> first answer on the unchanged base, and peak memory; the child reports
    the wall-clock time of its answer, so its exit (freeing the model) is not counted."""
    command = [sys.executable, "-c", FIRST_ANSWER, url, backend.value]
    if model is not None:
        command.append(str(model))
    started = time.time()
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    answered_at, in_process, embedded, top, rss_mb = out.stdout.split()
    return {
        "start_to_first_answer_s": float(answered_at) - started,
        "start_to_first_answer_in_process_s": float(in_process),
        "start_reembedded_articles": int(embedded),
        "start_first_answer_article": top,
        "start_peak_rss_mb": float(rss_mb),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", nargs="+", default=[b.value for b in Backend])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--model", type=Path, help="a model folder (default: the packaged one)")
    parser.add_argument(
        "--no-build", action="store_true", help="skip the 1,000-article build and start-up"
    )
    args = parser.parse_args()
    single_threaded_blas()  # as the server runs
    backends = [Backend(b) for b in args.backends]
    embedders = {b: SentenceEmbedder(args.model, backend=b) for b in backends}
    for embedder in embedders.values():
        embedder.warm_up()
    queries = [json.loads(line)["query"] for line in DEMO_QUESTIONS_PATH.read_text().splitlines()]
    queries = (queries * (args.queries // len(queries) + 1))[: args.queries]
    work = Path(tempfile.mkdtemp(prefix="deskbot-bench-"))
    results: dict[str, dict[str, object]] = {b.value: {} for b in embedders}

    if not args.no_build:
        # a real 1,000-article base (embedding included), one per backend in one database:
        # each backend embeds it under its own key
        url = f"sqlite:///{work / 'kb1000.db'}"
        articles = synthetic(1000)
        for backend, embedder in embedders.items():
            kb = knowledge_base(url, embedder)
            started = time.perf_counter()
            kb.import_articles(articles)
            results[backend.value]["build_1000_s"] = time.perf_counter() - started
            results[backend.value].update(start_to_first_answer(url, backend, args.model))
        results["build_1000_passages"] = {"count": sum(len(passages(a)) for a in articles)}

    first = next(iter(embedders.values()))
    for size in args.sizes:
        sized = knowledge_base("sqlite://", first)
        big = synthetic(size)
        sized._vector_store.save_vectors(random_vectors(big, 384), first.name)
        started = time.perf_counter()
        sized.import_articles(big)
        index_s = time.perf_counter() - started
        for backend, embedder in embedders.items():
            results[backend.value][f"latency_{size}"] = latency(sized, embedder, queries)
        results[f"index_{size}"] = {
            "build_s_without_embedding": index_s,
            "rank_bm25_get_scores": rank_bm25_latency(big, queries[:40]),
        }
        del sized, big

    import resource

    results["bench"] = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
