"""A sentence-transformers model run by ONNX Runtime, without torch.

The Hugging Face `tokenizers` library reads the model folder's tokenizer; ONNX Runtime runs the
exported transformer (see `retrieval.onnx_export`); pooling and L2 normalisation happen here in
numpy, as sentence-transformers does them, so the vectors match the torch backend's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from tokenizers import Tokenizer

Vectors = npt.NDArray[np.float32]

TRANSFORMER = "sentence_transformers.models.Transformer"
POOLING = "sentence_transformers.models.Pooling"
NORMALIZE = "sentence_transformers.models.Normalize"
POOLING_MODES = ("mean", "cls")


class ModelFolderError(ValueError):
    """The model folder cannot be run by the ONNX backend; the message says why."""


@dataclass(frozen=True)
class SentenceModel:
    """What the ONNX backend needs to know of a sentence-transformers model folder."""

    folder: Path  # the Transformer module: config, weights, tokenizer
    pooling: str  # "mean" or "cls"
    max_seq_length: int
    lower_case: bool
    dim: int

    @classmethod
    def read(cls, path: Path) -> SentenceModel:
        modules = _json(path / "modules.json", default=[])
        kinds = [m.get("type", "") for m in modules]
        unknown = [k for k in kinds if k not in (TRANSFORMER, POOLING, NORMALIZE)]
        if unknown or (modules and kinds[0] != TRANSFORMER):
            raise ModelFolderError(
                f"{path}: the ONNX backend runs Transformer + Pooling (+ Normalize) models, "
                f"this one has {', '.join(kinds)}; use the torch backend"
            )
        by_kind = {m["type"]: path / m.get("path", "") for m in modules}
        folder = by_kind.get(TRANSFORMER, path)
        pooling = _pooling(by_kind.get(POOLING), path)
        config = _json(folder / "sentence_bert_config.json", default={})
        transformer = _json(folder / "config.json")
        positions = int(transformer.get("max_position_embeddings", 512))
        return cls(
            folder=folder,
            pooling=pooling,
            max_seq_length=min(int(config.get("max_seq_length", positions)), positions),
            lower_case=bool(config.get("do_lower_case", False)),
            dim=int(transformer.get("hidden_size", 0)),
        )


def _json(path: Path, default: Any = None) -> Any:
    if not path.is_file():
        if default is None:
            raise ModelFolderError(f"{path} is missing")
        return default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ModelFolderError(f"{path} is not valid JSON: {exc}") from None


def _pooling(folder: Path | None, path: Path) -> str:
    """sentence-transformers pools by the mean of the tokens unless its config says otherwise."""
    if folder is None:
        return "mean"
    config = _json(folder / "config.json", default={})
    modes: list[str] = [
        k.removeprefix("pooling_mode_").removesuffix("_tokens").removesuffix("_token")
        for k, v in config.items()
        if k.startswith("pooling_mode_") and v is True
    ]
    if len(modes) != 1 or modes[0] not in POOLING_MODES:
        raise ModelFolderError(
            f"{path}: the ONNX backend pools by mean or CLS token, this model by "
            f"{' + '.join(modes) or 'nothing'}; use the torch backend"
        )
    return modes[0]


def pool(hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64], mode: str) -> Vectors:
    """Token states (batch, tokens, dim) to L2-normalised sentence vectors, as
    sentence-transformers' Pooling and Normalize modules compute them."""
    if mode == "cls":
        pooled = hidden[:, 0]
    else:
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return np.asarray(pooled / np.clip(norms, 1e-12, None), dtype=np.float32)


def tokenizer(model: SentenceModel) -> Tokenizer:
    """The model's tokenizer, truncating and padding as sentence-transformers does."""
    from tokenizers import Tokenizer

    loaded = Tokenizer.from_file(str(model.folder / "tokenizer.json"))
    loaded.enable_truncation(max_length=model.max_seq_length)
    pad = _json(model.folder / "tokenizer_config.json", default={}).get("pad_token", "[PAD]")
    pad_token = pad if isinstance(pad, str) else str(pad.get("content", "[PAD]"))
    pad_id = loaded.token_to_id(pad_token)
    if pad_id is None:
        raise ModelFolderError(f"{model.folder}: the tokenizer has no {pad_token} token")
    # Pad to the longest text of each batch (the file may ask for a fixed length).
    loaded.enable_padding(pad_id=pad_id, pad_token=pad_token)
    return loaded


class OnnxEncoder:
    """Encodes with an exported model; built once per process (loading takes about a second)."""

    def __init__(self, model: SentenceModel, onnx_path: Path, batch_size: int = 32) -> None:
        import onnxruntime as ort

        self._model = model
        self._batch_size = batch_size
        self._tokenizer = tokenizer(model)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle threads of the runtime's pool sleep rather than spin: in the server they share
        # the cores with the turns around the encoder, which spinning starved.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._model.dim), dtype=np.float32)
        parts = [
            self._batch(texts[start : start + self._batch_size])
            for start in range(0, len(texts), self._batch_size)
        ]
        return parts[0] if len(parts) == 1 else np.vstack(parts)

    def _batch(self, texts: Sequence[str]) -> Vectors:
        # sentence-transformers strips each text (and lower-cases it when configured) first.
        prepared = [t.strip().lower() if self._model.lower_case else t.strip() for t in texts]
        encodings = self._tokenizer.encode_batch(prepared)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {
            "input_ids": ids,
            "attention_mask": mask,
            "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64),
        }
        hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        return pool(np.asarray(hidden, dtype=np.float32), mask, self._model.pooling)
