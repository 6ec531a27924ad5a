"""Critical periods in deep linear networks (Kleinman, Achille & Soatto, ICLR 2024).

Two pathways a and b of depth D learn the same mode of strength S; with balanced layers each
pathway is one scalar p (the per-layer mode strength) whose end-to-end strength is K = p^D, and
gradient flow on 1/2 (S - K_a - K_b)^2 gives (THEORY.md section 3)

    dp_i/dt = D/D * |p_i|^(D-1) (S - K_a - K_b)   (the factor D of the chain rule absorbed into t).

A *deficit* freezes pathway b (dp_b/dt = 0) during [onset, onset + length]. Pathway a then
learns the task alone; when the window closes the error is small, so b never catches up: an
early deficit leaves a lasting deficit, a late one (after both pathways learned) does not.
Also the depth-D single-chain mode dynamics du/dt = D u^(2 - 2/D) (s - u) (Saxe et al. 2014;
D = 2 is :func:`odesolve.linear.saxe_mode`).
"""
from __future__ import annotations

import numba
import numpy as np

from ..solvers import Problem, solve

__all__ = ["pathway_deficit", "critical_period_curve", "depth_mode"]


@numba.njit(cache=True, error_model="numpy")
def _pathways_rhs(t, y, p, work, out):
    """y = [p_a, p_b]; p = [D, S, frozen_b]."""
    D = p[0]
    err = p[1] - y[0] ** D - y[1] ** D
    out[0] = abs(y[0]) ** (D - 1.0) * err
    out[1] = (1.0 - p[2]) * abs(y[1]) ** (D - 1.0) * err


@numba.njit(cache=True, error_model="numpy")
def _depth_mode_rhs(t, y, p, work, out):
    """du/dt = D u^(2 - 2/D) (s - u); p = [D, s]."""
    D = p[0]
    out[0] = D * abs(y[0]) ** (2.0 - 2.0 / D) * (p[1] - y[0])


PATHWAYS = Problem(_pathways_rhs, name="linear_pathways")
DEPTH_MODE = Problem(_depth_mode_rhs, name="linear_depth_mode")


def depth_mode(t, s: float, u0: float, D: int):
    """End-to-end strength u(t) of one mode of a balanced depth-D linear chain, integrated
    with the compiled Dormand-Prince solver (tight tolerances); shape of ``t``."""
    t = np.asarray(t, dtype=np.float64)
    res = solve(DEPTH_MODE, np.array([u0]), np.array([float(D), s]), t, method="dopri5",
                rtol=1e-11, atol=1e-14)
    res.raise_on_failure()
    return res.y[:, 0]


def pathway_deficit(D: int, S: float = 1.0, p0: float = 0.05, onset: float = 0.0,
                    length: float = 0.0, t_total: float = 200.0, n_out: int = 201):
    """Two pathways through a deficit window on pathway b.

    Returns
    -------
    t : ndarray, shape (n,)
    K : ndarray, shape (n, 2)
        End-to-end strengths K_a = p_a^D and K_b = p_b^D.
    """
    bounds = [0.0, onset, onset + length, t_total]
    t_all = np.unique(np.concatenate([np.linspace(0, t_total, n_out), bounds]))
    y = np.array([p0, p0])
    P = np.empty((t_all.size, 2))
    P[0] = y
    for k, frozen in enumerate((0.0, 1.0, 0.0)):
        lo, hi = bounds[k], bounds[k + 1]
        if hi <= lo:
            continue
        sel = np.flatnonzero((t_all > lo) & (t_all <= hi))
        t_eval = np.concatenate([[lo], t_all[sel]])
        res = solve(PATHWAYS, y, np.array([float(D), S, frozen]), t_eval, method="dopri5",
                    rtol=1e-10, atol=1e-13)
        res.raise_on_failure()
        P[sel] = res.y[1:]
        y = res.y[-1].copy()
    return t_all, P ** D


def critical_period_curve(depths=(2, 3, 4), onsets=None, length: float = 20.0,
                          t_total: float = 400.0, S: float = 1.0, p0: float = 0.05) -> dict:
    """Final share K_b / S of the deprived pathway against the deficit onset, per depth
    (0.5 without a deficit, by symmetry)."""
    onsets = np.linspace(0, 100, 21) if onsets is None else np.asarray(onsets, dtype=float)
    share = np.empty((len(depths), onsets.size))
    for i, D in enumerate(depths):
        for j, on in enumerate(onsets):
            _, K = pathway_deficit(D, S, p0, on, length, t_total, n_out=11)
            share[i, j] = K[-1, 1] / S
    return {"depths": list(depths), "onsets": onsets.tolist(), "length": length,
            "t_total": t_total, "S": S, "p0": p0, "final_share_b": share.tolist()}
