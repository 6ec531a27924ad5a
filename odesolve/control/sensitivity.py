"""Gradients of an objective of an ODE run with respect to schedules, constant parameters and
the initial state: an adjoint (reverse) pass and forward sensitivities through classic RK4 on
a fixed grid (the passes are described in :mod:`odesolve.control._kernels`).

A :class:`SensitivityProblem` is the ODE with what the passes need besides the right-hand
side: its Jacobians with respect to the state and to a set of parameter slots, and the
``cost`` whose final value and time integral make the objective.
:func:`objective_gradient` runs a batch of members in parallel.
"""
from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numba
import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_choice, check_int, check_real, describe
from .._jit import source_tag, specialise
from ..solvers import RK4, always_valid
from . import _kernels
from .schedule import Schedule

__all__ = ["SensitivityProblem", "GradientResult", "objective_gradient", "RunFailed",
           "PARALLEL_FROM"]

#: batches of at least this many members run in parallel (``numba.prange``)
PARALLEL_FROM = 8


class RunFailed(RuntimeError):
    """The forward run of a member left the valid region or produced NaN/inf."""


@dataclass(eq=False)
class SensitivityProblem:
    """An ODE with its derivatives, in the form the sensitivity passes need.

    Parameters
    ----------
    rhs : numba dispatcher
        ``rhs(t, y (n,), p (n_p,), work, out (n,))`` (ARCHITECTURE.md).
    jac : numba dispatcher
        ``jac(t, y, p, work, Jy (n, n), Jp (n, n_q))``: ``d rhs / d y`` and
        ``d rhs / d p[slots[j]]`` (column j).
    cost : numba dispatcher
        ``cost(t, y, p, work, gy (n,), gp (n_q,)) -> float`` with its gradients written into
        ``gy`` and ``gp``.
    slots : mapping of str to int
        Name -> index in ``p`` of every differentiable parameter, in the column order of
        ``Jp`` (the first name is column 0, ...).
    n_work : int
        Size of the scratch array of ``rhs``, ``jac``, ``cost`` and ``is_valid``.
    is_valid : numba dispatcher, optional
        ``is_valid(t, y, p, work) -> bool``; default always valid.
    name : str
        Label; part of the cache tag.
    depends_on : tuple
        Further objects whose source enters the cache tag.
    check : callable, optional
        ``check(schedules, y0 (B, n), p0 (B, n_p))`` raises a ValueError (naming the argument)
        for inputs the compiled passes cannot take: a state of the wrong size, a scheduled slot
        that fixes the layout (sizes, head indices), ... Called before any work.
    """

    rhs: Callable
    jac: Callable
    cost: Callable
    slots: Mapping[str, int]
    n_work: int
    is_valid: Callable | None = None
    name: str = ""
    depends_on: tuple = field(default=())
    check: Callable | None = None
    _runners: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.is_valid is None:
            self.is_valid = always_valid
        for name in ("rhs", "jac", "cost", "is_valid"):
            f = getattr(self, name)
            if not (hasattr(f, "py_func") and hasattr(f, "compile")):
                raise TypeError(f"`{name}` must be a Numba-jitted function, got {describe(f)}.")
        self.slots = {str(k): check_int(f"slots[{k!r}]", v, minimum=0)
                      for k, v in dict(self.slots).items()}
        self.n_work = check_int("n_work", self.n_work, minimum=0)

    @functools.cached_property
    def tag(self) -> str:
        """Cache tag of the compiled passes."""
        funcs = [getattr(self, n).py_func for n in ("rhs", "jac", "cost", "is_valid")]
        names = [f"{f.__module__}.{f.__qualname__}" for f in funcs]
        modules = [sys.modules[f.__module__] for f in funcs if f.__module__ in sys.modules]
        return source_tag(*funcs, *modules, *names, self.name, *self.depends_on,
                          _kernels, sys.modules[__name__])

    def runner(self, method: str, parallel: bool) -> Callable:
        """The batch runner of ``method`` ("none", "adjoint" or "forward"), compiled on first
        use: a runner binds only the passes its method calls (stubs for the others), so the
        tangent pass, say, is compiled only when forward sensitivities are asked for."""
        key = (method, bool(parallel))
        if key not in self._runners:
            calls = dict(rhs=self.rhs, jac=self.jac, cost=self.cost, is_valid=self.is_valid)
            passes = {"forward": specialise(_kernels._forward_template, self.tag, **calls),
                      "adjoint": _kernels.no_adjoint, "tangent": _kernels.no_tangent}
            if method == "adjoint":
                passes["adjoint"] = specialise(_kernels._adjoint_template, self.tag, **calls)
            elif method == "forward":
                passes["tangent"] = specialise(_kernels._tangent_template, self.tag, **calls)
            self._runners[key] = specialise(
                _batch_template, f"{self.tag}_{method}_{'parallel' if parallel else 'serial'}",
                {"parallel": True} if parallel else None, **passes)
        return self._runners[key]


