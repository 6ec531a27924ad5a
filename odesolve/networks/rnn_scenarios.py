"""Recurrent-network scenario (issue 15): ``rnn_rank``, laziness against initial rank in rate
RNNs (Liu et al., ICLR 2024), registered by the lead in :data:`odesolve.scenarios.SCENARIOS`.

For each task of :data:`~odesolve.networks.rnn_tasks.RNN_TASKS` and each seed, a rate RNN
(:mod:`odesolve.networks.rnn`, N = 64 units, alpha = 0.2, 40 steps) is trained on its recurrent
matrix W only (input and readout fixed) by plain gradient descent (learning rate 0.1,
gradient norm clipped at :data:`MAX_GRAD_NORM`, updates of 32 fresh trials; Adam on request,
see :func:`rnn_rank_study`) *to a criterion*: until its accuracy on a fixed probe batch
reaches :data:`ACCURACY_THRESHOLD` (checked every 10 updates), with a budget of at most
6000 updates. Every measure is taken at the point the criterion is reached, so the
networks are compared at equal performance. The initial matrices have the same Frobenius norm
``0.9 sqrt(N)``:

- ``full``: Gaussian, full rank;
- ``random``: the truncated SVD of that Gaussian matrix at rank r, rescaled;
- ``aligned``: the truncated SVD at rank r of the weight change ``W_trained - W_0`` of the
  full-rank network of the same seed and task (trained to the criterion), rescaled
  (task-aligned low rank: the directions training used);
- ``aligned_trained``: the truncated SVD at rank r of that trained matrix ``W_trained`` itself,
  rescaled (task-aligned low rank that already carries much of the solution: its initial
  accuracy is reported);
- ``dale``: synthetic cell-type block connectivity with Dale's law
  (:func:`~odesolve.networks.rnn.dale_connectivity`), not measured data.

Measured per network: effective rank of W0 (entropy of the normalised singular values), relative
weight change, kernel distance (1 - alignment of the decision readout's tangent kernel w.r.t. W
on a fixed probe batch of 64 trials), representation change (1 - linear CKA of the rates),
probe accuracy (before and after training) and the number of updates used. A start that is
already at the criterion is not trained (0 updates, zero change). A network that does not reach
:data:`ACCURACY_THRESHOLD` within the budget is flagged (``learned`` false) and left out of the
means and spreads.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from .._checks import check_bool, check_choice, check_int, check_real
from ..linear._args import check_counts, check_seeds
from .rnn_tasks import RNN_TASKS

__all__ = ["rnn_rank", "rnn_rank_study", "RNN_SCENARIOS", "ACCURACY_THRESHOLD",
           "MAX_GRAD_NORM"]

#: probe accuracy a network must reach to enter the comparison
ACCURACY_THRESHOLD = 0.85
#: default gradient-norm clipping. Without it, 5 of the 104 match-task networks (rank-1 and
#: rank-4 change-aligned starts) stay at chance after 3000 updates and one still does after
#: 12000; a larger learning rate (0.2) instead makes 7 fail, one of them by blowing up.
MAX_GRAD_NORM = 2.0
_MEASURES = ("effective_rank", "weight_change", "kernel_distance", "representation_change",
             "accuracy", "accuracy_initial", "n_updates")


def _one_seed(task, seed, cfg):
    """All initial conditions of one task and seed: list of (kind, rank, measures)."""
    from .rnn import initial_connectivity, rnn_readin_readout, train_and_measure
    from .rnn_tasks import task_batch

    n, norm = cfg["n"], cfg["gain"] * np.sqrt(cfg["n"])
    probe = task_batch(task, 64, [10 ** 6, seed])
    U, V = rnn_readin_readout(n, probe.x.shape[2], probe.z.shape[2], [seed, 2])
    kw = dict(n_iter=cfg["n_iter"], lr=cfg["lr"][task], optimizer=cfg["optimizer"],
              batch_size=32, seed=[seed, 3], target_accuracy=ACCURACY_THRESHOLD,
              check_every=cfg["check_every"], max_grad_norm=cfg["max_grad_norm"])

    def run(W0):
        m = train_and_measure(W0, U, V, task, probe, **kw)
        return m.pop("W"), {k: m[k] for k in _MEASURES + ("reached",)}

    W_full = initial_connectivity("full", n, norm, seed=[seed, 1])
    W_trained, full = run(W_full)
    rows = [("full", n, full), ("dale", n, run(initial_connectivity("dale", n, norm,
                                                                   seed=[seed, 4]))[1])]
    rows += [("random", r, run(initial_connectivity("random_low_rank", n, norm, r,
                                                    seed=[seed, 1]))[1])
             for r in cfg["ranks"]]
    for kind, structure in (("aligned", W_trained - W_full), ("aligned_trained", W_trained)):
        rows += [(kind, r, run(initial_connectivity("aligned", n, norm, r,
                                                    structure=structure))[1])
                 for r in cfg["aligned_ranks"]]
    return rows


def _summary(values, learned):
    v = np.asarray(values, dtype=float)[np.asarray(learned, dtype=bool)]
    if v.size == 0:
        return {"mean": None, "sd": None, "n": 0}
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "n": int(v.size)}


def _rank_correlation(conds):
    """Spearman correlation (and p-value) of each change measure with the effective rank over
    the random low-rank and full-rank networks that learned."""
    from scipy.stats import spearmanr

    pick = [c for c in conds.values() if c["kind"] in ("random", "full")]
    learned = np.concatenate([c["learned"] for c in pick]).astype(bool)
    rank = np.concatenate([c["runs"]["effective_rank"] for c in pick])[learned]
    out = {}
    for key in ("weight_change", "kernel_distance", "representation_change"):
        vals = np.concatenate([c["runs"][key] for c in pick])[learned]
        if vals.size < 3:
            out[key] = {"rho": None, "p": None, "n": int(vals.size)}
            continue
        res = spearmanr(rank, vals)
        out[key] = {"rho": float(res[0]), "p": float(res[1]), "n": int(vals.size)}
    return out


def _task_rates(lr, tasks):
    """Learning rate per task from one number or a mapping naming every task."""
    if isinstance(lr, Mapping):
        missing = [t for t in tasks if t not in lr]
        if missing:
            raise ValueError(f"`lr` must give a learning rate for every task; missing "
                             f"{missing}.")
        return {t: check_real(f"lr[{t!r}]", lr[t], positive=True) for t in tasks}
    lr = check_real("lr", lr, positive=True)
    return {t: lr for t in tasks}


def rnn_rank_study(tasks: Sequence[str] = tuple(RNN_TASKS), seeds: Iterable[int] = range(8),
                   n: int = 64, ranks: Sequence[int] = (1, 2, 4, 8, 16),
                   aligned_ranks: Sequence[int] = (1, 4, 16), n_iter: int = 6000,
                   lr: float | Mapping[str, float] = 0.1,
                   optimizer: Literal["adam", "sgd"] = "sgd", gain: float = 0.9,
                   check_every: int = 10, max_grad_norm: float | None = MAX_GRAD_NORM
                   ) -> dict[str, Any]:
    """Train every initial condition (module docstring) for every task and seed and measure it.

    Parameters
    ----------
    tasks : sequence of str
        Names in :data:`~odesolve.networks.rnn_tasks.RNN_TASKS`.
    seeds : iterable of int
        Non-negative, at least one.
    n : int
        Number of units, at least 4.
    ranks, aligned_ranks : sequence of int
        Ranks of the random and of the two task-aligned low-rank starts, in 1 .. n.
    n_iter : int
        Maximum number of updates per network (the budget), positive. Each network trains
        until its probe accuracy reaches :data:`ACCURACY_THRESHOLD` (checked every
        ``check_every`` updates) and is measured there.
    lr : float or mapping of task name to float
        Learning rate, positive: one for all tasks, or one per task (every task named).
    optimizer : {"adam", "sgd"}
    gain : float
        Frobenius norm of every initial W is ``gain sqrt(n)``; positive.
    check_every : int
        Updates between two checks of the probe accuracy, positive.
    max_grad_norm : float, optional
        Gradient-norm clipping of :func:`~odesolve.networks.rnn.train_rnn` (default
        :data:`MAX_GRAD_NORM`); None: none.

    Returns
    -------
    dict
        The settings, ``n_not_learned`` and ``tasks``: task -> condition -> ``{"kind",
        "rank", "runs": {measure: [per seed]}, "learned": [per seed], "summary": {measure:
        {"mean", "sd", "n"}}}``, conditions ``full``, ``dale``, ``random_r<r>``,
        ``aligned_r<r>``, ``aligned_trained_r<r>``; means and spreads over the networks that
        learned only. Each task also has ``rank_correlation``: measure -> ``{"rho", "p",
        "n"}``, the Spearman correlation of the measure with the effective rank over the
        random low-rank and full-rank networks that learned.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range, before any training.
    """
    if isinstance(tasks, str):
        tasks = [tasks]
    tasks = [check_choice("tasks", t, RNN_TASKS) for t in tasks]
    if not tasks:
        raise ValueError("`tasks` must name at least one task.")
    seeds = check_seeds("seeds", seeds)
    n = check_int("n", n, minimum=4)
    ranks = check_counts("ranks", ranks, minimum=1, maximum=n)
    aligned_ranks = check_counts("aligned_ranks", aligned_ranks, minimum=1, maximum=n)
    cfg = dict(n=n, ranks=ranks, aligned_ranks=aligned_ranks,
               n_iter=check_int("n_iter", n_iter, minimum=1), lr=_task_rates(lr, tasks),
               optimizer=check_choice("optimizer", optimizer, ("adam", "sgd")),
               gain=check_real("gain", gain, positive=True),
               check_every=check_int("check_every", check_every, minimum=1),
               max_grad_norm=None if max_grad_norm is None else check_real(
                   "max_grad_norm", max_grad_norm, positive=True))
    out: dict[str, Any] = {}
    n_failed = 0
    for task in tasks:
        conds: dict[str, Any] = {}
        for seed in seeds:
            for kind, rank, m in _one_seed(task, seed, cfg):
                key = kind if kind in ("full", "dale") else f"{kind}_r{rank}"
                c = conds.setdefault(key, {"kind": kind, "rank": rank, "learned": [],
                                           "runs": {k: [] for k in _MEASURES}})
                for k in _MEASURES:
                    c["runs"][k].append(m[k])
                c["learned"].append(bool(m["reached"]))
                n_failed += not c["learned"][-1]
        for c in conds.values():
            c["summary"] = {k: _summary(c["runs"][k], c["learned"]) for k in _MEASURES}
        conds["rank_correlation"] = _rank_correlation(conds)
        out[task] = conds
    return {"n_units": n, "norm": f"{cfg['gain']:g} sqrt({n})", "alpha": 0.2, "n_steps": 40,
            "optimizer": cfg["optimizer"], "lr": cfg["lr"], "max_updates": cfg["n_iter"],
            "max_grad_norm": cfg["max_grad_norm"],
            "check_every": cfg["check_every"], "batch_size": 32, "trained": ["W"], "seeds": seeds,
            "accuracy_threshold": ACCURACY_THRESHOLD, "n_not_learned": int(n_failed),
            "tasks": out}


def rnn_rank(quick: bool = False) -> dict[str, Any]:
    """:func:`rnn_rank_study` with its defaults (8 seeds, SGD at lr 0.1 with the
    gradient norm clipped at :data:`MAX_GRAD_NORM`, at most 6000 updates);
    ``quick``: N = 32, one seed, rank 2 only, at most 300 updates.

    Returns
    -------
    dict
        ``{"scenario": "rnn_rank", **rnn_rank_study(...)}``.

    Raises
    ------
    TypeError
        ``quick`` not a boolean.
    """
    quick = check_bool("quick", quick)
    if quick:
        return {"scenario": "rnn_rank", **rnn_rank_study(seeds=[0], n=32, ranks=[2],
                                                         aligned_ranks=[2], n_iter=300)}
    return {"scenario": "rnn_rank", **rnn_rank_study()}


def _plot_rnn_rank(d, axes):
    rows = (("weight_change", "||W - W0|| / ||W0||"), ("kernel_distance", "kernel distance"),
            ("representation_change", "1 - CKA(rates)"))
    styles = {"random": ("C0", "o-", "random low rank"),
              "aligned": ("C3", "s-", "aligned: SVD of W_trained - W0"),
              "aligned_trained": ("C1", "v-", "aligned: SVD of W_trained"),
              "full": ("k", "D", "full rank"), "dale": ("C2", "^", "Dale blocks (synthetic)")}
    names = list(d["tasks"])
    for i, (key, label) in enumerate(rows):
        for j, task in enumerate(names):
            ax = axes[i * len(names) + j]
            conds = {k: c for k, c in d["tasks"][task].items() if k != "rank_correlation"}
            if not any(c["summary"][key]["n"] > 0 for c in conds.values()):
                ax.text(0.5, 0.5, f"no network reached accuracy {d['accuracy_threshold']:g}",
                        transform=ax.transAxes, ha="center", va="center", fontsize=9)
            for kind, (color, fmt, name) in styles.items():
                pts = [c for c in conds.values() if c["kind"] == kind
                       and c["summary"][key]["n"] > 0]
                pts.sort(key=lambda c: c["summary"]["effective_rank"]["mean"])
                if not pts:
                    continue
                x = [c["summary"]["effective_rank"]["mean"] for c in pts]
                y = [c["summary"][key]["mean"] for c in pts]
                e = [c["summary"][key]["sd"] for c in pts]
                ax.errorbar(x, y, yerr=e, fmt=fmt, color=color, label=name, capsize=2, ms=4)
            ax.set_xscale("log")
            ax.set(xlabel="effective rank of W0" if i == len(rows) - 1 else "",
                   ylabel=label if j == 0 else "", title=task if i == 0 else "")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
            break


RNN_SCENARIOS = {
    "rnn_rank": (rnn_rank, _plot_rnn_rank, (3, 3),
                 "rate RNN: weight, kernel and representation change against initial rank"),
}
