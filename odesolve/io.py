"""Atomic result files: ``.npz`` with the run's configuration embedded as JSON.

:class:`atomic_path` writes every result under a temporary name and renames it into place,
so a file appears complete or not at all; :func:`check_writable` tells, before any work
starts, whether a path can be written.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np

__all__ = ["save_npz", "load_npz", "atomic_path", "check_writable", "OutputPathError"]


class OutputPathError(ValueError):
    """An output path cannot be written (found before any work starts)."""


def check_writable(path: os.PathLike[str] | str) -> Path:
    """Check that ``path`` can be written by :class:`atomic_path`, without writing it.

    The target must not be a directory, and its nearest existing ancestor directory must let
    this process create files (tested by creating and removing an empty file there, which
    also catches read-only file systems); missing parent directories are created later.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Path

    Raises
    ------
    OutputPathError
        The path is a directory, lies under a file, or its directory is not writable.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"cannot write {path}: it is a directory.")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputPathError(f"cannot write {path}: {ancestor} is not a directory.")
    try:
        fd, probe = tempfile.mkstemp(dir=ancestor, prefix=".odesolve-probe-")
    except OSError as err:
        raise OutputPathError(f"cannot write {path}: cannot create files in {ancestor} "
                              f"({err.strerror or err}).") from None
    os.close(fd)
    os.unlink(probe)
    return path


def _new_file_mode() -> int:
    """Permissions of a new file under the process umask (``0o666 & ~umask``)."""
    try:
        with open("/proc/self/status") as fh:              # Linux: read without changing it
            mask = next(int(line.split()[1], 8) for line in fh if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


class atomic_path:
    """Context manager giving a temporary path that replaces ``path`` only on success.

    The temporary file sits in the target's directory (so the final rename is atomic), has
    the permissions of a new file under the umask, and is removed whatever happens: when the
    body raises (also on Ctrl-C) and when the final rename fails.

    Examples
    --------
    >>> with atomic_path("fig.png") as tmp:       # doctest: +SKIP
    ...     fig.savefig(tmp)
    """

    def __init__(self, path: os.PathLike[str] | str, suffix: str | None = None) -> None:
        self.path = Path(path)
        self.suffix = suffix if suffix is not None else self.path.suffix

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.stem}.",
                                   suffix=self.suffix)
        os.close(fd)
        self.tmp = Path(tmp)
        try:
            os.chmod(self.tmp, _new_file_mode())            # mkstemp makes it 0600
        except OSError:                                     # a file system without modes
            pass
        return self.tmp

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        try:
            if exc_type is None:
                os.replace(self.tmp, self.path)
        finally:
            self.tmp.unlink(missing_ok=True)
        return False


def save_npz(path: os.PathLike[str] | str, arrays: dict[str, Any],
             config: dict[str, Any] | None = None) -> Path:
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


def load_npz(path: os.PathLike[str] | str) -> tuple[dict[str, np.ndarray], dict[str, Any] | None]:
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
