"""Tests of the compiled Runge-Kutta solvers (odesolve.solvers)."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from odesolve.solvers import (DOPRI5, INVALID, MAX_STEPS, NONFINITE, OK, RK4, STEP_TOO_SMALL,
                              Problem, SolverError, compiled_solver, solve)
from odesolve.solvers.testproblems import (EXP_GROWTH, FORCED_DECAY, LINEAR, LOGISTIC, ROTATION,
                                           SQUARE, forced_decay, forced_decay_exact,
                                           logistic_exact, rotation, rotation_exact,
                                           square_exact)

ROOT = Path(__file__).resolve().parents[1]

# name -> (problem, y0, p, exact solution as a function of t)
CASES = {
    "forced_decay": (FORCED_DECAY, [0.5], [1.0], lambda t: forced_decay_exact(t, 0.5, 1.0)),
    "rotation": (ROTATION, [1.0, 0.0], [1.0], lambda t: rotation_exact(t, [1.0, 0.0], 1.0)),
    "logistic": (LOGISTIC, [0.1, 0.5], [2.0, 1.0],
                 lambda t: logistic_exact(t, [0.1, 0.5], 2.0, 1.0)),
}


def observed_order(method, case, dts, t_end=2.0):
    problem, y0, p, exact = CASES[case]
    t = np.array([0.0, 1.0, t_end])
    errors = [np.abs(solve(problem, y0, p, t, method=method, dt=dt).y - exact(t)).max()
              for dt in dts]
    return np.polyfit(np.log(dts), np.log(errors), 1)[0]


# --- convergence orders -------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("method, order, dts", [
    ("euler", 1, [0.02, 0.01, 0.005, 0.0025]),
    ("rk4", 4, [0.2, 0.1, 0.05, 0.025]),
    ("dopri5", 5, [0.4, 0.2, 0.1, 0.05]),   # fixed steps of the 5th-order formula
])
def test_convergence_order(method, order, dts, case, validation):
    slope = observed_order(method, case, dts)
    validation(f"solvers.order.{case}.{method}", area="Solvers",
               claim=f"{method} converges with order {order} ({case}, exact solution known)",
               method="slope of log(error) against log(dt) at four step sizes",
               measured=abs(slope - order), bound=0.3, unit="|fitted order - order|",
               extra={"fitted order": slope})
    assert abs(slope - order) < 0.3


def test_euler_steps_are_the_textbook_steps():
    dt, n_steps = 0.1, 10
    y = 0.5
    for k in range(n_steps):
        y = y + dt * (-1.0 * y + math.sin(k * dt))
    t_every = np.arange(n_steps + 1) * dt
    for t_eval in (np.array([0.0, n_steps * dt]), t_every):
        res = solve(FORCED_DECAY, [0.5], [1.0], t_eval, method="euler", dt=dt)
        assert res.y[-1, 0] == y
        assert res.n_accepted[0] == n_steps and res.n_rhs[0] == n_steps + 1


def test_fixed_step_shortens_only_landing_steps():
    # 0 -> 0.1 -> 0.2 -> 0.25 (short), 0.35, 0.45, 0.55 -> 0.6 (short)
    res = solve(ROTATION, [1.0, 0.0], [1.0], [0.0, 0.25, 0.6], method="rk4", dt=0.1)
    assert res.n_accepted[0] == 7
    assert np.abs(res.y - rotation_exact(res.t, [1.0, 0.0], 1.0)).max() < 1e-6


# --- adaptive Dormand-Prince --------------------------------------------------------------------
def test_adaptive_meets_tolerance_and_error_decreases():
    t = np.linspace(0.0, 10.0, 11)
    exact = rotation_exact(t, [1.0, 0.0], 1.0)
    errors, work = [], []
    for rtol in (1e-4, 1e-6, 1e-8, 1e-10):
        res = solve(ROTATION, [1.0, 0.0], [1.0], t, method="dopri5", rtol=rtol,
                    atol=rtol * 1e-3)
        assert res.success
        errors.append(np.abs(res.y - exact).max())
        work.append(res.n_rhs[0])
        assert errors[-1] < 30 * rtol
    assert all(a > b for a, b in zip(errors, errors[1:]))
    # work grows like rtol**(-1/5): 10**(6/5) ~ 16 from 1e-4 to 1e-10
    assert 8 < work[-1] / work[0] < 30
    assert work[2] < 1000


@pytest.mark.parametrize("case", ["rotation", "logistic"])
def test_adaptive_matches_scipy_rk45(case, validation):
    problem, y0, p, _ = CASES[case]
    t = np.linspace(0.0, 10.0, 37)
    res = solve(problem, y0, p, t, method="dopri5", rtol=1e-7, atol=1e-9)

    def f(tt, y):
        out = np.empty_like(y)
        problem.rhs(tt, y, np.asarray(p, float), np.zeros(2), out)
        return out

    ref = solve_ivp(f, (0.0, 10.0), y0, method="RK45", t_eval=t, rtol=1e-7, atol=1e-9)
    validation(f"solvers.dopri5-vs-scipy.{case}", area="Solvers",
               claim=f"compiled dopri5 takes scipy RK45's steps ({case}): same evaluations, same "
                     "dense output", method="scipy.integrate.solve_ivp(method='RK45'), rtol 1e-7",
               measured=np.abs(res.y - ref.y.T).max(), bound=1e-12 * np.abs(ref.y).max() + 1e-14,
               unit="max abs difference",
               extra={"evaluations": int(res.n_rhs[0]), "scipy evaluations": int(ref.nfev)})
    assert res.n_rhs[0] == ref.nfev
    np.testing.assert_allclose(res.y, ref.y.T, rtol=1e-12, atol=1e-14)


def test_dense_output():
    t = np.linspace(0.0, 10.0, 400)
    res = solve(ROTATION, [1.0, 0.0], [1.0], t, method="dopri5", rtol=1e-10, atol=1e-12)
    assert np.abs(res.y - rotation_exact(t, [1.0, 0.0], 1.0)).max() < 1e-8
    # many output times do not shorten the steps
    coarse = solve(ROTATION, [1.0, 0.0], [1.0], t[[0, -1]], method="dopri5", rtol=1e-10,
                   atol=1e-12)
    assert coarse.n_rhs[0] == res.n_rhs[0]
    assert res.n_accepted[0] < t.size
    np.testing.assert_array_equal(coarse.y[-1], res.y[-1])


def test_dense_output_is_fourth_order():
    # error of the interpolant inside one step of size h scales like h**5
    problem, y0, p, exact = CASES["logistic"]
    errors = []
    steps = np.array([0.4, 0.2, 0.1])
    for h in steps:
        t = np.array([0.0, 0.37 * h, h])
        res = solve(problem, y0, p, t, method="dopri5", first_step=h, rtol=1.0, atol=1.0)
        assert res.n_accepted[0] == 1
        errors.append(np.abs(res.y[1] - exact(t)[1]).max())
    assert abs(np.polyfit(np.log(steps), np.log(errors), 1)[0] - 5) < 0.5


# --- batches ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [dict(method="rk4", dt=0.05), dict(method="dopri5")])
def test_batch_equals_single(kwargs):
    rng = np.random.default_rng(1)
    y0 = rng.uniform(0.05, 0.9, size=(8, 3))
    p = np.column_stack([rng.uniform(0.5, 3.0, 8), rng.uniform(1.0, 2.0, 8)])
    t = np.linspace(0.0, 5.0, 21)
    batch = solve(LOGISTIC, y0, p, t, **kwargs)
    assert batch.y.shape == (8, 21, 3) and batch.success
    for i in range(8):
        single = solve(LOGISTIC, y0[i], p[i], t, **kwargs)
        assert single.y.shape == (21, 3)
        np.testing.assert_array_equal(single.y, batch.y[i])
        assert single.n_rhs[0] == batch.n_rhs[i]
        assert single.n_accepted[0] == batch.n_accepted[i]
    # members have their own step sizes
    if kwargs["method"] == "dopri5":
        assert len(set(batch.n_rhs)) > 1


def test_broadcasting_y0_and_p():
    res = solve(LOGISTIC, [0.1], [[1.0, 1.0], [2.0, 1.0]], [0.0, 1.0], method="rk4", dt=0.1)
    assert res.y.shape == (2, 2, 1)
    res = solve(LOGISTIC, [[0.1], [0.2], [0.3]], [1.0, 1.0], [0.0, 1.0], method="rk4", dt=0.1)
    assert res.y.shape == (3, 2, 1) and res.status.shape == (3,)


def test_single_output_time_and_per_component_atol():
    for kwargs in (dict(method="rk4", dt=0.1), dict(method="dopri5")):
        res = solve(ROTATION, [1.0, 0.0], [1.0], [0.5], **kwargs)
        np.testing.assert_array_equal(res.y, [[1.0, 0.0]])
        assert res.success and res.n_rhs[0] == 0
    res = solve(ROTATION, [1.0, 0.0], [1.0], [0.0, 1.0], method="dopri5", atol=[1e-12, 1e-6],
                rtol=1e-6, first_step=1e-3)
    assert res.success


def test_work_size_callable_gets_the_parameter_array():
    seen = []

    def n_work(p):
        seen.append(p.shape)
        return np.full(p.shape[0], 2)

    problem = Problem(rotation, n_work=n_work, name="rotation")
    res = solve(problem, [[1.0, 0.0]] * 3, [1.0], [0.0, 1.0], method="rk4", dt=0.01)
    assert seen == [(3, 1)] and res.success


# --- failures -----------------------------------------------------------------------------------
def test_blow_up_fixed_step():
    t = np.linspace(0.0, 1.5, 16)
    res = solve(SQUARE, [[1.0], [0.5], [-1.0]], None, t, method="rk4", dt=1e-3)
    np.testing.assert_array_equal(res.status, [NONFINITE, OK, OK])
    assert 1.0 < res.t_fail[0] < 1.01 and np.isnan(res.t_fail[1:]).all()
    assert np.isnan(res.y[0, t >= res.t_fail[0]]).all()
    assert np.isfinite(res.y[0, t < 1.0]).all()
    np.testing.assert_allclose(res.y[1:, :, 0], square_exact(t, [0.5, -1.0]).T, rtol=1e-9)
    assert not res.success and "non-finite" in res.message(0)
    with pytest.raises(SolverError, match="member 0"):
        res.raise_on_failure()


def test_blow_up_adaptive():
    # the state stays finite up to the pole, so the step size vanishes there
    t = np.linspace(0.0, 1.5, 16)
    res = solve(SQUARE, [[1.0], [0.5]], None, t, method="dopri5", rtol=1e-6)
    np.testing.assert_array_equal(res.status, [STEP_TOO_SMALL, OK])
    assert abs(res.t_fail[0] - 1.0) < 1e-3
    # exponential growth overflows instead: non-finite trial steps are rejected until the
    # step vanishes, reported as NONFINITE
    res = solve(EXP_GROWTH, [1.0], [[50.0, np.inf], [1.0, np.inf]], [0.0, 20.0],
                method="dopri5", rtol=1e-6)
    np.testing.assert_array_equal(res.status, [NONFINITE, OK])
    assert 13.5 < res.t_fail[0] < math.log(np.finfo(float).max) / 50


@pytest.mark.parametrize("kwargs", [dict(method="rk4", dt=0.01), dict(method="dopri5")])
def test_is_valid_false(kwargs):
    t = np.linspace(0.0, 3.0, 31)
    res = solve(EXP_GROWTH, [1.0], [[1.0, math.exp(2.0)], [1.0, 1e10]], t, **kwargs)
    np.testing.assert_array_equal(res.status, [INVALID, OK])
    assert 2.0 - 1e-6 < res.t_fail[0] <= 2.01
    assert np.isnan(res.y[0, t >= res.t_fail[0]]).all() and np.isfinite(res.y[0, t < 2]).all()
    assert "is_valid" in res.message(0)


def test_invalid_or_nonfinite_initial_state():
    res = solve(EXP_GROWTH, [[1.0], [5.0], [np.nan]], [1.0, 2.0], [0.0, 0.5], method="dopri5")
    np.testing.assert_array_equal(res.status, [OK, INVALID, NONFINITE])
    np.testing.assert_array_equal(res.t_fail[1:], [0.0, 0.0])
    assert np.isnan(res.y[1:]).all()


@numba.njit(cache=True, error_model="numpy")
def _barrier(t, y, p, work, out):
    """``y' = sqrt(y - t)``: not a number where ``y < t``."""
    out[0] = math.sqrt(y[0] - t)


