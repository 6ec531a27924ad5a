"""``odesolve optimise``: the optimal learning-rate schedule of a configuration, against the
standard schedules, as one call.

:func:`optimise_config` takes a parsed configuration (``[setup]``, ``[init]``, ``[optimise]``,
``[baselines]``; the schema is :data:`odesolve.config.SCHEMA`) and

1. builds the committee ODE of ``[setup]`` as a sensitivity problem
   (:func:`odesolve.control.committee.committee_sensitivity_problem`) and the initial
   overlaps of ``[init]`` (a batch of states optimises their mean objective);
2. checks that the run from the starting rates stays valid (else :class:`StartDiverged`);
3. computes the baselines: the best constant rates in the bounds (one-piece schedules
   optimised by :func:`~odesolve.control.optimise.optimise_schedules`), the constant rates
   of ``[setup]``, and the best ``1/t`` annealing ``a t0 / (t0 + t)`` (Nelder-Mead over
   ``log a`` per scheduled rate and a shared ``log t0``; values clipped to the bounds);
4. optimises the schedules (``n_pieces`` pieces, bounds, L-BFGS-B with exact adjoint
   gradients), started from the best constant (``start = "constant"``), the ``[setup]``
   rates or a given number;
5. runs every protocol once more, recording ``n_record`` states and ``eps_g``.

With a ``[replay]`` section the student learns two tasks (two teachers of feature
similarity ``a``, one head per task) from the mixture ODE of :mod:`odesolve.control.mixture`:
the schedule ``mix`` is the fraction of samples from task 1, the cost is
``c_0 eps_0 + c_1 eps_1`` (``task_weights``), the initial state is drawn by
:meth:`odesolve.multitask.MultiTaskState.random` from the ``[init]`` keys, and the baselines
are the best constant ``mix`` and rates, block training (task 0, then task 1) and
interleaving (``mix = 1/2``), the last two at the ``[setup]`` rates.

The objective is ``w_final eps_g(t_final) + w_integral int_0^t_final eps_g dt`` on the RK4
grid of ``n_steps`` steps, averaged over a batch of initial states. Every protocol is judged
by the same number, so the gain of the optimal schedule over a baseline is the ratio of
their objectives (:attr:`OptimiseResult.gains`).

Ctrl-C during the work stops it cleanly: the result holds the best schedule found so far
(the last iterate of the optimiser, or the starting schedule before the first iterate), the
baselines finished so far, and ``interrupted = True``.

:func:`save_result` writes ``<base>-schedule.json``, ``<base>-trajectory.npz`` and
``<base>.png`` atomically.
"""
from __future__ import annotations

import inspect
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import committee
from .config import (ConfigError, optimise_options, setup_from_config, state_from_config,
                     validate_config)
from .config.schema import _OPTIMISE
from .control import Schedule, objective_gradient
from .control.committee import committee_sensitivity_problem
from .control.optimise import optimise_schedules
from .control.schedule import annealing, piecewise_constant
from .io import _jsonable, atomic_path, save_npz

__all__ = ["StartDiverged", "ProtocolRun", "OptimiseResult", "optimise_config",
           "quick_config", "output_paths", "save_result", "plot_result"]

#: iterations of the optimiser between two progress reports when the optimiser cannot report
#: every iteration itself (see :func:`_optimise`)
ROUND = 10
#: ... and the relative decrease of the objective in a round below which the rounds stop
ROUND_RTOL = 1e-9
#: objective given to Nelder-Mead for a failed run of the annealing search
_PENALTY = 1e30


class StartDiverged(RuntimeError):
    """The run from the starting rates leaves the valid region (or produces NaN/inf).

    Attributes
    ----------
    t_fail : float
        Time at which the first failing member failed.
    """

    def __init__(self, message: str, t_fail: float) -> None:
        super().__init__(message)
        self.t_fail = t_fail


