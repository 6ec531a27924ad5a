"""Atomic result files: ``.npz`` with the run's configuration embedded as JSON."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["save_npz", "load_npz", "atomic_path"]


class atomic_path:
    """Context manager giving a temporary path that replaces ``path`` only on success.

    Examples
    --------
    >>> with atomic_path("fig.png") as tmp:       # doctest: +SKIP
    ...     fig.savefig(tmp)
    """

    def __init__(self, path, suffix=None):
        self.path = Path(path)
        self.suffix = suffix if suffix is not None else self.path.suffix

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.stem}.",
                                   suffix=self.suffix)
        os.close(fd)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
        return False


def save_npz(path, arrays: dict, config: dict | None = None) -> Path:
    """Write ``arrays`` (and ``config`` as JSON under the key ``config``) atomically.

    The file appears under its final name only once completely written, so an interrupted
    run never leaves a truncated result behind.
    """
    path = Path(path)
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    if config is not None:
        payload["config"] = np.array(json.dumps(config, sort_keys=True, default=_jsonable))
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **payload)
    return path


def load_npz(path) -> tuple[dict, dict | None]:
    """Arrays and the embedded configuration (or None) of a result file."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "config"}
        config = json.loads(str(data["config"])) if "config" in data.files else None
    return arrays, config


def _jsonable(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in a config")
