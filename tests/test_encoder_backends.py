"""The ONNX Runtime backends against torch, with the real model (marked slow).

The packaged model folder is mirrored (its files linked) into a temporary folder, so the export
lands next to that copy exactly as it would next to the installed model.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bot.settings import DEMO_KB_PATH, DEMO_QUESTIONS_PATH
from retrieval.embedding import Backend, SentenceEmbedder, default_model_path
from retrieval.evaluation import load_queries
from retrieval.loader import load_path
from retrieval.text import passages

pytestmark = pytest.mark.slow


def mirror(source: Path, target: Path) -> Path:
    """The model's own files, without any export already cached beside them."""
    target.mkdir()
    for item in source.iterdir():
        if item.name != "onnx":
            (target / item.name).symlink_to(item)
    return target


@pytest.fixture(scope="module")
def model_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield mirror(default_model_path(), tmp_path_factory.mktemp("mirror") / "model")


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Demo questions, and passages of every demo article (long ones included)."""
    questions = [q.query for q in load_queries(DEMO_QUESTIONS_PATH)]
    articles = load_path(DEMO_KB_PATH).articles
    return questions[::2] + [p.text for a in articles for p in passages(a)[-2:]]


@pytest.fixture(scope="module")
def reference(real_embedder: SentenceEmbedder, texts: list[str]) -> np.ndarray:
    return real_embedder.encode(texts)


def agreement(model: Path, backend: Backend, texts: list[str], reference: np.ndarray) -> float:
    """The lowest cosine between this backend's vector and torch's, over all texts."""
    vectors = SentenceEmbedder(model, backend=backend).encode(texts)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    return float((vectors * reference).sum(axis=1).min())


def test_onnx_fp32_gives_torch_vectors(
    model_copy: Path, texts: list[str], reference: np.ndarray
) -> None:
    assert agreement(model_copy, Backend.ONNX, texts, reference) > 0.999
    exported = sorted(p.name for p in (model_copy / "onnx").glob("*.onnx"))
    assert len(exported) == 1 and not any(".partial" in p.name for p in model_copy.rglob("*"))


def test_onnx_int8_stays_close_to_torch(
    model_copy: Path, texts: list[str], reference: np.ndarray
) -> None:
    # Measured: lowest cosine 0.98-0.99 (mean 0.995); see docs/evaluation.md.
    assert agreement(model_copy, Backend.ONNX_INT8, texts, reference) > 0.97
    assert len(list((model_copy / "onnx").glob("*-int8.onnx"))) == 1


def test_exported_backends_run_without_torch(model_copy: Path) -> None:
    for backend in (Backend.ONNX, Backend.ONNX_INT8):
        SentenceEmbedder(model_copy, backend=backend).warm_up()  # exported once, here
    program = (
        "import sys\n"
        "from retrieval.embedding import SentenceEmbedder\n"
        "for backend in ('onnx', 'onnx-int8'):\n"
        f"    SentenceEmbedder({str(model_copy)!r}, backend=backend).encode(['vpn error 809'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'sentence_transformers')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"
