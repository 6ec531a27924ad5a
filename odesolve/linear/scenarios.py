"""Deep linear network scenarios (issue 6): ``odesolve scenario lazy_rich|low_rank|
critical_periods`` (registered in :data:`odesolve.scenarios.SCENARIOS`).

- ``lazy_rich``: two-layer 6-6-6 network, lambda-balanced start at scale 0.1; loss curves and
  the kernel distance at t = 20 against lambda (exact solution, :func:`exact_QQT`).
- ``low_rank``: weight change and kernel distance after training against the initial rank,
  random low rank versus task-aligned low rank (:func:`odesolve.linear.rank.rank_study`), for
  zero-balanced starts (the claim) and for independently drawn layers (the contrast).
- ``critical_periods``: (left) two pathways of depth D, pathway b frozen for 20 time units:
  final share of the deprived pathway against the onset of the deficit, per depth
  (:func:`critical_period_curve`); (middle) the same against the length of a deficit from
  t = 0 (:func:`deficit_length_curve`); (right) matrix completion with a deprivation window (only
  a fifth of the observed entries seen for 40 time units): final error on the unobserved
  entries against the onset, per depth (:func:`completion_deficit_curve`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_bool

__all__ = ["lazy_rich", "low_rank", "critical_periods", "LINEAR_SCENARIOS"]


def _linear_task(d=6, seed=0):
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((d, d)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return U @ np.diag(np.linspace(3.0, 0.2, d)) @ V.T


def lazy_rich(quick: bool = False) -> dict[str, Any]:
    """Two-layer linear network 6-6-6, lambda-balanced start at scale 0.1: loss curves and the
    kernel distance at t = 20 against lambda (exact solution); ``quick``: fewer lambdas."""
    quick = check_bool("quick", quick)
    from .exact import exact_QQT
    from .measures import ntk_inner
    from .network import balanced_weights

    Sigma = _linear_task()
    lams = [0.0, 0.3, 1.0, 2.0, 5.0] if quick else [-5.0, -2.0, -1.0, -0.3, 0.0, 0.3, 1.0,
                                                    2.0, 5.0, 10.0]
    t = np.linspace(0, 20, 81)
    loss, dist = [], []
    for lam in lams:
        W1, W2 = balanced_weights(6, 6, 6, lam, scale=0.1, seed=2)
        X = exact_QQT(Sigma, W1, W2, t)
        loss.append((0.5 * ((Sigma - X[:, 6:, :6]) ** 2).sum(axis=(1, 2))).tolist())
        A1, A2 = X[-1, :6, :6], X[-1, 6:, 6:]
        C, D = W2 @ W2.T, W1.T @ W1
        dist.append(float(1 - ntk_inner(A2, A1, C, D)
                          / np.sqrt(ntk_inner(A2, A1, A2, A1) * ntk_inner(C, D, C, D))))
    return {"scenario": "lazy_rich", "lambda": lams, "t": t.tolist(), "loss": loss,
            "kernel_distance_t20": dist, "dims": [6, 6, 6], "scale": 0.1}


def _plot_lazy_rich(d, axes):
    import matplotlib

    cmap = matplotlib.colormaps["coolwarm"]
    lams = np.array(d["lambda"])
    for lam, curve in zip(lams, d["loss"]):
        c = cmap(0.5 + 0.5 * np.sign(lam) * min(abs(lam) / max(abs(lams)), 1.0))
        axes[0].plot(d["t"], np.maximum(curve, 1e-16), color=c, label=f"lambda = {lam:g}")
    axes[0].set(yscale="log", xlabel="t / tau", ylabel="loss", title="rich (lambda ~ 0) to lazy")
    axes[0].legend(fontsize=7, ncol=2)
    axes[1].plot(lams, d["kernel_distance_t20"], "o-")
    axes[1].set(xlabel="lambda", ylabel="kernel distance 1 - <K0, Kt>/(|K0||Kt|) at t = 20",
                title="exact lambda-balanced solution, 6-6-6")


def low_rank(quick: bool = False) -> dict[str, Any]:
    """Laziness against initial rank: d = h = 20, a random rank-3 task (3, 2, 1) per seed,
    scale 0.3; zero-balanced starts (the claim) and independent layers (the contrast);
    ``quick``: fewer ranks and seeds."""
    quick = check_bool("quick", quick)
    from .rank import rank_study, rank_task

    ranks = [2, 3, 6, 10] if quick else [2, 3, 4, 6, 8, 10, 12, 15]
    seeds = range(4 if quick else 20)
    sv = (3.0, 2.0, 1.0)

    def task(seed):
        return rank_task(20, sv, seed=seed)

    return {"scenario": "low_rank", "d": 20, "task_singular_values": list(sv),
            **{start: rank_study(task, 20, ranks, scale=0.3, seeds=seeds, start=start)
               for start in ("balanced", "independent")}}


def _plot_low_rank(d, axes):
    measures = (("weight_change", "weight change ||W(t) - W(0)||"),
                ("kernel_distance", "kernel distance"))
    for row, start in enumerate(("balanced", "independent")):
        r = d[start]
        for ax, (key, label) in zip(axes[2 * row:2 * row + 2], measures):
            full = np.asarray(r[key]["full"])
            ax.axhline(full.mean(), color="0.4", ls="--", lw=1, label=f"full rank ({r['h']})")
            for name, marker in (("random", "o-"), ("aligned", "s-")):
                vals = np.asarray(r[key][name], dtype=float)
                ok = ~np.all(np.isnan(vals), axis=0)
                mean = np.nanmean(vals[:, ok], axis=0)
                sem = np.nanstd(vals[:, ok], axis=0, ddof=1) / np.sqrt(vals.shape[0])
                ax.errorbar(np.asarray(r["ranks"])[ok], mean, sem, fmt=marker, ms=4,
                            capsize=2, label=f"{name} low rank")
            ax.set(xlabel="initial rank (equal Frobenius norm)", ylabel=label,
                   title=f"{start} start, task rank {r['task_rank']}, scale {r['scale']:g}")
            ax.legend(fontsize=8)


def critical_periods(quick: bool = False) -> dict[str, Any]:
    """Two pathways: final share of the deprived pathway against deficit onset and length,
    per depth; matrix completion: final error against deprivation onset (module docstring);
    ``quick``: fewer onsets, lengths and seeds."""
    quick = check_bool("quick", quick)
    from .critical import completion_deficit_curve, critical_period_curve, deficit_length_curve

    onsets = np.linspace(0, 300, 7 if quick else 31)
    completion = completion_deficit_curve(
        depths=(2, 3, 4), onsets=(0, 2, 16, 64) if quick else (0, 1, 2, 4, 8, 16, 32, 64),
        seeds=(0,) if quick else (0, 1, 2))
    return {"scenario": "critical_periods",
            **critical_period_curve(depths=(2, 3, 4), onsets=onsets, length=20.0,
                                    t_total=1500.0),
            "completion": completion,
            "length_scan": deficit_length_curve(
                depths=(2, 3, 4), lengths=np.geomspace(0.25, 100, 5 if quick else 25))}


def _plot_critical_periods(d, axes):
    ax = axes[0]
    for D, row in zip(d["depths"], d["final_share_b"]):
        ax.plot(d["onsets"], row, "o-", ms=3, label=f"depth {D}")
    ax.axhline(0.5, color="0.6", lw=0.8, ls="--")
    ax.set(xlabel=f"deficit onset (pathway b frozen for {d['length']:g})",
           ylabel="final share K_b / S of the deprived pathway",
           title="two-pathway deep linear networks")
    ax.legend(fontsize=8)
    ls, ax = d["length_scan"], axes[1]
    for D, row in zip(ls["depths"], ls["final_share_b"]):
        ax.plot(ls["lengths"], row, "o-", ms=3, label=f"depth {D}")
    ax.axhline(0.5, color="0.6", lw=0.8, ls="--")
    ax.set(xscale="log", xlabel=f"deficit length (onset {ls['onset']:g}; dashed: none)",
           ylabel="final share K_b / S of the deprived pathway",
           title="two pathways: how long a deficit must last")
    ax.legend(fontsize=8)
    c, ax = d["completion"], axes[2]
    err, ctrl = np.asarray(c["test_error"]), np.asarray(c["control"])
    x = np.asarray(c["onsets"]) + 0.5
    for i, D in enumerate(c["depths"]):
        line, = ax.plot(x, err[i].mean(axis=0), "o-", ms=3, label=f"depth {D}")
        ax.axhline(ctrl[i].mean(), color=line.get_color(), ls="--", lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="deprivation onset + 0.5",
           ylabel="final error on unobserved entries (dashed: no deficit)",
           title=f"matrix completion, deprived for {c['length']:g}")
    ax.legend(fontsize=8)


#: name -> (run, plot, number of axes or (rows, columns), title), merged into odesolve.scenarios.SCENARIOS
LINEAR_SCENARIOS = {
    "lazy_rich": (lazy_rich, _plot_lazy_rich, 2,
                  "deep linear: loss curves and kernel distance from rich to lazy (lambda)"),
    "low_rank": (low_rank, _plot_low_rank, (2, 2),
                 "deep linear: weight change and kernel distance against initial rank"),
    "critical_periods": (critical_periods, _plot_critical_periods, 3,
                         "deep linear: final deficit against deficit onset, per depth"),
}
