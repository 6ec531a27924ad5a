"""Optimal learning-rate schedules of the noisy linear student, in closed form
(docs/theory/optimal_linear.md#theory-optimal_linear).

The model is the committee machine of docs/theory/committee.md with K = M = 1, linear units
g(x) = x, readouts fixed at v = v* = 1, output noise sigma and no weight decay. All its
dynamics that matter for the error close on one number,
``e = Q - 2 R + T = |w - w*|^2 / N = 2 eps_g``, which obeys (time t = updates / N, eta the
first-layer learning rate, b the mini-batch size)
``de/dt = -2 eta e + eta^2 (e + sigma^2) / b``.

With eta = b eta' and tau = b t (examples / N) this is the b = 1 equation in (tau, eta'), so
every result for b = 1 carries over: ``eta*(t) = b eta'*(b t)``, ``e(t) = e'(b t)``, and a
bound eta <= eta_max becomes eta' <= eta_max / b. The functions take ``batch_size`` and apply this
rescaling; the formulas below are written for b = 1.

The right-hand side is convex in eta with minimiser eta = e / (e + sigma^2). Because the
equation is one-dimensional and its flow is monotone in e, this pointwise ("greedy") choice is
the optimal schedule for the final error at any horizon, and for its time integral too; with
a bound 0 <= eta <= eta_max it is clipped to the bound. With u = sigma^2 / e it gives
u + ln u = t + const, i.e. u(t) = W(u_0 exp(u_0 + t)) (W the Lambert function), and
``eta*(t) = 1 / (1 + u(t)) ~ 1/t`` at late times.

The functions here are independent references for the optimiser of :mod:`odesolve.control`:
closed forms (and one quadrature, for the 1/t baseline), no ODE solver.

* :func:`linear_student_error_rate` -- de/dt;
* :func:`constant_rate_error` -- e(t) under a constant learning rate;
* :func:`optimal_linear_schedule` -- the continuous optimum ``eta*(t)``, e(t);
* :func:`bound_switch_time` -- when the bound eta_max stops being active;
* :func:`optimal_integrated_error` -- the smallest time integral of e up to a horizon;
* :func:`optimal_piecewise_schedule` -- the exact optimum among schedules that are constant on
  n equal pieces (the problem a discretised optimiser solves);
* :func:`one_over_t_schedule` -- the annealing baseline eta = c / (t + t0) and its error.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate, optimize, special

from ._checks import check_int, check_real, real_array

__all__ = ["linear_student_error_rate", "constant_rate_error", "optimal_linear_schedule",
           "bound_switch_time", "optimal_integrated_error", "optimal_piecewise_schedule",
           "one_over_t_schedule"]


# --------------------------------------------------------------------------------------------
# argument checks


def _nonnegative_array(name: str, value: Any) -> np.ndarray:
    arr = real_array(name, value)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite (it holds NaN or inf).")
    if np.any(arr < 0):
        raise ValueError(f"`{name}` must be >= 0, got a minimum of {arr.min():g}.")
    return arr


def _batch(batch_size: int) -> int:
    return check_int("batch_size", batch_size, minimum=1)


def _eta_cap(eta_max: float | None) -> float:
    """The upper bound on eta as a float (inf when there is none)."""
    if eta_max is None:
        return math.inf
    return check_real("eta_max", eta_max, positive=True)


# --------------------------------------------------------------------------------------------
# the ODE and its flow at constant eta


def linear_student_error_rate(e: ArrayLike, eta: ArrayLike, sigma: float,
                              batch_size: int = 1) -> np.ndarray:
    """de/dt = -2 eta e + eta^2 (e + sigma^2) / b of the noisy linear student.

    Parameters
    ----------
    e : array_like
        Error e = Q - 2R + T = 2 eps_g, >= 0.
    eta : array_like
        First-layer learning rate, >= 0; broadcast against ``e``.
    sigma : float
        Standard deviation of the teacher's output noise, >= 0.
    batch_size : int
        Mini-batch size b, >= 1.

    Returns
    -------
    ndarray, shape ``np.broadcast_shapes(e.shape, eta.shape)``

    Raises
    ------
    TypeError
        An argument does not hold real numbers.
    ValueError
        An argument is negative, NaN or infinite, or ``e`` and ``eta`` do not broadcast.
    """
    e = _nonnegative_array("e", e)
    eta = _nonnegative_array("eta", eta)
    s = check_real("sigma", sigma, minimum=0.0) ** 2
    b = _batch(batch_size)
    try:
        np.broadcast_shapes(e.shape, eta.shape)
    except ValueError:
        raise ValueError(f"`e` (shape {e.shape}) and `eta` (shape {eta.shape}) must "
                         "broadcast together.") from None
    return -2.0 * eta * e + eta ** 2 * (e + s) / b


def _flow(e: np.ndarray | float, eta: float, s: float, h: np.ndarray | float) -> np.ndarray:
    """e after a time h at constant eta: e exp(-a h) + eta^2 s (1 - exp(-a h)) / a,
    a = eta (2 - eta); the second factor is written h * exprel(-a h), exact at a = 0."""
    a = eta * (2.0 - eta)
    return e * np.exp(-a * h) + eta ** 2 * s * h * special.exprel(-a * h)


def constant_rate_error(t: ArrayLike, e0: float, eta: float, sigma: float,
                        batch_size: int = 1) -> np.ndarray:
    """Closed-form e(t) under a constant learning rate.

    With a = eta (2 - eta) and the fixed point e_inf = eta sigma^2 / (2 - eta),
    ``e(t) = e_inf + (e0 - e_inf) exp(-a t)`` (b = 1; for b > 1 with eta / b at time b t);
    written so that a = 0 (eta = 0 or 2) is exact.

    Parameters
    ----------
    t : array_like
        Times (updates / N), >= 0, any shape.
    e0 : float
        Initial error e(0) = Q - 2R + T, >= 0.
    eta : float
        The constant learning rate, >= 0.
    sigma : float
        Output-noise standard deviation, >= 0.
    batch_size : int
        Mini-batch size b, >= 1.

    Returns
    -------
    ndarray, shape of ``t``

    Raises
    ------
    TypeError
        An argument does not hold real numbers.
    ValueError
        An argument is negative, NaN or infinite.
    """
    t = _nonnegative_array("t", t)
    e0 = check_real("e0", e0, minimum=0.0)
    eta = check_real("eta", eta, minimum=0.0)
    s = check_real("sigma", sigma, minimum=0.0) ** 2
    b = _batch(batch_size)
    return _flow(np.full_like(t, e0), eta / b, s, b * t)


# --------------------------------------------------------------------------------------------
# the continuous optimum


def _solve_u(L: np.ndarray) -> np.ndarray:
    """The root u > 0 of u + ln u = L, i.e. u = W(exp(L)) (principal branch)."""
    u = np.empty_like(L)
    small = L < 700.0                         # exp(L) is finite
    u[small] = special.lambertw(np.exp(L[small])).real
    big = ~small
    if np.any(big):                           # Newton from the asymptotic expansion
        x = L[big] - np.log(L[big])
        for _ in range(8):
            x -= (x + np.log(x) - L[big]) / (1.0 + 1.0 / x)
        u[big] = x
    return u


def _switch(e0: float, s: float, cap: float) -> tuple[float, float]:
    """(t_c, e_c): the time at which the bound stops being active and the error there
    (t_c = 0, e_c = e0 when it is never active; t_c = inf when it always is)."""
    if cap >= 1.0 or e0 == 0.0:
        return 0.0, e0
    if s == 0.0:
        return math.inf, 0.0
    e_c = cap * s / (1.0 - cap)               # where e / (e + s) = eta_max
    if e0 <= e_c:
        return 0.0, e0
    a = cap * (2.0 - cap)
    e_inf = cap * s / (2.0 - cap)
    return math.log((e0 - e_inf) / (e_c - e_inf)) / a, e_c


def bound_switch_time(e0: float, sigma: float, eta_max: float, batch_size: int = 1) -> float:
    """Time t_c until which the optimal schedule sits at the bound ``eta_max``.

    The unconstrained optimum e / (e + sigma^2) exceeds ``eta_max`` while
    e > e_c = eta_max sigma^2 / (1 - eta_max); at constant eta_max the error reaches e_c at
    t_c = ln((e0 - e_inf) / (e_c - e_inf)) / (eta_max (2 - eta_max)),
    e_inf = eta_max sigma^2 / (2 - eta_max) (b = 1; for b > 1 with eta_max / b, and t_c / b).

    Parameters
    ----------
    e0 : float
        Initial error Q - 2R + T, >= 0.
    sigma : float
        Output-noise standard deviation, >= 0.
    eta_max : float
        Upper bound on the learning rate, > 0.
    batch_size : int
        Mini-batch size b, >= 1.

    Returns
    -------
    float
        t_c; 0 when the bound is never active (``eta_max >= b``, or ``e0 <= e_c``), ``inf``
        when it always is (``sigma = 0`` and ``eta_max < b``, ``e0 > 0``).

    Raises
    ------
    TypeError
        An argument is not a real number.
    ValueError
        An argument is out of range, NaN or infinite.
    """
    e0 = check_real("e0", e0, minimum=0.0)
    s = check_real("sigma", sigma, minimum=0.0) ** 2
    cap = check_real("eta_max", eta_max, positive=True)
    b = _batch(batch_size)
    return _switch(e0, s, cap / b)[0] / b


def optimal_linear_schedule(t: ArrayLike, e0: float, sigma: float,
                            eta_max: float | None = None,
                            batch_size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The optimal learning-rate schedule eta*(t) and the error e(t) it gives, in closed form.

    The schedule minimises e(t_f) (= 2 eps_g) for every horizon t_f at once, and also the time
    integral of e (docs/theory/optimal_linear.md#theory-optimal_linear-greedy). Without a
    bound (or after the bound stops being active, at t_c of :func:`bound_switch_time`)
    ``eta*(t) = e / (e + sigma^2) = 1 / (1 + u(t))`` with ``u = sigma^2 / e`` solving
    ``u + ln u = t - t_c + u_c + ln u_c``:

        u(t) = W(u_c exp(u_c + t - t_c)),        e(t) = sigma^2 / u(t),

    W the principal Lambert function and u_c = sigma^2 / e(t_c). Before t_c,
    ``eta* = eta_max`` and e follows :func:`constant_rate_error`. Without noise eta* = 1
    (or ``eta_max`` when smaller) and e = e0 exp(-eta (2 - eta) t). These are the b = 1
    formulas; a mini-batch of b samples gives b eta*(b t) and e(b t) of them, with eta_max / b.

    Parameters
    ----------
    t : array_like
        Times (updates / N), >= 0, any shape.
    e0 : float
        Initial error e(0) = Q - 2R + T, >= 0.
    sigma : float
        Output-noise standard deviation, >= 0.
    eta_max : float, optional
        Upper bound on the learning rate, > 0 (no bound by default; a bound >= b is never
        active).
    batch_size : int
        Mini-batch size b, >= 1.

    Returns
    -------
    eta : ndarray, shape of ``t``
        The optimal learning rate eta*(t). Where e = 0 and sigma > 0 it is 0; where e = 0 and
        sigma = 0 every rate is optimal and min(b, eta_max) is returned.
    e : ndarray, shape of ``t``
        The error e(t) = 2 eps_g(t) under it.

    Raises
    ------
    TypeError
        An argument does not hold real numbers.
    ValueError
        ``t`` negative, NaN or infinite; ``e0`` or ``sigma`` negative or not finite;
        ``eta_max`` not positive.

    Examples
    --------
    >>> eta, e = optimal_linear_schedule([0.0, 1e4], e0=2.0, sigma=0.5)
    >>> bool(abs(eta[0] - 2.0 / 2.25) < 1e-12), bool(abs(eta[1] * 1e4 - 1) < 2e-3)
    (True, True)
    """
    t = _nonnegative_array("t", t)
    e0 = check_real("e0", e0, minimum=0.0)
    s = check_real("sigma", sigma, minimum=0.0) ** 2
    b = _batch(batch_size)
    eta, e = _optimum(b * t, e0, s, _eta_cap(eta_max) / b)
    return np.asarray(b * eta), e


