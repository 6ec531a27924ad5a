"""The finite-N simulator's driver: :func:`simulate` and :func:`seed_statistics`."""
from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .. import committee
from .._checks import check_bool, check_int, check_real
from ..integration import check_times, output_times
from ..control.schedule import Schedule
from ..model import Overlaps, TeacherStudent, real_array
from ..solvers import INTERRUPTED, NONFINITE
from ..trajectory import Trajectory
from ..weights import check_N, weights_from_overlaps
from . import sgd
from .rng import seed_state
from .schedules import DEFAULT_RAMP_DT, check_ramp_dt, segments, setup_schedules

__all__ = ["simulate", "seed_statistics", "sgd_step"]

DEFAULT_N = 10_000
#: wall-clock seconds between returns to Python (progress, Ctrl-C)
CHUNK_SECONDS = 0.25
#: the hyper-parameters :func:`simulate` can schedule -> their slot in ``sgd.pack_params``
SCHEDULABLE = {"eta": 0, "eta_v": 1, "sigma": 2, "weight_decay": 3}


def sgd_step(setup: TeacherStudent, W: np.ndarray, W_star: np.ndarray, v: np.ndarray,
             v_star: np.ndarray, x: np.ndarray,
             zeta: float) -> tuple[float, np.ndarray, np.ndarray]:
    """One online SGD step on the given sample, in place: the simulator's compiled update.

    The same compiled function the simulator's main loop calls
    (docs/theory/simulation.md#theory-simulation-sgd):
    ``w_i += eta/sqrt(N) v_i g'(lambda_i) Delta x - kappa/N w_i`` and, when eta_v > 0,
    ``v_i += eta_v/N g(lambda_i) Delta - kappa/N v_i``, both from the pre-step weights.
    This is the online update (one sample); a mini-batch update (``setup.batch_size`` > 1)
    draws its b samples from the simulator's stream and is run by :func:`simulate`.

    Parameters
    ----------
    setup : TeacherStudent
    W : ndarray, shape (K, N), float64, C-contiguous
        Student weights, updated in place.
    W_star : ndarray, shape (M, N)
        Teacher weights.
    v : ndarray, shape (K,)
        Student readouts, updated in place (when eta_v > 0).
    v_star : ndarray, shape (M,)
    x : ndarray, shape (N,)
        Input.
    zeta : float
        Output noise in units of sigma.

    Returns
    -------
    delta : float
        y - yhat of the sample (before the step).
    lam : ndarray, shape (K,)
        Student local fields w_i . x / sqrt(N) before the step.
    nu : ndarray, shape (M,)
        Teacher local fields.

    Raises
    ------
    TypeError
        An array is not a writeable C-contiguous float64 ndarray, ``zeta`` not a real number.
    ValueError
        Shapes that do not fit ``setup``, or ``setup.batch_size`` other than 1.
    """
    if setup.batch_size != 1:
        raise ValueError(f"`setup.batch_size` must be 1 for sgd_step (one sample, the online "
                         f"update), got {setup.batch_size}; simulate() runs mini-batches.")
    for name, arr in (("W", W), ("W_star", W_star), ("v", v), ("x", x)):
        if not (isinstance(arr, np.ndarray) and arr.dtype == np.float64
                and arr.flags.c_contiguous and arr.flags.writeable):
            raise TypeError(f"`{name}` must be a writeable C-contiguous float64 ndarray.")
    _check_weights(setup, (W, W_star, v, real_array("v_star", v_star)))
    if x.shape != (W.shape[1],):
        raise ValueError(f"`x` has shape {x.shape}; expected ({W.shape[1]},).")
    zeta = check_real("zeta", zeta)
    lam, nu = np.empty(setup.K), np.empty(setup.M)
    delta = sgd.compiled(setup.activation).sgd_step(
        W, W_star, v, np.ascontiguousarray(v_star, dtype=np.float64), x, zeta,
        sgd.pack_params(setup), lam, nu)
    return delta, lam, nu