@dataclass
class ProtocolRun:
    """One protocol run on the objective's grid.

    Attributes
    ----------
    schedules : dict of str to Schedule
        The scheduled rates.
    objective : float
        Objective, mean over the batch (NaN when a member's run failed).
    t : ndarray, shape (n_record,)
        Recorded times.
    y : ndarray, shape (B, n_record, n)
        Committee states (:func:`odesolve.committee.pack_state` layout).
    eps_g : ndarray, shape (B, n_record), or (B, n_record, 2) with [replay]
        The generalisation error (of each task).
    status : ndarray of int, shape (B,)
        0 finished, else the solver status of the failure.
    t_fail : ndarray, shape (B,)
        Time of the failure (NaN when finished).
    params : dict
        How the protocol was found (e.g. ``eta0`` and ``t0`` of the annealing).
    """

    schedules: dict[str, Schedule]
    objective: float
    t: np.ndarray
    y: np.ndarray
    eps_g: np.ndarray
    status: np.ndarray
    t_fail: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (schedules as :meth:`Schedule.to_dict`, no trajectory)."""
        final = np.atleast_1d(np.mean(self.eps_g[:, -1], axis=0))      # per task
        eps = [_finite_or_none(float(x)) for x in final]
        return {"schedules": {k: s.to_dict() for k, s in self.schedules.items()},
                "objective": _finite_or_none(self.objective),
                "eps_g_final": eps if len(eps) > 1 else eps[0],
                "status": self.status.tolist(),
                "t_fail": [_finite_or_none(x) for x in self.t_fail], "params": self.params}


@dataclass
class OptimiseResult:
    """What :func:`optimise_config` found.

    Attributes
    ----------
    protocols : dict of str to ProtocolRun
        ``"optimal"`` first, then the baselines computed (``"constant"``, ``"setup"``,
        ``"annealing"``).
    optimiser : dict
        Details of the optimisation (:meth:`OptimalSchedule.to_dict
        <odesolve.control.optimise.OptimalSchedule.to_dict>` without the schedules, plus
        ``iterations``).
    settings : dict
        :func:`odesolve.config.optimise_options` of the configuration, with ``h``.
    config : dict
        The configuration.
    interrupted : bool
        Ctrl-C stopped the work; ``protocols["optimal"]`` is the best schedule found so far.
    seconds : float
        Wall time.
    """

    protocols: dict[str, ProtocolRun]
    optimiser: dict[str, Any]
    settings: dict[str, Any]
    config: dict[str, Any]
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def objective(self) -> float:
        """Objective of the optimal schedules."""
        return self.protocols["optimal"].objective

    @property
    def gains(self) -> dict[str, float]:
        """Objective of each baseline divided by that of the optimal schedules (> 1: the
        optimal schedules are better)."""
        best = self.objective
        return {k: (p.objective / best if best > 0 else float("nan"))
                for k, p in self.protocols.items() if k != "optimal"}

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``<base>-schedule.json``."""
        return {"command": "optimise",
                "schedules": {k: s.to_dict()
                              for k, s in self.protocols["optimal"].schedules.items()},
                "objective": _finite_or_none(self.objective),
                "gains": {k: _finite_or_none(v) for k, v in self.gains.items()},
                "protocols": {k: p.to_dict() for k, p in self.protocols.items()},
                "optimiser": self.optimiser, "settings": self.settings,
                "interrupted": self.interrupted, "seconds": self.seconds,
                "config": self.config}

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays of ``<base>-trajectory.npz``: ``t``, and per protocol ``<name>_y``
        (B, n_record, n), ``<name>_eps_g`` (B, n_record), ``<name>_status``,
        ``<name>_t_fail`` and ``<name>_<rate>`` (the schedule at ``t``)."""
        first = next(iter(self.protocols.values()))
        out = {"t": first.t}
        for name, p in self.protocols.items():
            out.update({f"{name}_y": p.y, f"{name}_eps_g": p.eps_g,
                        f"{name}_status": p.status, f"{name}_t_fail": p.t_fail})
            out.update({f"{name}_{k}": s(p.t) for k, s in p.schedules.items()})
        return out

    def summary(self) -> str:
        """A few lines: the objective of each protocol and the gains."""
        s = self.settings
        cost = ""
        if s.get("replay"):
            c0, c1 = s["replay"]["task_weights"]
            cost = f" of {c0:g} eps_0 + {c1:g} eps_1 (similarity {s['replay']['similarity']:g})"
        lines = [f"objective: {s['objective']}{cost} at t_final = {s['t_final']:g} "
                 f"({s['n_steps']} RK4 steps)"]
        for name, p in self.protocols.items():
            rates = ", ".join(f"{k} {_describe_schedule(v)}" for k, v in p.schedules.items())
            failed = int(np.sum(p.status != 0))
            note = f"  ({failed} member(s) diverged)" if failed else ""
            gain = "" if name == "optimal" else f"  gain x{self.gains[name]:.3g}"
            if p.eps_g.ndim == 3:
                e0, e1 = np.mean(p.eps_g[:, -1], axis=0)
                note = f"  eps_0 {e0:.3g}, eps_1 {e1:.3g}" + note
            lines.append(f"  {name:12s} {p.objective:.6g}{gain}  [{rates}]{note}")
        o = self.optimiser
        if self.interrupted:
            lines.append(f"optimiser: interrupted (Ctrl-C) after {o.get('iterations', 0)} "
                         "iterations; the optimal schedule is the last iterate")
        elif o:
            lines.append(f"optimiser: {o['iterations']} iterations, {o['n_evaluations']} "
                         f"gradient evaluations, {o['seconds']:.1f} s; {o['message']}")
        return "\n".join(lines)


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _describe_schedule(s: Schedule) -> str:
    v = s.values
    if v.size == 1 or np.ptp(v) == 0:
        return f"= {v[0]:.4g}"
    return f"{v[0]:.3g} -> {v[-1]:.3g} (min {v.min():.3g}, max {v.max():.3g})"


def _accepts(func: Callable, name: str) -> bool:
    return name in inspect.signature(func).parameters


class _Problem:
    """The committee problem of a configuration and the runs of its schedules."""

    def __init__(self, config: dict[str, Any]) -> None:
        validate_config(config, "optimise")
        self.setup = setup_from_config(config)
        self.opts = optimise_options(config, self.setup)
        self.replay = self.opts["replay"]
        if self.replay is None:
            self.state = state_from_config(config, self.setup)
            self.problem = committee_sensitivity_problem(self.setup)
            self.y0 = committee.pack_state(self.state)
            self.p0 = committee.pack_params(self.setup, self.state)
        else:
            self._two_tasks(config)
        o = self.opts
        self.common = dict(t_final=o["t_final"], n_steps=o["n_steps"], w_final=o["w_final"],
                           w_integral=o["w_integral"])
        self.rates = {"eta": self.setup.eta, "eta_v": self.setup.eta_readout, "mix": 0.5}

    def _two_tasks(self, config: dict[str, Any]) -> None:
        """The mixture problem, state and parameter row of [replay]."""
        from .control.mixture import mixture_problem, mixture_state, pack_mixture
        from .multitask import MultiTaskSetup, MultiTaskState
        from .multitask.model import teacher_overlaps

        K, M = self.setup.K, self.setup.M
        init = dict(config.get("init", {}))
        T = teacher_overlaps(M, 2, feature_similarity=self.replay["similarity"],
                             teacher_std=init.get("teacher_std", 1.0))
        v_star = np.broadcast_to(np.asarray(init.get("v_star", 1.0), float), (M,))
        drawn = {k: init[k] for k in ("N", "student_std", "readout_std", "readout_mean",
                                      "seed") if k in init}
        try:
            st = MultiTaskState.random(MultiTaskSetup(K, M, P=2, heads="multi"), T,
                                       [v_star, v_star], **drawn)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"[init] {err}") from None
        self.problem = mixture_problem(self.setup.activation, K, M)
        self.y0 = mixture_state(st.Q, st.R, st.V)[None, :]
        self.p0 = pack_mixture(self.setup, st.T, st.V_star, heads=(0, 1), n_heads=2,
                               cost_weights=self.replay["task_weights"])[None, :]

    def errors(self, y: np.ndarray) -> np.ndarray:
        """eps_g of states y (B, n_t, n): (B, n_t), or (B, n_t, 2) per task with [replay]."""
        if self.replay is None:
            P = np.ascontiguousarray(np.broadcast_to(self.p0, (y.shape[0], self.p0.shape[1])))
            return committee.evaluate_eps_g(self.setup.activation, y, P)
        work = np.zeros(self.problem.n_work)
        gy, gp = np.zeros(y.shape[-1]), np.zeros(self.p0.shape[1])
        out = np.full(y.shape[:2] + (2,), np.nan)
        for task in (0, 1):
            p = self.p0[0].copy()
            p[self.problem.slots["c_0"]], p[self.problem.slots["c_1"]] = (
                (1.0, 0.0) if task == 0 else (0.0, 1.0))
            for b, j in np.ndindex(*y.shape[:2]):
                if np.all(np.isfinite(y[b, j])):
                    out[b, j, task] = self.problem.cost(0.0, y[b, j], p, work, gy, gp)
        return out

    def run(self, schedules: dict[str, Schedule], n_record: int = 2):
        return objective_gradient(self.problem, self.y0, self.p0, schedules, method="none",
                                  n_record=n_record, **self.common)

    def objective(self, schedules: dict[str, Schedule]) -> float:
        res = self.run(schedules)
        return float(res.objective.mean()) if np.all(res.status == 0) else float("nan")

    def constant(self, values: dict[str, float]) -> dict[str, Schedule]:
        """One-piece schedules of the given rates."""
        return {k: piecewise_constant(self.opts["t_final"], [v]) for k, v in values.items()}

    def pieces(self, values: dict[str, float]) -> dict[str, Schedule]:
        """Schedules of ``n_pieces`` pieces (of the configured kind), constant at ``values``."""
        o = self.opts
        knots = np.linspace(0.0, o["t_final"], o["n_pieces"] + 1)
        n = o["n_pieces"] + (1 if o["kind"] == "linear" else 0)
        return {k: Schedule(knots, np.full(n, v), o["kind"]) for k, v in values.items()}

    def record(self, schedules: dict[str, Schedule], params: dict | None = None
               ) -> ProtocolRun:
        res = self.run(schedules, n_record=self.opts["n_record"])
        eps = self.errors(res.y)
        ok = np.all(res.status == 0)
        return ProtocolRun(schedules=schedules,
                           objective=float(res.objective.mean()) if ok else float("nan"),
                           t=res.t, y=res.y, eps_g=eps, status=res.status, t_fail=res.t_fail,
                           params=params or {})


def _check_start(prob: _Problem, schedules: dict[str, Schedule], what: str) -> None:
    res = prob.run(schedules)
    if np.any(res.status != 0):
        bad = int(np.argmax(res.status != 0))
        t_fail = float(res.t_fail[bad])
        raise StartDiverged(f"the run from the starting rates ({what}) diverges at t = "
                            f"{t_fail:.6g} (member {bad}); lower the starting rates or the "
                            "bounds eta_max / eta_v_max.", t_fail)


def _best_constant(prob: _Problem, start: dict[str, float]):
    """The best constant rates in the bounds, from ``start``."""
    o = prob.opts
    return optimise_schedules(prob.problem, prob.y0, prob.p0, prob.constant(start),
                              bounds=o["bounds"], max_iter=100, **prob.common)


def _best_annealing(prob: _Problem, scale: dict[str, float]) -> ProtocolRun:
    """The best ``a_k t0 / (t0 + t)`` per scheduled rate k (shared t0), values clipped to the
    bounds; Nelder-Mead on ``log a_k`` and ``log t0`` from the best of a small grid."""
    from scipy.optimize import minimize

    o = prob.opts
    names = list(o["schedules"])
    t_f, n = o["t_final"], o["n_pieces"]

    def schedules(x):
        t0 = float(np.exp(x[-1]))
        out = {}
        for k, xk in zip(names, x[:-1]):
            lo, hi = o["bounds"][k]
            sch = annealing(t_f, n, float(np.exp(xk)), t0, kind=o["kind"])
            out[k] = sch.with_values(np.clip(sch.values, lo, hi))
        return out

    def f(x):
        value = prob.objective(schedules(x))
        return value if np.isfinite(value) else _PENALTY

    grid = [np.log([max(scale[k], 1e-3) * m for k in names] + [t0])
            for m in (1.0, 2.0, 4.0) for t0 in (t_f / 10, t_f / 3, t_f)]
    x0 = min(grid, key=f)
    res = minimize(f, x0, method="Nelder-Mead",
                   options={"xatol": 1e-4, "fatol": 1e-12, "maxiter": 200 * len(x0)})
    best = schedules(res.x)
    params = {"eta0": {k: float(np.exp(xk)) for k, xk in zip(names, res.x[:-1])},
              "t0": float(np.exp(res.x[-1])), "evaluations": int(res.nfev)}
    return prob.record(best, params)


def _mixed(prob: _Problem, rates: dict[str, float], mix: float | None
           ) -> dict[str, Schedule]:
    """The [setup] rates with a task mixture: constant ``mix``, or block training (None:
    task 0 on the first half of the step grid, then task 1)."""
    o = prob.opts
    out = {k: v for k, v in prob.constant(rates).items() if k != "mix"}
    if mix is not None:
        out["mix"] = prob.constant({"mix": mix})["mix"]
    else:
        half = o["t_final"] / o["n_steps"] * (o["n_steps"] // 2)
        out["mix"] = Schedule([0.0, half, o["t_final"]], [0.0, 1.0])
    return {k: out[k] for k in o["schedules"]}


class _Tracker:
    """The optimiser's iterates: the latest schedules, the history and a progress bar."""

    def __init__(self, start: dict[str, Schedule], total: int, progress: bool) -> None:
        self.best = start
        self.history: list[float] = []
        self.bar = None
        if progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="optimise", unit="it", file=sys.stderr,
                            leave=True)

    def __call__(self, iteration: int, objective: float, schedules: dict[str, Schedule]
                 ) -> None:
        self.best = schedules
        self.history.append(float(objective))
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"J = {objective:.6g}", refresh=False)

    def close(self, finished: bool = False) -> None:
        """Close the bar (a finished optimisation that converged early fills it)."""
        if self.bar is not None:
            if finished:
                self.bar.total = self.bar.n
                self.bar.refresh()
            self.bar.close()