def _batch_template(Y0, P0, Theta, ctrl_slot, ctrl_col, sidx, swt, t0, h, A, b, c, w_final,
                    w_integral, n_q, n_work, record, rec_index, mode, Yrec, Lrec, obj, status,
                    fail_step, G_theta, G_p, G_y0, Lam):
    """Members in parallel: forward pass, then (mode 1) the adjoint or (mode 2) the tangent
    pass. Yrec (B, len(record), n) receives the step ends listed in ``record`` and, with the
    adjoint, Lrec (B, len(record), n) the costate there (``rec_index`` maps a step to its
    record or -1)."""
    B, n = Y0.shape
    n_steps, n_st = sidx.shape[0], sidx.shape[1]
    n_theta = Theta.shape[1]
    for m in numba.prange(B):
        work = np.empty(max(n_work, 1))
        Y = np.empty((n_steps + 1, n))
        Ystage = np.empty((n_steps, n_st, n))
        out = np.empty(3)
        forward(Y0[m], P0[m], Theta[m], ctrl_slot, sidx, swt, t0, h, A, b, c,  # noqa: F821
                w_final, w_integral, Y, Ystage, n_q, work, out)
        obj[m] = out[0]
        for j in range(n):
            obj[m] += Lam[m, j] * Y[n_steps, j]
        status[m] = int(out[1])
        fail_step[m] = int(out[2])
        for r in range(record.shape[0]):
            for j in range(n):
                Yrec[m, r, j] = Y[record[r], j] if (status[m] == 0
                                                    or record[r] <= fail_step[m]) else np.nan
        if status[m] != 0:
            obj[m] = np.nan
            continue
        if mode == 1:
            adjoint(P0[m], Theta[m], ctrl_slot, ctrl_col, sidx, swt, t0, h, A, b, c,  # noqa: F821
                    w_final, w_integral, Y, Ystage, n_q, work, G_theta[m], G_p[m], G_y0[m],
                    rec_index, Lrec[m], Lam[m])
        elif mode == 2:
            dJ = np.empty(n_theta + n_q + n)
            tangent(Y0[m], P0[m], Theta[m], ctrl_slot, ctrl_col, sidx, swt, t0, h, A,  # noqa: F821
                    b, c, w_final, w_integral, n_q, work, dJ, Lam[m])
            G_theta[m, :] = dJ[:n_theta]
            G_p[m, :] = dJ[n_theta:n_theta + n_q]
            G_y0[m, :] = dJ[n_theta + n_q:]


@dataclass
class GradientResult:
    """Objective and gradients of a batch of runs (leading axis B).

    Attributes
    ----------
    objective : ndarray, shape (B,)
        NaN for a member whose run failed.
    grad : dict of str to ndarray, shape (B, n_values)
        Gradient with respect to the values of each schedule.
    grad_params : dict of str to ndarray, shape (B,)
        Gradient with respect to each constant (unscheduled) differentiable parameter.
    grad_y0 : ndarray, shape (B, n)
        Gradient with respect to the initial state.
    t : ndarray, shape (n_rec,)
        Times of the recorded states.
    y : ndarray, shape (B, n_rec, n)
        Recorded states (NaN after a failure).
    costate : ndarray, shape (B, n_rec, n) or None
        With the adjoint: the gradient of the objective with respect to the state at the
        recorded times, the costate lambda(t) of Pontryagin's principle (discrete).
    status : ndarray of int, shape (B,)
        0 (ok), 1 (non-finite state) or 2 (state left the valid region); the gradients of a
        member that failed are NaN.
    t_fail : ndarray, shape (B,)
        Time at the end of the failing step, NaN for a member that finished.
    """

    objective: np.ndarray
    grad: dict[str, np.ndarray]
    grad_params: dict[str, np.ndarray]
    grad_y0: np.ndarray
    t: np.ndarray
    y: np.ndarray
    status: np.ndarray
    t_fail: np.ndarray
    costate: np.ndarray | None = None


