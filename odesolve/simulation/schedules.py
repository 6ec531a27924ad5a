"""Schedules of hyper-parameters in the finite-N simulator
(docs/theory/simulation.md#theory-simulation-schedules).

The compiled SGD loop runs with one parameter vector per call. A run with schedules is cut
into *segments* of whole steps on which every scheduled value is held constant:

- a piecewise-constant schedule changes its value exactly at its knots, each rounded to the
  nearest whole step (time = steps / N); a segment never crosses a knot;
- a piecewise-linear schedule is cut into sub-intervals of at most ``ramp_dt`` time units
  (between its rounded knots), and each sub-interval uses the schedule's value at its
  midpoint, which is the exact mean of a linear piece over the sub-interval.

:func:`segments` returns the step boundaries and the value of every schedule on every
segment; the drivers advance the compiled loop in chunks that end on these boundaries.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .._checks import check_real, describe
from ..control.schedule import Schedule

__all__ = ["check_schedules", "setup_schedules", "segments", "DEFAULT_RAMP_DT", "SCHEDULABLE"]

#: hyper-parameters of a TeacherStudent that ``integrate`` and ``simulate`` can schedule
SCHEDULABLE = ("eta", "eta_v", "sigma", "weight_decay")

#: default longest sub-interval of a piecewise-linear schedule (time units)
DEFAULT_RAMP_DT = 0.01


def setup_schedules(setup: Any, schedules: Any) -> dict[str, Schedule]:
    """The checked schedules of a run of ``setup`` (integrate or simulate).

    One rule of the setup is applied: when
    ``setup.eta_v`` is None (the readout rate *is* eta) and the readouts train, an ``"eta"``
    schedule drives the readout rate too unless an ``"eta_v"`` schedule is given.

    Raises
    ------
    TypeError, ValueError
        As :func:`check_schedules` with the names :data:`SCHEDULABLE`, all non-negative.
    """
    out = check_schedules(schedules, SCHEDULABLE, nonnegative=SCHEDULABLE)
    if ("eta" in out and "eta_v" not in out and getattr(setup, "eta_v", 0.0) is None
            and setup.eta_readout > 0):
        out["eta_v"] = out["eta"]
    return out


def check_schedules(schedules: Any, allowed: Iterable[str],
                    nonnegative: Iterable[str] = (),
                    bounds: Mapping[str, tuple[float, float]] | None = None
                    ) -> dict[str, Schedule]:
    """``schedules`` as a dict of name -> :class:`~odesolve.control.Schedule`, checked.

    Parameters
    ----------
    schedules : mapping or None
        Name -> Schedule; None is no schedule.
    allowed : iterable of str
        The names that may be scheduled.
    nonnegative : iterable of str
        Names whose values must be >= 0.
    bounds : mapping of str to (float, float), optional
        Names whose values must lie in a closed interval.

    Returns
    -------
    dict of str to Schedule

    Raises
    ------
    TypeError
        ``schedules`` not a mapping, a key not a string, a value not a Schedule.
    ValueError
        An unknown name, or values out of their range.
    """
    if schedules is None:
        return {}
    if not isinstance(schedules, Mapping):
        raise TypeError(f"`schedules` must map parameter names to odesolve.control.Schedule "
                        f"objects, got {describe(schedules)}.")
    allowed = tuple(allowed)
    nonneg = set(nonnegative)
    bounds = dict(bounds or {})
    out = {}
    for name, sch in schedules.items():
        if not isinstance(name, str):
            raise TypeError(f"`schedules` keys must be strings, got {describe(name)}.")
        if name not in allowed:
            raise ValueError(f"`schedules` names {name!r}; the names that can be scheduled "
                             f"are {list(allowed)}.")
        if not isinstance(sch, Schedule):
            raise TypeError(f"`schedules[{name!r}]` must be an odesolve.control.Schedule, "
                            f"got {describe(sch)}.")
        if name in nonneg and np.any(sch.values < 0):
            raise ValueError(f"`schedules[{name!r}]` must be non-negative, got a minimum of "
                             f"{sch.values.min():g}.")
        if name in bounds:
            lo, hi = bounds[name]
            if np.any(sch.values < lo) or np.any(sch.values > hi):
                raise ValueError(f"`schedules[{name!r}]` must lie in [{lo:g}, {hi:g}], got "
                                 f"values in [{sch.values.min():g}, {sch.values.max():g}].")
        out[name] = sch
    return out


def check_ramp_dt(ramp_dt: Any) -> float:
    """``ramp_dt`` as a positive float.

    Raises
    ------
    TypeError, ValueError
        ``ramp_dt`` not a real number, or not positive.
    """
    return check_real("ramp_dt", ramp_dt, positive=True)


def segments(schedules: Mapping[str, Schedule], n_steps: int, N: int,
             ramp_dt: float = DEFAULT_RAMP_DT) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Segments of constant scheduled values over the steps from 0 to ``n_steps`` (module
    docstring).

    Parameters
    ----------
    schedules : mapping of str to Schedule
    n_steps : int
        Total number of steps of the run.
    N : int
        Input dimension (a step lasts 1/N).
    ramp_dt : float
        Longest sub-interval (time units) of a piecewise-linear schedule; positive.

    Returns
    -------
    bounds : ndarray of int64, shape (n_seg + 1,)
        Step boundaries, from 0 to ``n_steps``, strictly increasing.
    values : dict of str to ndarray, shape (n_seg,)
        The value of each schedule on each segment ``[bounds[j], bounds[j + 1])``.
    """
    cuts = [np.array([0, n_steps], dtype=np.int64)]
    for sch in schedules.values():
        knots = np.rint(sch.times * N).astype(np.int64)
        cuts.append(knots)
        if sch.kind == "linear":
            t_run = n_steps / N
            for a, b in zip(sch.times[:-1], sch.times[1:]):
                if b <= 0.0 or a >= t_run:              # no sub-intervals outside the run
                    continue
                n_sub = max(int(np.ceil((b - a) / ramp_dt - 1e-9)), 1)
                d = (b - a) / n_sub
                # only the cuts of this piece inside the run [0, t_run]
                k = np.arange(max(int(np.floor(-a / d)), 0),
                              min(int(np.ceil((t_run - a) / d)), n_sub) + 1)
                cuts.append(np.rint((a + d * k) * N).astype(np.int64))
    bounds = np.unique(np.concatenate(cuts))
    bounds = bounds[(bounds >= 0) & (bounds <= n_steps)]
    start = bounds[:-1]
    values = {}
    for name, sch in schedules.items():
        if sch.kind == "constant":
            # the piece a segment lies in, by the rounded knots (no segment crosses one)
            knots = np.rint(sch.times * N).astype(np.int64)
            j = np.clip(np.searchsorted(knots, start, side="right") - 1, 0, sch.n_values - 1)
            values[name] = sch.values[j].copy()
        else:
            values[name] = _linear_at(sch, 0.5 * (bounds[:-1] + bounds[1:]) / N)
    return bounds, values


def _linear_at(sch: Schedule, t: np.ndarray) -> np.ndarray:
    """A piecewise-linear schedule at times t as ``a + s (b - a)``, exact where a == b."""
    n = sch.times.size - 1
    j = np.clip(np.searchsorted(sch.times, t, side="right") - 1, 0, n - 1)
    s = np.clip((t - sch.times[j]) / (sch.times[j + 1] - sch.times[j]), 0.0, 1.0)
    a, b = sch.values[j], sch.values[j + 1]
    return a + s * (b - a)
