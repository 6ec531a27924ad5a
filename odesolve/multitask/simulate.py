"""Finite-N simulation of a multi-teacher, multi-head student through a protocol.

The same :class:`~odesolve.multitask.Protocol` as the ODE: in each phase the compiled online
SGD of :mod:`odesolve.simulation.sgd` runs with all P*M teacher vectors, the active teacher's
readouts (zero for the others) and the active head. EWC pulls the first layer (and the active
head, when it is the anchored one) towards the weights at the end of the previous phase with
the diagonal Fisher information estimated by Monte Carlo on the anchored network
(``fisher_samples`` fresh inputs): ``F_il = va_i^2 <g'(lambda_i)^2 x_l^2> / N``, averaged over
the components l, and ``Fv_i = <g(lambda_i)^2>`` (odesolve/derive/ewc.py).

:func:`simulate_mixture` runs two tasks at once, the finite-N counterpart of the mixture ODE
of :mod:`odesolve.control.mixture` (replay, interleaving, task selection): every SGD step
takes its sample from task 1 with probability ``mix(t)`` and from task 0 otherwise
(docs/theory/simulation.md#theory-simulation-schedules).
"""
from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_bool, check_int, check_real
from .._jit import source_tag, specialise
from .._typing import Seed
from ..activations import activation_functions
from ..control.schedule import Schedule
from ..integration import check_times, output_times
from ..model import Overlaps
from ..simulation import sgd
from ..simulation.driver import CHUNK_SECONDS, _check_seeds, _Progress
from ..simulation.driver import SCHEDULABLE as SGD_SLOT
from ..simulation.rng import fill_normal, next_double, seed_state, standard_normal
from ..simulation.schedules import (DEFAULT_RAMP_DT, check_ramp_dt, check_schedules,
                                    segments)
from ..weights import check_N, weights_from_overlaps
from .model import MultiTaskSetup, MultiTaskState
from .ode import (ProtocolTrajectory, _check_run, _phase_setup, _phase_times,
                  phase_schedules, task_errors)
from .protocol import Protocol

__all__ = ["simulate_protocol", "multitask_weights", "simulate_mixture", "MixtureSimulation"]


