"""Reproductions of Jarvis et al. (ICLR 2025) in the teacher-student setting: ``odesolve
scenario NAME`` writes ``NAME.png`` and, beside it, ``NAME.json`` with the plotted numbers.

Set-up shared by all scenarios (docs/theory/multitask.md#theory-multitask-scenarios):
erf units, eta = 1, student K = 2
against teachers of M = 1 unit, both layers trained, random initial overlaps drawn as in a
network of input dimension N = 10 000.

Initialisation scales (the paper's convention, per weight component): first-layer weights
i.i.d. N(0, sigma_w^2), so Q_ii = sigma_w^2 in the large-N limit; readouts (every head)
i.i.d. N(0, sigma_v^2). The *imbalance ratio* is r = sigma_v / sigma_w:

- ``balanced``: sigma_w = sigma_v = 1e-3 (r = 1);
- ``imbalanced``: sigma_w = 1e-3, sigma_v = 1 (r = 1000, large readouts);
- ``symmetric`` (scenarios b and c): balanced scales, but the two student units start
  identical (unit 2 is a copy of unit 1's realised overlaps and readouts). The ODE keeps them
  identical, so this network cannot specialise: the non-specialised reference. (At finite N
  the simulator's SGD noise breaks the symmetry, so this curve is an N -> infinity statement.)

Scenarios:

- ``specialisation``: (a) the specialisation index (:func:`odesolve.observables.teacher_specialisation`)
  after training on one teacher, against r;
- ``forgetting``: (b) two tasks in sequence, multi-head; forgetting of task 1 at the end of
  task 2, against the feature similarity of the teachers, balanced versus imbalanced;
- ``ewc``: (c) the same protocol at feature similarity 0.5 with EWC on the first layer;
  forgetting and final task-2 error against the EWC strength, balanced versus imbalanced.

Each value is the median over random initialisations (replicas), with the quartiles.
:func:`validate` re-runs a few points of a scenario at finite N with the simulator.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._checks import check_bool
from .io import atomic_path
from .linear.scenarios import LINEAR_SCENARIOS
from .linear.plasticity_scenarios import PLASTICITY_SCENARIOS
from .linear.sequence_scenarios import SEQUENCE_SCENARIOS
from .control.scenarios import CONTROL_SCENARIOS
from .networks.digits_scenarios import DIGITS_SCENARIOS
from .networks.rnn_scenarios import RNN_SCENARIOS
from .networks.vae_scenarios import VAE_SCENARIOS
from .multitask import (MultiTaskSetup, MultiTaskState, Phase, Protocol, continual,
                        integrate_protocol, teacher_overlaps)
from .observables import forgetting, teacher_specialisation
from .specialisation import LEVER_SCENARIOS

__all__ = ["SCENARIOS", "run_scenario", "validate", "INITS"]

INITS = {"balanced": {"student_std": 1e-3, "readout_std": 1e-3},
         "imbalanced": {"student_std": 1e-3, "readout_std": 1.0},
         "symmetric": {"student_std": 1e-3, "readout_std": 1e-3}}
N_INIT = 10_000
T_TASK = 300.0          # duration of each task (eps_g converges well before)


def _quartiles(x, axis=-1):
    q = np.nanpercentile(np.asarray(x, dtype=np.float64), [25, 50, 75], axis=axis)
    return {"q25": q[0].tolist(), "median": q[1].tolist(), "q75": q[2].tolist()}


# --- (a) specialisation against imbalance ----------------------------------------------------
def _spec_state(r, seed):
    setup = MultiTaskSetup(2, 1, P=1, heads="single", eta=1.0)
    T = teacher_overlaps(1, 1)
    st = MultiTaskState.random(setup, T, [[1.0]], N=N_INIT, student_std=1e-3,
                               readout_std=1e-3 * r, seed=seed)
    return setup, st, Protocol((Phase(T_TASK),))


def specialisation(quick: bool = False) -> dict[str, Any]:
    rs = [0.1, 1.0, 10.0, 100.0, 1000.0] if quick else \
        [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0]
    replicas = 6 if quick else 48
    s = np.full((len(rs), replicas), np.nan)
    eps = np.full_like(s, np.nan)
    for a, r in enumerate(rs):
        for b in range(replicas):
            setup, st, prot = _spec_state(r, seed=b)
            tr = integrate_protocol(setup, st, prot, n_out=31)
            s[a, b] = teacher_specialisation(tr.R[-1], tr.T, tr.V[-1, 0])
            eps[a, b] = tr.eps_g[-1, 0]
    return {"scenario": "specialisation", "x_name": "imbalance ratio r = sigma_v / sigma_w",
            "r": rs, "sigma_w": 1e-3, "t_max": T_TASK, "replicas": replicas,
            "specialisation": s.tolist(), "specialisation_stats": _quartiles(s),
            "fraction_specialised": np.mean(s > 0.5, axis=1).tolist(),
            "final_eps_g_max": float(np.nanmax(eps))}


def _plot_specialisation(d, ax):
    r, s = np.array(d["r"]), np.array(d["specialisation"])
    st = d["specialisation_stats"]
    for j in range(s.shape[1]):
        ax.scatter(r * np.exp(0.05 * np.random.default_rng(j).standard_normal(r.size)),
                   s[:, j], s=6, color="0.6", alpha=0.5)
    ax.plot(r, st["median"], "o-", color="C0", label="median over initialisations")
    ax.fill_between(r, st["q25"], st["q75"], color="C0", alpha=0.2, label="quartiles")
    ax.plot(r, d["fraction_specialised"], "s--", color="C3", ms=4,
            label="fraction with index > 0.5")
    ax.set(xscale="log", xlabel=d["x_name"], ylabel="specialisation index after training",
           ylim=(-0.05, 1.05),
           title=f"K = 2 student, one teacher, t = {d['t_max']:g} (erf, eta = 1)")
    ax.legend(fontsize=8)


# --- (b) forgetting against feature similarity ---------------------------------------------
def _two_task_state(init, a, seed):
    setup = MultiTaskSetup(2, 1, P=2, heads="multi", eta=1.0)
    T = teacher_overlaps(1, 2, feature_similarity=a)
    st = MultiTaskState.random(setup, T, [[1.0], [1.0]], N=N_INIT, seed=seed, **INITS[init])
    if init == "symmetric":
        st = MultiTaskState(np.full((2, 2), st.Q[0, 0]), np.vstack([st.R[0], st.R[0]]), T,
                            np.repeat(st.V[:, :1], 2, axis=1), st.V_star, check=False)
    return setup, st


def _two_task_run(init, a, seed, ewc=None, n_out=31):
    setup, st = _two_task_state(init, a, seed)
    tr = integrate_protocol(setup, st, continual(T_TASK, T_TASK, ewc=ewc), n_out=n_out)
    j = tr.at(T_TASK)
    f = forgetting(tr.t, tr.eps_g[:, 0], T_TASK)[-1]
    s = teacher_specialisation(tr.R[j][:, :1], tr.T[:1, :1], tr.V[j, 0])
    return f, tr.eps_g[-1, 1], s, tr.eps_g[j, 0]


def forgetting_vs_similarity(quick: bool = False) -> dict[str, Any]:
    sims = list(np.linspace(0, 1, 6 if quick else 11))
    replicas = 4 if quick else 32
    out = {"scenario": "forgetting", "x_name": "feature similarity a", "a": sims,
           "t_task": T_TASK, "replicas": replicas, "inits": INITS}
    for init in INITS:
        f = np.full((len(sims), replicas), np.nan)
        spec = np.full_like(f, np.nan)
        for i, a in enumerate(sims):
            for b in range(replicas):
                f[i, b], _, spec[i, b], _ = _two_task_run(init, a, b)
        out[init] = {"forgetting": f.tolist(), "forgetting_stats": _quartiles(f),
                     "specialisation_at_switch": _quartiles(spec)["median"]}
    return out


def _plot_forgetting(d, ax):
    a = np.array(d["a"])
    for c, init in zip(("C0", "C3", "C2"), INITS):
        st = d[init]["forgetting_stats"]
        spec = np.nanmedian(d[init]["specialisation_at_switch"])
        ax.plot(a, st["median"], "o-", color=c,
                label=f"{init} (specialisation at switch ~ {spec:.2f})")
        ax.fill_between(a, st["q25"], st["q75"], color=c, alpha=0.2)
    ax.set(xlabel=d["x_name"], ylabel="forgetting of task 1 at the end of task 2",
           title="two tasks in sequence, multi-head, K = 2, M = 1 (ODE)")
    ax.legend(fontsize=8)


# --- (c) EWC strength ------------------------------------------------------------------------
def ewc_strength(quick: bool = False, similarity: float = 0.5) -> dict[str, Any]:
    lams = [0.0, 1.0, 10.0, 100.0] if quick else [0.0, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0,
                                                  300.0]
    replicas = 4 if quick else 32
    out = {"scenario": "ewc", "x_name": "EWC strength lambda", "lambda": lams,
           "feature_similarity": similarity, "t_task": T_TASK, "replicas": replicas,
           "inits": INITS}
    for init in INITS:
        f = np.full((len(lams), replicas), np.nan)
        e2 = np.full_like(f, np.nan)
        for i, lam in enumerate(lams):
            for b in range(replicas):
                f[i, b], e2[i, b], _, _ = _two_task_run(init, similarity, b,
                                                        ewc=lam if lam > 0 else None)
        out[init] = {"forgetting_stats": _quartiles(f), "task2_error_stats": _quartiles(e2),
                     "forgetting": f.tolist(), "task2_error": e2.tolist()}
    return out


def _plot_ewc(d, axes):
    lam = np.array(d["lambda"])
    x = np.where(lam > 0, lam, lam[lam > 0].min() / 3)          # lambda = 0 at the left edge
    for c, init in zip(("C0", "C3", "C2"), INITS):
        for ax, key, label in ((axes[0], "forgetting_stats", "forgetting of task 1"),
                               (axes[1], "task2_error_stats", "final task-2 error")):
            st = d[init][key]
            ax.plot(x, st["median"], "o-", color=c, label=init)
            ax.fill_between(x, st["q25"], st["q75"], color=c, alpha=0.2)
            ax.set(xscale="log", xlabel="EWC strength lambda (leftmost: 0)", ylabel=label)
    axes[0].legend(fontsize=8)
    axes[0].set_title(f"feature similarity {d['feature_similarity']:g}, multi-head")


def scm_deficit(quick: bool = False, threshold: float = 1e-4) -> dict[str, Any]:
    """(d) A deficit window in the teacher-student setting (critical periods, transposed):
    erf K = M = 2, eta = 1, balanced start, single head; teacher 0, then for 100 time units a
    degraded teacher 1 (feature similarity 0, same readouts), then teacher 0 again
    (:func:`odesolve.multitask.deficit`). Per onset: the time task 0 spends above
    ``threshold`` beyond the undisturbed run's, minus the window itself (0: the window is a
    pure pause), and the recovery time after the window; medians over the replicas."""
    from .multitask import deficit

    setup = MultiTaskSetup(2, 2, P=2, heads="single", eta=1.0)
    T = teacher_overlaps(2, 2, feature_similarity=0.0)
    V = np.ones((2, 2))
    states = [MultiTaskState.random(setup, T, V, N=N_INIT, seed=s, **INITS["balanced"])
              for s in range(2 if quick else 4)]
    window, after, dt = 100.0, 600.0, 2.5
    onsets = [0.0, 100.0, 600.0] if quick else [0.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0,
                                                 600.0]

    def time_above(prot):
        tr = integrate_protocol(setup, states, prot,
                                times=np.arange(0.0, prot.t_max + dt / 2, dt))
        e = tr.eps_g[:, :, 0]
        if np.any(e[:, -1] > threshold):
            raise RuntimeError("task 0 did not recover within the protocol; lengthen it")
        last = np.array([tr.t[np.flatnonzero(row > threshold)[-1] + 1] for row in e])
        return (e > threshold).sum(axis=1) * dt, last

    control, _ = time_above(Protocol((Phase(max(onsets) + window + after, teacher=0,
                                            head=0),)))
    extra, recovery = [], []
    for on in onsets:
        prot = deficit(on, window, after) if on > 0 else Protocol(
            (Phase(window, teacher=1, head=0), Phase(after, teacher=0, head=0)))
        above, last = time_above(prot)
        extra.append(float(np.median(above - control - window)))
        recovery.append(float(np.median(last - on - window)))
    return {"scenario": "scm_deficit", "onsets": onsets, "window": window,
            "threshold": threshold, "extra_time_lost": extra, "recovery_time": recovery,
            "control_time_to_threshold": float(np.median(control)),
            "n_replicas": len(states)}


def _plot_scm_deficit(d, ax):
    ax.plot(d["onsets"], d["extra_time_lost"], "o-", label="time lost beyond the window")
    ax.plot(d["onsets"], d["recovery_time"], "s-", label="recovery time after the window")
    ax.axvline(d["control_time_to_threshold"], color="0.6", ls="--", lw=0.8,
               label="undisturbed run reaches the threshold")
    ax.set(xlabel=f"onset of the deficit window (length {d['window']:g})",
           ylabel=f"time (eps_g of task 0 above {d['threshold']:g})",
           title="teacher-student: a deficit window is a pause, not a critical period")
    ax.legend(fontsize=8)


# --- (e) Fisher information of a committee machine through a deficit window ------------------
def committee_plasticity(quick: bool = False) -> dict[str, Any]:
    """(e) The Fisher information of the weights (:func:`odesolve.fisher.trajectory_fisher`)
    over time in the committee ODE, erf K = 2 against M = 1 and M = 2 teacher units, eta = 1,
    single head: the undisturbed run (teacher 0 throughout) and deficit windows of length 50
    (an orthogonal teacher with the same readouts, :func:`odesolve.multitask.deficit`)
    opening at t = 1 and t = 100. Starts: ``Q = 0.01 I``, ``R = 0``, readouts 0.1 (the
    ``fixed`` start) and random starts drawn at N = 10 000 with weight and readout scales 0.1
    (median over the replicas); ``quick``: M = 1, one window, fewer replicas and times."""
    from .fisher import trajectory_fisher
    from .multitask import deficit

    quick = check_bool("quick", quick)
    t_end = 400.0 if quick else 1000.0
    times = np.linspace(0.0, t_end, 401 if quick else 2001)
    windows = [(1.0, 50.0)] if quick else [(1.0, 50.0), (100.0, 50.0)]
    out: dict[str, Any] = {"scenario": "committee_plasticity", "t": times.tolist(),
                           "windows": [list(w) for w in windows], "K": 2, "runs": {}}
    for M in ((1,) if quick else (1, 2)):
        setup = MultiTaskSetup(2, M, P=2, heads="single", eta=1.0)
        T = teacher_overlaps(M, 2, feature_similarity=0.0)
        V = np.ones((2, M))
        fixed = MultiTaskState(0.01 * np.eye(2), np.zeros((2, 2 * M)), T, np.full((1, 2), 0.1),
                               V)
        random = [MultiTaskState.random(setup, T, V, N=N_INIT, student_std=0.1,
                                        readout_std=0.1, seed=s)
                  for s in range(4 if quick else 16)]
        runs = {}
        # the control (teacher 0 throughout, the same phase boundaries) is one run for every
        # window; then one run per window with the orthogonal teacher inside it
        for name, (on, length), degraded in ([("control", windows[0], 0)]
                                              + [(f"deficit_{w[0]:g}", w, 1) for w in windows]):
            prot = deficit(on, length, t_end - on - length, degraded=degraded)
            entry = {}
            for start, states in (("fixed", [fixed]), ("random", random)):
                tr = integrate_protocol(setup, states, prot, times=times)
                F = trajectory_fisher(tr)
                entry[start] = {
                    "trace": np.nanmedian(F["trace"], axis=0).tolist(),
                    "first_layer": np.nanmedian(F["per_layer"][..., 0], axis=0).tolist(),
                    "readout": np.nanmedian(F["per_layer"][..., 1], axis=0).tolist(),
                    "eps_g": np.nanmedian(tr.eps_g[:, :, 0], axis=0).tolist()}
            runs[name] = entry
        out["runs"][f"M{M}"] = runs
    out["summary"] = _plasticity_summary(out)
    return out


def _plasticity_summary(d):
    """Per M and start, for the undisturbed run: F(0), the maximum and its time, the end value,
    and the same for the first-layer part; per deficit: the largest drop below the control
    after the window and the end difference."""
    summary = {}
    for key, runs in d["runs"].items():
        t = np.asarray(d["t"])
        for start in ("fixed", "random"):
            ctrl = runs["control"][start]
            row = {}
            for part in ("trace", "first_layer"):
                F = np.asarray(ctrl[part])
                k = int(np.argmax(F))
                row[part] = {"initial": F[0], "max": F[k], "t_max": t[k], "end": F[-1],
                             "end_over_max": F[-1] / F[k]}
            for on, length in d["windows"]:
                dF = (np.asarray(runs[f"deficit_{on:g}"][start]["trace"])
                      - np.asarray(ctrl["trace"]))
                after = t >= on + length
                row[f"deficit_{on:g}"] = {"largest_drop_after": float(-dF[after].min()),
                                          "end_difference": float(dF[-1])}
            summary[f"{key}_{start}"] = row
    return summary


def _plot_committee_plasticity(d, axes):
    t = np.asarray(d["t"])
    n_cols = len(axes) // 2
    for col in range(len(d["runs"]), n_cols):
        axes[col].set_visible(False)
        axes[n_cols + col].set_visible(False)
    for col, (key, runs) in enumerate(d["runs"].items()):
        ax, ax2 = axes[col], axes[n_cols + col]
        shown = list(runs)
        for start, ls in (("fixed", "-"), ("random", "--")):
            for i, name in enumerate(shown):
                run = runs[name]
                colour = "k" if name.startswith("control") else f"C{i}"
                label = "undisturbed" if name.startswith("control") else \
                    f"deficit from t = {name.split('_')[1]}"
                ax.plot(t[1:], run[start]["trace"][1:], ls, color=colour,
                        label=f"{label} ({start} start)")
                ax.plot(t[1:], run[start]["first_layer"][1:], ls, lw=0.7, color=colour)
                ax2.plot(t[1:], np.maximum(run[start]["eps_g"][1:], 1e-12), ls, color=colour)
        for on, length in d["windows"]:
            for a in (ax, ax2):
                a.axvspan(on, on + length, color="0.9", zorder=0)
        ax.set(xscale="log", xlabel="t", ylabel="Fisher trace (thin: first layer only)",
               title=f"committee ODE, erf K = 2, {key[1:]} teacher unit(s)")
        ax.legend(fontsize=6)
        ax2.set(xscale="log", yscale="log", xlabel="t", ylabel="eps_g of teacher 0 (median)",
                title="generalisation error (grey: deficit windows)")


#: name -> (run, plot, number of axes or (rows, columns), title)
SCENARIOS = {
    "specialisation": (specialisation, _plot_specialisation, 1,
                       "(a) specialisation index against the imbalance ratio"),
    "forgetting": (forgetting_vs_similarity, _plot_forgetting, 1,
                   "(b) forgetting against feature similarity, three initialisations"),
    "ewc": (ewc_strength, _plot_ewc, 2,
            "(c) forgetting and task-2 error against EWC strength"),
    "scm_deficit": (scm_deficit, _plot_scm_deficit, 1,
                    "(d) a deficit window in the teacher-student setting, against its onset"),
    "committee_plasticity": (committee_plasticity, _plot_committee_plasticity, (2, 2),
                             "(e) Fisher information of a committee machine through deficit "
                             "windows"),
    **LINEAR_SCENARIOS,
    **SEQUENCE_SCENARIOS,
    **PLASTICITY_SCENARIOS,
    **LEVER_SCENARIOS,
    **DIGITS_SCENARIOS,
    **VAE_SCENARIOS,
    **RNN_SCENARIOS,
    **CONTROL_SCENARIOS,
}


def run_scenario(name: str, out_dir: os.PathLike[str] | str = "odesolve-out/scenarios",
                 quick: bool = False) -> tuple[dict[str, Any], Path, Path]:
    """Run a scenario, write ``<out_dir>/<name>.json`` and ``.png``; return (data, json, png)."""
    from .plotting import _pyplot, save_figure

    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose from {sorted(SCENARIOS)}.")
    run, plot, layout, _ = SCENARIOS[name]
    rows, cols = layout if isinstance(layout, tuple) else (1, layout)
    tic = time.perf_counter()
    data = run(quick)
    data["wall_s"] = time.perf_counter() - tic
    data["quick"] = quick
    out = Path(out_dir)
    js, png = out / f"{name}.json", out / f"{name}.png"
    with atomic_path(js) as tmp:
        tmp.write_text(json.dumps(data, indent=1))
    plt = _pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(6.0 * cols, 4.4 * rows), squeeze=False,
                             constrained_layout=True)
    axes = axes.ravel()
    plot(data, axes[0] if axes.size == 1 else axes)
    save_figure(fig, png)
    return data, js, png


def validate(name: str, N: int = 10_000, seeds: Sequence[int] = range(8),
             n_out: int = 7) -> list[dict[str, Any]]:
    """Simulate a few points of a scenario at input dimension N and compare with the ODE
    (:func:`odesolve.multitask.compare.compare_protocol`). Returns one report per point."""
    from .multitask.compare import compare_protocol

    if name not in ("specialisation", "forgetting", "ewc"):
        raise ValueError(f"scenario {name!r} has no finite-N simulation to validate against "
                         "(deep linear networks are checked against numerical gradient flow "
                         "in tests/test_linear.py).")
    points = {"specialisation": [("r", 1.0), ("r", 1000.0)],
              "forgetting": [("balanced", 0.5), ("imbalanced", 0.5)],
              "ewc": [("balanced", 10.0), ("imbalanced", 10.0)]}[name]
    reports = []
    for key, value in points:
        if name == "specialisation":
            setup, st, prot = _spec_state(value, seed=0)
            label = f"r = {value:g}"
        else:
            a = value if name == "forgetting" else 0.5
            setup, st = _two_task_state(key, a, seed=0)
            prot = continual(T_TASK, T_TASK, ewc=value if name == "ewc" else None)
            label = f"{key}, " + (f"a = {value:g}" if name == "forgetting"
                                  else f"lambda = {value:g}")
        rep = compare_protocol(setup, st, prot, N=N, seeds=seeds, n_out=n_out)
        rep["point"] = label
        reports.append(rep)
    return reports