BARRIER = Problem(_barrier, name="test_solvers_barrier")
#: every method: fixed steps of each tableau, and adaptive dopri5
METHODS = [dict(method="euler", dt=0.01), dict(method="rk4", dt=0.01),
           dict(method="dopri5", dt=0.01), dict(method="dopri5")]


@pytest.mark.parametrize("kwargs", METHODS, ids=["euler", "rk4", "dopri5-fixed", "dopri5"])
@pytest.mark.parametrize("case", ["nan_parameter", "inf_parameter", "nan_derivative"])
def test_a_non_finite_initial_derivative_fails_at_once(kwargs, case):
    """A derivative that is not finite at the initial state (a NaN or infinite parameter, or
    a state where the right-hand side is undefined) ends the member before its first step:
    NONFINITE at t = t0, the initial state kept, NaN after, no step taken -- for every method
    (dopri5 used to reject steps until max_steps). The other members are not affected."""
    t = np.linspace(0.0, 1.0, 5)
    if case == "nan_derivative":                     # y0 = -1 < t0: sqrt of a negative
        res = solve(BARRIER, [[-1.0], [0.25]], None, t, max_steps=10**6, **kwargs)
    else:
        bad = np.nan if case == "nan_parameter" else np.inf
        res = solve(FORCED_DECAY, [[-1.0], [0.25]], [[bad], [1.0]], t, max_steps=10**6,
                    **kwargs)
    assert res.status[0] == NONFINITE and res.t_fail[0] == 0.0
    assert res.n_accepted[0] == 0 and res.n_rejected[0] == 0 and res.n_rhs[0] == 1
    assert res.y[0, 0, 0] == -1.0 and np.isnan(res.y[0, 1:]).all()
    assert "derivative is not finite at the initial state" in res.message(0)
    assert "diverges at t = 0" in res.message(0)
    assert res.status[1] != NONFINITE or res.t_fail[1] > 0.0     # member 1 ran on its own