def _reals(name: str, value: Any) -> np.ndarray:
    """``value`` as a float64 array, or a TypeError naming ``name``."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be an array of real numbers, got "
                        f"{describe(value)}.") from None


def _stage_table(schedules: dict[str, Schedule], t0: float, h: float, n_steps: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value indices and weights of every stage time, and the offsets of each schedule in
    the concatenated value vector."""
    c = RK4.C
    times = (t0 + h * (np.arange(n_steps)[:, None] + c[None, :])).ravel()
    n_c = len(schedules)
    sidx = np.zeros((n_steps, c.size, max(n_c, 1), 2), dtype=np.int64)
    swt = np.zeros((n_steps, c.size, max(n_c, 1), 2))
    offsets = np.zeros(n_c + 1, dtype=np.int64)
    for j, sch in enumerate(schedules.values()):
        offsets[j + 1] = offsets[j] + sch.n_values
        # a piecewise-constant schedule is read at the middle of each step for all its
        # stages: a step whose end lies on a jump keeps the piece it started in
        mid = np.repeat(t0 + h * (np.arange(n_steps) + 0.5), c.size)
        idx, wt = sch.weights(mid if sch.kind == "constant" else times)
        sidx[:, :, j, :] = (idx + offsets[j]).reshape(n_steps, c.size, 2)
        swt[:, :, j, :] = wt.reshape(n_steps, c.size, 2)
    return sidx[:, :, :n_c], swt[:, :, :n_c], offsets


def _check_grid(schedules: dict[str, Schedule], t_final: float, n_steps: int) -> None:
    """Every jump of a piecewise-constant schedule inside the run lies on a step boundary."""
    h = t_final / n_steps
    for name, sch in schedules.items():
        if sch.kind != "constant":
            continue
        inner = sch.times[(sch.times > 0) & (sch.times < t_final)]
        steps = inner / h
        if np.any(np.abs(steps - np.round(steps)) > 1e-9 * max(1.0, n_steps)):
            raise ValueError(f"schedule {name!r}: its jumps must lie on the step grid "
                             f"(t_final / n_steps = {h:g}); choose n_steps as a multiple of "
                             "its number of pieces.")


