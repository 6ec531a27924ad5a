"""Optimal training protocols: schedules of hyper-parameters, exact gradients of objectives
through the ODEs (adjoint and forward sensitivities), and their optimisation.

- :mod:`.schedule`: :class:`Schedule` (piecewise constant, piecewise linear, on a grid);
- :mod:`.sensitivity`: :func:`objective_gradient` through fixed-step RK4 runs.
"""
from .schedule import (Schedule, annealing, as_schedule, constant_schedule, piecewise_constant,
                       piecewise_linear)
from .sensitivity import GradientResult, RunFailed, SensitivityProblem, objective_gradient

__all__ = ["Schedule", "annealing", "as_schedule", "constant_schedule", "piecewise_constant",
           "piecewise_linear", "GradientResult", "RunFailed", "SensitivityProblem",
           "objective_gradient"]
