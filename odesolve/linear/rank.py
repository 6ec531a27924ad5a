"""Laziness against initial rank (Liu et al., ICLR 2024, transposed to two-layer linear nets).

A random start at a given scale is replaced by rank-r weights of the same Frobenius norms
(:func:`odesolve.linear.low_rank_weights`: each layer's truncated SVD, rescaled), or by rank-r
weights aligned with the task's top singular vectors
(:func:`odesolve.linear.task_aligned_low_rank`). Each start is trained by gradient flow
(:func:`odesolve.linear.gradient_flow`) and scored by the weight change and the kernel distance
at ``t_final``.

Two kinds of random start:

- ``"balanced"`` (default): zero-balanced weights, ``W2^T W2 = W1 W1^T``
  (:func:`odesolve.linear.balanced_weights` with lambda = 0), so ``W1 = R S V^T`` and
  ``W2 = U S R^T`` share one hidden basis R and one spectrum S: the lambda = 0 member of the
  lambda-balanced family solved exactly in :mod:`odesolve.linear.exact` (Braun et al. 2022;
  Domine et al. 2024). Truncating both layers keeps the start zero-balanced: rank r means r
  shared hidden directions with r singular values, rescaled.
- ``"independent"``: W1 ~ N(0, scale^2 / d_in) and W2 ~ N(0, scale^2 / h) drawn independently
  and truncated independently, so the two layers' hidden subspaces differ. Here the off-task
  product ``W2 W1`` on hidden directions the task does not use has to be cancelled, a cost that
  grows with rank; the weight change is then smallest at an intermediate rank (about h / 2), not
  at full rank. Kept as the contrast case.

``task`` is a fixed (d_out, d_in) matrix or a callable ``seed -> task`` (a new random task per
seed: the average over tasks that Liu et al.'s claim is about). The weights of seed ``s`` come
from the random stream ``[s, 1]``, so they are independent of a task drawn with ``s``.

Admissibility: gradient flow keeps the hidden subspace ``col(W1) + row(W2)`` invariant, so a
start whose hidden subspace is smaller than the task's rank k (r for balanced and aligned starts,
2r for independent ones) cannot fit the task in exact arithmetic; a numerical run still does, by
growing rounding noise exponentially. Such runs are left out (NaN).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_choice, check_int, check_real
from .._typing import Seed
from ..model import check_seed
from ._args import check_counts, check_seeds, nonnegative_values, real_matrix
from .measures import kernel_distance, low_rank_weights, task_aligned_low_rank, weight_change
from .network import balanced_weights, gradient_flow

__all__ = ["rank_task", "rank_study", "random_start", "RANK_STARTS"]

RANK_STARTS = ("balanced", "independent")


def rank_task(d: int = 20, singular_values: Sequence[float] = (3.0, 2.0, 1.0),
              seed: int = 12345, d_out: int | None = None) -> np.ndarray:
    """Task ``Sigma = U diag(s) V^T`` of rank len(s) with random orthonormal U, V.

    Parameters
    ----------
    d : int
        Input dimension (and output dimension unless ``d_out`` is given), positive.
    singular_values : sequence of float
        Non-negative, finite; at most min(d, d_out) of them.
    seed : int, sequence of int, Generator or None
    d_out : int, optional

    Returns
    -------
    Sigma : ndarray, shape (d_out, d) (d_out defaults to d)

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    d = check_int("d", d, minimum=1)
    d_out = d if d_out is None else check_int("d_out", d_out, minimum=1)
    singular_values = nonnegative_values("singular_values", singular_values)
    k = singular_values.size
    if k > min(d, d_out):
        raise ValueError(f"`singular_values`: {k} values need min(d, d_out) >= {k}, got "
                         f"d = {d}, d_out = {d_out}.")
    rng = np.random.default_rng(check_seed("seed", seed))
    U = np.linalg.qr(rng.standard_normal((d_out, k)))[0]
    V = np.linalg.qr(rng.standard_normal((d, k)))[0]
    return (U * singular_values) @ V.T


def random_start(d_in: int, h: int, d_out: int, scale: float,
                 start: Literal["balanced", "independent"] = "balanced",
                 seed: Seed = None) -> tuple[np.ndarray, np.ndarray]:
    """Full-rank random start of one of :data:`RANK_STARTS` (module docstring).

    Returns
    -------
    W1 : ndarray, shape (h, d_in); W2 : ndarray, shape (d_out, h)

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range (``h`` > ``d_out`` for a
        balanced start, as :func:`~odesolve.linear.balanced_weights`).
    """
    start = check_choice("start", start, RANK_STARTS)
    if start == "balanced":
        return balanced_weights(d_in, h, d_out, 0.0, scale=scale, seed=seed)
    d_in, h, d_out = (check_int(n, v, minimum=1) for n, v in (("d_in", d_in), ("h", h),
                                                               ("d_out", d_out)))
    scale = check_real("scale", scale, positive=True)
    rng = np.random.default_rng(check_seed("seed", seed))
    return (rng.standard_normal((h, d_in)) * scale / np.sqrt(d_in),
            rng.standard_normal((d_out, h)) * scale / np.sqrt(h))