def objective_gradient(problem: SensitivityProblem, y0: ArrayLike, p0: ArrayLike,
                       schedules: Mapping[str, Schedule], t_final: float, n_steps: int,
                       w_final: float = 1.0, w_integral: float = 0.0,
                       method: Literal["adjoint", "forward", "none"] = "adjoint",
                       n_record: int = 101, lam_final: ArrayLike | None = None
                       ) -> GradientResult:
    """Objective ``w_final cost(y(t_final)) + w_integral int_0^t_final cost dt`` of RK4 runs
    with scheduled parameters, and its gradient.

    Parameters
    ----------
    problem : SensitivityProblem
    y0 : array_like, shape (n,) or (B, n)
        Initial states.
    p0 : array_like, shape (n_p,) or (B, n_p)
        Parameter rows; the slots of scheduled parameters are overwritten by the schedules.
    schedules : mapping of str to Schedule
        Scheduled parameters by slot name (keys of ``problem.slots``). The same knots for
        every member; different values per member are not supported here (use a batch of
        calls).
    t_final : float
        Length of the run, positive (runs start at t = 0).
    n_steps : int
        RK4 steps; every jump of a piecewise-constant schedule must fall on a step boundary.
    w_final, w_integral : float
        Weights of the final cost and of its time integral.
    method : {"adjoint", "forward", "none"}
        Reverse pass, forward sensitivities (every direction carried along: for checks and
        few parameters), or the objective only.
    n_record : int
        Number of equally spaced recorded states (at least 2; the step ends nearest to them).
    lam_final : array_like, shape (n,) or (B, n), optional
        Adds ``lam_final . y(t_final)`` to the objective: the linearisation of a further term
        that depends on the final state, e.g. the later phases of a protocol
        (:mod:`odesolve.control.protocol`). The gradients include it.

    Returns
    -------
    GradientResult

    Raises
    ------
    TypeError, ValueError
        naming the argument: unknown schedule name, shapes, non-positive ``t_final`` or
        ``n_steps``, jumps off the step grid.
    """
    if not isinstance(problem, SensitivityProblem):
        raise TypeError(f"`problem` must be a SensitivityProblem, got {describe(problem)}.")
    method = check_choice("method", method, ("adjoint", "forward", "none"))
    t_final = check_real("t_final", t_final, positive=True)
    n_steps = check_int("n_steps", n_steps, minimum=1)
    n_record = check_int("n_record", n_record, minimum=2)
    w_final = check_real("w_final", w_final)
    w_integral = check_real("w_integral", w_integral)
    if not isinstance(schedules, Mapping):
        raise TypeError(f"`schedules` must map parameter names to Schedule objects, got "
                        f"{describe(schedules)}.")
    schedules = dict(schedules)
    for name, sch in schedules.items():
        if name not in problem.slots:
            raise ValueError(f"`schedules` names {name!r}; the problem's differentiable "
                             f"parameters are {list(problem.slots)}.")
        if not isinstance(sch, Schedule):
            raise TypeError(f"`schedules[{name!r}]` must be a Schedule, got {describe(sch)}.")
    _check_grid(schedules, t_final, n_steps)
    Y0, P0 = (np.atleast_2d(_reals(name, v)) for name, v in (("y0", y0), ("p0", p0)))
    if Y0.ndim != 2 or P0.ndim != 2:
        raise ValueError("`y0` and `p0` must be 1-D or 2-D arrays.")
    B = max(Y0.shape[0], P0.shape[0])
    for name, arr in (("y0", Y0), ("p0", P0)):
        if arr.shape[0] not in (1, B):
            raise ValueError(f"`{name}` has {arr.shape[0]} rows; expected 1 or {B}.")
    Y0 = np.ascontiguousarray(np.broadcast_to(Y0, (B, Y0.shape[1])))
    P0 = np.ascontiguousarray(np.broadcast_to(P0, (B, P0.shape[1])))
    if max(problem.slots.values()) >= P0.shape[1]:
        raise ValueError(f"`p0` has {P0.shape[1]} entries; the problem's slots need "
                         f"{max(problem.slots.values()) + 1}.")
    if problem.check is not None:
        problem.check(schedules, Y0, P0)
    h = t_final / n_steps
    sidx, swt, offsets = _stage_table(schedules, 0.0, h, n_steps)
    theta = np.concatenate([s.values for s in schedules.values()]) if schedules else \
        np.zeros(0)
    Theta = np.ascontiguousarray(np.broadcast_to(theta, (B, theta.size)))
    names = list(problem.slots)
    ctrl_slot = np.array([problem.slots[k] for k in schedules], dtype=np.int64)
    ctrl_col = np.array([names.index(k) for k in schedules], dtype=np.int64)
    n_q = len(names)
    n = Y0.shape[1]
    record = np.unique(np.round(np.linspace(0, n_steps, n_record)).astype(np.int64))
    Yrec = np.empty((B, record.size, n))
    Lrec = np.full((B, record.size, n), np.nan)
    rec_index = np.full(n_steps + 1, -1, dtype=np.int64)
    rec_index[record] = np.arange(record.size)
    obj = np.empty(B)
    status = np.zeros(B, dtype=np.int64)
    fail = np.full(B, -1, dtype=np.int64)
    G_theta = np.zeros((B, theta.size))
    G_p = np.zeros((B, n_q))
    G_y0 = np.zeros((B, n))
    mode = {"none": 0, "adjoint": 1, "forward": 2}[method]
    if lam_final is None:
        Lam = np.zeros((B, n))
    else:
        Lam = np.atleast_2d(_reals("lam_final", lam_final))
        if Lam.shape not in ((1, n), (B, n)):
            raise ValueError(f"`lam_final` must have shape ({n},) or ({B}, {n}) like the "
                             f"states, got {np.shape(lam_final)}.")
        Lam = np.ascontiguousarray(np.broadcast_to(Lam, (B, n)))
    # a thread pool pays for itself only on larger batches (and compiling the parallel loop
    # takes tens of seconds): small batches run serially, with identical results
    run = problem.runner(method, parallel=B >= PARALLEL_FROM)
    run(Y0, P0, Theta, ctrl_slot, ctrl_col, sidx, swt, 0.0, h, RK4.A, RK4.B, RK4.C,
        w_final, w_integral, n_q, problem.n_work, record, rec_index, mode, Yrec, Lrec, obj,
        status, fail, G_theta, G_p, G_y0, Lam)
    failed = status != 0                        # no gradient for a run that failed
    G_theta[failed], G_p[failed], G_y0[failed] = np.nan, np.nan, np.nan
    grad = {k: G_theta[:, offsets[j]:offsets[j + 1]] for j, k in enumerate(schedules)}
    grad_params = {k: G_p[:, j] for j, k in enumerate(names) if k not in schedules}
    t_fail = np.where(status != 0, (fail + 1) * h, np.nan)
    return GradientResult(objective=obj, grad=grad, grad_params=grad_params, grad_y0=G_y0,
                          t=record * h, y=Yrec, status=status, t_fail=t_fail,
                          costate=Lrec if method == "adjoint" else None)
