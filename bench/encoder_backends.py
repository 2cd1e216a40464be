"""The sentence encoder on each backend: load time, latency, throughput, memory, agreement.

    python bench/encoder_backends.py [--backends torch onnx onnx-int8] [--rounds 2] [--model PATH]

Each backend is measured in a fresh process (so load time and memory are its own), in turns
with the others over several rounds; the figures are medians over rounds, and each is also
given as a ratio to the torch backend measured in the same run. Before the rounds every
backend is loaded once, so an ONNX export (done once per model) is not counted.

- load: `warm_up()` from a cold process: library imports and model load.
- single: one-sentence `encode([q])` p50/p99 over the demo questions.
- batch 32 / 64: sentences per second encoding the demo questions in batches of that size.
- RSS: resident memory after the measurements, and its peak.
- agreement: cosine of each backend's vectors with torch's (questions and article passages).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bot.settings import DEMO_KB_PATH, DEMO_QUESTIONS_PATH
from retrieval.embedding import Backend, SentenceEmbedder
from retrieval.loader import load_path
from retrieval.text import passages


def questions() -> list[str]:
    return [json.loads(line)["query"] for line in DEMO_QUESTIONS_PATH.read_text().splitlines()]


def sample() -> list[str]:
    """Texts for the agreement check: every question and every demo article passage."""
    articles = load_path(DEMO_KB_PATH).articles
    return questions() + [p.text for a in articles for p in passages(a)]


def memory() -> dict[str, float]:
    status = Path("/proc/self/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status if line.startswith(("VmRSS", "VmHWM")))
    return {k: int(v.split()[0]) / 1024 for k, v in fields.items()}


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p))


def measure(model: Path | None, backend: Backend, vectors_out: Path | None) -> dict[str, object]:
    """Run in the child process: every figure for one backend."""
    from bot.wiring import single_threaded_blas

    single_threaded_blas()  # as the server runs
    embedder = SentenceEmbedder(model, backend=backend)
    started = time.perf_counter()
    embedder.warm_up()
    load_s = time.perf_counter() - started
    texts = questions()
    for q in texts[:10]:
        embedder.encode([q])
    single = []
    for q in texts:
        t = time.perf_counter()
        embedder.encode([q])
        single.append(time.perf_counter() - t)
    figures: dict[str, object] = {
        "load_s": load_s,
        "single_p50_ms": percentile(single, 50) * 1000,
        "single_p99_ms": percentile(single, 99) * 1000,
    }
    for size in (32, 64):
        batches = [texts[i : i + size] for i in range(0, len(texts) - size + 1, size)]
        embedder.encode(batches[0])
        t = time.perf_counter()
        for batch in batches:
            embedder.encode(batch)
        figures[f"batch{size}_per_s"] = sum(map(len, batches)) / (time.perf_counter() - t)
    if vectors_out is not None:
        np.save(vectors_out, embedder.encode(sample()))
    rss = memory()
    figures["rss_mb"] = rss["VmRSS"]
    figures["peak_rss_mb"] = rss["VmHWM"]
    figures["imports_torch"] = "torch" in sys.modules
    return figures


def child(model: Path | None, backend: Backend, vectors_out: Path | None) -> dict[str, object]:
    command = [sys.executable, __file__, "--child", backend.value]
    if model is not None:
        command += ["--model", str(model)]
    if vectors_out is not None:
        command += ["--vectors", str(vectors_out)]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def agreement(vectors: dict[Backend, np.ndarray]) -> dict[str, dict[str, float]]:
    reference = vectors[Backend.TORCH]
    out = {}
    for backend, v in vectors.items():
        cos = (v * reference).sum(axis=1)
        out[backend.value] = {
            "min": float(cos.min()),
            "p01": percentile(list(cos), 1),
            "mean": float(cos.mean()),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", nargs="+", default=[b.value for b in Backend])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model", type=Path, help="a model folder (default: the packaged one)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--vectors", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.model, Backend(args.child), args.vectors)))
        return

    backends = [Backend(b) for b in args.backends]
    if Backend.TORCH not in backends:
        backends.insert(0, Backend.TORCH)  # the baseline
    work = Path(tempfile.mkdtemp(prefix="deskbot-encoders-"))
    vectors: dict[Backend, np.ndarray] = {}
    for backend in backends:  # exports what is missing, and keeps vectors for agreement
        child(args.model, backend, work / f"{backend.value}.npy")
        vectors[backend] = np.load(work / f"{backend.value}.npy")
    runs: dict[Backend, list[dict[str, object]]] = {b: [] for b in backends}
    for _ in range(args.rounds):
        for backend in backends:
            runs[backend].append(child(args.model, backend, None))

    numeric = [k for k, v in runs[Backend.TORCH][0].items() if isinstance(v, float)]
    results: dict[str, object] = {}
    for backend in backends:
        medians = {k: statistics.median(float(r[k]) for r in runs[backend]) for k in numeric}  # type: ignore[arg-type]
        base = {
            k: statistics.median(float(r[k]) for r in runs[Backend.TORCH])  # type: ignore[arg-type]
            for k in numeric
        }
        results[backend.value] = {
            **medians,
            "ratio_to_torch": {k: medians[k] / base[k] for k in numeric},
            "imports_torch": any(r["imports_torch"] for r in runs[backend]),
        }
    results["agreement_with_torch"] = agreement(vectors)
    results["texts_compared"] = len(vectors[Backend.TORCH])
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
