"""Integrate the committee ODEs: :func:`integrate` and :func:`generalisation_error`."""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from . import committee
from ._checks import check_bool, check_choice, check_int, check_real
from .model import Overlaps, TeacherStudent, real_array
from .solvers import INTERRUPTED, TABLEAUS, check_fixed_step, solve
from .trajectory import Trajectory

__all__ = ["integrate", "generalisation_error", "output_times"]

_DEFAULT_DT = {"euler": 0.01, "rk4": 0.01}
#: relative slack when comparing the last output time with ``t_max``
_END_RTOL = 1e-12


def output_times(t_max: float, times: ArrayLike | None = None, n_out: int = 201) -> np.ndarray:
    """Output grid of an integration from 0 to ``t_max``.

    Parameters
    ----------
    t_max : float
        Final time, positive and finite.
    times : array_like, shape (n,), optional
        Strictly increasing finite output times in [0, t_max] ending at ``t_max`` (0 is added
        when missing).
    n_out : int
        Number of equally spaced output times in [0, t_max] when ``times`` is not given; at
        least 2 (the start and the end).

    Returns
    -------
    ndarray, shape (n_t,)
        Starts at 0 and ends at ``t_max``.

    Raises
    ------
    TypeError
        ``t_max`` or ``n_out`` has the wrong type, ``times`` does not hold real numbers.
    ValueError
        naming the argument and the rule it breaks.
    """
    t_max = check_real("t_max", t_max, positive=True)
    n_out = check_int("n_out", n_out, minimum=2)
    if times is None:
        return np.linspace(0.0, t_max, n_out)
    times = check_times(times)
    if times[0] < 0 or times[-1] > t_max * (1 + _END_RTOL):
        raise ValueError(f"`times` must lie in [0, t_max] = [0, {t_max:g}].")
    if times[-1] < t_max * (1 - _END_RTOL):
        raise ValueError(f"`times` ends at {times[-1]:g} but `t_max` is {t_max:g}: the "
                         f"integration would stop at {times[-1]:g}. End `times` at `t_max` "
                         f"or set `t_max` = {times[-1]:g}.")
    if times[0] != 0.0:
        times = np.concatenate([[0.0], times])
    return times


def check_times(times) -> np.ndarray:
    """``times`` as a non-empty, finite, strictly increasing 1-D float64 array.

    Raises
    ------
    TypeError
        ``times`` does not hold real numbers (e.g. strings).
    ValueError
        naming ``times`` and the rule it breaks.
    """
    times = real_array("times", times)
    if times.ndim != 1 or times.size < 1:
        raise ValueError(f"`times` must be a non-empty 1-D array, got shape {times.shape}.")
    if not np.all(np.isfinite(times)):
        raise ValueError("`times` must be finite.")
    if np.any(np.diff(times) <= 0):
        raise ValueError("`times` must be strictly increasing.")
    return times


