"""What the commands write: the result files named from one base (see "Output files" in
:mod:`odesolve.cli`), checked before any work starts, and the one-line notes on stderr.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["result_path", "optimise_base"]

#: result suffix and name tail of each command's files ("Output files" in odesolve.cli)
_RESULT_NAMES = {"run": (".npz", ""), "compare": (".json", "-compare"),
                 "sweep": (".npz", "-sweep")}
_KNOWN_SUFFIXES = (".npz", ".json", ".png", ".toml")


def result_path(command: str, output=None, config_path=None, config_file=None) -> Path:
    """The result file of ``command`` (see "Output files" in :mod:`odesolve.cli`).

    Parameters
    ----------
    command : {"run", "compare", "sweep"}
    output : str, optional
        The ``-o`` option.
    config_path : str, optional
        ``[output] path`` of the configuration.
    config_file : str, optional
        The configuration file (its name is the default base); None for the built-in default.

    Returns
    -------
    Path
    """
    suffix, tail = _RESULT_NAMES[command]
    stem = Path(config_file).stem if config_file else "default"
    given = output if output is not None else config_path
    if given is None:
        base = Path("odesolve-out") / stem
    else:
        p = Path(given).expanduser()
        if p.is_dir():
            base = p / stem
        elif p.suffix == suffix:
            return p
        else:
            base = p.with_suffix("") if p.suffix in _KNOWN_SUFFIXES else p
    return base.with_name(base.name + tail + suffix)


def optimise_base(output=None, config_path=None, config_file=None) -> Path:
    """Base name of the files of ``odesolve optimise`` (see "Output files" in
    :mod:`odesolve.cli`): ``-o``, else ``[output] path``, else ``odesolve-out/<config name>``;
    an existing directory (or a name ending in ``/``) receives ``<config name>``; a known
    suffix (and a ``-schedule`` tail before ``.json``) is dropped.

    Parameters
    ----------
    output, config_path, config_file : str, optional
        As :func:`result_path`.

    Returns
    -------
    Path
    """
    stem = Path(config_file).stem if config_file else "optimise"
    given = output if output is not None else config_path
    if given is None:
        return Path("odesolve-out") / stem
    p = Path(given).expanduser()
    if p.is_dir() or str(given).endswith(("/", os.sep)):      # "out/": a directory to be
        return p / stem
    if p.suffix in _KNOWN_SUFFIXES:
        tail = "-schedule" if p.suffix == ".json" and p.stem.endswith("-schedule") else ""
        p = p.with_suffix("")
        p = p.with_name(p.name[:len(p.name) - len(tail)]) if tail else p
    return p


def _check_outputs(paths):
    """Refuse (exit 2) before any work when one of ``paths`` cannot be written."""
    from ..io import check_writable

    for p in paths:
        check_writable(p)


def _sweep_figures(path: Path, observable: str) -> list:
    """Files :func:`odesolve.sweeps.plots.plot_sweep` writes beside ``path``."""
    base = path.with_suffix("")
    return [base.with_name(f"{base.name}-{observable}.png"),
            base.with_name(f"{base.name}-eps_g.png")]


def _save_report(report, path: Path, plot: bool):
    """Write the comparison report (and its figure unless ``plot`` is false)."""
    import json

    from ..io import _jsonable, atomic_path

    if plot:
        return tuple(Path(p) for p in report.save(path))
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(report.to_dict(), indent=1, default=_jsonable,
                                  allow_nan=True))
    return path, None


def _interrupted_status():
    """The solvers' INTERRUPTED status code, or None before the solvers have one."""
    from .. import solvers

    return getattr(solvers, "INTERRUPTED", None)


def _status_message(code: int) -> str:
    from .. import solvers

    return getattr(solvers, "STATUS_MESSAGES", {}).get(int(code), f"status {int(code)}")


def _failure_note(status, t_fail) -> str | None:
    """'warning: k of n member(s) diverged (first at t = ...: reason)', or None when every
    member finished (members stopped by Ctrl-C are not counted)."""
    import numpy as np

    status = np.atleast_1d(np.asarray(status)).ravel()
    t_fail = np.atleast_1d(np.asarray(t_fail, dtype=float)).ravel()
    failed = (status != 0) & (status != (_interrupted_status() or -1))
    if not failed.any():
        return None
    idx = np.flatnonzero(failed)
    first = idx[np.argmin(np.where(np.isfinite(t_fail[idx]), t_fail[idx], np.inf))]
    return (f"warning: {failed.sum()} of {status.size} member(s) diverged (first at t = "
            f"{t_fail[first]:.6g}: {_status_message(status[first])})")


def _note(args, text: str):
    print(f"odesolve {args.command}: {_one_line(text)}", file=sys.stderr)


def _one_line(text) -> str:
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _os_error_text(err: OSError) -> str:
    if err.strerror and err.filename:
        return f"{err.strerror}: {err.filename}"
    return str(err)