@pytest.mark.parametrize("kwargs", METHODS, ids=["euler", "rk4", "dopri5-fixed", "dopri5"])
def test_a_derivative_that_becomes_nan_later_fails_there(kwargs):
    """y' = sqrt(y - t) from y0 = 1/4: z = y - t obeys z' = sqrt(z) - 1 and reaches 0 at
    T = 2 ln 2 - 1 (integrate dz / (1 - sqrt z)); beyond it the derivative is NaN. Fixed
    steps fail at the first step end past the numerical solution's crossing (Euler's is
    O(dt) away from T); dopri5 shrinks its step onto T and stops there with NONFINITE within
    a few hundred attempts, not max_steps."""
    T = 2.0 * math.log(2.0) - 1.0
    res = solve(BARRIER, [0.25], None, np.linspace(0.0, 1.0, 11), max_steps=10**6, **kwargs)
    assert res.status[0] == NONFINITE, res.message(0)
    if "dt" in kwargs:
        assert abs(res.t_fail[0] - T) <= 2 * kwargs["dt"]
    else:
        assert abs(res.t_fail[0] - T) < 1e-6
    assert res.n_accepted[0] + res.n_rejected[0] < 500


def test_an_overflowing_trial_step_is_rejected_not_fatal():
    """y' = y^2 from y0 = -1000 with a first step of 1: the trial step's end derivative
    overflows (checked here with the tableau in NumPy), so its error norm is infinite; the
    step is rejected and shortened and the run still reaches the exact -1000 / (1 + 1000 t).
    A non-finite error norm therefore must not end a member."""
    A, B = DOPRI5.A, DOPRI5.B
    y0, h = -1000.0, 1.0
    K = [y0 * y0]
    for i in range(1, B.size):
        stage = y0 + h * sum(A[i, j] * K[j] for j in range(i))
        K.append(stage * stage)
    with np.errstate(over="ignore"):
        y_new = y0 + h * float(np.dot(B, K))
        assert math.isfinite(y_new) and not math.isfinite(y_new * y_new)
    t = np.array([0.0, 0.5, 1.0])
    res = solve(SQUARE, [y0], None, t, method="dopri5", first_step=h)
    assert res.success and res.n_rejected[0] >= 1
    np.testing.assert_allclose(res.y, square_exact(t, [y0]), rtol=1e-6)


