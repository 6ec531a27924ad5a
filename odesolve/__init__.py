"""odesolve: derived order-parameter ODEs for online SGD in teacher-student networks.

Pipeline (ARCHITECTURE.md): :class:`TeacherStudent` + :class:`Overlaps` -> SymPy derivation
(``odesolve.derive``) -> generated Numba kernels -> compiled solvers (``odesolve.solvers``) ->
:class:`Trajectory`.

The public names are imported lazily, so that ``odesolve derive`` works even when the
generated modules are missing or stale.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:                     # what type checkers see; at run time the names load lazily
    from .activations import Activation
    from .comparison import ComparisonReport, compare
    from .fixedpoint import FixedPoint, continuation, fixed_point, fixed_points
    from .integration import generalisation_error, integrate
    from .model import ACTIVATIONS, Overlaps, TeacherStudent
    from .simulation import seed_statistics, simulate
    from .sweeps import SweepResult, load_sweep, sweep
    from .trajectory import DivergenceError, Trajectory
    from .weights import random_weights, weights_from_overlaps

__version__ = "0.3.0"

_PUBLIC = {
    "TeacherStudent": "model", "Overlaps": "model", "ACTIVATIONS": "model",
    "Trajectory": "trajectory", "DivergenceError": "trajectory",
    "Activation": "activations",
    "integrate": "integration", "generalisation_error": "integration",
    "simulate": "simulation", "seed_statistics": "simulation",
    "compare": "comparison", "ComparisonReport": "comparison",
    "weights_from_overlaps": "weights", "random_weights": "weights",
    "sweep": "sweeps", "load_sweep": "sweeps", "SweepResult": "sweeps",
    "fixed_points": "fixedpoint", "fixed_point": "fixedpoint", "FixedPoint": "fixedpoint",
    "continuation": "fixedpoint",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'odesolve' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
