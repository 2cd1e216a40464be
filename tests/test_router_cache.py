"""The router's training cache: a restart with the same exemplars and knowledge base embeds and
fits nothing and decides the same; any change of the inputs is trained afresh."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from flows.cache import TrainingCache
from flows.classifier import load_exemplars
from flows.intents import Intent
from flows.router import Router
from retrieval.embedding import HashEmbedder, Vectors

QUESTIONS = ["I want to talk to a person", "delete all mailboxes of the finance team", "hello"]


class CountingEmbedder(HashEmbedder):
    """The fast test embedder, counting the texts it is asked to encode."""

    def __init__(self) -> None:
        super().__init__()
        self.encoded = 0

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.encoded += len(texts)
        return super().encode(texts)


def faq(n: int, seed: int) -> Vectors:
    v = np.random.default_rng(seed).normal(size=(n, 256)).astype(np.float32)
    return np.asarray(v / np.linalg.norm(v, axis=1, keepdims=True), dtype=np.float32)


def decisions(router: Router) -> list[tuple[Intent, float]]:
    assert router.classifier is not None
    out = []
    for q in QUESTIONS:
        p = router.classifier.predict(HashEmbedder().encode([q])[0])
        out.append((max(p.probabilities, key=p.probabilities.__getitem__), p[Intent.HUMAN]))
    return out


def test_a_restart_embeds_and_fits_nothing_and_decides_the_same(tmp_path: Path) -> None:
    cache = TrainingCache(tmp_path)
    first_embedder = CountingEmbedder()
    first = Router.from_file(first_embedder, cache=cache)
    first.learn(faq(40, 1), revision=1)
    assert first_embedder.encoded == len(load_exemplars())

    again_embedder = CountingEmbedder()
    again = Router.from_file(again_embedder, cache=cache)
    again.learn(faq(40, 1), revision=1)
    assert again_embedder.encoded == 0
    assert decisions(again) == decisions(first)


def test_other_knowledge_base_questions_are_fitted_afresh(tmp_path: Path) -> None:
    cache = TrainingCache(tmp_path)
    one = Router.from_file(HashEmbedder(), cache=cache)
    one.learn(faq(40, 1), revision=1)
    other = Router.from_file(HashEmbedder(), cache=cache)
    other.learn(faq(40, 2), revision=1)
    uncached = Router.from_file(HashEmbedder())
    uncached.learn(faq(40, 2), revision=1)
    assert decisions(other) == decisions(uncached) != decisions(one)
    assert len(list(tmp_path.glob("router-weights-*.npz"))) == 2


def test_another_embedder_does_not_reuse_the_vectors(tmp_path: Path) -> None:
    cache = TrainingCache(tmp_path)
    Router.from_file(HashEmbedder(256), cache=cache).warm_up()
    other = CountingEmbedder()
    other.dim = 128  # its name ("hash:128") differs
    Router.from_file(other, cache=cache).warm_up()
    assert other.encoded == len(load_exemplars())


def test_an_unreadable_cache_file_is_recomputed(tmp_path: Path) -> None:
    cache = TrainingCache(tmp_path)
    Router.from_file(HashEmbedder(), cache=cache).warm_up()
    for path in tmp_path.glob("*.npz"):
        path.write_bytes(b"not a numpy file")
    embedder = CountingEmbedder()
    router = Router.from_file(embedder, cache=cache)
    router.warm_up()
    assert embedder.encoded == len(load_exemplars())
    assert decisions(router)  # it still routes


def test_with_the_cache_warm_scikit_learn_is_not_imported(tmp_path: Path) -> None:
    program = f"""
import sys
from pathlib import Path
from flows.cache import TrainingCache
from flows.router import Router
from retrieval.embedding import HashEmbedder
Router.from_file(HashEmbedder(), cache=TrainingCache(Path({str(tmp_path)!r}))).warm_up()
print("sklearn" in sys.modules)
"""
    runs = [
        subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert [r.stdout.strip() for r in runs] == ["True", "False"]