def test_pure_relative_tolerance_with_components_at_zero():
    """atol = 0 scales the error by rtol |y| alone; a component that is exactly 0 deviates by
    exactly 0 (taken as 0, not 0 / 0) -- such runs used to get a NaN step and reject every
    step until max_steps."""
    t = np.linspace(0.0, 2.0, 5)
    res = solve(LOGISTIC, [0.0, 0.5], [2.0, 1.0], t, method="dopri5", atol=0.0, rtol=1e-9,
                max_steps=10**5)
    assert res.success
    assert np.all(res.y[:, 0] == 0.0)                       # 0 is a fixed point
    np.testing.assert_allclose(res.y[:, 1], logistic_exact(t, 0.5, 2.0, 1.0)[:, 0],
                               rtol=1e-7)
    res = solve(FORCED_DECAY, [0.0], [1.0], t, method="dopri5", atol=0.0, rtol=1e-9,
                max_steps=10**5)
    assert res.success
    np.testing.assert_allclose(res.y, forced_decay_exact(t, 0.0, 1.0), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("method", ["euler", "rk4", "dopri5"])
@pytest.mark.parametrize("on_failure", ["raise", "flag"])
def test_relu_student_unit_of_zero_norm_diverges_at_t0(method, on_failure):
    """A student unit of zero norm (Q_11 = 0) is a valid state (Overlaps accepts the
    covariance), but the ReLU kernels are 0 / 0 at zero variance, so the derivative is NaN
    there: the run diverges at t = 0. integrate says so at once (DivergenceError, or status
    NONFINITE with t_fail = 0) instead of rejecting steps until max_steps (dopri5: hours)."""
    import odesolve

    setup = odesolve.TeacherStudent(1, 2, "relu")
    state = odesolve.Overlaps.random(1, 2, student_std=0.0, seed=0)
    assert state.Q[0, 0] == 0.0
    run = dict(t_max=1.0, method=method, progress=False, on_failure=on_failure)
    if on_failure == "raise":
        with pytest.raises(odesolve.DivergenceError,
                           match="derivative is not finite at the initial state, so the run "
                                 "diverges at t = 0") as err:
            odesolve.integrate(setup, state, **run)
        np.testing.assert_array_equal(err.value.t_fail, [0.0])
        return
    traj = odesolve.integrate(setup, state, **run)
    assert traj.status == NONFINITE and traj.t_fail == 0.0
    assert traj.info["n_accepted"][0] == traj.info["n_rejected"][0] == 0
    assert np.isnan(traj.eps_g[1:]).all() and traj.Q[0, 0, 0] == 0.0


@pytest.mark.parametrize("kwargs", [dict(method="rk4", dt=0.01), dict(method="dopri5")])
def test_max_steps(kwargs):
    t = np.linspace(0.0, 10.0, 11)
    res = solve(ROTATION, [1.0, 0.0], [1.0], t, max_steps=5, **kwargs)
    assert res.status[0] == MAX_STEPS and res.n_accepted[0] + res.n_rejected[0] == 5
    assert 0.0 < res.t_fail[0] < 10.0 and np.isnan(res.y[-1]).all()
    assert "max_steps" in res.message(0)


# --- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    (dict(method="x"), r"`method` must be one of 'euler', 'rk4', 'dopri5', got 'x'\."),
    (dict(method="rk4", dt=None), "`dt` is required"),
    (dict(method="rk4", dt=-0.1), r"`dt` must be positive, got -0\.1\."),
    (dict(method="rk4", dt=np.nan), r"`dt` must be a number, got NaN\."),
    (dict(method="dopri5", rtol=0.0), r"`rtol` must be positive, got 0\."),
    (dict(method="dopri5", atol=-1.0), "`atol`"),
    (dict(method="dopri5", atol=[1e-8, 1e-8, 1e-8]), "`atol` has wrong shape"),
    (dict(method="dopri5", max_steps=0), "`max_steps`"),
    (dict(method="dopri5", first_step=0.0), "`first_step`"),
    (dict(method="rk4", dt=0.1, first_step=0.1), "`first_step`"),
    (dict(t_eval=[0.0, 1.0, 1.0]), r"`t_eval` must be strictly increasing\."),
    (dict(t_eval=[[0.0, 1.0]]), "`t_eval`"),
    (dict(t_eval=[0.0, np.inf]), "`t_eval`"),
    (dict(y0=np.zeros((2, 2, 2))), r"`y0` has wrong shape\."),
    (dict(y0=np.zeros((3, 2)), p=np.ones((2, 1))), r"`p` has wrong shape\."),
    (dict(p=np.ones((1, 1, 1))), r"`p` has wrong shape\."),
])
def test_validation_names_the_argument(kwargs, match):
    args = dict(y0=[1.0, 0.0], p=[1.0], t_eval=[0.0, 1.0], method="rk4", dt=0.1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        solve(ROTATION, **args)


@pytest.mark.parametrize("kwargs, match", [
    (dict(dt="0.1"), r"`dt` must be a real number, got the string '0\.1'\."),
    (dict(method="dopri5", dt=None, rtol="1e-6"), "`rtol` must be a real number"),
    (dict(max_steps=10.0), r"`max_steps` must be an integer, got 10\.0\."),
    (dict(method=5), "`method` must be one of"),
    (dict(y0=["1.0", "0.0"]), "`y0` must be an array of real numbers"),
    (dict(t_eval=[False, True]), "`t_eval` must be an array of real numbers"),
    (dict(progress="yes"), "`progress` must be true or false"),
])
def test_wrong_types_are_refused_naming_the_argument(kwargs, match):
    """Strings are not converted to numbers, nor floats to counts: TypeError, not a guess."""
    args = dict(y0=[1.0, 0.0], p=[1.0], t_eval=[0.0, 1.0], method="rk4", dt=0.1)
    args.update(kwargs)
    with pytest.raises(TypeError, match=match):
        solve(ROTATION, **args)


def test_problem_validation():
    with pytest.raises(TypeError, match="`rhs`"):
        Problem(lambda t, y, p, w, out: None)
    with pytest.raises(ValueError, match="`n_work`"):
        Problem(forced_decay, n_work=-1)
    with pytest.raises(TypeError, match="`problem`"):
        solve(forced_decay, [1.0], [1.0], [0.0, 1.0], dt=0.1)
    assert Problem(forced_decay, name="forced_decay").tag == FORCED_DECAY.tag != ROTATION.tag
    assert Problem(forced_decay, name="forced_decay", depends_on=("v2",)).tag != FORCED_DECAY.tag


def test_tableaus_are_consistent():
    for tab in (RK4, DOPRI5):
        np.testing.assert_allclose(tab.A.sum(axis=1), tab.C, atol=1e-15)
        assert abs(tab.B.sum() - 1) < 1e-15
    assert abs(DOPRI5.E.sum()) < 1e-15
    # the continuous extension interpolates y_new at x = 1
    np.testing.assert_allclose(DOPRI5.P.sum(axis=1)[:-1], DOPRI5.B, atol=1e-14)


# --- compilation cache --------------------------------------------------------------------------
def test_second_process_reuses_numba_cache():
    solve(LINEAR, np.ones((2, 2)), np.eye(2).ravel(), [0.0, 1.0], method="dopri5")
    code = (
        "import json, numpy as np\n"
        "from odesolve.solvers import solve, compiled_solver\n"
        "from odesolve.solvers.testproblems import LINEAR\n"
        "solve(LINEAR, np.ones((2, 2)), np.eye(2).ravel(), [0.0, 1.0], method='dopri5')\n"
        "s = compiled_solver(LINEAR, True).stats\n"
        "print(json.dumps([sum(s.cache_hits.values()), sum(s.cache_misses.values())]))\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    hits, misses = json.loads(out.stdout.strip().splitlines()[-1])
    assert hits == 1 and misses == 0
    assert isinstance(compiled_solver(LINEAR, True), numba.core.registry.CPUDispatcher)