def _optimise(prob: _Problem, start: dict[str, Schedule], tracker: _Tracker) -> dict[str, Any]:
    """Optimise from ``start``; the tracker sees every iterate. Returns the optimiser's
    details. When :func:`optimise_schedules` takes no ``callback`` it runs in rounds of
    :data:`ROUND` iterations, each started from the previous round's optimum."""
    o = prob.opts
    kw = dict(bounds=o["bounds"], **prob.common)
    if _accepts(optimise_schedules, "callback"):
        res = optimise_schedules(prob.problem, prob.y0, prob.p0, start, max_iter=o["max_iter"],
                                 callback=tracker, **kw)
        details = {k: v for k, v in res.to_dict().items() if k != "schedules"}
        tracker.best = res.schedules
        return {**details, "iterations": len(tracker.history)}
    current, spent, first, evaluations, seconds = start, 0, None, 0, 0.0
    message = ""
    while spent < o["max_iter"]:
        n = min(ROUND, o["max_iter"] - spent)
        res = optimise_schedules(prob.problem, prob.y0, prob.p0, current, max_iter=n, **kw)
        first = res.initial_objective if first is None else first
        evaluations += res.n_evaluations
        seconds += res.seconds
        for value in res.history:
            spent += 1
            tracker(spent, value, res.schedules)
        current = tracker.best = res.schedules
        message = res.message
        gain = (res.initial_objective - res.objective) / (abs(res.initial_objective) or 1.0)
        if len(res.history) < n:
            break                               # converged within the round
        if gain <= ROUND_RTOL:
            message = (f"CONVERGENCE: {n} iterations lowered the objective by {gain:.1e} "
                       f"(relative) <= {ROUND_RTOL:g}")
            break
    return {"objective": res.objective, "initial_objective": first,
            "history": tracker.history, "n_evaluations": evaluations,
            "success": bool(res.success) or message.startswith("CONVERGENCE"),
            "message": message, "seconds": seconds,
            "iterations": spent}


