"""Hyper-parameters as functions of time: piecewise constant, piecewise linear, on a grid.

A :class:`Schedule` is a list of knots ``t_0 < t_1 < ... < t_n`` with values:

- ``kind="constant"``: ``n`` values, value ``j`` on ``[t_j, t_{j+1})`` (the last piece is
  closed on the right);
- ``kind="linear"``: ``n + 1`` values at the knots, linear in between.

Before ``t_0`` the schedule takes its first value, after ``t_n`` its last one, so a schedule
shorter than a run holds its final value. A plain number is the constant schedule
(:func:`as_schedule`). Time is the ODE time t = updates / N of the run (or of the phase that
carries the schedule).

The optimiser of :mod:`odesolve.control` works with the values as the unknowns; the knots
stay fixed. How a stage time of the Runge-Kutta grid reads the values is
:meth:`Schedule.weights`: a schedule value is a linear combination of at most two of its
values, which makes the gradient with respect to the values exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_choice, check_int, check_real, describe

__all__ = ["Schedule", "as_schedule", "constant_schedule", "piecewise_constant",
           "piecewise_linear", "annealing"]


@dataclass(frozen=True, eq=False)
class Schedule:
    """A hyper-parameter as a function of time (module docstring).

    Parameters
    ----------
    times : array_like, shape (n + 1,)
        Knots, strictly increasing, finite, at least two.
    values : array_like, shape (n,) for ``"constant"`` or (n + 1,) for ``"linear"``
        Finite values.
    kind : {"constant", "linear"}

    Raises
    ------
    TypeError
        ``times`` or ``values`` not numeric arrays.
    ValueError
        Shapes that do not match ``kind``, knots not strictly increasing, non-finite entries.
    """

    times: np.ndarray
    values: np.ndarray
    kind: Literal["constant", "linear"] = "constant"

    def __post_init__(self) -> None:
        kind = check_choice("kind", self.kind, ("constant", "linear"))
        times = _vector("times", self.times)
        values = _vector("values", self.values)
        if times.size < 2:
            raise ValueError(f"`times` must hold at least two knots, got {times.size}.")
        if np.any(np.diff(times) <= 0):
            raise ValueError("`times` must be strictly increasing.")
        want = times.size - 1 if kind == "constant" else times.size
        if values.size != want:
            raise ValueError(f"a {kind!r} schedule with {times.size} knots needs {want} "
                             f"values, got {values.size}.")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)

    @property
    def n_values(self) -> int:
        """Number of values (the unknowns of an optimisation)."""
        return int(self.values.size)

    @property
    def t_end(self) -> float:
        """Last knot."""
        return float(self.times[-1])

    def with_values(self, values: ArrayLike) -> Schedule:
        """The same knots and kind with new values, shape (n_values,)."""
        return Schedule(self.times, values, self.kind)

    def weights(self, t: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Which values, with which weights, make up the schedule at times ``t``.

        Parameters
        ----------
        t : array_like, shape (m,)

        Returns
        -------
        index : ndarray of int, shape (m, 2)
        weight : ndarray, shape (m, 2)
            ``schedule(t[i]) = sum_j weight[i, j] * values[index[i, j]]``.
        """
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        n = self.times.size - 1
        index = np.zeros((t.size, 2), dtype=np.int64)
        weight = np.zeros((t.size, 2))
        if self.kind == "constant":
            j = np.clip(np.searchsorted(self.times, t, side="right") - 1, 0, n - 1)
            index[:, 0] = index[:, 1] = j
            weight[:, 0] = 1.0
            return index, weight
        j = np.clip(np.searchsorted(self.times, t, side="right") - 1, 0, n - 1)
        s = np.clip((t - self.times[j]) / (self.times[j + 1] - self.times[j]), 0.0, 1.0)
        index[:, 0], index[:, 1] = j, j + 1
        weight[:, 0], weight[:, 1] = 1.0 - s, s
        return index, weight

    def __call__(self, t: ArrayLike) -> np.ndarray:
        """Values at times ``t`` (any shape; the same shape back)."""
        t_arr = np.asarray(t, dtype=np.float64)
        index, weight = self.weights(t_arr.ravel())
        return np.sum(weight * self.values[index], axis=1).reshape(t_arr.shape)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, read back by :meth:`from_dict`."""
        return {"kind": self.kind, "times": self.times.tolist(), "values": self.values.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Schedule:
        """The schedule written by :meth:`to_dict`.

        Raises
        ------
        TypeError
            ``d`` is not a dict.
        ValueError
            ``d`` lacks ``times`` or ``values`` or breaks the rules of :class:`Schedule`.
        """
        if not isinstance(d, dict):
            raise TypeError(f"a schedule must be read from a dict, got {describe(d)}.")
        missing = [k for k in ("times", "values") if k not in d]
        if missing:
            raise ValueError(f"a schedule needs {missing}.")
        return cls(d["times"], d["values"], d.get("kind", "constant"))

    def __repr__(self) -> str:
        return (f"Schedule(kind={self.kind!r}, n_values={self.n_values}, "
                f"t = {self.times[0]:g} .. {self.t_end:g})")


def _vector(name: str, value: Any) -> np.ndarray:
    """A read-only 1-D float64 copy of ``value``, or an error naming ``name``."""
    raw = np.asarray(value)
    if raw.dtype.kind not in "iuf" or raw.dtype == bool:
        raise TypeError(f"`{name}` must be an array of real numbers, got {describe(value)}.")
    if raw.ndim > 1:
        raise ValueError(f"`{name}` must be one-dimensional, got shape {raw.shape}.")
    arr = np.array(raw, dtype=np.float64).ravel()
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite.")
    arr.setflags(write=False)
    return arr


def constant_schedule(value: float, t_end: float) -> Schedule:
    """One piece of value ``value`` on ``[0, t_end]``.

    Raises
    ------
    TypeError, ValueError
        ``value`` not finite, ``t_end`` not positive.
    """
    value = check_real("value", value)
    t_end = check_real("t_end", t_end, positive=True)
    return Schedule([0.0, t_end], [value], "constant")


def piecewise_constant(t_end: float, values: ArrayLike) -> Schedule:
    """``len(values)`` equal pieces on ``[0, t_end]``.

    Raises
    ------
    TypeError, ValueError
        ``t_end`` not positive, ``values`` empty or not finite.
    """
    t_end = check_real("t_end", t_end, positive=True)
    values = _vector("values", values)
    if values.size == 0:
        raise ValueError("`values` must not be empty.")
    return Schedule(np.linspace(0.0, t_end, values.size + 1), values, "constant")


def piecewise_linear(times: ArrayLike, values: ArrayLike) -> Schedule:
    """Linear interpolation of ``values`` at knots ``times`` (same length)."""
    return Schedule(times, values, "linear")


def annealing(t_end: float, n_pieces: int, eta0: float, t0: float,
              kind: Literal["constant", "linear"] = "constant") -> Schedule:
    """The ``1/t`` annealing ``eta(t) = eta0 t0 / (t0 + t)`` on ``n_pieces`` equal pieces of
    ``[0, t_end]`` (piece means for ``"constant"``, knot values for ``"linear"``).

    Parameters
    ----------
    t_end : float
        Positive.
    n_pieces : int
        Positive.
    eta0 : float
        Initial rate, positive.
    t0 : float
        Time scale of the decay, positive.
    kind : {"constant", "linear"}

    Returns
    -------
    Schedule

    Raises
    ------
    TypeError, ValueError
        naming the argument out of range.
    """
    t_end = check_real("t_end", t_end, positive=True)
    n_pieces = check_int("n_pieces", n_pieces, minimum=1)
    eta0 = check_real("eta0", eta0, positive=True)
    t0 = check_real("t0", t0, positive=True)
    kind = check_choice("kind", kind, ("constant", "linear"))
    edges = np.linspace(0.0, t_end, n_pieces + 1)
    if kind == "linear":
        return Schedule(edges, eta0 * t0 / (t0 + edges), "linear")
    # the mean of eta0 t0 / (t0 + t) over each piece
    means = eta0 * t0 * np.log((t0 + edges[1:]) / (t0 + edges[:-1])) / np.diff(edges)
    return Schedule(edges, means, "constant")


def as_schedule(name: str, value: Any, t_end: float) -> Schedule:
    """A :class:`Schedule`, or a real number as the constant schedule on ``[0, t_end]``.

    Raises
    ------
    TypeError
        ``value`` neither a Schedule nor a real number (the message names ``name``).
    ValueError
        ``value`` not finite.
    """
    if isinstance(value, Schedule):
        return value
    return constant_schedule(check_real(name, value), t_end)