def rank_study(task: ArrayLike | Callable[[int], ArrayLike], h: int, ranks: Sequence[int],
               scale: float = 0.3, seeds: Iterable[int] = range(20), t_final: float = 1000.0,
               start: Literal["balanced", "independent"] = "balanced") -> dict[str, Any]:
    """Weight change and kernel distance at ``t_final`` against the initial rank.

    Parameters
    ----------
    task : ndarray (d_out, d_in) or callable ``seed -> ndarray``
        A fixed task, or one task per seed (finite matrices).
    h : int
        Hidden width; every entry of ``ranks`` must lie in 1 .. h (and be at most
        min(d_in, d_out) of the task).
    ranks : sequence of int
    scale : float
        Initial weight scale (> 0) of the full-rank start.
    seeds : iterable of int
        Non-negative, at least one.
    t_final : float
        Training time, positive.
    start : {"balanced", "independent"}

    Returns
    -------
    dict with ``ranks``; ``weight_change`` and ``kernel_distance``, each a dict with keys
    ``"full"`` (n_seeds,), ``"random"`` and ``"aligned"`` (n_seeds, n_ranks), NaN where
    inadmissible; and ``max_relative_loss`` over the admissible runs (convergence check).

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range, before any training (a
        callable ``task`` is checked on the first seed's task).
    """
    start = check_choice("start", start, RANK_STARTS)
    scale = check_real("scale", scale, positive=True)
    h = check_int("h", h, minimum=1)
    ranks = check_counts("ranks", ranks, minimum=1, maximum=h)
    seeds = check_seeds("seeds", seeds)
    t_final = check_real("t_final", t_final, positive=True)
    if callable(task):
        def task_of(seed):
            return _rank_task_matrix(task(seed), ranks)
    else:
        fixed = _rank_task_matrix(task, ranks)

        def task_of(seed):
            return fixed
    t = np.array([0.0, t_final])
    wc = {"full": np.empty(len(seeds)), "random": np.full((len(seeds), len(ranks)), np.nan),
          "aligned": np.full((len(seeds), len(ranks)), np.nan)}
    kd = {key: val.copy() for key, val in wc.items()}
    worst, task_rank = 0.0, None

    def score(Sigma, W1, W2):
        A, B = gradient_flow(Sigma, W1, W2, t)
        loss = np.sum((Sigma - B[-1] @ A[-1]) ** 2) / np.sum(Sigma ** 2)
        return (weight_change(A[-1], B[-1], W1, W2), kernel_distance(A[-1], B[-1], W1, W2),
                loss)

    random_width = 1 if start == "balanced" else 2     # hidden directions per unit of rank
    for s, seed in enumerate(seeds):
        Sigma = task_of(seed)
        d_out, d_in = Sigma.shape
        k = np.linalg.matrix_rank(Sigma)
        task_rank = k if task_rank is None else task_rank
        W1, W2 = random_start(d_in, h, d_out, scale, start, [seed, 1])
        wc["full"][s], kd["full"][s], loss = score(Sigma, W1, W2)
        worst = max(worst, loss)
        for j, r in enumerate(ranks):
            starts = {"random": ((low_rank_weights(W1, r), low_rank_weights(W2, r)),
                                 random_width * r),
                      "aligned": (task_aligned_low_rank(W1, W2, Sigma, r), r)}
            for name, ((A1, A2), hidden_dim) in starts.items():
                if min(hidden_dim, h) < k:
                    continue
                wc[name][s, j], kd[name][s, j], loss = score(Sigma, A1, A2)
                worst = max(worst, loss)
    return {"ranks": ranks, "h": h, "scale": scale, "t_final": t_final, "start": start,
            "task_rank": int(task_rank),
            "weight_change": {key: val.tolist() for key, val in wc.items()},
            "kernel_distance": {key: val.tolist() for key, val in kd.items()},
            "max_relative_loss": worst}


def _rank_task_matrix(Sigma, ranks):
    """A task of :func:`rank_study`: a finite matrix with min(d_out, d_in) >= every rank."""
    Sigma = real_matrix("task", Sigma)
    if max(ranks) > min(Sigma.shape):
        raise ValueError(f"`ranks` must not exceed min(d_out, d_in) = {min(Sigma.shape)} of "
                         f"the task (shape {Sigma.shape}), got {max(ranks)}.")
    return Sigma