def quick_config(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` for a quick look (``odesolve optimise --quick``): at most 10
    pieces, 10 RK4 steps per unit of time and 30 iterations.

    Parameters
    ----------
    config : dict
        A configuration of ``odesolve optimise``, valid for the schema.

    Returns
    -------
    dict
        The copy (``config`` is not changed).

    Raises
    ------
    ConfigError
        ``config`` breaks the schema.
    """
    validate_config(config, "optimise")
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in config.items()}
    sec = out["optimise"]
    keys = {k.name: k.default for k in _OPTIMISE.keys}
    for name, cap in (("n_pieces", 10), ("max_iter", 30)):
        sec[name] = min(sec.get(name, keys[name]), cap)
    n_steps = sec.pop("n_steps", None)
    per_unit = (keys["steps_per_unit"] if n_steps is None
                else int(np.ceil(n_steps / sec["t_final"])))
    sec["steps_per_unit"] = max(1, min(sec.get("steps_per_unit", per_unit), 10))
    return out


def optimise_config(config: dict[str, Any], progress: bool = False,
                    log: Callable[[str], Any] | None = None) -> OptimiseResult:
    """Optimise the schedules a configuration describes, with its baselines (module
    docstring).

    Parameters
    ----------
    config : dict
        A parsed configuration of ``odesolve optimise`` (``odesolve optimise
        --print-example`` prints an annotated one).
    progress : bool
        Show a progress bar of the optimiser's iterations on stderr.
    log : callable, optional
        Receives one line per stage (e.g. ``print``).

    Returns
    -------
    OptimiseResult
        With ``interrupted = True`` after Ctrl-C (a RuntimeWarning says so).

    Raises
    ------
    ConfigError
        The configuration breaks the schema or a rule that spans keys (before any work).
    StartDiverged
        The run from the starting rates diverges.
    """
    say = log or (lambda text: None)
    t_start = time.perf_counter()
    prob = _Problem(config)
    o = prob.opts
    names = o["schedules"]
    clipped = {k: float(np.clip(prob.rates[k], *o["bounds"][k])) for k in names}
    if o["start"] == "constant":
        start_values, what = clipped, "[setup] rates within the bounds"
    elif o["start"] == "setup":
        start_values, what = {k: prob.rates[k] for k in names}, "[setup] rates"
    else:
        start_values, what = {k: float(o["start"]) for k in names}, f"start = {o['start']:g}"
    _check_start(prob, prob.constant(start_values), what)
    settings = {**{k: v for k, v in o.items() if k != "bounds"},
                "bounds": {k: list(v) for k, v in o["bounds"].items()},
                "h": o["t_final"] / o["n_steps"], "n_members": int(prob.y0.shape[0])}
    baselines: dict[str, ProtocolRun] = {}
    tracker = _Tracker(prob.pieces(start_values), o["max_iter"], progress)
    optimiser: dict[str, Any] = {}
    interrupted = False
    try:
        scale = dict(start_values)
        if o["start"] == "constant" or o["baselines"].get("constant"):
            const = _best_constant(prob, clipped if o["start"] == "constant"  # checked
                                   else start_values)
            best = {k: float(s.values[0]) for k, s in const.schedules.items()}
            scale = best
            say("best constant: " + ", ".join(f"{k} = {v:.6g}" for k, v in best.items())
                + f" (objective {const.objective:.6g})")
            if o["start"] == "constant":
                start_values = best
                tracker.best = prob.pieces(best)
            if o["baselines"].get("constant"):
                baselines["constant"] = prob.record(prob.pieces(best))
        at_setup = {k: prob.rates[k] for k in names}
        if o["baselines"].get("setup"):
            baselines["setup"] = prob.record(prob.pieces(at_setup))
        for name, mix in (("block", None), ("interleaved", 0.5)):
            if o["baselines"].get(name):
                baselines[name] = prob.record(_mixed(prob, at_setup, mix))
        if o["baselines"].get("annealing"):
            baselines["annealing"] = _best_annealing(prob, scale)
            a = baselines["annealing"].params
            say("best annealing: " + ", ".join(f"{k}0 = {v:.6g}" for k, v in a["eta0"].items())
                + f", t0 = {a['t0']:.6g} (objective {baselines['annealing'].objective:.6g})")
        say(f"optimising {len(names)} schedule(s) of {o['n_pieces']} pieces "
            f"({o['kind']}) with L-BFGS-B, at most {o['max_iter']} iterations ...")
        optimiser = _optimise(prob, prob.pieces(start_values), tracker)
    except KeyboardInterrupt:
        interrupted = True
        optimiser = {"history": tracker.history, "iterations": len(tracker.history),
                     "message": "interrupted (Ctrl-C)"}
        warnings.warn("optimise: interrupted (Ctrl-C); the best schedule found so far is "
                      "kept", RuntimeWarning, stacklevel=2)
    finally:
        tracker.close(finished=not interrupted)
    protocols = {"optimal": prob.record(tracker.best), **baselines}
    return OptimiseResult(protocols=protocols, optimiser=optimiser, settings=settings,
                          config=config, interrupted=interrupted,
                          seconds=time.perf_counter() - t_start)


def output_paths(base: os.PathLike[str] | str) -> dict[str, Path]:
    """The files of ``odesolve optimise`` for a base name: ``schedule``
    (``<base>-schedule.json``), ``trajectory`` (``<base>-trajectory.npz``) and ``figure``
    (``<base>.png``)."""
    base = Path(base)
    return {"schedule": base.with_name(base.name + "-schedule.json"),
            "trajectory": base.with_name(base.name + "-trajectory.npz"),
            "figure": base.with_name(base.name + ".png")}


def save_result(result: OptimiseResult, base: os.PathLike[str] | str, plot: bool = True
                ) -> dict[str, Path]:
    """Write the files of :func:`output_paths` atomically (the figure only with ``plot``).

    Returns
    -------
    dict of str to Path
        The files written.
    """
    paths = output_paths(base)
    with atomic_path(paths["schedule"]) as tmp:
        tmp.write_text(json.dumps(result.to_dict(), indent=1, default=_jsonable))
    save_npz(paths["trajectory"], result.arrays(), config=result.config)
    if not plot:
        del paths["figure"]
        return paths
    plot_result(result, paths["figure"])
    return paths


_STYLES = {"optimal": ("C3", "-"), "constant": ("k", "--"), "setup": ("0.5", "-."),
           "annealing": ("C0", ":"), "block": ("0.5", "-."), "interleaved": ("C0", ":")}


def plot_result(result: OptimiseResult, path: os.PathLike[str] | str | None = None) -> Any:
    """Schedules on top (one panel per scheduled rate), the mean eps_g below, per protocol.

    Returns
    -------
    Figure or Path
        The figure, or ``path`` once written.
    """
    from .plotting import _pyplot, save_figure

    plt = _pyplot()
    names = list(result.protocols["optimal"].schedules)
    fig, axes = plt.subplots(len(names) + 1, 1, figsize=(7, 2.4 * len(names) + 3.2),
                             sharex=True, constrained_layout=True,
                             gridspec_kw={"height_ratios": [1] * len(names) + [1.6]})
    for name, p in result.protocols.items():
        color, ls = _STYLES.get(name, ("C2", "-"))
        for ax, k in zip(axes, names):
            sch = p.schedules[k]
            if sch.kind == "constant":
                ax.step(sch.times, np.append(sch.values, sch.values[-1]), where="post",
                        color=color, ls=ls, label=name)
            else:
                ax.plot(sch.times, sch.values, color=color, ls=ls, label=name)
        eps = np.nanmean(p.eps_g, axis=0)
        if eps.ndim == 2:                               # two tasks: the weighted cost
            eps = eps @ np.asarray(result.settings["replay"]["task_weights"])
        axes[-1].semilogy(p.t, np.maximum(eps, 1e-16), color=color, ls=ls,
                          label=f"{name}: {p.objective:.3g}")
    for ax, k in zip(axes, names):
        ax.set_ylabel(f"{k}(t)")
    axes[0].legend(fontsize=8)
    s = result.settings
    axes[0].set_title(f"optimal schedule ({s['objective']}, t_final = {s['t_final']:g})"
                      + (" -- interrupted" if result.interrupted else ""))
    ylabel = ("c_0 eps_0 + c_1 eps_1" if s.get("replay") else
              "eps_g" + (" (mean)" if s["n_members"] > 1 else ""))
    axes[-1].set(xlabel="t", ylabel=ylabel)
    axes[-1].legend(fontsize=8, title="objective")
    if path is None:
        return fig
    return save_figure(fig, path)