def simulate(setup: TeacherStudent,
             init: Overlaps | tuple[ArrayLike, ArrayLike, ArrayLike, ArrayLike],
             N: int | None = None, t_max: float | None = None, times: ArrayLike | None = None,
             seeds: Sequence[int] = (0,), n_out: int = 101, test_set: int = 0,
             progress: bool = True, schedules: Mapping[str, Schedule] | None = None,
             ramp_dt: float = DEFAULT_RAMP_DT) -> Trajectory:
    """Simulate online SGD of the finite-N network, several seeds in parallel.

    Implements docs/theory/simulation.md#theory-simulation-sgd literally: each step draws
    a fresh input x ~ N(0, I_N) and
    noise zeta ~ N(0, 1), and updates both layers from that sample
    (``w_i += eta/sqrt(N) v_i g'(lambda_i) Delta x - kappa/N w_i``,
    ``v_i += eta_v/N g(lambda_i) Delta - kappa/N v_i`` when eta_v > 0). Time is steps / N.
    With ``setup.batch_size`` = b > 1 each step is one mini-batch update: b fresh samples,
    the gradient averaged over them (docs/theory/committee.md#theory-committee-minibatch);
    time is still updates / N, so t = 1 uses b N samples.
    Seeds run in parallel (``numba.prange``); each owns a xoshiro256++ stream with Ziggurat
    normals, so results depend on the seed only, not on threads or chunking.

    Parameters
    ----------
    setup : TeacherStudent
        Sizes K, M, activation, eta, eta_v, sigma, weight decay kappa and mini-batch size.
    init : Overlaps or tuple (W, W_star, v, v_star)
        Start. An :class:`Overlaps` state (or a batch with one member per seed): each seed gets
        its own weights with exactly these overlaps (:func:`~odesolve.weights_from_overlaps`).
        Explicit weights W (K, N), W_star (M, N), v (K,), v_star (M,) (e.g. from
        :func:`~odesolve.random_weights`): every seed starts from them and only the sample
        stream differs.
    N : int, optional
        Input dimension; default 10 000 for an Overlaps start, the weights' N otherwise.
    t_max : float, optional
        Final time (examples / N), positive; default ``times[-1]``.
    times : array_like, optional
        Record times in [0, t_max] ending at ``t_max`` (0 is added); default ``n_out``
        equally spaced. Each is rounded to a whole number of steps; ``traj.t`` holds the
        times actually recorded.
    seeds : sequence of int
        Distinct non-negative seeds, one independent run each.
    n_out : int
        Number of record times when ``times`` is not given, at least 2.
    test_set : int
        When positive, also estimate eps_g on ``test_set`` fixed noise-free inputs per seed,
        ``info["eps_g_test"]`` (S, n). Costs about ``test_set`` steps per record time.
    progress : bool
        Show a progress line with the rate and ETA on stderr.
    schedules : mapping of str to Schedule, optional
        Time-dependent hyper-parameters (docs/theory/simulation.md#theory-simulation-schedules):
        any of ``"eta"``, ``"eta_v"``, ``"sigma"``, ``"weight_decay"`` mapped to an
        :class:`odesolve.control.Schedule` (time = updates / N, values >= 0); they replace
        the setup's constant values. A piecewise-constant schedule changes the parameter
        exactly at its knots, each rounded to a whole step. A piecewise-linear one is held
        constant on sub-intervals of at most ``ramp_dt``, each at the value at its midpoint
        (the exact mean of the linear piece over the sub-interval). The readouts are trained
        (and decayed by the weight decay) when ``setup.eta_readout`` > 0 or an ``"eta_v"``
        schedule is given, even on pieces where the scheduled eta_v is 0; otherwise they stay
        fixed.
    ramp_dt : float
        Longest sub-interval (time units) on which a piecewise-linear schedule is held
        constant; positive, default 0.01.

    Returns
    -------
    Trajectory
        With the seed axis first: ``Q`` (S, n, K, K), ``R`` (S, n, K, M), ``v`` (S, n, K) from
        the weights at the record times, ``eps_g`` (S, n) from these order parameters
        (:func:`~odesolve.generalisation_error`), ``T`` (S, M, M), ``v_star`` (S, M).
        ``traj.state(0)`` is the realised initial state of every seed, from which to start the
        ODE. ``status`` is 0, or 1 (non-finite weights) from ``t_fail`` on (then NaN). ``info``
        holds ``N``, ``seeds``, ``steps`` (per record), ``steps_per_s``, ``interrupted``,
        ``mean`` and ``sem`` (:func:`seed_statistics`), ``eps_g_test`` if requested, and
        with schedules ``schedules`` (their :meth:`~odesolve.control.Schedule.to_dict`) and
        ``n_segments`` (pieces of constant parameters the run was cut into).

    Raises
    ------
    TypeError
        An argument has the wrong type (e.g. ``N=1e4``, ``seeds=[0.5]``, ``t_max="2"``,
        ``schedules={"eta": 0.5}``).
    ValueError
        An argument is out of range (``n_out`` < 2, negative seeds, times outside [0, t_max]
        or closer than one step, an unknown or negative schedule, ...); the message names it.

    Notes
    -----
    Ctrl-C stops the run at the next chunk boundary (about ``CHUNK_SECONDS``) and returns what
    was recorded: later times are NaN, ``info["interrupted"]`` and ``traj.interrupted`` are
    True, and the seeds still running have status ``INTERRUPTED`` (5) with ``t_fail`` the
    time they reached.

    Examples
    --------
    >>> import odesolve
    >>> setup = odesolve.TeacherStudent(2, 2, "erf", eta=1.0)
    >>> state = odesolve.Overlaps.random(2, 2, N=1000, student_std=0.3, readout_std=0.3, seed=0)
    >>> sim = odesolve.simulate(setup, state, N=1000, t_max=2.0, seeds=range(4),
    ...                         progress=False)                          # doctest: +SKIP
    >>> ode = odesolve.integrate(setup, sim.state(0), t_max=2.0, times=sim.t)  # doctest: +SKIP
    """
    if not isinstance(setup, TeacherStudent):
        raise TypeError(f"`setup` must be an odesolve.TeacherStudent, got {type(setup).__name__}.")
    seeds = _check_seeds(seeds)
    test_set = check_int("test_set", test_set, minimum=0)
    progress = check_bool("progress", progress)
    schedules = setup_schedules(setup, schedules)
    ramp_dt = check_ramp_dt(ramp_dt)
    if t_max is None:
        if times is None:
            raise ValueError("Give `t_max` or `times`.")
        times = check_times(times)
        t_max = float(times[-1])
    t_max = check_real("t_max", t_max, positive=True)
    sequences = [np.random.SeedSequence(s).spawn(3) for s in seeds]  # weights, samples, test set
    W, W_star, v, v_star, N, kind = _initial_weights(setup, init, N, [q[0] for q in sequences])
    steps = _record_steps(t_max, times, n_out, N)
    bounds, rows = _parameter_segments(setup, schedules, int(steps[-1]), N, ramp_dt)

    run = _Run(setup, W, W_star, v, v_star, steps, test_set,
               states=np.stack([seed_state(q[1]) for q in sequences]),
               test_states=np.stack([seed_state(q[2]) for q in sequences]),
               bounds=bounds, param_rows=rows)
    bar = _Progress(steps[-1], N, len(seeds), enabled=progress)
    interrupted = run.advance_all(bar)
    bar.close(interrupted)
    info = {"method": "sgd", "N": N, "seeds": list(seeds), "init": kind, "steps": steps,
            "n_steps": run.done, "steps_per_s": bar.rate(run.done), "interrupted": interrupted,
            "test_set": test_set}
    if schedules:
        info["schedules"] = {k: sch.to_dict() for k, sch in schedules.items()}
        info["n_segments"] = int(rows.shape[0])
    return run.trajectory(info)


