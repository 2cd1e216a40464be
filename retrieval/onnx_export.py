"""Export a sentence-transformers model to ONNX (and an int8 variant) once, and find it again.

The exported files are named by a hash of the model's weights and configuration (and of this
recipe), and kept in an `onnx/` folder inside the model folder, or in the user's cache folder
when the model folder is read-only (a container's site-packages often is). Each file is
written under a temporary name and renamed into place, under a file lock: two processes that
start at once export once, and no reader ever sees half a file.

Exporting needs torch and transformers (already installed for the torch backend); running
the result needs neither.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock
from platformdirs import user_cache_dir

from retrieval.onnx_encoder import SentenceModel, tokenizer

log = logging.getLogger(__name__)

# Part of the file names: change it when the export or quantization below changes, so that
# files made the old way are not reused.
RECIPE = "ort-bert-fused-v1;int8-dynamic-per-channel-matmul-v1"
WEIGHTS = ("model.safetensors", "pytorch_model.bin")
OPSET = 17


def model_key(model: SentenceModel) -> str:
    """A hash of what the exported graph depends on: the recipe, config and weights."""
    digest = hashlib.sha256(RECIPE.encode())
    for name in ("config.json", *WEIGHTS):
        path = model.folder / name
        if path.is_file():
            digest.update(name.encode())
            with path.open("rb") as f:
                digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()[:20]


def cache_folders(model: SentenceModel, user_cache: Path | None = None) -> list[Path]:
    """Where exported files are looked for and written, in order of preference."""
    fallback = user_cache or Path(user_cache_dir("deskbot"))
    return [model.folder / "onnx", fallback / "onnx"]


def onnx_file(model: SentenceModel, *, quantized: bool, user_cache: Path | None = None) -> Path:
    """The exported (fp32) or quantized (int8) model file, made on first use."""
    folders = cache_folders(model, user_cache)
    key = model_key(model)
    fp32 = cached_file(f"{key}.onnx", folders, lambda out: export(model, out))
    if not quantized:
        return fp32
    return cached_file(f"{key}-int8.onnx", folders, lambda out: quantize(fp32, out))


def cached_file(name: str, folders: Sequence[Path], build: Callable[[Path], None]) -> Path:
    """`name` from the first folder that has it; otherwise built into the first writable one.

    `build(path)` writes the file at `path` (a temporary name beside the final one); the file
    is renamed into place only once it is complete."""
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    for folder in folders:
        lock = FileLock(folder / f".{name}.lock", timeout=600)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            lock.acquire()
        except OSError as exc:  # read-only (or not ours): the next folder
            log.info("cannot write to %s (%s); trying the next cache folder", folder, exc)
            continue
        try:
            target = folder / name
            if not target.is_file():  # else another process built it while this one waited
                with _temporary(folder, name) as partial:
                    log.info("building %s (once per model)", target)
                    build(partial)
                    partial.chmod(0o644)  # mkstemp's 0600 would hide it from other accounts
                    os.replace(partial, target)
            return target
        finally:
            lock.release()
    raise OSError(f"none of {', '.join(map(str, folders))} is writable to cache {name}")


@contextlib.contextmanager
def _temporary(folder: Path, name: str) -> Iterator[Path]:
    fd, raw = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".partial")
    os.close(fd)
    path = Path(raw)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def export(model: SentenceModel, out: Path) -> None:
    """The transformer to ONNX (token states out; pooling stays in numpy), with BERT's
    attention, GELU and layer norms fused by ONNX Runtime's optimizer when it applies."""
    import torch
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging

    class TokenStates(torch.nn.Module):
        """Positional inputs and one output, as tracing wants them."""

        def __init__(self, network: Any) -> None:
            super().__init__()
            self.network = network

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            return self.network(input_ids=ids, attention_mask=mask, token_type_ids=types)[0]

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    config = AutoConfig.from_pretrained(str(model.folder), local_files_only=True)
    network = AutoModel.from_pretrained(
        str(model.folder), local_files_only=True, attn_implementation="eager"
    ).eval()
    # A padded batch, so the traced graph keeps the attention mask's path.
    sample = tokenizer(model).encode_batch(["how do I connect to the VPN from home", "VPN"])
    ids = torch.tensor([e.ids for e in sample], dtype=torch.long)
    mask = torch.tensor([e.attention_mask for e in sample], dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "token_states"]}
    with tempfile.TemporaryDirectory(prefix="deskbot-export-") as work:
        raw = Path(work) / "model.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            # The TorchScript exporter (kept in the pinned torch) warns that it is deprecated
            # and that tracing fixes Python-side branches; the padded sample covers ours.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                TokenStates(network),
                (ids, mask, torch.zeros_like(ids)),
                str(raw),
                input_names=names,
                output_names=["token_states"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        _optimize(raw, out, config)


def _optimize(raw: Path, out: Path, config: Any) -> None:
    """Fuse BERT's subgraphs offline: the session then loads faster, and quantization sees
    the fused graph (quantized MatMuls could no longer be fused at load time)."""
    if config.model_type != "bert":
        out.write_bytes(raw.read_bytes())
        return
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(
        str(raw),
        model_type="bert",
        num_heads=config.num_attention_heads,
        hidden_size=config.hidden_size,
    )
    optimized.save_model_to_file(str(out))


def quantize(source: Path, out: Path) -> None:
    """Dynamic int8 quantization of the MatMul weights, one scale per output channel (a
    single scale per matrix moved the vectors about four times as far from fp32's)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_root_logger():
        quantize_dynamic(
            str(source),
            str(out),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            # ONNX's shape inference does not know the fused operators' output types.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """The quantizer logs advice on pre-processing to the root logger on every call."""

    def advice(record: logging.LogRecord) -> bool:
        return "pre-processing" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)
