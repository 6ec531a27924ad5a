"""Any ODE problem with scheduled parameters, for the package's solvers.

:func:`scheduled_problem` wraps a :class:`~odesolve.solvers.Problem` so that chosen parameter
slots follow :class:`~odesolve.control.Schedule` objects in time. The schedules travel in the
parameter row, after the problem's own entries (:func:`pack_schedules`), so a batch may give
every member its own schedules and nothing is recompiled when the values change::

    p = [p_base (n_base) | n_s | per schedule: slot, kind, n_knots, offset,
         knots (n_knots), values (n_values) | n_base]

``kind`` is 0 for piecewise constant, 1 for piecewise linear; ``offset`` is added to the
solver's time before the schedule is read (a phase that starts at t = 10 reads its schedule
from 0). The wrapped right-hand side copies ``p_base`` into scratch, writes the scheduled
values at time t into their slots and calls the problem's own ``rhs``; ``is_valid`` likewise.

A jump of a piecewise-constant schedule is not something a right-hand side of t can carry
correctly: the last stage of a Runge-Kutta step ending on the jump and the first stage of the
next step are both evaluated at the jump time, and need different values. :func:`solve_scheduled`
therefore restarts the solver at every jump, with the piece's value written into the
parameter rows, and passes only the continuous (piecewise-linear) schedules to the wrapper.
"""
from __future__ import annotations

from collections.abc import Mapping

import numba
import numpy as np

from .._checks import check_int, check_real, describe
from .._jit import source_tag, specialise
from ..solvers import OK, Problem, SolverResult, solve
from .schedule import Schedule

__all__ = ["scheduled_problem", "pack_schedules", "schedule_value", "solve_scheduled"]


@numba.njit(cache=True)
def schedule_value(table: np.ndarray, start: int, t: float) -> float:
    """Value at time t of the schedule stored at ``table[start:]`` (module docstring).

    Parameters
    ----------
    table : ndarray, shape (n_p,)
        A parameter row of :func:`pack_schedules`.
    start : int
        Index of the schedule's first entry (its slot).
    t : float
        Solver time (the schedule's offset is added).

    Returns
    -------
    float
    """
    kind = int(table[start + 1])
    n_knots = int(table[start + 2])
    tt = t + table[start + 3]
    knots = table[start + 4:start + 4 + n_knots]
    values = table[start + 4 + n_knots:]
    if tt <= knots[0]:
        return values[0]
    if tt >= knots[n_knots - 1]:
        return values[n_knots - 2] if kind == 0 else values[n_knots - 1]
    lo, hi = 0, n_knots - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if knots[mid] <= tt:
            lo = mid
        else:
            hi = mid
    if kind == 0:
        return values[lo]
    s = (tt - knots[lo]) / (knots[lo + 1] - knots[lo])
    return (1.0 - s) * values[lo] + s * values[lo + 1]


@numba.njit(cache=True)
def _apply(t, p, q):
    """q[:n_base] = p_base with the scheduled slots at time t; returns n_base."""
    n_base = int(p[p.shape[0] - 1])
    for j in range(n_base):
        q[j] = p[j]
    n_s = int(p[n_base])
    pos = n_base + 1
    for _ in range(n_s):
        n_knots = int(p[pos + 2])
        n_values = n_knots - 1 if int(p[pos + 1]) == 0 else n_knots
        q[int(p[pos])] = schedule_value(p, pos, t)
        pos += 4 + n_knots + n_values
    return n_base


def _rhs_template(t, y, p, work, out):
    n_base = int(p[p.shape[0] - 1])
    n_w = work.shape[0] - n_base
    q = work[n_w:]
    _apply(t, p, q)
    base_rhs(t, y, q, work[:n_w], out)  # noqa: F821


def _valid_template(t, y, p, work):
    n_base = int(p[p.shape[0] - 1])
    n_w = work.shape[0] - n_base
    q = work[n_w:]
    _apply(t, p, q)
    return base_valid(t, y, q, work[:n_w])  # noqa: F821


