"""Laziness against initial rank (Liu et al., ICLR 2024, transposed to two-layer linear nets).

Both layers of a random start W1 ~ N(0, scale^2 / d_in), W2 ~ N(0, scale^2 / h) are replaced
by their rank-r truncations rescaled to the full-rank Frobenius norms
(:func:`odesolve.linear.low_rank_weights`), or by rank-r weights aligned with the task's top
singular vectors (:func:`odesolve.linear.task_aligned_low_rank`). Each start is trained to
convergence by gradient flow (:func:`odesolve.linear.gradient_flow`) and scored by the
weight change and the kernel distance.

Admissibility: gradient flow keeps the hidden subspace ``col(W1) + row(W2)`` invariant, so a
start whose hidden subspace is smaller than the task's rank (2r for random low rank, r for
aligned: both layers share the hidden basis) cannot fit the task in exact arithmetic; a
numerical run still does, by growing rounding noise exponentially. Such runs are marked
inadmissible and left out (NaN).
"""
from __future__ import annotations

import numpy as np

from .measures import kernel_distance, low_rank_weights, task_aligned_low_rank, weight_change
from .network import gradient_flow

__all__ = ["rank_task", "rank_study"]


def rank_task(d: int = 20, singular_values=(3.0, 2.0, 1.0), seed: int = 12345):
    """Square task ``Sigma = U diag(s) V^T`` (d, d) of rank len(s), random orthogonal U, V."""
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((d, d)))[0]
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    k = len(singular_values)
    return (U[:, :k] * np.asarray(singular_values, dtype=float)) @ V[:, :k].T


def rank_study(Sigma, h: int, ranks, scale: float = 0.3, seeds=range(20),
               t_final: float = 1000.0) -> dict:
    """Weight change and kernel distance at ``t_final`` against the initial rank.

    Returns
    -------
    dict with ``ranks``; ``weight_change`` and ``kernel_distance``, each a dict with keys
    ``"full"`` (n_seeds,), ``"random"`` and ``"aligned"`` (n_seeds, n_ranks), NaN where
    inadmissible; and ``max_relative_loss`` over the admissible runs (convergence check).
    """
    Sigma = np.asarray(Sigma, dtype=np.float64)
    d_out, d_in = Sigma.shape
    k = np.linalg.matrix_rank(Sigma)
    ranks, seeds = list(ranks), list(seeds)
    t = np.array([0.0, t_final])
    wc = {"full": np.empty(len(seeds)), "random": np.full((len(seeds), len(ranks)), np.nan),
          "aligned": np.full((len(seeds), len(ranks)), np.nan)}
    kd = {key: val.copy() for key, val in wc.items()}
    worst = 0.0

    def score(W1, W2):
        A, B = gradient_flow(Sigma, W1, W2, t)
        loss = np.sum((Sigma - B[-1] @ A[-1]) ** 2) / np.sum(Sigma ** 2)
        return (weight_change(A[-1], B[-1], W1, W2), kernel_distance(A[-1], B[-1], W1, W2),
                loss)

    for s, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        W1 = rng.standard_normal((h, d_in)) * scale / np.sqrt(d_in)
        W2 = rng.standard_normal((d_out, h)) * scale / np.sqrt(h)
        wc["full"][s], kd["full"][s], loss = score(W1, W2)
        worst = max(worst, loss)
        for j, r in enumerate(ranks):
            starts = {"random": ((low_rank_weights(W1, r), low_rank_weights(W2, r)), 2 * r),
                      "aligned": (task_aligned_low_rank(W1, W2, Sigma, r), r)}
            for name, ((A1, A2), hidden_dim) in starts.items():
                if min(hidden_dim, h) < k:
                    continue
                wc[name][s, j], kd[name][s, j], loss = score(A1, A2)
                worst = max(worst, loss)
    return {"ranks": ranks, "h": h, "scale": scale, "t_final": t_final, "task_rank": int(k),
            "weight_change": {key: val.tolist() for key, val in wc.items()},
            "kernel_distance": {key: val.tolist() for key, val in kd.items()},
            "max_relative_loss": worst}
