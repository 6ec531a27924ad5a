"""Summary observables of trajectories: what a sweep keeps per member.

All functions take order parameters with any leading axes (batch, time) and work on the last
ones, so they apply to a single state, a trajectory (n, ...) or a batch (B, n, ...).

Definitions
-----------
Normalised student-teacher overlaps (cosines)::

    r_in = R_in / sqrt(Q_ii T_nn)

**Specialisation index** (Saad & Solla 1995; Jarvis et al. 2025 measure specialisation by how
much each student unit is aligned with *one* teacher unit rather than with all of them)::

    s = 1/K sum_i ( |r_i|_(1) - |r_i|_(2) )

where ``|r_i|_(1) >= |r_i|_(2)`` are the largest and second-largest of ``|r_i1|, ..., |r_iM|``
(for M = 1 the second is taken as 0). On the symmetric plateau every student unit overlaps
equally with every teacher unit and ``s = 0``; at perfect specialisation (``r`` a signed
permutation) ``s = 1``.

**Time to specialise** ``t_specialise``: the first output time at which ``s >= threshold``
(default 0.5), linearly interpolated between output times; NaN when never reached. Leaving the
symmetric plateau *is* specialising, so this is the plateau-escape time.

**Time to learn** ``t_learn``: the first time eps_g falls below ``fraction * eps_g(0)`` (default
fraction 0.01), interpolated in log eps_g; NaN when never reached.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["normalised_overlaps", "specialisation_index", "first_crossing", "summarise",
           "teacher_specialisation", "layer_imbalance", "readout_entropy", "forgetting", "transfer",
           "OBSERVABLES"]

#: name -> description, of the observables :func:`summarise` returns
OBSERVABLES = {
    "eps_g_final": "generalisation error at t_max",
    "eps_g_min": "smallest generalisation error over the output times",
    "specialisation_final": "specialisation index at t_max",
    "t_specialise": "first time the specialisation index reaches the threshold (plateau escape)",
    "t_learn": "first time eps_g falls below fraction * eps_g(0)",
}


def normalised_overlaps(Q: np.ndarray, R: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Cosines ``r_in = R_in / sqrt(Q_ii T_nn)``.

    Parameters
    ----------
    Q : ndarray, shape (..., K, K)
    R : ndarray, shape (..., K, M)
    T : ndarray, shape (..., M, M)
        Broadcast against Q and R (e.g. (B, 1, M, M) against (B, n, K, M)).

    Returns
    -------
    ndarray, shape (..., K, M)
    """
    q = np.sqrt(np.maximum(np.diagonal(Q, axis1=-2, axis2=-1), 0.0))[..., :, None]
    t = np.sqrt(np.diagonal(T, axis1=-2, axis2=-1))[..., None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = R / (q * t)
    return np.where(q * t > 0, r, 0.0)


def specialisation_index(Q: np.ndarray, R: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Specialisation index ``s`` in [0, 1] (module docstring), shape ``Q.shape[:-2]``."""
    a = np.abs(normalised_overlaps(Q, R, T))
    if a.shape[-1] == 1:
        return a[..., 0].mean(axis=-1)
    top2 = -np.partition(-a, 1, axis=-1)[..., :2]
    return (top2[..., 0] - top2[..., 1]).mean(axis=-1)


def first_crossing(t: ArrayLike, x: ArrayLike, level: ArrayLike, below: bool = False,
                   log: bool = False) -> np.ndarray:
    """First time the curve ``x(t)`` reaches ``level`` (from below, or from above with
    ``below=True``), linearly interpolated between samples (in log x with ``log=True``).

    Parameters
    ----------
    t : array_like, shape (n,)
    x : array_like, shape (..., n)
    level : float or array_like broadcastable to ``x.shape[:-1]``
    below : bool
        Look for the first time ``x <= level`` instead of ``x >= level``.
    log : bool
        Interpolate in ``log x`` (and ``log level``).

    Returns
    -------
    ndarray, shape ``x.shape[:-1]``; NaN where the level is never reached (or x is NaN first).
    """
    t = np.asarray(t, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    level = np.broadcast_to(np.asarray(level, dtype=np.float64), x.shape[:-1])
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.log(np.maximum(x, 1e-300))
            level = np.log(np.maximum(level, 1e-300))
    lev = level[..., None]
    hit = (x <= lev) if below else (x >= lev)
    found = hit.any(axis=-1)
    j = np.argmax(hit, axis=-1)                     # first index at or past the level
    out = np.full(x.shape[:-1], np.nan)
    jj = np.maximum(j - 1, 0)
    x1 = np.take_along_axis(x, j[..., None], -1)[..., 0]
    x0 = np.take_along_axis(x, jj[..., None], -1)[..., 0]
    t1, t0 = t[j], t[jj]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(x1 != x0, (level - x0) / (x1 - x0), 1.0)
    interp = np.where(j == 0, t[0], t0 + np.clip(frac, 0.0, 1.0) * (t1 - t0))
    out[found] = interp[found]
    return out


def summarise(t: np.ndarray, Q: np.ndarray, R: np.ndarray, T: np.ndarray, eps_g: np.ndarray,
              specialise_threshold: float = 0.5,
              learn_fraction: float = 0.01) -> dict[str, np.ndarray]:
    """The observables of :data:`OBSERVABLES` for a batch of trajectories.

    Parameters
    ----------
    t : ndarray, shape (n,)
    Q : ndarray, shape (B, n, K, K)
    R : ndarray, shape (B, n, K, M)
    T : ndarray, shape (B, M, M)
    eps_g : ndarray, shape (B, n)
    specialise_threshold : float
        Level of the specialisation index that defines ``t_specialise``.
    learn_fraction : float
        ``t_learn`` is the first time eps_g <= learn_fraction * eps_g(0).

    Returns
    -------
    dict of name -> ndarray, shape (B,)
        NaN for members whose trajectory failed before the quantity was defined.
    """
    s = specialisation_index(Q, R, np.asarray(T)[:, None])
    with np.errstate(invalid="ignore"):
        eps_min = np.where(np.isnan(eps_g).all(-1), np.nan,
                           np.nanmin(np.where(np.isnan(eps_g), np.inf, eps_g), axis=-1))
    return {
        "eps_g_final": eps_g[:, -1].copy(),
        "eps_g_min": eps_min,
        "specialisation_final": s[:, -1].copy(),
        "t_specialise": first_crossing(t, s, specialise_threshold),
        "t_learn": first_crossing(t, eps_g, learn_fraction * eps_g[:, 0], below=True, log=True),
    }


# -- observables of multi-task studies (issue 5) ----------------------------------------------
def teacher_specialisation(R: ArrayLike, T: ArrayLike, v: ArrayLike) -> np.ndarray:
    """Specialisation index in [0, 1] from the teachers' side (Jarvis et al. 2025 setting).

    Student unit i carries teacher unit n with weight ``c_in = |v_i R_in| / sqrt(T_nn)`` (the
    part of the teacher's direction that unit i passes to the output). With ``p_in = c_in /
    sum_j c_jn``, teacher unit n is carried equally by all K units when ``p_in = 1/K`` and by a
    single unit when ``max_i p_in = 1``, so

        s = mean_n (max_i p_in - 1/K) / (1 - 1/K)

    is 0 when all student units carry each teacher unit equally and 1 when each teacher unit
    is carried by one student unit (defined as 1 for K = 1; NaN where no unit carries n).

    Parameters
    ----------
    R : array_like, shape (..., K, M)
    T : array_like, shape (M, M) or (..., M, M)
    v : array_like, shape (..., K)

    Returns
    -------
    ndarray, shape R.shape[:-2]
    """
    R, v = np.asarray(R, dtype=np.float64), np.asarray(v, dtype=np.float64)
    K = R.shape[-2]
    t = np.sqrt(np.diagonal(np.asarray(T, dtype=np.float64), axis1=-2, axis2=-1))
    c = np.abs(v[..., :, None] * R) / t[..., None, :]
    if K == 1:
        return np.ones(R.shape[:-2])
    with np.errstate(invalid="ignore", divide="ignore"):
        p = c / c.sum(axis=-2, keepdims=True)
        s = (p.max(axis=-2) - 1.0 / K) / (1.0 - 1.0 / K)
    return s.mean(axis=-1)


def layer_imbalance(Q: ArrayLike, v: ArrayLike) -> np.ndarray:
    """Per-unit imbalance between the layers, ``v_i^2 - Q_ii``, shape (..., K): conserved by
    gradient flow for linear and ReLU units (tests/test_physics.py)."""
    return np.asarray(v) ** 2 - np.diagonal(np.asarray(Q), axis1=-2, axis2=-1)


def readout_entropy(v: ArrayLike) -> np.ndarray:
    """Normalised Shannon entropy of the readout weights, in [0, 1], shape ``v.shape[:-1]``.

    ``H = -sum_i p_i log p_i / log K`` with ``p_i = v_i^2 / sum_j v_j^2``: 1 when every unit has
    the same readout magnitude, 0 when one unit holds all of it. Jarvis et al. (ICLR 2025)
    argue that high *weight entropy* at initialisation favours specialisation without fixing
    a formula in terms of our order parameters; this is our definition of it.
    """
    v2 = np.asarray(v, dtype=np.float64) ** 2
    K = v2.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        p = v2 / v2.sum(axis=-1, keepdims=True)
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=-1)
    return h / np.log(K) if K > 1 else np.zeros(v2.shape[:-1])


def forgetting(t: ArrayLike, eps_task: ArrayLike, t_switch: float) -> np.ndarray:
    """Forgetting of a task, ``eps(t) - eps(t_switch)`` (Lee et al. 2021), shape of ``eps``:
    ``eps_task`` (..., n) over the times ``t`` (n,); NaN before the switch."""
    t = np.asarray(t)
    j = int(np.argmin(np.abs(t - t_switch)))
    out = np.asarray(eps_task, dtype=np.float64) - np.asarray(eps_task)[..., j:j + 1]
    out[..., t < t_switch - 1e-12] = np.nan
    return out


def transfer(eps_task2_at_switch: ArrayLike, eps_task2_initial: ArrayLike) -> np.ndarray:
    """Forward transfer to task 2: how much training on task 1 lowered task 2's error before
    task 2 was seen, ``eps_2(0) - eps_2(t_switch)`` (positive: task 1 helped)."""
    return np.asarray(eps_task2_initial) - np.asarray(eps_task2_at_switch)
