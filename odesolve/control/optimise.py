"""Optimise schedules for an objective with exact gradients (adjoint pass) and SciPy's
bounded quasi-Newton method (L-BFGS-B).

The unknowns are the values of the schedules (their knots stay fixed); each may be bounded,
e.g. ``0 <= eta <= eta_max``. With a batch of initial states the objective is their mean, so
the result is one protocol that is best on average over the batch.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_int, check_real, describe
from .schedule import Schedule
from .sensitivity import SensitivityProblem, objective_gradient

__all__ = ["OptimalSchedule", "optimise_schedules"]

#: objective returned to the optimiser for a trial point whose run fails (left the valid
#: region): large, so that the line search backs off, but finite
FAILED_RUN_PENALTY = 1e30


@dataclass
class OptimalSchedule:
    """Result of :func:`optimise_schedules`.

    Attributes
    ----------
    schedules : dict of str to Schedule
        The optimised schedules.
    objective : float
        Objective of the optimised schedules (mean over the batch).
    initial_objective : float
        Objective of the starting schedules.
    gradient : dict of str to ndarray, shape (n_values,)
        Gradient at the optimum (projected onto the bounds: zero where a bound is active and
        the gradient points outwards).
    history : list of float
        Objective after every iteration.
    n_evaluations : int
        Forward plus adjoint passes run.
    success : bool
    message : str
        SciPy's message.
    seconds : float
        Wall time.
    """

    schedules: dict[str, Schedule]
    objective: float
    initial_objective: float
    gradient: dict[str, np.ndarray]
    history: list[float] = field(default_factory=list)
    n_evaluations: int = 0
    success: bool = False
    message: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (schedules as :meth:`Schedule.to_dict`)."""
        return {"schedules": {k: s.to_dict() for k, s in self.schedules.items()},
                "objective": self.objective, "initial_objective": self.initial_objective,
                "history": list(self.history), "n_evaluations": self.n_evaluations,
                "success": self.success, "message": self.message, "seconds": self.seconds}


def _bounds(name: str, bound: Any) -> tuple[float | None, float | None]:
    if bound is None:
        return None, None
    if not isinstance(bound, (tuple, list)) or len(bound) != 2:
        raise TypeError(f"`bounds[{name!r}]` must be a pair (low, high), got "
                        f"{describe(bound)}.")
    lo = None if bound[0] is None else check_real(f"bounds[{name!r}][0]", bound[0])
    hi = None if bound[1] is None else check_real(f"bounds[{name!r}][1]", bound[1])
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"`bounds[{name!r}]`: low {lo:g} > high {hi:g}.")
    return lo, hi


