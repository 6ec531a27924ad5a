"""Critical periods in deep linear networks (Kleinman, Achille & Soatto, ICLR 2024).

Two pathways a and b of depth D learn the same mode of strength S; with balanced layers each
pathway is one scalar p (the per-layer mode strength) whose end-to-end strength is K = p^D, and
gradient flow on 1/2 (S - K_a - K_b)^2 gives (docs/theory/linear.md#theory-linear-critical)

    dp_i/dt = D/D * ``|p_i|^(D-1)`` (S - K_a - K_b)   (the factor D of the chain rule absorbed into t).

A *deficit* freezes pathway b (dp_b/dt = 0) during [onset, onset + length]. Pathway a then
learns the task alone; when the window closes the error is small, so b never catches up: an
early deficit leaves a lasting deficit, a late one (after both pathways learned) does not.
Also the depth-D single-chain mode dynamics du/dt = D u^(2 - 2/D) (s - u) (Saxe et al. 2014;
D = 2 is :func:`odesolve.linear.saxe_mode`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_int, check_real, describe
from .._typing import Seed
from ..model import check_seed
from ..solvers import Problem, solve
from ._args import (check_counts, check_mask, check_seeds, check_times, check_window,
                    nonnegative_values, real_matrix)

__all__ = ["pathway_deficit", "critical_period_curve", "deficit_length_curve", "depth_mode",
           "completion_task",
           "completion_deficit", "completion_deficit_curve"]


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


def depth_mode(t: ArrayLike, s: float, u0: float, D: int) -> np.ndarray:
    """End-to-end strength u(t) of one mode of a balanced depth-D linear chain, integrated
    with the compiled Dormand-Prince solver (tight tolerances); shape of ``t``.

    Parameters
    ----------
    t : array_like, shape (n,)
        Output times: finite, strictly increasing, starting at 0.
    s : float
        Singular value of the task, >= 0.
    u0 : float
        Initial strength u(0), >= 0.
    D : int
        Depth, >= 1.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    t = check_times("t", t)
    s = check_real("s", s, minimum=0.0)
    u0 = check_real("u0", u0, minimum=0.0)
    D = check_int("D", D, minimum=1)
    res = solve(DEPTH_MODE, np.array([u0]), np.array([float(D), s]), t, method="dopri5",
                rtol=1e-11, atol=1e-14)
    res.raise_on_failure()
    return res.y[:, 0]


def pathway_deficit(D: int, S: float = 1.0, p0: float = 0.05, onset: float = 0.0,
                    length: float = 0.0, t_total: float = 200.0,
                    n_out: int = 201) -> tuple[np.ndarray, np.ndarray]:
    """Two pathways through a deficit window on pathway b.

    Parameters
    ----------
    D : int
        Depth of each pathway, >= 1.
    S : float
        Strength of the task's mode, positive.
    p0 : float
        Initial per-layer strength of both pathways, >= 0.
    onset, length : float
        Deficit window [onset, onset + length], inside [0, t_total].
    t_total : float
        Training time, positive.
    n_out : int
        Number of equally spaced output times, >= 2 (the window ends are added).

    Returns
    -------
    t : ndarray, shape (n,)
    K : ndarray, shape (n, 2)
        End-to-end strengths K_a = p_a^D and K_b = p_b^D.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    D = check_int("D", D, minimum=1)
    S, p0 = _mode_strengths(S, p0)
    onset, length, t_total = check_window(onset, length, t_total)
    n_out = check_int("n_out", n_out, minimum=2)
    return _pathways(D, S, p0, onset, length, t_total, n_out)


def _mode_strengths(S, p0):
    """The task's mode strength S > 0 and the initial per-layer strength p0 >= 0."""
    return check_real("S", S, positive=True), check_real("p0", p0, minimum=0.0)


def _pathways(D, S, p0, onset, length, t_total, n_out):
    """:func:`pathway_deficit` on checked arguments."""
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


def _final_share(depths: Sequence[int], windows: Sequence[tuple[float, float]], S: float,
                 p0: float, t_total: float) -> np.ndarray:
    """K_b / S at t_total for each depth and deficit window (onset, length); checked
    arguments."""
    share = np.empty((len(depths), len(windows)))
    for i, D in enumerate(depths):
        for j, (onset, length) in enumerate(windows):
            _, K = _pathways(D, S, p0, float(onset), float(length), t_total, n_out=11)
            share[i, j] = K[-1, 1] / S
    return share


