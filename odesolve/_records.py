"""Validation records: the measured numbers behind the documentation's validation page.

Tests and benchmarks that check odesolve against an independent computation (Monte Carlo,
quadrature, a closed form, a finite-N simulation) call :func:`record` with what they measured
and the bound they hold it to. Records are merged by ``id`` into ``<dir>/<source>.json``, where
``<dir>`` is ``$ODESOLVE_VALIDATION_DIR`` or ``build/validation`` under the current directory;
the docs build (``docs/_ext/validation_page.py``) reads these files, falling back to the
snapshot committed in ``docs/validation/`` for checks that did not run in this checkout (the
long benchmarks). ``python benchmarks/publish_validation.py`` refreshes that snapshot.

Each record says what was claimed, how it was checked, the measured number and the bound, and
when, at which commit and on which machine it was measured, so that no number on the page is
typed in by hand.
"""
from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import time
from pathlib import Path

__all__ = ["record", "records_dir", "load_records"]

_COMMIT: str | None = None


def records_dir() -> Path:
    """Where records are written: ``$ODESOLVE_VALIDATION_DIR`` or ``./build/validation``."""
    return Path(os.environ.get("ODESOLVE_VALIDATION_DIR", Path.cwd() / "build" / "validation"))


def _commit() -> str:
    global _COMMIT
    if _COMMIT is None:
        try:
            out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True, timeout=10, cwd=Path(__file__).resolve().parent)
            _COMMIT = out.stdout.strip() or "unknown"
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=10,
                                   cwd=Path(__file__).resolve().parent)
            if dirty.stdout.strip():
                _COMMIT += "+changes"
        except (OSError, subprocess.SubprocessError):
            _COMMIT = "unknown"
    return _COMMIT


def _plain(x):
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if hasattr(x, "item"):
        return _plain(x.item())
    return x


def record(source: str, id: str, *, area: str, claim: str, method: str, measured: float,
           bound: float | None = None, unit: str = "", comparison: str = "<=",
           where: str = "", extra: dict | None = None) -> dict:
    """Add (or replace) the record ``id`` in ``<records_dir>/<source>.json``.

    Parameters
    ----------
    source : str
        File the record goes to: ``"tests"`` or a benchmark's name.
    id : str
        Stable identifier of the check (e.g. ``"kernels.erf.I4.monte-carlo"``).
    area : str
        Heading it is listed under on the validation page (e.g. ``"Gaussian kernels"``).
    claim : str
        What is checked, in words.
    method : str
        The independent computation it is checked against.
    measured : float
        The measured number (e.g. the largest deviation).
    bound : float, optional
        The bound the test holds it to; ``passed`` is ``measured <comparison> bound``.
    unit : str
        Unit of ``measured`` and ``bound`` (e.g. ``"standard errors"``).
    comparison : {"<=", ">=", "=="}
    where : str
        The test or command that measured it.
    extra : dict, optional
        Further numbers to show (e.g. the fitted order and the expected one).

    Returns
    -------
    dict
        The record as written.
    """
    measured = float(measured)
    passed = None
    if bound is not None:
        bound = float(bound)
        passed = {"<=": measured <= bound, ">=": measured >= bound,
                  "==": measured == bound}[comparison]
    rec = {"id": id, "area": area, "claim": claim, "method": method,
           "measured": _plain(measured), "bound": _plain(bound), "unit": unit,
           "comparison": comparison, "passed": passed, "where": where,
           "extra": {k: _plain(v) for k, v in (extra or {}).items()},
           "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "commit": _commit(), "machine": f"{platform.machine()} {os.cpu_count()} cores, "
                                           f"Python {platform.python_version()}"}
    path = records_dir() / f"{source}.json"
    data = load_records(path)
    data[id] = rec
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"source": source, "records": data}, indent=1, sort_keys=True))
    os.replace(tmp, path)
    return rec


def load_records(path) -> dict:
    """Records of one file as ``{id: record}`` (empty when the file is missing)."""
    path = Path(path)
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text()).get("records", {}))