def scheduled_problem(problem: Problem) -> Problem:
    """``problem`` with parameter rows extended by :func:`pack_schedules`.

    Raises
    ------
    TypeError
        ``problem`` is not a :class:`~odesolve.solvers.Problem`.
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"`problem` must be a Problem, got {describe(problem)}.")
    tag = "sched_" + problem.tag + "_" + source_tag(_rhs_template, _valid_template, _apply,
                                                    schedule_value)
    rhs = specialise(_rhs_template, tag, base_rhs=problem.rhs)
    valid = specialise(_valid_template, tag, base_valid=problem.is_valid)
    base_work = problem.n_work

    def n_work(p):
        n_base = int(p[0, -1])
        base = base_work(p[:, :n_base]) if callable(base_work) else base_work
        return int(np.max(np.asarray(base))) + n_base

    return Problem(rhs=rhs, is_valid=valid, n_work=n_work, name=f"scheduled_{problem.name}",
                   depends_on=(problem.tag,))


def pack_schedules(p: np.ndarray, schedules: Mapping[int, Schedule] | None,
                   offset: float = 0.0) -> np.ndarray:
    """Parameter rows for :func:`scheduled_problem`.

    Parameters
    ----------
    p : ndarray, shape (B, n_base)
        The problem's own parameter rows.
    schedules : mapping of int to Schedule, optional
        Parameter slot -> schedule; the same schedules for every row.
    offset : float
        Added to the solver's time before a schedule is read.

    Returns
    -------
    ndarray, shape (B, n_base + table + 1)

    Raises
    ------
    TypeError, ValueError
        A slot outside ``0 .. n_base - 1`` or not an integer, a value that is not a Schedule.
    """
    p = np.atleast_2d(np.asarray(p, dtype=np.float64))
    n_base = p.shape[1]
    offset = check_real("offset", offset)
    table = [float(len(schedules or {}))]
    for slot, sch in (schedules or {}).items():
        slot = check_int("slot", slot, minimum=0, maximum=n_base - 1)
        if not isinstance(sch, Schedule):
            raise TypeError(f"the schedule of slot {slot} must be a Schedule, got "
                            f"{describe(sch)}.")
        table += [float(slot), 0.0 if sch.kind == "constant" else 1.0, float(sch.times.size),
                  offset, *sch.times, *sch.values]
    tail = np.broadcast_to(np.array(table + [float(n_base)]), (p.shape[0], len(table) + 1))
    return np.ascontiguousarray(np.concatenate([p, tail], axis=1))


def solve_scheduled(problem: Problem, y0: np.ndarray, p: np.ndarray, t_eval: np.ndarray,
                    schedules: Mapping[int, Schedule] | None = None, offset: float = 0.0,
                    **solver_kw) -> SolverResult:
    """:func:`~odesolve.solvers.solve` with parameter slots following schedules.

    Parameters
    ----------
    problem : Problem
    y0 : ndarray, shape (B, n)
    p : ndarray, shape (B, n_p)
        Parameter rows; scheduled slots are overwritten.
    t_eval : ndarray, shape (n_t,)
        Output times, strictly increasing; ``t_eval[0]`` is the start.
    schedules : mapping of int to Schedule, optional
        Parameter slot -> schedule, read at solver time + ``offset``.
    offset : float
    **solver_kw
        Options of :func:`~odesolve.solvers.solve` (method, dt, rtol, ...).

    Returns
    -------
    SolverResult
        Over all of ``t_eval``; the counters add up over the segments between jumps.

    Raises
    ------
    TypeError, ValueError
        As :func:`pack_schedules` and :func:`~odesolve.solvers.solve`.
    """
    schedules = dict(schedules or {})
    y0 = np.atleast_2d(np.asarray(y0, dtype=np.float64))
    p = np.atleast_2d(np.asarray(p, dtype=np.float64))
    B = max(y0.shape[0], p.shape[0])
    y0 = np.broadcast_to(y0, (B, y0.shape[1]))
    p = np.array(np.broadcast_to(p, (B, p.shape[1])))
    t_eval = np.asarray(t_eval, dtype=np.float64)
    steps = {k: s for k, s in schedules.items() if s.kind == "constant"}
    ramps = {k: s for k, s in schedules.items() if s.kind == "linear"}
    t0, t1 = float(t_eval[0]), float(t_eval[-1])
    jumps = sorted({float(t) - offset for s in steps.values() for t in s.times[1:-1]
                    if t0 < float(t) - offset < t1})
    edges = [t0, *jumps, t1]
    target = scheduled_problem(problem) if ramps else problem
    y = np.full((B, t_eval.size, y0.shape[1]), np.nan)
    y[:, 0] = y0
    status = np.zeros(B, dtype=np.int64)
    t_fail = np.full(B, np.nan)
    counts = {name: np.zeros(B, dtype=np.int64) for name in ("n_accepted", "n_rejected",
                                                             "n_rhs")}
    state = np.array(y0)
    method = solver_kw.get("method", "rk4")
    for a, b in zip(edges[:-1], edges[1:]):
        rows = p.copy()
        mid = 0.5 * (a + b) + offset
        for slot, sch in steps.items():
            rows[:, check_int("slot", slot, minimum=0, maximum=p.shape[1] - 1)] = sch(mid)
        rows = pack_schedules(rows, ramps, offset) if ramps else rows
        inside = np.flatnonzero((t_eval > a) & (t_eval <= b))
        grid = np.unique(np.concatenate([[a], t_eval[inside], [b]]))
        live = status == OK
        if not np.any(live):
            break
        res = solve(target, state[live], rows[live], grid, **solver_kw)
        method = res.method
        ys = res.y if res.y.ndim == 3 else res.y[None]
        pos = np.searchsorted(grid, t_eval[inside])
        idx = np.flatnonzero(live)
        y[np.ix_(idx, inside)] = ys[:, pos]
        state[idx] = ys[:, -1]
        for name in counts:
            counts[name][idx] += getattr(res, name)
        failed = res.status != OK
        status[idx[failed]] = res.status[failed]
        t_fail[idx[failed]] = res.t_fail[failed]
    for m in np.flatnonzero(status != OK):
        y[m, t_eval > t_fail[m]] = np.nan
    return SolverResult(t=t_eval, y=y, status=status, t_fail=t_fail, method=method, **counts)
