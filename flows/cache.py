"""What the router's training costs to compute, kept on disk by a hash of what it was computed
from: the exemplars' vectors (by model, backend and exemplar text) and the fitted weights (by
those vectors and the knowledge base's questions). A restart with nothing changed embeds and
fits nothing; a change of any input is a new name, so a stale file is never read.

Files are written under a temporary name and renamed into place, so a reader never sees half
a file; an unwritable folder only means the work is redone next time."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Arrays = dict[str, npt.NDArray[np.generic]]


def digest(*parts: str | bytes | npt.NDArray[np.generic]) -> str:
    """A hash of the parts, each length-prefixed so that no two sequences collide."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            data = np.ascontiguousarray(part).tobytes() + str((part.dtype, part.shape)).encode()
        else:
            data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:32]


class TrainingCache:
    def __init__(self, folder: Path, keep: int = 16) -> None:
        self.folder = Path(folder)
        self.keep = keep  # per kind: older files (earlier knowledge bases) are removed

    def get(self, kind: str, key: str) -> Arrays | None:
        path = self.folder / f"{kind}-{key}.npz"
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:  # truncated or foreign: recompute
            log.warning("ignoring the unreadable cache file %s: %s", path, exc)
            return None

    def put(self, kind: str, key: str, arrays: Arrays) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=f".{kind}-", suffix=".partial", dir=self.folder)
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)  # type: ignore[arg-type]
            os.replace(temporary, self.folder / f"{kind}-{key}.npz")
        except OSError as exc:
            log.warning("cannot write to the cache folder %s: %s", self.folder, exc)
            return
        self._prune(kind)

    def _prune(self, kind: str) -> None:
        files = sorted(self.folder.glob(f"{kind}-*.npz"), key=_mtime, reverse=True)
        for old in files[self.keep :]:
            old.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