def _parameter_segments(setup, schedules, n_steps, N, ramp_dt):
    """Step boundaries (n_seg + 1,) and parameter rows (n_seg, sgd.N_PARAMS) of a run:
    one row, the setup's, without schedules."""
    base = sgd.pack_params(setup, train_v=setup.eta_readout > 0 or "eta_v" in schedules)
    bounds, values = segments(schedules, n_steps, N, ramp_dt)
    rows = np.repeat(base[None], bounds.size - 1, axis=0)
    for name, vals in values.items():
        rows[:, SCHEDULABLE[name]] = vals
    return bounds, np.ascontiguousarray(rows)


class _Run:
    """Buffers and records of one simulation: the weights of all seeds (S, ...), advanced in
    chunks by the compiled loop, and the order parameters at the record steps."""

    def __init__(self, setup, W, W_star, v, v_star, steps, test_set, states, test_states,
                 bounds, param_rows):
        S, K, N = W.shape
        M, n = W_star.shape[1], steps.size
        self.setup, self.steps, self.N, self.test_set = setup, steps, N, test_set
        self.W, self.W_star, self.v, self.v_star = W, W_star, v, v_star
        self.states, self.test_states = states, test_states
        self.fns = sgd.compiled(setup.activation)
        # parameters are constant on the steps [bounds[j], bounds[j + 1]): param_rows[j]
        self.bounds, self.param_rows = bounds, param_rows
        self.x, self.fields = np.empty((S, N)), np.empty((S, K + M))
        self.active = np.ones(S, dtype=np.bool_)
        self.ewc = sgd.no_ewc(S, K)
        self.Q = np.full((S, n, K, K), np.nan)
        self.R = np.full((S, n, K, M), np.nan)
        self.V = np.full((S, n, K), np.nan)
        self.eps_test = np.full((S, n), np.nan)
        self.T = W_star @ np.swapaxes(W_star, 1, 2) / N
        self.status = np.zeros(S, dtype=np.int64)
        self.t_fail = np.full(S, np.nan)
        self.done = 0

    def record(self, k):
        """Order parameters at record ``k``; seeds with non-finite weights are retired."""
        W, N, act = self.W, self.N, self.active
        q = W @ np.swapaxes(W, 1, 2) / N
        r = W @ np.swapaxes(self.W_star, 1, 2) / N
        v = self.v.copy()
        finite = (np.isfinite(q).all(axis=(1, 2)) & np.isfinite(r).all(axis=(1, 2))
                  & np.isfinite(v).all(axis=1))
        bad = act & ~finite
        self.status[bad], self.t_fail[bad], act[bad] = NONFINITE, self.steps[k] / N, False
        if self.test_set:
            out = np.full(W.shape[0], np.nan)
            self.fns.test_error(W, self.W_star, self.v, self.v_star, self.test_states,
                                self.test_set, self.x, self.fields, out)
            self.eps_test[act, k] = out[act]
        self.Q[act, k], self.R[act, k], self.V[act, k] = q[act], r[act], v[act]

    def advance_all(self, bar) -> bool:
        """Run to the last record step in chunks of about ``CHUNK_SECONDS``; True when
        interrupted (Ctrl-C), in which case the records not reached are NaN."""
        self.record(0)
        k, chunk, seg = 1, 256, 0
        try:
            while k < self.steps.size:
                while self.bounds[seg + 1] <= self.done:
                    seg += 1
                todo = min(int(self.steps[k] - self.done), chunk,
                           int(self.bounds[seg + 1] - self.done))
                tic = time.perf_counter()
                self.fns.advance(self.W, self.W_star, self.v, self.v_star,
                                 self.param_rows[seg], self.states, self.x, self.fields,
                                 self.active, todo, *self.ewc)
                elapsed = time.perf_counter() - tic
                self.done += todo
                if self.done == self.steps[k]:
                    self.record(k)
                    k += 1
                chunk = int(np.clip(todo * CHUNK_SECONDS / max(elapsed, 1e-6), 16, 10**8))
                bar.update(self.done)
        except KeyboardInterrupt:
            for arr in (self.Q, self.R, self.V, self.eps_test):
                arr[:, k:] = np.nan
            running = self.active & (self.status == 0)
            self.status[running] = INTERRUPTED
            self.t_fail[running] = self.done / self.N
            return True
        return False

    def trajectory(self, info) -> Trajectory:
        """The records as a :class:`Trajectory` (eps_g from the order parameters)."""
        setup, (S, n, K, M) = self.setup, self.R.shape
        y = np.concatenate([self.Q.reshape(S, n, K * K), self.R.reshape(S, n, K * M), self.V],
                           axis=2)
        start = Overlaps(self.Q[:, 0], self.R[:, 0], self.T, self.V[:, 0], self.v_star,
                         check=False)
        eps_g = committee.evaluate_eps_g(setup.activation, y, committee.pack_params(setup, start))
        if self.test_set:
            info["eps_g_test"] = self.eps_test
        info["messages"] = {int(s): f"non-finite weights at t = {self.t_fail[s]:g}"
                            for s in np.flatnonzero(self.status == NONFINITE)}
        traj = Trajectory(self.steps / self.N, self.Q, self.R, self.V, eps_g, self.T,
                          self.v_star.copy(), setup, self.status, self.t_fail, info)
        stats = seed_statistics(traj)
        info["mean"] = {name: m for name, (m, _) in stats.items()}
        info["sem"] = {name: e for name, (_, e) in stats.items()}
        return traj