def multitask_weights(state: MultiTaskState, N: int,
                      seed: Seed = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Student and teacher weights in dimension N with exactly the overlaps of ``state``.

    Returns
    -------
    W : ndarray, shape (K, N); W_star : ndarray, shape (P*M, N); V : ndarray, shape (H, K)

    Raises
    ------
    TypeError
        ``state`` is not a MultiTaskState, ``N`` not an integer, ``seed`` of the wrong type.
    ValueError
        ``N`` < K + P*M (:func:`odesolve.weights.weights_from_overlaps`).
    """
    if not isinstance(state, MultiTaskState):
        raise TypeError(f"`state` must be a MultiTaskState, got {type(state).__name__}.")
    ov = Overlaps(state.Q, state.R, state.T, state.V[0], np.ones(state.P * state.M),
                  check=False)
    W, W_star, _, _ = weights_from_overlaps(ov, N, seed=seed)
    return W, W_star, state.V.copy()


def check_dimension(setup: MultiTaskSetup, N: int) -> int:
    """``N`` as an int, large enough to hold the K student and P*M teacher vectors.

    Raises
    ------
    TypeError
        ``N`` is not an integer.
    ValueError
        ``N`` < K + P*M.
    """
    N = check_N(N)
    n_vectors = setup.K + setup.P * setup.M
    if N < n_vectors:
        raise ValueError(f"`N` must be at least K + P*M = {n_vectors} to hold the student's "
                         f"and the teachers' weight vectors, got {N}.")
    return N


def _fisher_mc(activation, W, v, n, rng):
    """Monte Carlo diagonal Fisher of the output at weights W (K, N), head v (K,)."""
    g, dg = activation_functions(activation)
    K, N = W.shape
    F, Fv = np.zeros(K), np.zeros(K)
    for lo in range(0, n, 1000):
        X = rng.standard_normal((min(1000, n - lo), N))
        lam = X @ W.T / np.sqrt(N)
        # <g'(lambda)^2 x_l^2> averaged over l: sum_l x_l^2 / N per sample
        x2 = (X ** 2).mean(axis=1)[:, None]
        F += (np.vectorize(dg)(lam) ** 2 * x2).sum(0)
        Fv += (np.vectorize(g)(lam) ** 2).sum(0)
    return v ** 2 * F / n, Fv / n


def simulate_protocol(setup: MultiTaskSetup, state: MultiTaskState, protocol: Protocol,
                      N: int = 10_000, seeds: Sequence[int] = (0,), n_out: int = 51,
                      times: ArrayLike | None = None,
                      fisher_samples: int = 4000, progress: bool = True) -> ProtocolTrajectory:
    """Simulate online SGD of the N-dimensional networks through ``protocol``.

    Parameters
    ----------
    setup, protocol :
        As :func:`~odesolve.multitask.integrate_protocol`.
    state : MultiTaskState
        One initial state; each seed gets weights with exactly its overlaps
        (:func:`multitask_weights`).
    N : int
        Input dimension, at least K + P*M (room for the student's and the teachers' weight
        vectors).
    seeds : sequence of int
        Independent runs (in parallel over the cores): distinct non-negative integers.
    n_out, times :
        Record times, as for :func:`~odesolve.multitask.integrate_protocol` (rounded to whole
        steps).
    fisher_samples : int
        Inputs for the Monte Carlo Fisher information of EWC phases, at least 1.
    progress : bool
        Progress line with ETA on stderr. Ctrl-C stops the run and returns what was
        recorded (later times NaN, ``info["interrupted"]`` True).

    Returns
    -------
    ProtocolTrajectory
        With a leading seed axis: Q (S, n, K, K), R (S, n, K, P*M), V (S, n, H, K),
        eps_g (S, n, P) from the order parameters; ``info["mean"]``/``info["sem"]`` over seeds.

    Raises
    ------
    TypeError
        An argument has the wrong type (``state`` a sequence, ``N=1e4``, ``seeds=8``, ...).
    ValueError
        As :func:`~odesolve.multitask.integrate_protocol`; ``N`` < K + P*M,
        ``fisher_samples`` < 1, ``seeds`` empty, negative or repeated.
    """
    _check_run(setup, state, protocol, batch=False)
    N = check_dimension(setup, N)
    seeds = list(_check_seeds(seeds))
    fisher_samples = check_int("fisher_samples", fisher_samples, minimum=1)
    progress = check_bool("progress", progress)
    t_all = _phase_times(protocol, n_out, times)
    S, K, PM, H = len(seeds), setup.K, setup.P * setup.M, setup.H
    seqs = [np.random.SeedSequence(s).spawn(3) for s in seeds]
    built = [multitask_weights(state, N, seed=q[0]) for q in seqs]
    W = np.ascontiguousarray(np.stack([b[0] for b in built]))
    W_star = np.ascontiguousarray(np.stack([b[1] for b in built]))
    V = np.stack([b[2] for b in built])                      # (S, H, K)
    streams = np.stack([seed_state(q[1]) for q in seqs])
    fisher_rng = [np.random.default_rng(q[2]) for q in seqs]
    fns = sgd.compiled(setup.activation)
    steps = np.round(t_all * N).astype(np.int64)
    n = t_all.size
    Q = np.full((S, n, K, K), np.nan)
    R = np.full((S, n, K, PM), np.nan)
    Vr = np.full((S, n, H, K), np.nan)
    phase_of = np.zeros(n, dtype=np.int64)
    x, fields = np.empty((S, N)), np.empty((S, K + PM))
    active = np.ones(S, dtype=np.bool_)

    def record(j):
        Q[:, j] = W @ np.swapaxes(W, 1, 2) / N
        R[:, j] = W @ np.swapaxes(W_star, 1, 2) / N
        Vr[:, j] = V

    record(0)
    done, anchor, j, interrupted = 0, None, 1, False
    bar = _Progress(int(steps[-1]), N, S, enabled=progress)
    bounds = np.round(np.cumsum([p.duration for p in protocol.phases]) * N).astype(np.int64)
    for k, ph in enumerate(protocol.phases):
        h = protocol.head(setup, k)
        start = int(bounds[k - 1]) if k else 0
        seg_bounds, seg_params, seg_ewc = _phase_segments(setup, ph, PM, start,
                                                          int(bounds[k]) - start, N)
        v_star = np.zeros((S, PM))
        v_star[:, ph.teacher * setup.M:(ph.teacher + 1) * setup.M] = state.V_star[ph.teacher]
        v = np.ascontiguousarray(V[:, h])
        if ph.ewc is not None:
            A, va, head_a = anchor
            fisher = np.zeros((S, 2, K))          # F, Fv (0 for an idle anchored head)
            coef = np.zeros((S, 3 * K))
            for s in range(S):
                F, Fv = _fisher_mc(setup.activation, A[s], va[s], fisher_samples, fisher_rng[s])
                fisher[s, 0] = F
                fisher[s, 1] = Fv if head_a == h else 0.0
                coef[s, 2 * K:] = va[s]
            ewc_args = (A, coef)
        else:
            ewc_args = sgd.no_ewc(S, K)
        seg = -1
        try:
            while j < n and steps[j] <= bounds[k]:
                while done < steps[j]:                     # chunks of t = 1: progress, Ctrl-C
                    if done >= seg_bounds[seg + 1]:        # next segment of constant values
                        seg = int(np.searchsorted(seg_bounds, done, side="right")) - 1
                        params = seg_params[seg]
                        if ph.ewc is not None:             # coefficient = rate * lambda * F/N
                            coef[:, :K] = seg_params[seg, 0] * seg_ewc[seg] * fisher[:, 0] / N
                            coef[:, K:2 * K] = (seg_params[seg, 1] * seg_ewc[seg]
                                                * fisher[:, 1] / N)
                    todo = int(min(steps[j] - done, N, seg_bounds[seg + 1] - done))
                    fns.advance(W, W_star, v, v_star, params, streams, x, fields, active,
                                todo, *ewc_args)
                    done += todo
                    bar.update(done)
                V[:, h] = v
                record(j)
                phase_of[j] = k
                j += 1
        except KeyboardInterrupt:
            interrupted = True
            break
        anchor = (W.copy(), V[:, h].copy(), h)
    bar.close(interrupted)
    eps = np.stack([task_errors(setup, state.T, state.V_star, Q[s], R[s], Vr[s])
                    for s in range(S)])
    traj = ProtocolTrajectory(t_all, Q, R, Vr, eps, phase_of, state.T.copy(),
                              state.V_star.copy(), setup, protocol,
                              info={"N": N, "seeds": seeds, "method": "sgd",
                                    "interrupted": interrupted})
    traj.info["mean"], traj.info["sem"] = {}, {}
    for name, arr in (("Q", Q), ("R", R), ("V", Vr), ("eps_g", eps)):
        traj.info["mean"][name] = arr.mean(0)
        traj.info["sem"][name] = (arr.std(0, ddof=1) / np.sqrt(S) if S > 1
                                  else np.full(arr.shape[1:], np.nan))
    return traj


def _phase_segments(setup: MultiTaskSetup, ph, PM: int, start: int, n_steps: int, N: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segments of constant hyper-parameters of one phase (steps ``start`` to ``start +
    n_steps``; its schedules read in phase time, :mod:`odesolve.simulation.schedules`).

    Returns
    -------
    bounds : ndarray of int64, shape (n_seg + 1,)
        Absolute step boundaries.
    params : ndarray, shape (n_seg, sgd.N_PARAMS)
        The SGD parameter row of each segment.
    ewc : ndarray, shape (n_seg,)
        The EWC strength of each segment (0 without EWC).
    """
    ts, _ = _phase_setup(setup, ph)
    schedules = phase_schedules(setup, ph)
    bounds, values = segments(schedules, n_steps, N)
    ts = setup.phase_setup(PM, eta=ts.eta, eta_v=ts.eta_readout, weight_decay=ts.weight_decay)
    base = sgd.pack_params(ts, train_v=ts.eta_readout > 0 or "eta_v" in schedules)
    params = np.repeat(base[None], bounds.size - 1, axis=0)
    for name, vals in values.items():
        if name != "ewc":
            params[:, SGD_SLOT[name]] = vals
    ewc = values.get("ewc", np.full(bounds.size - 1, ph.ewc or 0.0))
    return bounds + start, np.ascontiguousarray(params), ewc


# -- two tasks at once: the mixture (replay) in the simulator ------------------------------

def _mixture_advance_template(W, W_star, V, v_star, heads, params, mix, states, x, fields,
                              active, n_steps):
    """``n_steps`` SGD steps of every active seed, each on a sample of task 1 with
    probability ``mix`` and of task 0 otherwise (seeds in parallel).

    Parameters
    ----------
    W : ndarray, shape (S, K, N)
    W_star : ndarray, shape (S, 2M, N)
        Both teachers' first layers.
    V : ndarray, shape (S, H, K)
        Student heads; only the head of the sample's task is read and trained.
    v_star : ndarray, shape (2, 2M)
        Readouts of teacher p in row p (zero outside its block of M units).
    heads : ndarray of int64, shape (2,)
        Head of each task.
    params : ndarray, shape (sgd.N_PARAMS,)
    mix : float
        Probability of task 1, in [0, 1]. A uniform number is drawn from the seed's stream
        before the sample only when 0 < mix < 1 (at 0 or 1 the task is certain).
    states : ndarray of uint64, shape (S, 4)
    x : ndarray, shape (S, N); fields : ndarray, shape (S, K + 2M)
        Scratch.
    active : ndarray of bool, shape (S,)
    n_steps : int
    """
    S, K = W.shape[0], W.shape[1]
    draw = 0.0 < mix < 1.0
    for s in numba.prange(S):
        if not active[s]:
            continue
        lam = fields[s, :K]
        nu = fields[s, K:]
        for _ in range(n_steps):
            task = 1 if mix >= 1.0 else 0
            if draw and next_double(states[s]) <= mix:
                task = 1
            fill_normal(states[s], x[s])
            zeta = standard_normal(states[s])
            sgd_step(W[s], W_star[s], V[s, heads[task]], v_star[task], x[s], zeta,  # noqa: F821
                     params, lam, nu)


@functools.lru_cache(maxsize=None)
def _mixture_advance(activation):
    fns = sgd.compiled(activation)
    tag = fns.tag + "_mix_" + source_tag(_mixture_advance_template)
    return specialise(_mixture_advance_template, tag, {"parallel": True},
                      sgd_step=fns.sgd_step)


@dataclass(eq=False)
class MixtureSimulation:
    """Result of :func:`simulate_mixture`: the seed axis first.

    Attributes
    ----------
    t : ndarray, shape (n,)
        Record times (whole steps / N).
    Q : ndarray, shape (S, n, K, K)
    R : ndarray, shape (S, n, K, 2M)
    V : ndarray, shape (S, n, H, K)
    eps_g : ndarray, shape (S, n, 2)
        Generalisation error of each task through its head, from the order parameters
        (:func:`~odesolve.multitask.task_errors`).
    mean, sem : dict of str to ndarray
        ``"Q"``, ``"R"``, ``"V"``, ``"eps_g"`` averaged over the seeds, and their standard
        errors (ddof = 1, / sqrt(S); NaN for one seed).
    status : ndarray of int, shape (S,)
        0, 1 (non-finite weights: later records NaN) or 5 (interrupted).
    info : dict
        ``N``, ``seeds``, ``schedules``, ``n_segments``, ``n_steps``, ``interrupted``,
        ``steps_per_s``.
    """

    t: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    V: np.ndarray
    eps_g: np.ndarray
    mean: dict[str, np.ndarray]
    sem: dict[str, np.ndarray]
    status: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def simulate_mixture(setup: MultiTaskSetup, state: MultiTaskState,
                     schedules: Mapping[str, Schedule], N: int = 10_000,
                     t_max: float | None = None, seeds: Sequence[int] = (0,), n_out: int = 51,
                     times: ArrayLike | None = None, ramp_dt: float = DEFAULT_RAMP_DT,
                     progress: bool = True) -> MixtureSimulation:
    """Online SGD of the N-dimensional networks on a mixture of two tasks.

    The finite-N counterpart of the mixture ODE :mod:`odesolve.control.mixture`
    (docs/theory/simulation.md#theory-simulation-schedules): at every step the sample's
    teacher is task 1 with probability ``mix(t)`` (a uniform number from the seed's own
    xoshiro256++ stream, drawn only when 0 < mix < 1) and task 0 otherwise; the error uses
    that task's teacher and the student head of that task
    (:meth:`~odesolve.multitask.MultiTaskSetup.head_of`), and the step trains the first
    layer and that head (the other head is untouched), with the first-layer rate ``eta(t)``.
    The heads' rate is the setup's (``setup.eta_v``, or ``setup.eta`` when it is None), as in
    the mixture ODE, where only ``eta`` is scheduled. At ``mix`` = 0 or 1 the run is step for
    step the simulation of a task-0 or task-1 phase of :func:`simulate_protocol`.

    Parameters
    ----------
    setup : MultiTaskSetup
        Two tasks (``P = 2``); sizes, activation, rates, noise and weight decay.
    state : MultiTaskState
        Initial overlaps; each seed gets weights with exactly these overlaps
        (:func:`multitask_weights`, the same weights as :func:`simulate_protocol` for the
        same seed).
    schedules : mapping of str to Schedule
        ``"mix"`` (required, values in [0, 1]) and optionally ``"eta"`` (values >= 0,
        default the constant ``setup.eta``); time = steps / N. Applied as in
        :func:`odesolve.simulate`: constant pieces switch at their knots rounded to whole
        steps, linear pieces are held on sub-intervals of at most ``ramp_dt`` at their
        midpoint values.
    N : int
        Input dimension, at least K + 2M.
    t_max : float, optional
        Final time, positive; default ``times[-1]``.
    seeds : sequence of int
        Distinct non-negative seeds, one independent run each (in parallel).
    n_out : int
        Number of equally spaced record times when ``times`` is not given, at least 2.
    times : array_like, optional
        Record times in [0, t_max] (0 is added), rounded to whole steps.
    ramp_dt : float
        Longest sub-interval of a piecewise-linear schedule, positive.
    progress : bool
        Progress line on stderr. Ctrl-C stops the run and returns what was recorded
        (later records NaN, status 5, ``info["interrupted"]`` True).

    Returns
    -------
    MixtureSimulation

    Raises
    ------
    TypeError
        An argument has the wrong type (``setup`` not a MultiTaskSetup, ``schedules`` not a
        mapping of Schedule objects, ``N=1e4``, ...).
    ValueError
        ``setup.P`` not 2, ``state`` not of ``setup``, ``"mix"`` missing or outside [0, 1],
        an unknown schedule name, a negative ``eta``, ``N`` < K + 2M, bad times or seeds.
    """
    if not isinstance(setup, MultiTaskSetup):
        raise TypeError(f"`setup` must be a MultiTaskSetup, got {type(setup).__name__}.")
    if setup.P != 2:
        raise ValueError(f"`setup.P` must be 2 (a mixture of two tasks), got {setup.P}.")
    if not isinstance(state, MultiTaskState):
        raise TypeError(f"`state` must be a MultiTaskState, got {type(state).__name__}.")
    if (state.K, state.P, state.M, state.V.shape[0]) != (setup.K, setup.P, setup.M, setup.H):
        raise ValueError(f"`state` (K={state.K}, P={state.P}, M={state.M}, "
                         f"{state.V.shape[0]} heads) does not match `setup` (K={setup.K}, "
                         f"P={setup.P}, M={setup.M}, {setup.H} heads).")
    schedules = check_schedules(schedules, ("mix", "eta"), nonnegative=("eta",),
                                bounds={"mix": (0.0, 1.0)})
    if "mix" not in schedules:
        raise ValueError("`schedules` must contain 'mix' (the probability of task 1).")
    N = check_dimension(setup, N)
    seeds = list(_check_seeds(seeds))
    n_out = check_int("n_out", n_out, minimum=2)
    ramp_dt = check_ramp_dt(ramp_dt)
    progress = check_bool("progress", progress)
    if t_max is None:
        if times is None:
            raise ValueError("Give `t_max` or `times`.")
        times = check_times(times)
        t_max = float(times[-1])
    t_max = check_real("t_max", t_max, positive=True)
    steps = np.rint(output_times(t_max, times, n_out) * N).astype(np.int64)
    if np.any(np.diff(steps) <= 0):
        raise ValueError(f"`times` must be at least 1/N = {1 / N:g} apart (one SGD step).")

    S, K, M, H, PM = len(seeds), setup.K, setup.M, setup.H, 2 * setup.M
    seqs = [np.random.SeedSequence(s).spawn(3) for s in seeds]
    built = [multitask_weights(state, N, seed=q[0]) for q in seqs]
    W = np.ascontiguousarray(np.stack([b[0] for b in built]))
    W_star = np.ascontiguousarray(np.stack([b[1] for b in built]))
    V = np.ascontiguousarray(np.stack([b[2] for b in built]))          # (S, H, K)
    streams = np.stack([seed_state(q[1]) for q in seqs])
    v_star = np.zeros((2, PM))
    for p in range(2):
        v_star[p, p * M:(p + 1) * M] = state.V_star[p]
    heads = np.array([setup.head_of(0), setup.head_of(1)], dtype=np.int64)
    ts = setup.phase_setup(PM)
    base = sgd.pack_params(ts)
    bounds, values = segments(schedules, int(steps[-1]), N, ramp_dt)
    eta = values.get("eta", np.full(bounds.size - 1, ts.eta))
    mix = values["mix"]
    advance = _mixture_advance(setup.activation)

    n = steps.size
    Q = np.full((S, n, K, K), np.nan)
    R = np.full((S, n, K, PM), np.nan)
    Vr = np.full((S, n, H, K), np.nan)
    status = np.zeros(S, dtype=np.int64)
    active = np.ones(S, dtype=np.bool_)
    x, fields = np.empty((S, N)), np.empty((S, K + PM))

    def record(j):
        q = W @ np.swapaxes(W, 1, 2) / N
        r = W @ np.swapaxes(W_star, 1, 2) / N
        ok = np.isfinite(q).all(axis=(1, 2)) & np.isfinite(r).all(axis=(1, 2)) & \
            np.isfinite(V).all(axis=(1, 2))
        status[active & ~ok] = 1
        active[:] &= ok
        Q[active, j], R[active, j], Vr[active, j] = q[active], r[active], V[active]

    record(0)
    bar = _Progress(int(steps[-1]), N, S, enabled=progress)
    done, j, seg, chunk, interrupted = 0, 1, 0, 256, False
    params = base.copy()
    tic0 = time.perf_counter()
    try:
        while j < n:
            while bounds[seg + 1] <= done:
                seg += 1
            todo = min(int(steps[j] - done), chunk, int(bounds[seg + 1] - done))
            params[0] = eta[seg]
            tic = time.perf_counter()
            advance(W, W_star, V, v_star, heads, params, float(mix[seg]), streams, x, fields,
                    active, todo)
            elapsed = time.perf_counter() - tic
            done += todo
            if done == steps[j]:
                record(j)
                j += 1
            chunk = int(np.clip(todo * CHUNK_SECONDS / max(elapsed, 1e-6), 16, 10**8))
            bar.update(done)
    except KeyboardInterrupt:
        interrupted = True
        status[active & (status == 0)] = 5
    bar.close(interrupted)
    eps = np.stack([task_errors(setup, state.T, state.V_star, Q[s], R[s], Vr[s])
                    for s in range(S)])
    mean, sem = {}, {}
    for name, arr in (("Q", Q), ("R", R), ("V", Vr), ("eps_g", eps)):
        mean[name] = arr.mean(0)
        sem[name] = (arr.std(0, ddof=1) / np.sqrt(S) if S > 1
                     else np.full(arr.shape[1:], np.nan))
    info = {"N": N, "seeds": seeds, "method": "sgd", "interrupted": interrupted,
            "n_steps": done, "n_segments": int(bounds.size - 1),
            "steps_per_s": done / max(time.perf_counter() - tic0, 1e-9),
            "schedules": {k: sch.to_dict() for k, sch in schedules.items()}}
    return MixtureSimulation(steps / N, Q, R, Vr, eps, mean, sem, status, info)
