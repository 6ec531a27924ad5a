"""Integrate the committee ODEs: :func:`integrate` and :func:`generalisation_error`."""
from __future__ import annotations

import numpy as np

from . import committee
from .model import Overlaps, TeacherStudent
from .solvers import solve
from .trajectory import Trajectory

__all__ = ["integrate", "generalisation_error", "output_times"]

_DEFAULT_DT = {"euler": 0.01, "rk4": 0.01}


def output_times(t_max: float, times=None, n_out: int = 201) -> np.ndarray:
    """Output grid: ``times`` if given (must start at 0), else ``n_out`` points in [0, t_max]."""
    if not np.isfinite(t_max) or t_max <= 0:
        raise ValueError(f"`t_max` must be a positive finite number, got {t_max!r}.")
    if times is None:
        return np.linspace(0.0, float(t_max), n_out)
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or times.size < 1:
        raise ValueError("`times` must be a 1-D array of output times.")
    if np.any(np.diff(times) <= 0):
        raise ValueError("`times` must be strictly increasing.")
    if times[0] < 0 or times[-1] > t_max * (1 + 1e-12):
        raise ValueError(f"`times` must lie in [0, t_max] = [0, {t_max}].")
    if times[0] != 0.0:
        times = np.concatenate([[0.0], times])
    return times


def integrate(setup: TeacherStudent, state: Overlaps, t_max: float, method: str = "rk4",
              dt: float | None = None, times=None, rtol: float = 1e-8, atol: float = 1e-10,
              n_out: int = 201, on_failure: str = "raise", max_steps: int = 10**9) -> Trajectory:
    """Integrate the order-parameter ODEs of online SGD (THEORY.md section 1).

    Parameters
    ----------
    setup : TeacherStudent
        Network sizes, activation, learning rates, noise and weight decay.
    state : Overlaps
        Initial order parameters; with a leading batch axis B all members are integrated in
        parallel (``numba.prange``), each with its own step size.
    t_max : float
        Final time (examples / N).
    method : {"rk4", "euler", "dopri5"}
        Classic RK4 and explicit Euler use the fixed step ``dt`` (default 0.01; Euler at
        ``dt`` matches the literature's codes); ``"dopri5"`` is adaptive Dormand-Prince 5(4)
        with ``rtol`` and ``atol``.
    dt : float, optional
        Step of the fixed-step methods.
    times : array_like, optional
        Output times in [0, t_max] (0 is added when missing). Default: ``n_out`` equally spaced.
    rtol, atol : float
        Tolerances of ``"dopri5"``.
    n_out : int
        Number of output times when ``times`` is not given.
    on_failure : {"raise", "flag"}
        On divergence (non-finite overlaps, or a covariance that left the positive-definite
        cone): raise :class:`~odesolve.DivergenceError` with the time it happened, or return
        the trajectory with ``status`` and ``t_fail`` set and NaN after the failure.
    max_steps : int
        Step limit per member.

    Returns
    -------
    Trajectory
        ``Q`` (n, K, K), ``R`` (n, K, M), ``v`` (n, K), ``eps_g`` (n,) — or with a leading
        batch axis (B, n, ...).

    Examples
    --------
    >>> import odesolve
    >>> setup = odesolve.TeacherStudent(K=2, M=2, activation="erf", eta=0.5)
    >>> state = odesolve.Overlaps.random(2, 2, seed=0)
    >>> traj = odesolve.integrate(setup, state, t_max=100)
    >>> traj.eps_g.shape
    (201,)
    """
    if not isinstance(setup, TeacherStudent):
        raise TypeError(f"`setup` must be an odesolve.TeacherStudent, got {type(setup).__name__}.")
    if not isinstance(state, Overlaps):
        raise TypeError(f"`state` must be an odesolve.Overlaps, got {type(state).__name__}.")
    if on_failure not in ("raise", "flag"):
        raise ValueError(f"`on_failure` must be 'raise' or 'flag', got {on_failure!r}.")
    method = str(method).lower()
    if dt is None and method in _DEFAULT_DT:
        dt = _DEFAULT_DT[method]
    t_eval = output_times(t_max, times, n_out)
    y0 = committee.pack_state(state)
    p = committee.pack_params(setup, state, committee.psd_tolerance(method, rtol, atol))
    problem = committee.committee_problem(setup)
    res = solve(problem, y0, p, t_eval, method=method, dt=dt, rtol=rtol, atol=atol,
                max_steps=max_steps)
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
    if on_failure == "raise":
        traj.raise_if_failed()
    return traj


def generalisation_error(setup: TeacherStudent, state: Overlaps):
    """eps_g = 1/2 <(yhat - y_teacher)^2> of a state (THEORY.md section 1), from I2.

    Returns
    -------
    float, or ndarray of shape (B,) for a batched state
    """
    y = committee.pack_state(state)
    p = committee.pack_params(setup, state)
    out = committee.evaluate_eps_g(setup.activation, y[:, None, :], p)[:, 0]
    return out if state.is_batched else float(out[0])