def _optimum(t: np.ndarray, e0: float, s: float, cap: float) -> tuple[np.ndarray, np.ndarray]:
    """(eta*, e) at times t for b = 1."""
    if s == 0.0:                                   # noiseless: the fastest contraction
        eta0 = min(1.0, cap)
        return np.full_like(t, eta0), _flow(np.full_like(t, e0), eta0, 0.0, t)
    if e0 == 0.0:                                  # already perfect: do not move
        return np.zeros_like(t), np.zeros_like(t)
    t_c, e_c = _switch(e0, s, cap)
    eta = np.empty_like(t)
    e = np.empty_like(t)
    early = t < t_c
    eta[early] = cap
    e[early] = _flow(np.full(np.count_nonzero(early), e0), cap, s, t[early])
    late = ~early
    u_c = s / e_c
    u = _solve_u(u_c + math.log(u_c) + (t[late] - t_c))
    eta[late] = 1.0 / (1.0 + u)
    e[late] = s / u
    return eta, e


def optimal_integrated_error(t_f: float, e0: float, sigma: float,
                             eta_max: float | None = None, batch_size: int = 1) -> float:
    """The smallest time integral of e = 2 eps_g over [0, t_f], reached by
    :func:`optimal_linear_schedule`.

    With u = sigma^2 / e along the optimum, dt = (1 + 1/u) du, so the unconstrained part
    contributes ``sigma^2 [ln(u_f / u_c) + 1/u_c - 1/u_f]``; the part at the bound (before t_c)
    contributes ``e_inf t + (e0 - e_inf)(1 - exp(-a t)) / a`` with a = eta_max (2 - eta_max),
    e_inf = eta_max sigma^2 / (2 - eta_max) (b = 1; for b > 1 the b = 1 value at horizon b t_f
    with eta_max / b, divided by b)
    (docs/theory/optimal_linear.md#theory-optimal_linear-integral).

    Parameters
    ----------
    t_f : float
        Horizon, >= 0.
    e0 : float
        Initial error e(0) = Q - 2R + T, >= 0.
    sigma : float
        Output-noise standard deviation, >= 0.
    eta_max : float, optional
        Upper bound on the learning rate, > 0.
    batch_size : int
        Mini-batch size b, >= 1.

    Returns
    -------
    float
        min over schedules of int_0^t_f e(t) dt (twice the integral of eps_g).

    Raises
    ------
    TypeError
        An argument is not a real number.
    ValueError
        An argument is out of range, NaN or infinite.
    """
    t_f = check_real("t_f", t_f, minimum=0.0)
    e0 = check_real("e0", e0, minimum=0.0)
    s = check_real("sigma", sigma, minimum=0.0) ** 2
    b = _batch(batch_size)
    return _integral(b * t_f, e0, s, _eta_cap(eta_max) / b) / b