def critical_period_curve(depths: Sequence[int] = (2, 3, 4), onsets: ArrayLike | None = None,
                          length: float = 20.0, t_total: float = 400.0, S: float = 1.0,
                          p0: float = 0.05) -> dict[str, Any]:
    """Final share K_b / S of the deprived pathway against the deficit onset, per depth
    (0.5 without a deficit, by symmetry).

    Parameters
    ----------
    depths : sequence of int
        Depths, each >= 1.
    onsets : array_like, shape (n,), optional
        Deficit onsets, >= 0 (default 0, 5, ..., 100); every window must end by ``t_total``.
    length : float
        Deficit length, >= 0.
    t_total : float
        Training time, positive.
    S, p0 : float
        As :func:`pathway_deficit`.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range, before any run.
    """
    depths = check_counts("depths", depths, minimum=1)
    onsets = np.linspace(0, 100, 21) if onsets is None else nonnegative_values("onsets",
                                                                               onsets)
    S, p0 = _mode_strengths(S, p0)
    onsets, length, t_total = check_window(onsets, length, t_total, onset_name="onsets")
    share = _final_share(depths, [(on, length) for on in onsets], S, p0, t_total)
    return {"depths": list(depths), "onsets": onsets.tolist(), "length": length,
            "t_total": t_total, "S": S, "p0": p0, "final_share_b": share.tolist()}


def deficit_length_curve(depths: Sequence[int] = (2, 3, 4), lengths: ArrayLike | None = None,
                         onset: float = 0.0, t_total: float = 1500.0, S: float = 1.0,
                         p0: float = 0.05) -> dict[str, Any]:
    """Final share K_b / S of the deprived pathway against the length of a deficit that
    starts at ``onset``, per depth: how long a window must be to leave a lasting deficit.

    Parameters as :func:`critical_period_curve`, with ``lengths`` (default 0, 10, ..., 200)
    and one ``onset``.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range, before any run.
    """
    depths = check_counts("depths", depths, minimum=1)
    lengths = np.linspace(0, 200, 21) if lengths is None else nonnegative_values("lengths",
                                                                                 lengths)
    S, p0 = _mode_strengths(S, p0)
    onset, lengths, t_total = check_window(onset, lengths, t_total, length_name="lengths")
    share = _final_share(depths, [(onset, ln) for ln in lengths], S, p0, t_total)
    return {"depths": list(depths), "lengths": lengths.tolist(), "onset": onset,
            "t_total": t_total, "final_share_b": share.tolist()}


def completion_task(n: int = 20, rank: int = 2, observed: float = 0.5, keep: float = 0.2,
                    seed: Seed = 0) -> dict[str, np.ndarray]:
    """A low-rank matrix-completion task (Arora et al. 2019) with its deficit.

    Returns
    -------
    dict with ``target`` (n, n) of the given rank with singular values
    ``sqrt(n) * linspace(2, 1, rank)``, ``mask`` (n, n) 0/1 with a fraction ``observed`` of
    the entries seen, and ``deprived`` (n, n): the deficit sees only a random fraction
    ``keep`` of the observed entries.

    Raises
    ------
    TypeError, ValueError
        ``n`` not a positive integer, ``rank`` not in [1, n], ``observed`` or ``keep`` not in
        [0, 1], a bad ``seed``.
    """
    n = check_int("n", n, minimum=1)
    rank = check_int("rank", rank, minimum=1, maximum=n)
    observed = check_real("observed", observed, minimum=0.0, maximum=1.0)
    keep = check_real("keep", keep, minimum=0.0, maximum=1.0)
    rng = np.random.default_rng(check_seed("seed", seed))
    U = np.linalg.qr(rng.standard_normal((n, rank)))[0]
    V = np.linalg.qr(rng.standard_normal((n, rank)))[0]
    target = U @ np.diag(np.linspace(2.0, 1.0, rank)) @ V.T * np.sqrt(n)
    mask = (rng.random((n, n)) < observed).astype(float)
    deprived = mask * (rng.random((n, n)) < keep)
    return {"target": target, "mask": mask, "deprived": deprived}


