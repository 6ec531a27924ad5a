"""Scenario ``digits_forgetting``: forgetting of a first task against task similarity on the
scikit-learn digits, three initialisations, next to the committee ODE's curves.

Left panel: the K = 2 multi-head network of :mod:`odesolve.networks.digits` trained by online
SGD (eta = 0.5, t = 300 per task, N = 64 pixels) on two teacher tasks on the real images whose
fields have correlation ``a`` on the training set; median and quartiles over seeds (each seed
draws new initial weights and SGD samples; the data split is fixed). Middle panel: the same on
the whitened digits (input covariance the identity, as in the theory). Right panel: the
``forgetting`` scenario of :mod:`odesolve.scenarios` (committee ODE, Gaussian inputs, N -> inf).
See docs/theory/digits.md.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from .._checks import check_bool
from .digits import (INIT_SCALES, DigitsData, load_digits_data, teacher_directions,
                     teacher_fields, train_two_tasks)

__all__ = ["DIGITS_SCENARIOS", "digits_forgetting"]

ETA = 0.5
T_TASK = 300.0
_COLOURS = {"balanced": "C0", "imbalanced": "C3", "symmetric": "C2"}


def _quartiles(x):
    q = np.nanpercentile(np.asarray(x, dtype=np.float64), [25, 50, 75], axis=-1)
    return {"q25": q[0].tolist(), "median": q[1].tolist(), "q75": q[2].tolist()}


def _sgd_curves(data: DigitsData, sims: list[float], seeds: int) -> dict[str, Any]:
    """Per initialisation: forgetting (sims x seeds) with quartiles, specialisation at the
    switch, worst errors; plus the teachers' field correlation on the test set."""
    out: dict[str, Any] = {"N": data.N, "test_field_correlation": [
        float(np.corrcoef(teacher_fields(teacher_directions(data, a), data.X_test).T)[0, 1])
        for a in sims]}
    for init in INIT_SCALES:
        f, s, e1, e2 = (np.full((len(sims), seeds), np.nan) for _ in range(4))
        for i, a in enumerate(sims):
            for b in range(seeds):
                r = train_two_tasks(data, a, init, seed=b, eta=ETA, t_task=T_TASK)
                j = int(np.argmin(np.abs(r.t - T_TASK)))
                f[i, b], s[i, b], e1[i, b], e2[i, b] = (r.forgetting, r.specialisation,
                                                        r.eps[j, 0], r.eps[-1, 1])
        out[init] = {"forgetting": f.tolist(), "forgetting_stats": _quartiles(f),
                     "specialisation_at_switch": _quartiles(s)["median"],
                     "specialisation": s.tolist(),
                     "task1_error_at_switch_max": float(np.nanmax(e1)),
                     "task2_error_final_max": float(np.nanmax(e2))}
    return out


def digits_forgetting(quick: bool = False) -> dict[str, Any]:
    """Forgetting, specialisation at the switch and final errors against similarity, on the
    standardised digits, on the whitened digits and in the committee ODE.

    Parameters
    ----------
    quick : bool
        6 similarities x 4 seeds and the ODE's quick curves (seconds) instead of 11 x 32 and the
        full ODE scenario (about two minutes in all).

    Returns
    -------
    dict
        JSON-serialisable: ``"scenario"``, ``"a"``, ``"seeds"``, the training settings;
        ``"digits"`` and ``"whitened"`` (:func:`load_digits_data` with ``whiten`` False / True),
        each with the input dimension ``"N"``, the teachers' field correlation on the test set
        and, per initialisation, the forgetting (sims x seeds) with quartiles, the
        specialisation at the switch (per seed and median), the largest task-1 error at the
        switch and task-2 error at the end; ``"ode"``: the ``forgetting`` scenario's output.
    """
    quick = check_bool("quick", quick)
    from ..scenarios import forgetting_vs_similarity    # lazy: scenarios imports this module
    t0 = time.perf_counter()
    sims = [float(a) for a in np.linspace(0, 1, 6 if quick else 11)]
    seeds = 4 if quick else 32
    out: dict[str, Any] = {"scenario": "digits_forgetting", "x_name": "feature similarity a",
                           "a": sims, "seeds": seeds, "eta": ETA, "t_task": T_TASK, "K": 2,
                           "split_seed": 0, "inits": INIT_SCALES}
    for key, whiten in (("digits", False), ("whitened", True)):
        data = load_digits_data(0, whiten=whiten)
        out[key] = _sgd_curves(data, sims, seeds)
    out["n_train"], out["n_test"] = len(data.X_train), len(data.X_test)
    out["seconds_sgd"] = time.perf_counter() - t0
    out["ode"] = forgetting_vs_similarity(quick=quick)
    out["seconds"] = time.perf_counter() - t0
    return out


def _curves(ax: Any, a: list[float], d: dict[str, Any], title: str) -> None:
    for init, c in _COLOURS.items():
        st = d[init]["forgetting_stats"]
        spec = float(np.nanmedian(d[init]["specialisation_at_switch"]))
        ax.plot(a, st["median"], "o-", color=c,
                label=f"{init} (specialisation at switch ~ {spec:.2f})")
        ax.fill_between(a, st["q25"], st["q75"], color=c, alpha=0.2)
    ax.set(xlabel="feature similarity a", ylabel="forgetting of task 1 at the end of task 2",
           title=title)
    ax.legend(fontsize=7)


def _plot_digits_forgetting(d: dict[str, Any], axes: Any) -> None:
    axes = np.ravel(axes)
    n = d["seeds"]
    _curves(axes[0], d["a"], d["digits"],
            f"digits (standardised, N = {d['digits']['N']}), online SGD, {n} seeds")
    _curves(axes[1], d["a"], d["whitened"],
            f"digits whitened (N = {d['whitened']['N']}), online SGD, {n} seeds")
    _curves(axes[2], d["ode"]["a"], d["ode"],
            f"committee ODE, Gaussian inputs, {d['ode']['replicas']} replicas")
    lo = min(ax.get_ylim()[0] for ax in axes[:3])
    hi = max(ax.get_ylim()[1] for ax in axes[:3])
    for ax in axes[:3]:
        ax.set_ylim(lo, hi)


#: name -> (run, plot, number of axes or (rows, columns), title)
DIGITS_SCENARIOS = {
    "digits_forgetting": (digits_forgetting, _plot_digits_forgetting, 3,
                          "forgetting against task similarity on the scikit-learn digits and in "
                          "the committee ODE, three initialisations"),
}