def integrate(setup: TeacherStudent, state: Overlaps, t_max: float, method: str = "rk4",
              dt: float | None = None, times: ArrayLike | None = None, rtol: float = 1e-8,
              atol: float = 1e-10, n_out: int = 201,
              on_failure: Literal["raise", "flag"] = "raise", max_steps: int = 10**9,
              progress: bool = True, schedules: Mapping[str, Any] | None = None
              ) -> Trajectory:
    """Integrate the order-parameter ODEs of online SGD
    (docs/theory/committee.md#theory-committee-odes).

    Parameters
    ----------
    setup : TeacherStudent
        Network sizes, activation, learning rates, noise and weight decay.
    state : Overlaps
        Initial order parameters; with a leading batch axis B all members are integrated in
        parallel (``numba.prange``), each with its own step size.
    t_max : float
        Final time (examples / N), positive.
    method : {"rk4", "euler", "dopri5"}
        Classic RK4 and explicit Euler use the fixed step ``dt`` (default 0.01; Euler at
        ``dt`` matches the literature's codes); ``"dopri5"`` is adaptive Dormand-Prince 5(4)
        with ``rtol`` and ``atol`` (or, given ``dt``, fixed steps of its 5th-order formula).
        Case-insensitive.
    dt : float, optional
        Step of the fixed-step methods, positive and at most the spacing of the output times
        (a longer one is refused: it would be cut to that spacing). Full steps are taken from
        each output time and the last one before the next output time is shortened to land on
        it, so ``dt`` need not divide the spacing. Default (``euler``, ``rk4``): 0.01,
        shortened where output times are closer than that (e.g. log-spaced times).
    times : array_like, shape (n,), optional
        Strictly increasing output times in [0, t_max], ending at ``t_max`` (0 is added when
        missing). Default: ``n_out`` equally spaced.
    rtol, atol : float
        Tolerances of ``"dopri5"`` (positive, non-negative).
    n_out : int
        Number of output times when ``times`` is not given, at least 2.
    on_failure : {"raise", "flag"}
        On divergence (non-finite overlaps, or a covariance that left the positive-definite
        cone): raise :class:`~odesolve.DivergenceError` with the time it happened, or return
        the trajectory with ``status`` and ``t_fail`` set and NaN after the failure.
    max_steps : int
        Step limit per member, at least 1.
    progress : bool
        Show a progress bar on stderr when the run lasts longer than about 2 s.
    schedules : mapping of str to Schedule, optional
        Time-dependent hyper-parameters (:class:`odesolve.control.Schedule`) by name:
        ``"eta"``, ``"eta_v"``, ``"sigma"``, ``"weight_decay"``; they replace the setup's
        values (docs/theory/control.md#theory-control-schedules); all non-negative. The solver
        restarts at every jump of a piecewise-constant schedule. An ``"eta_v"`` schedule
        trains the readouts even when ``setup.eta_v`` is 0; with ``setup.eta_v`` None (the
        readout rate is eta) an ``"eta"`` schedule drives the readout rate too.
        :func:`odesolve.simulate` takes the same schedules.

    Returns
    -------
    Trajectory
        ``Q`` (n, K, K), ``R`` (n, K, M), ``v`` (n, K), ``eps_g`` (n,) — or with a leading
        batch axis (B, n, ...).

    Raises
    ------
    TypeError
        An argument has the wrong type (e.g. ``n_out=2.5`` or ``dt="0.1"``).
    ValueError
        An argument is out of range, e.g. ``n_out=1``, or ``dt`` longer than the spacing of
        the output times (the fixed-step solver would silently shorten every step).
    DivergenceError
        With ``on_failure="raise"``, when a member diverged.

    Notes
    -----
    Ctrl-C stops the compiled run within a few hundred steps and returns what was computed,
    with a warning: members that had not finished get status ``INTERRUPTED`` (5,
    :data:`odesolve.solvers.INTERRUPTED`), ``t_fail`` the time they reached, their outputs
    up to there and NaN after; ``traj.interrupted`` is True. An interruption is not a
    divergence: ``on_failure="raise"`` does not raise for it.

    Examples
    --------
    >>> import odesolve
    >>> setup = odesolve.TeacherStudent(K=2, M=2, activation="erf", eta=0.5)
    >>> state = odesolve.Overlaps.random(2, 2, seed=0)
    >>> traj = odesolve.integrate(setup, state, t_max=100)
    >>> traj.eps_g.shape
    (201,)
    """
    _check_setup_and_state(setup, state)
    on_failure = check_choice("on_failure", on_failure, ("raise", "flag"))
    method = check_choice("method", method.lower() if isinstance(method, str) else method,
                          TABLEAUS)
    if dt is not None:
        dt = check_real("dt", dt, positive=True)
    rtol = check_real("rtol", rtol, positive=True)
    atol = check_real("atol", atol, minimum=0.0)
    max_steps = check_int("max_steps", max_steps, minimum=1)
    progress = check_bool("progress", progress)
    t_eval = output_times(t_max, times, n_out)
    if dt is None:
        dt = _DEFAULT_DT.get(method)
    else:
        check_fixed_step(dt, t_eval)          # the default may be shortened, a given dt not
    slots = _schedule_slots(setup, schedules)
    y0 = committee.pack_state(state)
    p = committee.pack_params(setup, state, committee.psd_tolerance(method, rtol, atol))
    if "eta_v" in (schedules or {}):
        p[:, committee.PARAM_INDEX["train_v"]] = 1.0
    problem = committee.committee_problem(setup)
    kw = dict(method=method, dt=dt, rtol=rtol, atol=atol, max_steps=max_steps,
              progress=progress, on_interrupt="return")
    if slots:
        from .control.scheduled import solve_scheduled

        res = solve_scheduled(problem, y0, p, t_eval, slots, **kw)
    else:
        res = solve(problem, y0, p, t_eval, **kw)
    Q, R, v = committee.unpack_state(res.y, setup.K, setup.M)
    eps_g = committee.evaluate_eps_g(setup.activation, res.y, p)
    b = state.broadcast()
    messages = {int(j): res.message(int(j)) for j in np.flatnonzero(res.status != 0)}
    info = {"method": method, "dt": dt, "rtol": rtol, "atol": atol,
            "n_rhs": res.n_rhs, "n_accepted": res.n_accepted, "n_rejected": res.n_rejected,
            "messages": messages}
    if state.is_batched:
        traj = Trajectory(res.t, Q, R, v, eps_g, b.T, b.v_star, setup, res.status, res.t_fail,
                          info)
    else:
        traj = Trajectory(res.t, Q[0], R[0], v[0], eps_g[0], state.T, state.v_star, setup,
                          res.status[0], res.t_fail[0], info)
    if res.interrupted:
        _warn_interrupted(res)
    if on_failure == "raise":
        traj.raise_if_failed()
    return traj