def optimise_schedules(problem: SensitivityProblem, y0: ArrayLike, p0: ArrayLike,
                       schedules: Mapping[str, Schedule], t_final: float, n_steps: int,
                       bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
                       w_final: float = 1.0, w_integral: float = 0.0, max_iter: int = 200,
                       gtol: float = 1e-10, ftol: float = 1e-13,
                       callback: Callable[[int, float, dict[str, Schedule]], None] | None = None
                       ) -> OptimalSchedule:
    """Minimise the objective of :func:`~odesolve.control.objective_gradient` over the values
    of ``schedules``.

    Parameters
    ----------
    problem, y0, p0, t_final, n_steps, w_final, w_integral
        As :func:`~odesolve.control.objective_gradient`; a batch of ``y0`` (B, n) or ``p0``
        (B, n_p) optimises the mean objective.
    schedules : mapping of str to Schedule
        The starting schedules (their knots are kept).
    bounds : mapping of str to (low, high), optional
        Bounds on the values of each schedule; None or a missing name: unbounded.
    max_iter : int
        Iterations of L-BFGS-B, positive.
    gtol, ftol : float
        Tolerances of L-BFGS-B (projected gradient, relative objective decrease), applied to
        the objective divided by its starting value.
    callback : callable, optional
        ``callback(iteration, objective, schedules)`` after every iteration (progress
        reports, keeping the best schedule so far).

    Returns
    -------
    OptimalSchedule

    Raises
    ------
    TypeError, ValueError
        naming the argument (as :func:`objective_gradient`, bounds that are not pairs or
        cross, a starting value outside its bounds, a bound name that is not a schedule).
    RuntimeError
        The starting schedules' run fails (the message gives the time).
    """
    from scipy.optimize import minimize

    if not isinstance(schedules, Mapping) or not schedules:
        raise TypeError(f"`schedules` must map at least one parameter name to a Schedule, got "
                        f"{describe(schedules)}.")
    schedules = dict(schedules)
    for name, sch in schedules.items():
        if not isinstance(sch, Schedule):
            raise TypeError(f"`schedules[{name!r}]` must be a Schedule, got {describe(sch)}.")
    if callback is not None and not callable(callback):
        raise TypeError(f"`callback` must be callable, got {describe(callback)}.")
    bounds = dict(bounds or {})
    for name in bounds:
        if name not in schedules:
            raise ValueError(f"`bounds` names {name!r}, which is not one of the schedules "
                             f"{list(schedules)}.")
    max_iter = check_int("max_iter", max_iter, minimum=1)
    gtol = check_real("gtol", gtol, positive=True)
    ftol = check_real("ftol", ftol, positive=True)
    names = list(schedules)
    sizes = [schedules[k].n_values for k in names]
    box = []
    for k in names:
        lo, hi = _bounds(k, bounds.get(k))
        vals = schedules[k].values
        if (lo is not None and np.any(vals < lo)) or (hi is not None and np.any(vals > hi)):
            raise ValueError(f"the starting values of schedule {k!r} lie outside its bounds "
                             f"({lo}, {hi}).")
        box += [(lo, hi)] * schedules[k].n_values
    x0 = np.concatenate([schedules[k].values for k in names])

    def unpack(x):
        out, o = {}, 0
        for k, n in zip(names, sizes):
            out[k] = schedules[k].with_values(x[o:o + n])
            o += n
        return out

    def evaluate(x, method="adjoint"):
        return objective_gradient(problem, y0, p0, unpack(x), t_final, n_steps,
                                  w_final=w_final, w_integral=w_integral, method=method,
                                  n_record=2)

    start = evaluate(x0, "none")
    if np.any(start.status != 0):
        bad = int(np.argmax(start.status != 0))
        raise RuntimeError(f"the run with the starting schedules fails at t = "
                           f"{start.t_fail[bad]:g} (member {bad}); start from a safer "
                           "schedule.")
    # the optimiser sees J / |J(start)|: its tolerances are then relative to the start
    scale = float(abs(start.objective.mean())) or 1.0
    counter = {"n": 1}
    history: list[float] = []
    last: dict[bytes, float] = {}

    def fun(x):
        counter["n"] += 1
        res = evaluate(x)
        if np.any(res.status != 0):
            value, grad = FAILED_RUN_PENALTY, np.zeros_like(x)
        else:
            value = float(res.objective.mean()) / scale
            grad = np.concatenate([res.grad[k].mean(axis=0) for k in names]) / scale
        last.clear()
        last[x.tobytes()] = value
        return value, grad

    def record(xk):
        key = xk.tobytes()
        history.append(scale * (last[key] if key in last else float(fun(xk)[0])))
        if callback is not None:
            callback(len(history), history[-1], unpack(xk))

    t0 = time.perf_counter()
    opt = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=box,
                   callback=record,
                   options={"maxiter": max_iter, "gtol": gtol, "ftol": ftol})
    final = evaluate(opt.x)
    grad = np.concatenate([final.grad[k].mean(axis=0) for k in names])
    lo = np.array([-np.inf if b[0] is None else b[0] for b in box])
    hi = np.array([np.inf if b[1] is None else b[1] for b in box])
    projected = np.where(((opt.x <= lo) & (grad > 0)) | ((opt.x >= hi) & (grad < 0)), 0.0, grad)
    gdict, o = {}, 0
    for k, n in zip(names, sizes):
        gdict[k] = projected[o:o + n]
        o += n
    return OptimalSchedule(schedules=unpack(opt.x), objective=float(final.objective.mean()),
                           initial_objective=float(start.objective.mean()), gradient=gdict,
                           history=history, n_evaluations=counter["n"] + 1,
                           success=bool(opt.success), message=str(opt.message),
                           seconds=time.perf_counter() - t0)
