"""The ONNX backend's pieces that need no model: the exported-file cache (where it writes,
atomically, once when two builders race) and reading a model folder's pooling."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from retrieval.onnx_encoder import ModelFolderError, SentenceModel, pool
from retrieval.onnx_export import cached_file


class Builds:
    """A build function that records each call; it can be held until released."""

    def __init__(self, hold: bool = False) -> None:
        self.calls: list[Path] = []
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, partial: Path) -> None:
        self.calls.append(partial)
        partial.write_bytes(b"half")
        self.started.set()
        assert self.release.wait(10)
        partial.write_bytes(b"the whole model")


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """A folder nobody can write to, root included (root ignores permission bits)."""
    folder.mkdir(parents=True, exist_ok=True)
    as_root = os.geteuid() == 0
    if as_root:
        if not shutil.which("chattr"):
            pytest.skip("needs chattr to make a folder read-only for root")
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
    try:
        try:
            (folder / "probe").touch()
        except OSError:
            pass
        else:
            pytest.skip("this file system lets the folder be written anyway")
        yield
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o755)


def test_built_once_into_the_model_folder_then_reused(tmp_path: Path) -> None:
    model, user = tmp_path / "model" / "onnx", tmp_path / "cache"
    builds = Builds()
    first = cached_file("m.onnx", [model, user], builds)
    assert first == model / "m.onnx" and first.read_bytes() == b"the whole model"
    assert cached_file("m.onnx", [model, user], builds) == first
    assert len(builds.calls) == 1
    assert sorted(p.name for p in model.iterdir() if not p.name.endswith(".lock")) == ["m.onnx"]
    assert not user.exists()


def test_read_only_model_folder_falls_back_to_the_user_cache(tmp_path: Path) -> None:
    model, user = tmp_path / "model", tmp_path / "cache"
    with read_only(model):
        built = cached_file("m.onnx", [model / "onnx", user], Builds())
    assert built == user / "m.onnx" and built.read_bytes() == b"the whole model"
    assert not (model / "onnx").exists()


def test_a_file_already_next_to_the_model_is_used_even_when_read_only(tmp_path: Path) -> None:
    model, user = tmp_path / "model", tmp_path / "cache"
    cached_file("m.onnx", [model, user], Builds())
    builds = Builds()
    with read_only(model):
        assert cached_file("m.onnx", [model, user], builds) == model / "m.onnx"
    assert builds.calls == []


def test_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    def broken(partial: Path) -> None:
        partial.write_bytes(b"half")
        raise RuntimeError("export failed")

    with pytest.raises(RuntimeError):
        cached_file("m.onnx", [tmp_path], broken)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []
    assert cached_file("m.onnx", [tmp_path], Builds()).read_bytes() == b"the whole model"


def test_two_builders_at_once_build_once_and_never_expose_half_a_file(tmp_path: Path) -> None:
    """Each builder holds its own lock file handle, as two processes would."""
    builds = Builds(hold=True)
    results: dict[str, Path] = {}

    def build(who: str) -> None:
        results[who] = cached_file("m.onnx", [tmp_path], builds)

    first = threading.Thread(target=build, args=("first",))
    first.start()
    assert builds.started.wait(10)
    second = threading.Thread(target=build, args=("second",))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting for the first builder's lock
    assert not (tmp_path / "m.onnx").exists()  # only the temporary file holds half a model
    builds.release.set()
    first.join(10)
    second.join(10)
    assert results == {"first": tmp_path / "m.onnx", "second": tmp_path / "m.onnx"}
    assert len(builds.calls) == 1 and results["first"].read_bytes() == b"the whole model"


def model_folder(tmp_path: Path, pooling: dict[str, bool], modules: list[str]) -> Path:
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8}))
    paths = {"Transformer": "", "Pooling": "1_Pooling"}
    listed = [
        {"type": f"sentence_transformers.models.{m}", "path": paths.get(m, m)} for m in modules
    ]
    (tmp_path / "modules.json").write_text(json.dumps(listed))
    return tmp_path


def test_model_folder_pooling_is_read(tmp_path: Path) -> None:
    folder = model_folder(
        tmp_path,
        {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False, "include_prompt": True},
        ["Transformer", "Pooling", "Normalize"],
    )
    model = SentenceModel.read(folder)
    assert (model.pooling, model.dim, model.max_seq_length) == ("cls", 8, 512)


@pytest.mark.parametrize(
    ("pooling", "modules", "named"),
    [
        ({"pooling_mode_max_tokens": True}, ["Transformer", "Pooling"], "max"),
        ({"pooling_mode_mean_tokens": True}, ["Transformer", "Pooling", "Dense"], "Dense"),
    ],
)
def test_model_folder_the_onnx_backend_cannot_run_is_named(
    tmp_path: Path, pooling: dict[str, bool], modules: list[str], named: str
) -> None:
    with pytest.raises(ModelFolderError, match=f"{named}.*torch backend"):
        SentenceModel.read(model_folder(tmp_path, pooling, modules))


def test_mean_pooling_ignores_padding_and_normalises() -> None:
    hidden = np.array(
        [[[1.0, 0.0], [3.0, 4.0], [100.0, 100.0]], [[0.0, 2.0], [9.0, 9.0], [9.0, 9.0]]],
        dtype=np.float32,
    )
    mask = np.array([[1, 1, 0], [1, 0, 0]], dtype=np.int64)
    mean = pool(hidden, mask, "mean")
    np.testing.assert_allclose(mean, [[2 / np.hypot(2, 2), 2 / np.hypot(2, 2)], [0.0, 1.0]])
    np.testing.assert_allclose(pool(hidden, mask, "cls"), [[1.0, 0.0], [0.0, 1.0]])