def _integral(t_f: float, e0: float, s: float, cap: float) -> float:
    """int_0^t_f e dt along the optimum for b = 1."""
    if e0 == 0.0:
        return 0.0
    if s == 0.0:
        eta = min(1.0, cap)
        return e0 * t_f * float(special.exprel(-eta * (2.0 - eta) * t_f))
    t_c, e_c = _switch(e0, s, cap)
    total = 0.0
    t_1 = min(t_c, t_f)
    if t_1 > 0.0:                                  # at the bound: integral of the flow
        a = cap * (2.0 - cap)
        e_inf = cap * s / (2.0 - cap)
        total += e_inf * t_1 + (e0 - e_inf) * t_1 * float(special.exprel(-a * t_1))
    if t_f > t_c:
        u_c = s / e_c
        u_f = float(_solve_u(np.array([u_c + math.log(u_c) + (t_f - t_c)]))[0])
        total += s * (math.log(u_f / u_c) + 1.0 / u_c - 1.0 / u_f)
    return total


# --------------------------------------------------------------------------------------------
# the optimum among piecewise-constant schedules


def _flow_slope(eta: float, e: float, s: float, h: float) -> float:
    """d/d eta of the flow map e -> e(h) at constant eta (see the theory page)."""
    a = eta * (2.0 - eta)
    E = math.exp(-a * h)
    G = h * float(special.exprel(-a * h))           # (1 - exp(-a h)) / a
    return (-2.0 * (1.0 - eta) * h * E * e + 2.0 * eta * s * G
            + 2.0 * (1.0 - eta) * eta * s / (2.0 - eta) * (h * E - G))