def seed_statistics(traj: Trajectory) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Mean and standard error across seeds of a simulated trajectory.

    Parameters
    ----------
    traj : Trajectory
        From :func:`simulate` (seed axis first).

    Returns
    -------
    dict
        ``name -> (mean, sem)`` for ``"Q"`` (n, K, K), ``"R"`` (n, K, M), ``"v"`` (n, K),
        ``"eps_g"`` (n,) and, when recorded, ``"eps_g_test"`` (n,). ``sem`` is the sample
        standard deviation (ddof = 1) over sqrt(S); NaN for a single seed.
    """
    if not isinstance(traj, Trajectory):
        raise TypeError(f"`traj` must be an odesolve.Trajectory, got {type(traj).__name__}.")
    if not traj.is_batched:
        raise ValueError("`traj` must have a seed axis (a simulate() result).")
    out = {}
    names = {"Q": traj.Q, "R": traj.R, "v": traj.v, "eps_g": traj.eps_g}
    if "eps_g_test" in traj.info:
        names["eps_g_test"] = traj.info["eps_g_test"]
    for name, arr in names.items():
        S = arr.shape[0]
        mean = arr.mean(axis=0)
        sem = arr.std(axis=0, ddof=1) / math.sqrt(S) if S > 1 else np.full_like(mean, np.nan)
        out[name] = (mean, sem)
    return out


# -- validation and set-up ----------------------------------------------------------------

def _check_seeds(seeds) -> tuple:
    if isinstance(seeds, (int, np.integer)):
        raise TypeError(f"`seeds` must be a sequence of integers, e.g. range({seeds}) or "
                        f"({seeds},); got the integer {seeds}.")
    try:
        seeds = tuple(seeds)
    except TypeError:
        raise TypeError(f"`seeds` must be a sequence of integers, got {seeds!r}.") from None
    if not seeds:
        raise ValueError("`seeds` must not be empty.")
    seeds = tuple(check_int(f"seeds[{i}]", s, minimum=0) for i, s in enumerate(seeds))
    if len(set(seeds)) != len(seeds):
        raise ValueError("`seeds` must be distinct (a repeated seed repeats a run).")
    return seeds


def _check_weights(setup, weights):
    W, W_star, v, v_star = weights
    K, M = setup.K, setup.M
    if W.ndim != 2 or W.shape[0] != K:
        raise ValueError(f"`W` has shape {W.shape}; expected (K, N) with K = {K}.")
    N = W.shape[1]
    for name, arr, shape in (("W_star", W_star, (M, N)), ("v", v, (K,)), ("v_star", v_star, (M,))):
        if arr.shape != shape:
            raise ValueError(f"`{name}` has shape {arr.shape}; expected {shape} (K = {K}, "
                             f"M = {M}, N = {N}).")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"`{name}` contains non-finite values.")
    if not np.all(np.isfinite(W)):
        raise ValueError("`W` contains non-finite values.")


def _initial_weights(setup, init, N, sequences):
    """Per-seed weights W (S, K, N), W_star (S, M, N), v (S, K), v_star (S, M); N; kind."""
    S = len(sequences)
    if isinstance(init, Overlaps):
        N = DEFAULT_N if N is None else check_N(N)
        if (init.K, init.M) != (setup.K, setup.M):
            raise ValueError(f"`init` has K={init.K}, M={init.M} but `setup` has K={setup.K}, "
                             f"M={setup.M}.")
        if init.is_batched and len(init) != S:
            raise ValueError(f"`init` is a batch of {len(init)} states but there are {S} seeds; "
                             "give one state per seed or an unbatched state.")
        members = [init[s] if init.is_batched else init for s in range(S)]
        built = [weights_from_overlaps(m, N, seed=q) for m, q in zip(members, sequences)]
        kind = "overlaps"
    elif isinstance(init, (tuple, list)) and len(init) == 4:
        weights = tuple(real_array(name, a) for name, a in zip(("W", "W_star", "v", "v_star"),
                                                                init))
        _check_weights(setup, weights)
        if N is not None and check_N(N) != weights[0].shape[1]:
            raise ValueError(f"`N` = {N} does not match the weights' input dimension "
                             f"{weights[0].shape[1]}.")
        N = weights[0].shape[1]
        built = [weights] * S
        kind = "weights"
    else:
        raise TypeError("`init` must be an odesolve.Overlaps or a tuple (W, W_star, v, v_star); "
                        f"got {type(init).__name__}.")
    W, W_star, v, v_star = (np.ascontiguousarray(np.stack([b[j] for b in built]))
                            for j in range(4))
    return W, W_star, v, v_star, N, kind


def _record_steps(t_max, times, n_out, N) -> np.ndarray:
    """Record times as step counts, shape (n,), starting at 0, strictly increasing (the rules
    of :func:`odesolve.integration.output_times`, and at least one step apart)."""
    steps = np.rint(output_times(t_max, times, n_out) * N).astype(np.int64)
    if np.any(np.diff(steps) <= 0):
        raise ValueError(f"`times` must be at least 1/N = {1 / N:g} apart (one SGD step).")
    return steps


class _Progress:
    """One self-overwriting stderr line: time, percentage, steps/s and ETA."""

    def __init__(self, total, N, S, enabled=True):
        self.total, self.N, self.S, self.enabled = total, N, S, enabled
        # on a terminal one line rewritten twice a second; in a log file a line every 30 s
        self.tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
        self.every = 0.5 if self.tty else 30.0
        self.start = self.last = time.perf_counter()
        self.shown = False

    def rate(self, done):
        return done / max(time.perf_counter() - self.start, 1e-9)

    def update(self, done):
        now = time.perf_counter()
        if not self.enabled or now - self.last < self.every:
            return
        self.last = now
        rate = self.rate(done)
        eta = (self.total - done) / max(rate, 1e-9)
        line = (f"simulate: t = {done / self.N:.4g} / {self.total / self.N:.4g} "
                f"({100 * done / self.total:.0f}%), {self.S} seed(s), "
                f"{rate:,.0f} steps/s per seed, ETA {_hms(eta)}")
        sys.stderr.write(f"\r{line}   " if self.tty else f"{line}\n")
        sys.stderr.flush()
        self.shown = True

    def close(self, interrupted):
        if self.shown and self.tty:
            sys.stderr.write(" interrupted\n" if interrupted else "\n")
            sys.stderr.flush()
        elif self.shown and interrupted:
            sys.stderr.write("simulate: interrupted\n")
            sys.stderr.flush()


def _hms(seconds):
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"
