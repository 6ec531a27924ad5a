"""odesolve: derived order-parameter ODEs for online SGD in teacher-student networks.

Pipeline (ARCHITECTURE.md): :class:`TeacherStudent` + :class:`Overlaps` -> SymPy derivation
(``odesolve.derive``) -> generated Numba kernels -> compiled solvers (``odesolve.solvers``) ->
:class:`Trajectory`.

The public names are imported lazily, so that ``odesolve derive`` works even when the
generated modules are missing or stale.
"""
import importlib

__version__ = "0.2.0"

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


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'odesolve' has no attribute {name!r}")


def __dir__():
    return __all__