def _piece_optimum(e: float, s: float, h: float, upper: float) -> float:
    """The eta in [0, upper] (upper <= 1) that minimises the error after one piece of length h."""
    if s == 0.0:
        return upper                               # exp(-eta (2 - eta) h) falls up to eta = 1
    if e == 0.0:
        return 0.0
    if _flow_slope(upper, e, s, h) <= 0.0:         # still falling at the bound
        return upper
    return optimize.brentq(_flow_slope, 0.0, upper, args=(e, s, h), xtol=1e-15,
                           rtol=4 * np.finfo(float).eps, maxiter=200)


def optimal_piecewise_schedule(t_f: float, n_pieces: int, e0: float, sigma: float,
                               eta_max: float | None = None, batch_size: int = 1
                               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact optimum of e(t_f) among schedules constant on ``n_pieces`` equal pieces.

    On a piece of length h = t_f / n_pieces at constant eta the error moves by the flow map
    ``e -> e exp(-a h) + eta^2 sigma^2 (1 - exp(-a h)) / a``, a = eta (2 - eta), which increases
    with e (b = 1; for b > 1 with eta / b and h b). Hence the optimum is greedy piece by
    piece: each piece takes the eta in [0, min(b, eta_max)] that minimises the error at its
    end, the root of the closed-form derivative of the flow map in eta (Brent's method to
    machine precision)
    (docs/theory/optimal_linear.md#theory-optimal_linear-pieces).

    Parameters
    ----------
    t_f : float
        Horizon, > 0.
    n_pieces : int
        Number of equal pieces, >= 1.
    e0 : float
        Initial error e(0) = Q - 2R + T, >= 0.
    sigma : float
        Output-noise standard deviation, >= 0.
    eta_max : float, optional
        Upper bound on the learning rate, > 0.
    batch_size : int
        Mini-batch size b, >= 1.

    Returns
    -------
    edges : ndarray, shape (n_pieces + 1,)
        Piece boundaries 0, h, ..., t_f.
    eta : ndarray, shape (n_pieces,)
        The optimal learning rate on each piece.
    e_edges : ndarray, shape (n_pieces + 1,)
        The error at the edges under it; ``e_edges[-1]`` is the optimal final error.

    Raises
    ------
    TypeError
        An argument has the wrong type (e.g. a float ``n_pieces``).
    ValueError
        An argument is out of range, NaN or infinite.
    """
    t_f = check_real("t_f", t_f, positive=True)
    n = check_int("n_pieces", n_pieces, minimum=1)
    e0 = check_real("e0", e0, minimum=0.0)
    s = check_real("sigma", sigma, minimum=0.0) ** 2
    b = _batch(batch_size)
    upper = min(1.0, _eta_cap(eta_max) / b)        # eta > b never helps (theory page)
    edges = np.linspace(0.0, t_f, n + 1)
    h = b * t_f / n
    eta = np.empty(n)
    e_edges = np.empty(n + 1)
    e_edges[0] = e0
    for k in range(n):
        eta[k] = _piece_optimum(float(e_edges[k]), s, h, upper)
        e_edges[k + 1] = _flow(float(e_edges[k]), float(eta[k]), s, h)
    return edges, b * eta, e_edges


# --------------------------------------------------------------------------------------------
# the annealing baseline


def one_over_t_schedule(t: ArrayLike, e0: float, sigma: float, c: float = 1.0,
                        t0: float = 1.0, batch_size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The annealing schedule eta(t) = c / (t + t0) and the error it gives.

    With tau = t + t0 the equation for e is linear, and

        e(t) = e0 (t0/tau)^(2c) exp(c^2 (1/t0 - 1/tau))
               + c^2 sigma^2 int_{t0}^{tau} (x/tau)^(2c) x^(-2) exp(c^2 (1/x - 1/tau)) dx,

    the integral evaluated by adaptive quadrature (``scipy.integrate.quad``, relative
    tolerance 1e-12). For c > 1/2, e ~ c^2 sigma^2 / ((2c - 1) t) at late times, smallest
    (sigma^2 / t, the optimal schedule's asymptote) at c = 1. These are the b = 1 formulas; with
    b samples per update, eta / b = c / (tau + b t0) in tau = b t, so e(t) is the b = 1 error
    at time b t with offset b t0.

    Parameters
    ----------
    t : array_like, shape (n,)
        Times, >= 0.
    e0 : float
        Initial error, >= 0.
    sigma : float
        Output-noise standard deviation, >= 0.
    c : float
        Prefactor, > 0.
    t0 : float
        Offset, > 0 (the schedule starts at eta(0) = c / t0).
    batch_size : int
        Mini-batch size b, >= 1.

    Returns
    -------
    eta : ndarray, shape (n,)
    e : ndarray, shape (n,)
        ``inf`` where the error leaves the float range (a schedule that starts far above the
        stability limit eta = 2 blows up the error by a factor exp(c^2 / t0)).

    Raises
    ------
    TypeError
        An argument does not hold real numbers.
    ValueError
        An argument is out of range, NaN or infinite, or ``t`` is not one-dimensional.
    """
    t = _nonnegative_array("t", t)
    if t.ndim != 1:
        raise ValueError(f"`t` must be one-dimensional, got shape {t.shape}.")
    e0 = check_real("e0", e0, minimum=0.0)
    s = check_real("sigma", sigma, minimum=0.0) ** 2
    c = check_real("c", c, positive=True)
    t0 = check_real("t0", t0, positive=True)
    b = _batch(batch_size)
    rate = c / (t + t0)
    t, t0 = b * t, b * t0                           # the b = 1 problem in tau = b t
    tau = t + t0
    with np.errstate(over="ignore"):
        decay = np.exp(2 * c * np.log(t0 / tau) + c * c * (1.0 / t0 - 1.0 / tau))
    noise = np.empty_like(tau)
    for j, T in enumerate(tau):                     # integrand in log form
        try:
            noise[j] = integrate.quad(
                lambda x: math.exp(2 * c * math.log(x / T) - 2 * math.log(x)
                                   + c * c * (1.0 / x - 1.0 / T)),
                t0, T, epsabs=0.0, epsrel=1e-12, limit=200)[0]
        except OverflowError:                       # a schedule that starts far above 2
            noise[j] = math.inf
    return rate, e0 * decay + c * c * s * noise
