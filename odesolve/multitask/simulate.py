"""Finite-N simulation of a multi-teacher, multi-head student through a protocol.

The same :class:`~odesolve.multitask.Protocol` as the ODE: in each phase the compiled online
SGD of :mod:`odesolve.simulation.sgd` runs with all P*M teacher vectors, the active teacher's
readouts (zero for the others) and the active head. EWC pulls the first layer (and the active
head, when it is the anchored one) towards the weights at the end of the previous phase with
the diagonal Fisher information estimated by Monte Carlo on the anchored network
(``fisher_samples`` fresh inputs): ``F_il = va_i^2 <g'(lambda_i)^2 x_l^2> / N``, averaged over
the components l, and ``Fv_i = <g(lambda_i)^2>`` (odesolve/derive/ewc.py).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_bool, check_int
from .._typing import Seed
from ..activations import activation_functions
from ..model import Overlaps
from ..simulation import sgd
from ..simulation.driver import _check_seeds, _Progress
from ..simulation.rng import seed_state
from ..weights import check_N, weights_from_overlaps
from .model import MultiTaskSetup, MultiTaskState
from .ode import ProtocolTrajectory, _check_run, _phase_setup, _phase_times, task_errors
from .protocol import Protocol

__all__ = ["simulate_protocol", "multitask_weights"]


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
        ts, _ = _phase_setup(setup, ph)
        eta, eta_v = ts.eta, ts.eta_readout
        ts = setup.phase_setup(PM, eta=eta, eta_v=eta_v, weight_decay=ts.weight_decay)
        params = sgd.pack_params(ts)
        v_star = np.zeros((S, PM))
        v_star[:, ph.teacher * setup.M:(ph.teacher + 1) * setup.M] = state.V_star[ph.teacher]
        v = np.ascontiguousarray(V[:, h])
        if ph.ewc is not None:
            A, va, head_a = anchor
            coef = np.zeros((S, 3 * K))
            for s in range(S):
                F, Fv = _fisher_mc(setup.activation, A[s], va[s], fisher_samples, fisher_rng[s])
                coef[s, :K] = eta * ph.ewc * F / N
                coef[s, K:2 * K] = (eta_v * ph.ewc * Fv / N) if head_a == h else 0.0
                coef[s, 2 * K:] = va[s]
            ewc_args = (A, coef)
        else:
            ewc_args = sgd.no_ewc(S, K)
        try:
            while j < n and steps[j] <= bounds[k]:
                while done < steps[j]:                     # chunks of t = 1: progress, Ctrl-C
                    todo = int(min(steps[j] - done, N))
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