#: schedulable hyper-parameters -> slot names of the committee parameter row
_SLOT = {"eta": "eta", "eta_v": "eta_v", "sigma": "sigma", "weight_decay": "kappa"}


def _schedule_slots(setup, schedules):
    """Slot -> Schedule for :func:`integrate`'s ``schedules`` (checked, with the setup's
    rules: :func:`odesolve.simulation.schedules.setup_schedules`)."""
    from .simulation.schedules import setup_schedules

    return {committee.PARAM_INDEX[_SLOT[name]]: sch
            for name, sch in setup_schedules(setup, schedules).items()}


def _check_setup_and_state(setup, state):
    if not isinstance(setup, TeacherStudent):
        raise TypeError(f"`setup` must be an odesolve.TeacherStudent, got {type(setup).__name__}.")
    if not isinstance(state, Overlaps):
        raise TypeError(f"`state` must be an odesolve.Overlaps, got {type(state).__name__}.")


def _warn_interrupted(res):
    stopped = np.flatnonzero(res.status == INTERRUPTED)
    reached = res.t_fail[stopped]
    if res.status.size == 1:
        where = f" at t = {reached[0]:.6g}"
    else:
        where = (f": {stopped.size} of {res.status.size} members stopped before the end "
                 f"(the furthest at t = {reached.max():.6g})")
    warnings.warn(f"integrate: interrupted (Ctrl-C){where} (t_max = {res.t[-1]:.6g}); "
                  "returning the trajectory computed so far (later outputs are NaN, status "
                  "INTERRUPTED).", RuntimeWarning, stacklevel=3)


def generalisation_error(setup: TeacherStudent, state: Overlaps) -> float | np.ndarray:
    """eps_g = 1/2 <(yhat - y_teacher)^2> of a state, from I2
    (docs/theory/committee.md#theory-committee-eps-g).

    Parameters
    ----------
    setup : TeacherStudent
    state : Overlaps
        One state, or a batch; its K and M must match ``setup``.

    Returns
    -------
    float, or ndarray of shape (B,) for a batched state

    Raises
    ------
    TypeError
        ``setup`` or ``state`` has the wrong type.
    ValueError
        ``state`` and ``setup`` have different K or M.
    """
    _check_setup_and_state(setup, state)
    y = committee.pack_state(state)
    p = committee.pack_params(setup, state)
    out = committee.evaluate_eps_g(setup.activation, y[:, None, :], p)[:, 0]
    return out if state.is_batched else float(out[0])
