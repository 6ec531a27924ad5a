"""Task-sequence scenarios (issue 14): ``linear_continual``, ``reversal``, ``transfer``
(docs/theory/sequences.md), for :data:`odesolve.scenarios.SCENARIOS`.

- ``linear_continual``: forgetting of task A after training on B, B = A with its input (or
  output) singular vectors rotated by an angle, against lambda and the angle; whitened inputs
  (exact solution) and tasks that present only their own inputs (gradient flow).
- ``reversal``: time to learn B = -A (loss to 10 % of its value at the switch) against lambda,
  for one aligned mode and for random lambda-balanced starts; against the start scale for
  independent Gaussian layers (whose imbalance is of the size scale^2).
- ``transfer``: speed-up of learning B (rotated A) after pre-training on A over learning B
  from scratch, against the angle, per lambda, for input and output rotations.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_bool
from .sequence import continual_study, reversal_study, transfer_study

__all__ = ["linear_continual", "reversal", "transfer", "SEQUENCE_SCENARIOS"]


def linear_continual(quick: bool = False) -> dict[str, Any]:
    """Forgetting against lambda and the task relation (module docstring); ``quick``: fewer
    lambdas and angles, coarser output."""
    quick = check_bool("quick", quick)
    lams = (-2.0, 0.0, 0.5, 2.0) if quick else (-4.0, -2.0, -1.0, -0.5, -0.2, 0.0, 0.2, 0.5,
                                                1.0, 2.0, 4.0)
    angles = np.asarray((0.25, 0.5, 0.75, 0.9) if quick else np.arange(1, 12) / 12) * np.pi
    n_out = 401 if quick else 2001
    out: dict[str, Any] = {"scenario": "linear_continual"}
    for key, side, inputs in (("white_input", "input", "white"),
                              ("white_output", "output", "white"),
                              ("own_input", "input", "own"),
                              ("own_output", "output", "own")):
        out[key] = continual_study(lams, angles.tolist(), side=side, inputs=inputs,
                                   n_out=n_out)
    return out


def _plot_linear_continual(d, axes):
    for ax, key, title in ((axes[0], "white_input", "whitened inputs (exact)"),
                           (axes[1], "own_input", "each task its own inputs (gradient flow)"),
                           (axes[2], "own_output", "own inputs, output vectors rotated")):
        r = d[key]
        for c, lam, row in zip(_colours(len(r["lambda"])), r["lambda"],
                               r["forgetting_at_fraction"]):
            ax.plot(np.asarray(r["angle"]) / np.pi, _num(row), "o-", ms=3, color=c,
                    label=f"lambda = {lam:g}")
        if key == "white_input":
            ax.plot(np.asarray(r["angle"]) / np.pi, _num(r["forgetting"][0]), "k--", lw=1,
                    label="at the end of B (every lambda)")
        ax.set(yscale="log", xlabel="angle between A and B / pi",
               ylabel=f"forgetting of A when B's loss is at {r['fraction']:g} of its start",
               title=title)
        ax.legend(fontsize=6, ncol=2)
    r, ax = d["own_input"], axes[3]
    for c, angle, col in zip(_colours(len(r["angle"])), r["angle"],
                             np.asarray(_num2(r["forgetting"])).T):
        ax.plot(r["lambda"], col, "o-", ms=3, color=c, label=f"angle {angle / np.pi:.2f} pi")
    ax.set(yscale="log", xlabel="lambda", ylabel="forgetting of A at the end of B",
           title="own inputs, input vectors rotated: against lambda")
    ax.legend(fontsize=6)


def _colours(n):
    import matplotlib

    return matplotlib.colormaps["viridis"](np.linspace(0.0, 0.9, n))


def _num2(rows):
    return [_num(row) for row in rows]


def _num(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def reversal(quick: bool = False) -> dict[str, Any]:
    """Reversal time against lambda and start scale (module docstring); ``quick``: fewer
    lambdas and scales."""
    quick = check_bool("quick", quick)
    lams = ((-1.0, -0.1, 0.0, 0.1, 1.0) if quick else
            (-4.0, -2.0, -1.0, -0.3, -0.1, -0.03, -0.01, 0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 2.0,
             4.0))
    scales = (0.1, 0.01, 0.001) if quick else (0.3, 0.1, 0.03, 0.01, 1e-3, 1e-4, 1e-5)
    return {"scenario": "reversal",
            **reversal_study(lams, scales, n_out=1001 if quick else 4001)}


def _plot_reversal(d, axes):
    lams = np.asarray(d["lambda"])
    nz = lams != 0
    ax = axes[0]
    ax.plot(np.abs(lams[nz]), _num(np.asarray(d["time_aligned"], dtype=object)[nz]), "k-",
            lw=2, label="one aligned mode (lambda = 0: never)")
    for i, sc in enumerate(d["scale"]):
        t = _num([row[i] for row in d["time_balanced"]])
        ax.plot(np.abs(lams[nz]) * (1 + 0.03 * i), t[nz], "o", ms=4,
                label=f"random lambda-balanced start, scale {sc:g}")
    ax.set(xscale="log", xlabel="|lambda| (both signs)",
           ylabel=f"reversal time (loss of -A to {d['fraction']:g} of its start)",
           title=f"reversal B = -A after pre-training, sigma_1 = {d['sigma']:g}")
    ax.legend(fontsize=7)
    ax = axes[1]
    scales = np.asarray(d["scale"])
    ax.plot(scales, _num(d["time_independent"]), "o-",
            label=f"independent layers (slope {d['slope_independent']:.3g} per ln(1/scale); "
                  f"2/sigma_1 = {d['slope_predicted']:.3g})")
    for lam, row, dense in zip(lams, d["time_balanced"], d["time_balanced_dense"]):
        if lam == 0.0:
            ax.plot(scales, _num(row), "x:", color="0.4",
                    label="lambda = 0 balanced: rounding-seeded (x: n_out, +: twice as dense)")
            ax.plot(scales, _num(dense), "+:", color="0.4")
        elif abs(lam) in (0.1, 1.0) and lam > 0:
            ax.plot(scales, _num(row), "s--", ms=3, label=f"lambda = {lam:g} balanced")
    ax.set(xscale="log", xlabel="initial weight scale",
           ylabel="reversal time", title="reversal time against the start scale")
    ax.legend(fontsize=6)


def transfer(quick: bool = False) -> dict[str, Any]:
    """Transfer speed-up against angle and lambda (module docstring); ``quick``: fewer lambdas
    and angles."""
    quick = check_bool("quick", quick)
    lams = (-2.0, 0.0, 2.0) if quick else (-4.0, -2.0, -0.5, 0.0, 0.5, 2.0, 4.0)
    angles = ((0.1, 0.4, 0.7, 0.95) if quick else np.linspace(0.05, 0.95, 19))
    angles = (np.asarray(angles) * np.pi).tolist()
    n_out = 801 if quick else 3001
    return {"scenario": "transfer",
            **{side: transfer_study(lams, angles, side=side, n_out=n_out)
               for side in ("input", "output")}}


def _plot_transfer(d, axes):
    for ax, side in zip(axes, ("input", "output")):
        r = d[side]
        for c, lam, row in zip(_colours(len(r["lambda"])), r["lambda"], r["speedup"]):
            ax.plot(np.asarray(r["angle"]) / np.pi, _num(row), "o-", ms=3, color=c,
                    label=f"lambda = {lam:g}")
        ax.axhline(1.0, color="0.5", lw=0.8, ls="--")
        ax.set(yscale="log", xlabel=f"angle of the {side} singular vectors / pi",
               ylabel="speed-up t_scratch / t_transfer",
               title=f"transfer after pre-training, {side} rotation, scale {r['scale']:g}")
        ax.legend(fontsize=7)


#: name -> (run, plot, number of axes or (rows, columns), title)
SEQUENCE_SCENARIOS = {
    "linear_continual": (linear_continual, _plot_linear_continual, (2, 2),
                         "deep linear: forgetting of A after B against lambda and task angle"),
    "reversal": (reversal, _plot_reversal, 2,
                 "deep linear: time to learn a reversal B = -A against lambda"),
    "transfer": (transfer, _plot_transfer, 2,
                 "deep linear: transfer speed-up over learning from scratch against angle"),
}
