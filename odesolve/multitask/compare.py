"""ODE versus simulation through a protocol, with the verdict rule of :mod:`odesolve.comparison`."""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._checks import check_bool, check_int, check_real
from ..comparison import PowerWarning, judge, power, seed_multiplier
from ..simulation.driver import _check_seeds
from .model import MultiTaskSetup, MultiTaskState
from .ode import _check_run, integrate_protocol
from .protocol import Protocol
from .simulate import check_dimension, simulate_protocol

__all__ = ["compare_protocol"]


def compare_protocol(setup: MultiTaskSetup, state: MultiTaskState, protocol: Protocol,
                     N: int = 10_000, seeds: Sequence[int] = range(8), n_out: int = 11,
                     tolerance_k: float = 4.0, tolerance_c: float = 0.05, rtol: float = 1e-9,
                     atol: float = 1e-12, progress: bool = True) -> dict[str, Any]:
    """Simulate and integrate from the same overlaps; judge as :func:`odesolve.compare`:
    ``|mean_sim - ode| <= k_S sem + c / sqrt(N)`` for Q, R, V and every task's eps_g at every
    record time after the start, with the power rule of :mod:`odesolve.comparison` (a test
    too weak to detect a deviation that matters is INCONCLUSIVE, not a pass).

    Parameters
    ----------
    setup, state, protocol, N, n_out, progress :
        As :func:`~odesolve.multitask.simulate_protocol` (one state).
    seeds : sequence of int
        At least 2 distinct non-negative seeds (the standard error needs them).
    tolerance_k, tolerance_c : float
        Non-negative: the multiplier of the standard error (before the correction for the
        number of seeds, :func:`odesolve.comparison.seed_multiplier`) and the floor
        ``c / sqrt(N)``.
    rtol, atol : float
        Tolerances of the ODE solver.

    Returns
    -------
    dict
        ``verdict`` (PASS, FAIL or INCONCLUSIVE), ``passed`` (verdict is PASS), ``warnings``,
        per quantity ``worst`` (largest deviation / tolerance), ``max_abs_dev`` and the power
        numbers of :func:`odesolve.comparison.power`, the ODE and simulation curves of eps_g
        (mean and sem) and ``t``.

    Raises
    ------
    TypeError, ValueError
        An argument breaks its rule, checked before the ODE or the simulation runs.

    Warns
    -----
    PowerWarning
        The verdict is INCONCLUSIVE (the message says how many seeds are needed).
    """
    _check_run(setup, state, protocol, batch=False)
    N = check_dimension(setup, N)
    seeds = list(_check_seeds(seeds))
    if len(seeds) < 2:
        raise ValueError("`seeds` must hold at least 2 seeds (the standard error needs them).")
    n_out = check_int("n_out", n_out, minimum=2)
    tolerance_k = check_real("tolerance_k", tolerance_k, minimum=0.0)
    tolerance_c = check_real("tolerance_c", tolerance_c, minimum=0.0)
    rtol = check_real("rtol", rtol, positive=True)
    atol = check_real("atol", atol, minimum=0.0)
    progress = check_bool("progress", progress)
    ode = integrate_protocol(setup, state, protocol, n_out=n_out, rtol=rtol, atol=atol)
    sim = simulate_protocol(setup, state, protocol, N=N, seeds=seeds, n_out=n_out,
                            progress=progress)
    k = seed_multiplier(tolerance_k, len(seeds))
    floor = tolerance_c / math.sqrt(N)
    stats = {}
    for name, o in (("Q", ode.Q), ("R", ode.R), ("V", ode.V), ("eps_g", ode.eps_g)):
        m, e = sim.info["mean"][name][1:], sim.info["sem"][name][1:]
        dev = np.abs(m - o[1:])
        ratio = dev / (k * e + floor)
        worst = float(np.nanmax(np.where(np.isnan(ratio), np.inf, ratio)))
        stats[name] = {"worst": worst, "max_abs_dev": float(np.nanmax(dev)),
                       "passed": worst <= 1.0,
                       **power(sim.info["sem"][name], o, len(seeds), tolerance_k, floor)}
    verdict, notes = judge(stats, len(seeds), bool(sim.info["interrupted"]))
    if notes:
        warnings.warn(" ".join(notes), PowerWarning, stacklevel=2)
    return {"passed": verdict == "PASS", "verdict": verdict, "warnings": notes, "N": N,
            "seeds": seeds, "k_seeds": k, "floor": floor,
            "stats": stats, "t": ode.t.tolist(), "ode_eps_g": ode.eps_g.tolist(),
            "sim_eps_g_mean": sim.info["mean"]["eps_g"].tolist(),
            "sim_eps_g_sem": sim.info["sem"]["eps_g"].tolist()}
