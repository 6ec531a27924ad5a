"""The optimal learning-rate schedule of the noisy linear student (odesolve/optimal_linear.py,
docs/theory/optimal_linear.md), checked against the package's compiled committee equations and
against numerical integrations that share no code with the closed forms."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad, solve_ivp
from scipy.optimize import minimize

import odesolve
from odesolve import committee
from odesolve.optimal_linear import (bound_switch_time, constant_rate_error,
                                     linear_student_error_rate, one_over_t_schedule,
                                     optimal_integrated_error, optimal_linear_schedule,
                                     optimal_piecewise_schedule)

AREA = "Optimal schedules (linear student)"
#: the reference case: student orthogonal to the teacher (Q = T = 1, R = 0), sigma = 0.5
E0, SIGMA = 2.0, 0.5
S = SIGMA ** 2


def greedy_rate(e, s, eta_max):
    """The pointwise minimiser of de/dt over 0 <= eta <= eta_max, written out again."""
    return min(e / (e + s), eta_max if eta_max is not None else math.inf)


def rk4_final_error(etas, h, e0, s, substeps=50):
    """Final e under piecewise-constant schedules ``etas`` (P, n) by classic RK4 in NumPy,
    ``substeps`` steps per piece (independent of the closed-form flow map)."""
    etas = np.atleast_2d(np.asarray(etas, dtype=float))
    e = np.full(etas.shape[0], float(e0))
    dt = h / substeps
    for k in range(etas.shape[1]):
        a = etas[:, k]

        def f(y):
            return -2.0 * a * y + a * a * (y + s)

        for _ in range(substeps):
            k1 = f(e)
            k2 = f(e + 0.5 * dt * k1)
            k3 = f(e + 0.5 * dt * k2)
            k4 = f(e + dt * k3)
            e = e + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return e


def test_error_ode_equals_the_compiled_linear_committee_rhs(validation):
    rng = np.random.default_rng(16)
    worst = 0.0
    for _ in range(40):
        eta, sigma = rng.uniform(0.0, 3.0), rng.uniform(0.0, 2.0)
        b = int(rng.choice([1, 10, 100]))
        T = rng.uniform(0.2, 3.0)
        R = rng.uniform(-1.0, 1.0) * math.sqrt(T)
        Q = R * R / T + rng.uniform(0.0, 2.0)              # a valid covariance
        setup = odesolve.TeacherStudent(K=1, M=1, activation="linear", eta=eta, eta_v=0.0,
                                        sigma=sigma, batch_size=b)
        state = odesolve.Overlaps(Q=[[Q]], R=[[R]], T=[[T]], v=[1.0], v_star=[1.0])
        y = committee.pack_state(state)[0]
        p = committee.pack_params(setup, state)[0]
        problem = committee.committee_problem(setup)
        out = np.zeros_like(y)
        problem.rhs(0.0, y, p, np.zeros(problem.n_work), out)
        dQ, dR, dv = committee.unpack_state(out, 1, 1)
        assert dv[0] == 0.0                                # readout fixed
        de = dQ[0, 0] - 2.0 * dR[0, 0]                     # T does not move
        ours = linear_student_error_rate(Q - 2 * R + T, eta, sigma, batch_size=b)
        worst = max(worst, abs(de - ours) / max(1.0, abs(de)))
    validation("optimal_linear.error-ode-vs-committee-rhs", area=AREA,
               claim="for K = M = 1, linear units, v = v* = 1 fixed, e = Q - 2R + T obeys "
                     "de/dt = -2 eta e + eta^2 (e + sigma^2) / b",
               method="dQ/dt - 2 dR/dt of the compiled (derived) linear committee rhs at 40 "
                      "random states, eta in [0, 3], sigma in [0, 2], b in {1, 10, 100}",
               measured=worst, bound=1e-12, unit="max relative difference")
    assert worst < 1e-12


def test_constant_rate_error_matches_integrate(validation):
    t = np.linspace(0.0, 8.0, 9)
    worst = 0.0
    for eta in (0.3, 1.0, 1.7):
        setup = odesolve.TeacherStudent(K=1, M=1, activation="linear", eta=eta, eta_v=0.0,
                                        sigma=SIGMA)
        state = odesolve.Overlaps(Q=[[1.0]], R=[[0.0]], T=[[1.0]], v=[1.0], v_star=[1.0])
        traj = odesolve.integrate(setup, state, t_max=8.0, times=t, method="dopri5",
                                  rtol=1e-11, atol=1e-13, progress=False)
        ours = constant_rate_error(t, E0, eta, SIGMA)
        worst = max(worst, np.abs(2.0 * traj.eps_g - ours).max())
    validation("optimal_linear.constant-rate-vs-integrate", area=AREA,
               claim="e(t) = e_inf + (e0 - e_inf) exp(-eta (2 - eta) t) at constant eta, "
                     "e_inf = eta sigma^2 / (2 - eta)",
               method="2 eps_g of odesolve.integrate (dopri5, rtol 1e-11), eta = 0.3, 1, 1.7",
               measured=worst, bound=1e-9, unit="max abs difference")
    assert worst < 1e-9


@pytest.mark.parametrize("eta_max", [None, 0.5, 0.1])
def test_closed_form_optimum_solves_the_greedy_ode(eta_max, validation):
    t = np.linspace(0.0, 30.0, 61)
    if eta_max is not None:                         # land on the switch exactly once
        t = np.union1d(t, [bound_switch_time(E0, SIGMA, eta_max)])
    eta, e = optimal_linear_schedule(t, E0, SIGMA, eta_max)
    ref = solve_ivp(lambda _, y: linear_student_error_rate(y, greedy_rate(y[0], S, eta_max),
                                                           SIGMA),
                    (0.0, 30.0), [E0], t_eval=t, method="DOP853", rtol=1e-13, atol=1e-15).y[0]
    rates = np.array([greedy_rate(x, S, eta_max) for x in ref])
    err = max(np.abs(e - ref).max(), np.abs(eta - rates).max())
    validation(f"optimal_linear.closed-form-vs-ode.eta_max{eta_max}", area=AREA,
               claim="eta*(t) = min(eta_max, 1/(1 + W(u_c exp(u_c + t - t_c)))) and "
                     f"e = sigma^2/u solve de/dt = min_eta de/dt (eta_max = {eta_max})",
               method="scipy DOP853 (rtol 1e-13) of de/dt with eta = min(e/(e + sigma^2), "
                      "eta_max), e0 = 2, sigma = 0.5, t <= 30",
               measured=err, bound=1e-10, unit="max abs difference of e and eta")
    assert err < 1e-10


def test_mini_batch_optimum_is_the_rescaled_one():
    """With b samples per update eta* = min(b e/(e + sigma^2), eta_max): the closed form
    solves that ODE, and the piecewise optimum is the b = 1 one at time b t, rates times b."""
    b, eta_max = 10, 4.0
    t = np.linspace(0.0, 3.0, 31)
    eta, e = optimal_linear_schedule(t, E0, SIGMA, eta_max, batch_size=b)

    def rhs(_, y):
        rate = min(b * y[0] / (y[0] + S), eta_max)
        return -2 * rate * y + rate ** 2 * (y + S) / b

    ref = solve_ivp(rhs, (0.0, 3.0), [E0], t_eval=t, method="DOP853", rtol=1e-13,
                    atol=1e-15).y[0]
    np.testing.assert_allclose(e, ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(eta, np.minimum(b * ref / (ref + S), eta_max), atol=1e-10)
    assert np.any(eta == eta_max) and np.any(eta < eta_max)
    edges_b, eta_b, e_b = optimal_piecewise_schedule(3.0, 30, E0, SIGMA, eta_max, batch_size=b)
    edges_1, eta_1, e_1 = optimal_piecewise_schedule(30.0, 30, E0, SIGMA, eta_max / b)
    np.testing.assert_allclose(eta_b, b * eta_1, rtol=1e-14)
    np.testing.assert_allclose(e_b, e_1, rtol=1e-14)
    assert optimal_integrated_error(3.0, E0, SIGMA, eta_max, batch_size=b) == pytest.approx(
        quad(lambda tt: optimal_linear_schedule([tt], E0, SIGMA, eta_max, b)[1][0], 0.0, 3.0,
             points=[bound_switch_time(E0, SIGMA, eta_max, b)], epsrel=1e-12)[0], rel=1e-10)
    np.testing.assert_allclose(constant_rate_error(t, E0, 2.0, SIGMA, batch_size=b),
                               solve_ivp(lambda _, y: -4 * y + 4 * (y + S) / b, (0.0, 3.0),
                                         [E0], t_eval=t, rtol=1e-13, atol=1e-15,
                                         method="DOP853").y[0], atol=1e-10)


def test_optimal_rate_is_the_pointwise_minimiser_of_the_error_rate():
    grid = np.linspace(0.0, 2.0, 200001)
    for e in (1e-3, 0.1, 2.0, 50.0):
        best = grid[np.argmin(linear_student_error_rate(e, grid, SIGMA))]
        assert best == pytest.approx(e / (e + S), abs=1e-5)


@pytest.mark.parametrize("eta_max", [None, 0.5])
def test_no_schedule_beats_the_optimum(eta_max, validation):
    """Comparison theorem: random schedules (smooth and piecewise constant) and 1/t annealing
    never reach a lower error at any time, nor a lower time integral."""
    rng = np.random.default_rng(7)
    t_f = 12.0
    t = np.linspace(0.0, t_f, 49)
    _, e_opt = optimal_linear_schedule(t, E0, SIGMA, eta_max)
    cap = 1.5 if eta_max is None else eta_max
    margins = []
    for trial in range(12):
        if trial % 2:
            knots = rng.uniform(0.0, cap, 8)

            def rate(tt, knots=knots):
                return knots[min(int(tt / t_f * 8), 7)]
        else:
            a, b, c = rng.uniform(0.0, 1.0, 3)

            def rate(tt, a=a, b=b, c=c):
                return cap * (a + (1 - a) * math.exp(-b * tt)) * (0.5 + 0.5 * math.cos(c * tt))
        sol = solve_ivp(lambda tt, y: -2 * rate(tt) * y + rate(tt) ** 2 * (y + S),
                        (0.0, t_f), [E0], t_eval=t, method="DOP853", rtol=1e-11, atol=1e-13,
                        max_step=t_f / 64)
        margins.append(((sol.y[0, 1:] - e_opt[1:]) / e_opt[1:]).min())   # all start at e0
    _, e_anneal = one_over_t_schedule(t, E0, SIGMA, c=1.0, t0=1.0 / min(cap, 1.0))
    margins.append(((e_anneal[1:] - e_opt[1:]) / e_opt[1:]).min())
    worst = min(margins)
    validation(f"optimal_linear.comparison.eta_max{eta_max}", area=AREA,
               claim="no admissible schedule gives a lower error than eta*(t) at any time "
                     f"(eta_max = {eta_max})",
               method="12 random schedules and 1/t annealing integrated by DOP853 "
                      "(rtol 1e-11); smallest relative excess over the optimum, 0 < t <= 12",
               measured=worst, bound=0.0, comparison=">=", unit="min relative excess")
    assert worst > 0.0


def test_integrated_error_closed_form_and_optimality(validation):
    worst = 0.0
    for eta_max in (None, 0.5, 0.1):
        t_c = bound_switch_time(E0, SIGMA, eta_max) if eta_max else 0.0
        for t_f in (0.5, 3.0, 20.0):
            points = [t_c] if 0.0 < t_c < t_f else None
            ref = quad(lambda tt: optimal_linear_schedule([tt], E0, SIGMA, eta_max)[1][0],
                       0.0, t_f, epsabs=0.0, epsrel=1e-12, limit=200, points=points)[0]
            worst = max(worst, abs(optimal_integrated_error(t_f, E0, SIGMA, eta_max) / ref - 1))
    validation("optimal_linear.integrated-error", area=AREA,
               claim="the smallest time integral of e is sigma^2 [ln(u_f/u_c) + 1/u_c - 1/u_f] "
                     "plus the closed-form integral on the bound",
               method="adaptive quadrature (rtol 1e-12) of the closed-form e(t), eta_max = "
                      "none, 0.5, 0.1, t_f = 0.5, 3, 20",
               measured=worst, bound=1e-10, unit="max relative difference")
    assert worst < 1e-10
    # any constant rate integrates to more (closed form of the constant-rate flow)
    best = optimal_integrated_error(20.0, E0, SIGMA)
    for eta in np.linspace(0.05, 1.5, 30):
        total = quad(lambda tt: constant_rate_error([tt], E0, eta, SIGMA)[0], 0.0, 20.0,
                     epsrel=1e-12)[0]
        assert total > best


def test_bound_is_active_early_then_released():
    eta_max = 0.5
    t_c = bound_switch_time(E0, SIGMA, eta_max)
    e_c = eta_max * S / (1 - eta_max)
    # at the bound the error follows the constant-rate flow until it reaches e_c
    assert constant_rate_error([t_c], E0, eta_max, SIGMA)[0] == pytest.approx(e_c, rel=1e-12)
    t = np.linspace(0.0, 3 * t_c, 301)
    eta, e = optimal_linear_schedule(t, E0, SIGMA, eta_max)
    assert np.all(eta[t < t_c] == eta_max)
    assert np.all(eta[t > t_c] < eta_max) and np.all(np.diff(eta[t > t_c]) < 0)
    after, _ = optimal_linear_schedule([t_c * (1 + 1e-9)], E0, SIGMA, eta_max)
    assert after[0] == pytest.approx(eta_max, abs=1e-8)     # continuous at the switch
    # the bound is never active when eta_max >= 1 (eta* < 1 with noise) or e0 <= e_c
    assert bound_switch_time(E0, SIGMA, 1.0) == 0.0
    assert bound_switch_time(0.9 * e_c, SIGMA, eta_max) == 0.0
    assert bound_switch_time(E0, 0.0, 0.5) == math.inf


def test_late_time_optimum_is_one_over_t(validation):
    t = np.array([1e2, 1e3, 1e4, 1e5, 1e6, 1e8])
    eta, e = optimal_linear_schedule(t, E0, SIGMA)
    # u + ln u = L with L = t + u0 + ln u0; two fixed-point steps of u = L - ln u
    u0 = S / E0
    L = t + u0 + math.log(u0)
    u_asym = L - np.log(L - np.log(L))
    rel = np.abs(eta * (1 + u_asym) - 1)
    validation("optimal_linear.one-over-t", area=AREA,
               claim="eta*(t) = 1/(1 + u), u = t - ln t + O(1): eta* t -> 1 and "
                     "e t / sigma^2 -> 1 (the optimal 1/t annealing)",
               method="the asymptotic expansion u = L - ln(L - ln L), L = t + u0 + ln u0, "
                      "at t = 1e4 ... 1e8",
               measured=rel[2:].max(), bound=1e-9, unit="max relative difference")
    assert rel[2:].max() < 1e-9
    assert np.all(np.abs(eta * t - 1) < 2 * np.log(t) / t)
    assert np.all(np.abs(e * t / S - 1) < 2 * np.log(t) / t)
    # the Lambert-W and Newton branches of the solver agree where they meet (L = 700)
    t_meet = 700.0 - u0 - math.log(u0) + np.array([-1e-6, 1e-6])
    _, e_meet = optimal_linear_schedule(t_meet, E0, SIGMA)
    u = S / e_meet
    np.testing.assert_allclose(u + np.log(u), t_meet + u0 + math.log(u0), rtol=1e-15)


def test_one_over_t_baseline_matches_ode_and_asymptote():
    t = np.array([0.0, 1.0, 10.0, 100.0, 2000.0])
    for c in (0.8, 1.0, 2.0):
        eta, e = one_over_t_schedule(t, E0, SIGMA, c=c, t0=2.0)
        ref = solve_ivp(lambda tt, y: -2 * c / (tt + 2) * y + (c / (tt + 2)) ** 2 * (y + S),
                        (0.0, t[-1]), [E0], t_eval=t, method="DOP853", rtol=1e-12,
                        atol=1e-14).y[0]
        np.testing.assert_allclose(e, ref, rtol=1e-9)
        np.testing.assert_allclose(eta, c / (t + 2.0))
    eta, e = one_over_t_schedule(t, E0, SIGMA, c=1.5, t0=2.0, batch_size=10)
    ref = solve_ivp(lambda tt, y: -3 / (tt + 2) * y + (1.5 / (tt + 2)) ** 2 * (y + S) / 10,
                    (0.0, t[-1]), [E0], t_eval=t, method="DOP853", rtol=1e-12,
                    atol=1e-14).y[0]
    np.testing.assert_allclose(e, ref, rtol=1e-9)
    np.testing.assert_allclose(eta, 1.5 / (t + 2.0))
    # late error c^2 sigma^2 / ((2c - 1) t), smallest at c = 1
    big = np.array([1e6])
    for c in (1.0, 2.0):
        late = one_over_t_schedule(big, E0, SIGMA, c=c, t0=1.0)[1][0] * big[0] / S
        assert late == pytest.approx(c * c / (2 * c - 1), rel=1e-3)


@pytest.mark.parametrize("eta_max", [None, 0.5])
def test_piecewise_optimum_is_a_discrete_minimum(eta_max, validation):
    """Perturb each of 100 pieces by +-1e-3 and +-1e-2: no perturbed schedule reaches a lower
    final error under an independent RK4 integration."""
    n, t_f = 100, 10.0
    edges, eta, e_edges = optimal_piecewise_schedule(t_f, n, E0, SIGMA, eta_max)
    upper = 1.0 if eta_max is None else eta_max
    trials = [eta]
    for k in range(n):
        for d in (1e-3, -1e-3, 1e-2, -1e-2):
            p = eta.copy()
            p[k] = min(max(p[k] + d, 0.0), upper)
            if p[k] != eta[k]:                      # a move outside [0, upper] is no move
                trials.append(p)
    final = rk4_final_error(np.array(trials), t_f / n, E0, S)
    assert final[0] == pytest.approx(e_edges[-1], rel=1e-12)
    excess = ((final[1:] - final[0]) / final[0]).min()
    validation(f"optimal_linear.piecewise-perturbation.eta_max{eta_max}", area=AREA,
               claim="the closed-form piecewise optimum (100 pieces, t_f = 10) is a minimum "
                     f"of the final error (eta_max = {eta_max})",
               method=f"{len(trials) - 1} admissible single-piece perturbations (+-1e-3, "
                      "+-1e-2) integrated by NumPy RK4, 50 steps per piece",
               measured=excess, bound=0.0, comparison=">=", unit="min relative excess")
    assert excess > 0.0
    # each piece: the eta of a dense grid search on the RK4 flow of that piece alone
    for k in (0, 17, 99):
        grid = np.linspace(0.0, upper, 2001)
        ends = rk4_final_error(grid[:, None], t_f / n, e_edges[k], S, substeps=20)
        assert abs(grid[np.argmin(ends)] - eta[k]) <= grid[1]


def test_piecewise_optimum_found_by_an_optimiser():
    """L-BFGS-B with finite differences on an RK4 integration finds the 10-piece optimum."""
    n, t_f = 10, 10.0
    _, eta, _ = optimal_piecewise_schedule(t_f, n, E0, SIGMA)
    res = minimize(lambda x: math.log(rk4_final_error(x, t_f / n, E0, S, substeps=20)[0]),
                   np.full(n, 0.3), method="L-BFGS-B", bounds=[(0.0, 1.0)] * n,
                   options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 500})
    assert np.abs(res.x - eta).max() < 1e-5


def test_piecewise_optimum_approaches_the_continuous_one_as_h_squared(validation):
    gaps = {}
    for eta_max in (None, 0.5):
        for n in (100, 1000):
            edges, eta, e_edges = optimal_piecewise_schedule(10.0, n, E0, SIGMA, eta_max)
            mid = 0.5 * (edges[1:] + edges[:-1])
            eta_c, _ = optimal_linear_schedule(mid, E0, SIGMA, eta_max)
            _, e_c = optimal_linear_schedule(edges, E0, SIGMA, eta_max)
            assert np.all(e_edges >= e_c * (1 - 1e-13))    # pieces can only do worse
            gaps[eta_max, n] = (np.abs(eta - eta_c).max(), e_edges[-1] / e_c[-1] - 1)
    for eta_max in (None, 0.5):
        validation(f"optimal_linear.piecewise-vs-continuous.eta_max{eta_max}", area=AREA,
                   claim="the optimal 100-piece schedule (t_f = 10, e0 = 2, sigma = 0.5) is "
                         "within 1e-4 of eta*(t) at the piece midpoints "
                         f"(eta_max = {eta_max}); the gap falls as h^2",
                   method="closed-form discrete optimum against the closed-form continuous "
                          "one; final-error excess "
                          f"{gaps[eta_max, 100][1]:.2e}",
                   measured=gaps[eta_max, 100][0], bound=1e-4, unit="max |eta - eta*(mid)|")
        assert gaps[eta_max, 100][0] < 1e-4
        ratio = gaps[eta_max, 100][0] / gaps[eta_max, 1000][0]
        assert 80 < ratio < 120                              # second order in h


def test_noiseless_and_perfect_starts():
    t = np.array([0.0, 1.0, 5.0])
    eta, e = optimal_linear_schedule(t, E0, 0.0)
    np.testing.assert_allclose(eta, 1.0)
    np.testing.assert_allclose(e, E0 * np.exp(-t), rtol=1e-14)
    eta, e = optimal_linear_schedule(t, E0, 0.0, eta_max=0.5)
    np.testing.assert_allclose(e, E0 * np.exp(-0.75 * t), rtol=1e-14)
    eta, e = optimal_linear_schedule(t, 0.0, SIGMA)
    assert np.all(eta == 0.0) and np.all(e == 0.0)
    _, eta, e_edges = optimal_piecewise_schedule(5.0, 5, E0, 0.0)
    np.testing.assert_allclose(eta, 1.0)
    assert optimal_integrated_error(5.0, E0, 0.0) == pytest.approx(E0 * (1 - math.exp(-5.0)))
    eta, e = optimal_linear_schedule(np.zeros((2, 3)), E0, SIGMA)
    assert eta.shape == e.shape == (2, 3)


@pytest.mark.parametrize("call, exc, text", [
    (lambda: optimal_linear_schedule([-1.0], E0, SIGMA), ValueError, "`t` must be >= 0"),
    (lambda: optimal_linear_schedule([np.nan], E0, SIGMA), ValueError, "`t` must be finite"),
    (lambda: optimal_linear_schedule(["a"], E0, SIGMA), TypeError, "`t`"),
    (lambda: optimal_linear_schedule([1.0], -1.0, SIGMA), ValueError, "`e0`"),
    (lambda: optimal_linear_schedule([1.0], E0, "0.5"), TypeError, "`sigma`"),
    (lambda: optimal_linear_schedule([1.0], E0, SIGMA, eta_max=0.0), ValueError, "`eta_max`"),
    (lambda: optimal_piecewise_schedule(10.0, 2.0, E0, SIGMA), TypeError, "`n_pieces`"),
    (lambda: optimal_piecewise_schedule(10.0, 0, E0, SIGMA), ValueError, "`n_pieces`"),
    (lambda: optimal_piecewise_schedule(0.0, 10, E0, SIGMA), ValueError, "`t_f`"),
    (lambda: linear_student_error_rate([1.0, 2.0], [0.1, 0.2, 0.3], SIGMA), ValueError,
     "broadcast"),
    (lambda: linear_student_error_rate(1.0, -0.1, SIGMA), ValueError, "`eta`"),
    (lambda: one_over_t_schedule([[1.0]], E0, SIGMA), ValueError, "one-dimensional"),
    (lambda: one_over_t_schedule([1.0], E0, SIGMA, c=0.0), ValueError, "`c`"),
    (lambda: bound_switch_time(E0, SIGMA, None), TypeError, "`eta_max`"),
])
def test_arguments_are_checked(call, exc, text):
    with pytest.raises(exc, match=text):
        call()
