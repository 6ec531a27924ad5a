"""Small ODE problems with known solutions, shared by the tests and benchmarks.

Every right-hand side has the solver signature ``rhs(t, y (n,), p (n_p,), work, out (n,))``
and is jitted with ``cache=True``; ``*_exact`` functions give the solutions (NumPy, vectorised
over ``t``).
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .problem import Problem

__all__ = ["forced_decay", "rotation", "logistic", "square", "exp_growth", "linear",
           "below_bound", "forced_decay_exact", "rotation_exact", "logistic_exact",
           "square_exact", "FORCED_DECAY", "ROTATION", "LOGISTIC", "SQUARE", "EXP_GROWTH",
           "LINEAR"]

_JIT = dict(cache=True, error_model="numpy", nogil=True)


@numba.njit(**_JIT)
def forced_decay(t, y, p, work, out):
    """``y' = -a y + sin t`` (n = 1), ``p = [a]``."""
    out[0] = -p[0] * y[0] + math.sin(t)


def forced_decay_exact(t, y0, a):
    """Solution of :func:`forced_decay` from ``y(0) = y0``; shape (n_t, 1)."""
    t = np.asarray(t, dtype=float)
    particular = (a * np.sin(t) - np.cos(t)) / (1 + a * a)
    return ((y0 + 1 / (1 + a * a)) * np.exp(-a * t) + particular)[:, None]


@numba.njit(**_JIT)
def rotation(t, y, p, work, out):
    """``y' = w (-y1, y0)`` (n = 2), ``p = [w]``; uses ``work`` (n_work = 2) as scratch."""
    work[0] = p[0] * y[0]
    work[1] = p[0] * y[1]
    out[0] = -work[1]
    out[1] = work[0]


def rotation_exact(t, y0, w):
    """Solution of :func:`rotation` from ``y(0) = y0``; shape (n_t, 2)."""
    t = np.asarray(t, dtype=float)
    c, s = np.cos(w * t), np.sin(w * t)
    return np.stack([c * y0[0] - s * y0[1], s * y0[0] + c * y0[1]], axis=-1)


@numba.njit(**_JIT)
def logistic(t, y, p, work, out):
    """``y_i' = r y_i (1 - y_i / k)`` for every component, ``p = [r, k]``."""
    for i in range(y.shape[0]):
        out[i] = p[0] * y[i] * (1.0 - y[i] / p[1])


def logistic_exact(t, y0, r, k):
    """Solution of :func:`logistic` from ``y(0) = y0`` (n,); shape (n_t, n)."""
    t = np.asarray(t, dtype=float)[:, None]
    y0 = np.atleast_1d(np.asarray(y0, dtype=float))
    return k / (1 + (k / y0 - 1) * np.exp(-r * t))


@numba.njit(**_JIT)
def square(t, y, p, work, out):
    """``y_i' = y_i**2``: blows up at ``t = 1 / y0``."""
    for i in range(y.shape[0]):
        out[i] = y[i] * y[i]


def square_exact(t, y0):
    """Solution of :func:`square` (valid for ``t < 1 / y0``); shape (n_t, n)."""
    t = np.asarray(t, dtype=float)[:, None]
    y0 = np.atleast_1d(np.asarray(y0, dtype=float))
    return y0 / (1 - y0 * t)


@numba.njit(**_JIT)
def exp_growth(t, y, p, work, out):
    """``y' = r y``, ``p = [r, bound]`` (``bound`` is used by :func:`below_bound`)."""
    for i in range(y.shape[0]):
        out[i] = p[0] * y[i]


@numba.njit(**_JIT)
def below_bound(t, y, p, work):
    """``is_valid``: every component is below the last parameter ``p[-1]``."""
    bound = p[p.shape[0] - 1]
    for i in range(y.shape[0]):
        if not y[i] < bound:
            return False
    return True


@numba.njit(**_JIT)
def linear(t, y, p, work, out):
    """``y' = M y`` with ``M = p.reshape(n, n)`` (row-major)."""
    n = y.shape[0]
    for i in range(n):
        acc = 0.0
        for j in range(n):
            acc += p[i * n + j] * y[j]
        out[i] = acc


FORCED_DECAY = Problem(forced_decay, name="forced_decay")
ROTATION = Problem(rotation, n_work=2, name="rotation")
LOGISTIC = Problem(logistic, name="logistic")
SQUARE = Problem(square, name="square")
EXP_GROWTH = Problem(exp_growth, is_valid=below_bound, name="exp_growth")
LINEAR = Problem(linear, name="linear")