def completion_deficit(D: int, task: Mapping[str, np.ndarray], onset: float = 0.0,
                       length: float = 0.0, t_total: float = 400.0, init: float = 1e-4,
                       seed: Seed = 0) -> float:
    """Matrix completion through a deprivation window (Kleinman, Achille & Soatto 2024).

    A depth-D chain (width n, layers i.i.d. at per-layer scale ``init^(1/D)``, so the
    end-to-end map starts near size ``init``) is trained by gradient flow on the observed
    entries, except during [onset, onset + length], when it sees only ``task["deprived"]``.

    Parameters
    ----------
    D : int
        Depth, >= 1.
    task : mapping
        ``target`` (n, n) finite, ``mask`` and ``deprived`` (n, n) of 0/1, as
        :func:`completion_task` returns; some unobserved entry of ``target`` is non-zero.
    onset, length : float
        Deprivation window, inside [0, t_total].
    t_total : float
        Training time, positive.
    init : float
        End-to-end scale of the start, positive.
    seed : int, sequence of int, Generator or None

    Returns
    -------
    float
        Relative error on the unobserved entries at ``t_total``:
        ``||(1 - mask) o (P - target)|| / ||(1 - mask) o target||``.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range, before any training.
    """
    from .deep import chain_gradient_flow, end_to_end, random_chain

    D = check_int("D", D, minimum=1)
    target, mask, deprived = _completion_task(task)
    onset, length, t_total = check_window(onset, length, t_total)
    init = check_real("init", init, positive=True)
    n = target.shape[0]
    W = random_chain(n, n, n, D, init ** (1.0 / D), seed=check_seed("seed", seed))
    for dur, seen in ((onset, mask), (length, deprived),
                      (t_total - onset - length, mask)):
        if dur > 0:
            W = [w[-1] for w in chain_gradient_flow(target, W, [0.0, dur], mask=seen,
                                                    rtol=1e-8, atol=1e-12)]
    hidden = 1.0 - mask
    return float(np.linalg.norm(hidden * (end_to_end(W) - target))
                 / np.linalg.norm(hidden * target))


def _completion_task(task):
    """(target, mask, deprived) of a matrix-completion task, checked."""
    if not isinstance(task, Mapping):
        raise TypeError(f"`task` must be a dict with 'target', 'mask' and 'deprived' (see "
                        f"completion_task), got {describe(task)}.")
    missing = [k for k in ("target", "mask", "deprived") if k not in task]
    if missing:
        raise ValueError(f"`task` lacks {', '.join(map(repr, missing))} (see completion_task).")
    target = real_matrix("task['target']", task["target"])
    if target.shape[0] != target.shape[1]:
        raise ValueError(f"`task['target']` must be square (n, n), got {target.shape}.")
    mask = check_mask("task['mask']", task["mask"], target.shape)
    deprived = check_mask("task['deprived']", task["deprived"], target.shape)
    if not np.any((1.0 - mask) * target):
        raise ValueError("`task` has no unobserved entry with a non-zero target: the error "
                         "on the unobserved entries is 0 / 0.")
    return target, mask, deprived


def completion_deficit_curve(depths: Sequence[int] = (2, 3, 4),
                             onsets: Sequence[float] = (0, 1, 2, 4, 8, 16, 32, 64),
                             length: float = 40.0, t_total: float = 400.0,
                             seeds: Sequence[int] = (0, 1),
                             **task_kw: Any) -> dict[str, Any]:
    """Final error on the unobserved entries against deprivation onset, per depth and seed,
    with the undeprived control (``control``, shape (depths, seeds)).

    Parameters
    ----------
    depths : sequence of int
        Depths, each >= 1.
    onsets : sequence of float
        Deprivation onsets, >= 0; every window must end by ``t_total``.
    length : float
        Deprivation length, >= 0.
    t_total : float
        Training time, positive.
    seeds : sequence of int
        Non-negative; seed s draws the task with ``seed=s`` and the start with ``s + 100``.
    **task_kw
        ``n``, ``rank``, ``observed``, ``keep`` of :func:`completion_task`.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range, before any training.
    """
    depths = check_counts("depths", depths, minimum=1)
    onsets, length, t_total = check_window(nonnegative_values("onsets", onsets), length,
                                           t_total, onset_name="onsets")
    seeds = check_seeds("seeds", seeds)
    unknown = sorted(set(task_kw) - {"n", "rank", "observed", "keep"})
    if unknown:
        raise TypeError(f"`{unknown[0]}` is not a task option of completion_deficit_curve "
                        f"(options: `n`, `rank`, `observed`, `keep`; each task's seed comes "
                        f"from `seeds`).")
    completion_task(**task_kw)                    # checks the options before any training
    err = np.empty((len(depths), len(seeds), len(onsets)))
    ctrl = np.empty((len(depths), len(seeds)))
    for s, seed in enumerate(seeds):
        task = completion_task(seed=seed, **task_kw)
        for i, D in enumerate(depths):
            ctrl[i, s] = completion_deficit(D, task, t_total=t_total, seed=seed + 100)
            for j, on in enumerate(onsets):
                err[i, s, j] = completion_deficit(D, task, on, length, t_total, seed=seed + 100)
    return {"depths": list(depths), "onsets": list(map(float, onsets)), "length": length,
            "t_total": t_total, "seeds": list(seeds), "test_error": err.tolist(),
            "control": ctrl.tolist()}
