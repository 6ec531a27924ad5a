"""The adjoint and forward-sensitivity passes of odesolve.control on a small nonlinear ODE
with a hand-written Jacobian: against each other and against central finite differences of
the discrete objective."""
import math

import numba
import numpy as np
import pytest
from scipy.integrate import quad

from odesolve.control import (Schedule, SensitivityProblem, objective_gradient,
                              piecewise_constant, piecewise_linear)


@numba.njit(cache=True)
def toy_rhs(t, y, p, work, out):
    a, b, c = p[0], p[1], p[2]
    out[0] = -a * y[0] + b * y[0] * y[1]
    out[1] = a * a * math.sin(y[0]) - c * y[1] + 0.1 * t


@numba.njit(cache=True)
def toy_jac(t, y, p, work, Jy, Jp):
    a, b, c = p[0], p[1], p[2]
    Jy[0, 0] = -a + b * y[1]
    Jy[0, 1] = b * y[0]
    Jy[1, 0] = a * a * math.cos(y[0])
    Jy[1, 1] = -c
    Jp[0, 0] = -y[0]
    Jp[0, 1] = y[0] * y[1]
    Jp[0, 2] = 0.0
    Jp[1, 0] = 2 * a * math.sin(y[0])
    Jp[1, 1] = 0.0
    Jp[1, 2] = -y[1]


@numba.njit(cache=True)
def toy_cost(t, y, p, work, gy, gp):
    gy[0] = 2 * y[0]
    gy[1] = 1.0 + p[0]
    gp[0] = y[1]
    gp[1] = 0.0
    gp[2] = 0.0
    return y[0] * y[0] + y[1] + p[0] * y[1]


@numba.njit(cache=True)
def toy_valid(t, y, p, work):
    return abs(y[0]) < 10.0


TOY = SensitivityProblem(toy_rhs, toy_jac, toy_cost, {"a": 0, "b": 1, "c": 2}, n_work=0,
                         is_valid=toy_valid, name="toy")
Y0 = np.array([0.8, -0.3])
P0 = np.array([0.7, 0.4, 1.3])


def _schedules():
    return {"a": piecewise_constant(2.0, 0.5 + 0.3 * np.sin(np.arange(10))),
            "b": piecewise_linear(np.linspace(0, 2.0, 5), [0.2, 0.5, -0.1, 0.3, 0.4])}


def _objective(schedules, y0=Y0, p0=P0, **kw):
    return objective_gradient(TOY, y0, p0, schedules, 2.0, 40, method="none",
                              **kw).objective[0]


@pytest.mark.parametrize("weights", [(1.0, 0.0), (0.0, 1.0), (0.5, 2.0)])
def test_adjoint_equals_forward_sensitivities_and_finite_differences(weights, validation):
    w_final, w_integral = weights
    sch = _schedules()
    kw = dict(w_final=w_final, w_integral=w_integral)
    adj = objective_gradient(TOY, Y0, P0, sch, 2.0, 40, method="adjoint", **kw)
    fwd = objective_gradient(TOY, Y0, P0, sch, 2.0, 40, method="forward", **kw)
    g_adj = np.concatenate([adj.grad["a"][0], adj.grad["b"][0], [adj.grad_params["c"][0]],
                            adj.grad_y0[0]])
    g_fwd = np.concatenate([fwd.grad["a"][0], fwd.grad["b"][0], [fwd.grad_params["c"][0]],
                            fwd.grad_y0[0]])
    assert adj.objective[0] == pytest.approx(fwd.objective[0], rel=1e-15)
    agree = np.max(np.abs(g_adj - g_fwd)) / np.max(np.abs(g_fwd))
    assert agree < 1e-12
    h = 1e-5
    fd = []
    for name in ("a", "b"):
        for j in range(sch[name].n_values):
            vals = [sch[name].values.copy() for _ in range(2)]
            vals[0][j] += h
            vals[1][j] -= h
            up, dn = ({**sch, name: sch[name].with_values(v)} for v in vals)
            fd.append((_objective(up, **kw) - _objective(dn, **kw)) / (2 * h))
    e = np.eye(3) * h
    fd.append((_objective(sch, p0=P0 + e[2], **kw) - _objective(sch, p0=P0 - e[2], **kw))
              / (2 * h))
    for j in range(2):
        d = np.eye(2)[j] * h
        fd.append((_objective(sch, y0=Y0 + d, **kw) - _objective(sch, y0=Y0 - d, **kw))
                  / (2 * h))
    rel = np.max(np.abs(g_adj - np.array(fd))) / np.max(np.abs(fd))
    assert rel < 1e-7
    tag = "-".join(f"{w:g}" for w in weights)
    validation(f"control.toy.adjoint-vs-forward.{tag}", area="Optimal protocols",
               claim="adjoint and forward-sensitivity gradients of an RK4 run with "
                     "piecewise-constant and piecewise-linear schedules agree",
               method=f"toy 2-D ODE, hand Jacobian, objective weights {weights}",
               measured=float(agree), bound=1e-12, unit="relative")
    validation(f"control.toy.adjoint-vs-fd.{tag}", area="Optimal protocols",
               claim="the adjoint gradient equals central finite differences of the discrete "
                     "objective",
               method="central differences, step 1e-5, every schedule value, the constant "
                      "parameter and the initial state",
               measured=float(rel), bound=1e-7, unit="relative")


def test_schedules_are_applied_to_the_right_steps():
    """The objective equals an independent NumPy RK4 of the toy ODE in which every step reads
    the piece containing it (piecewise constant: jumps on the step grid) and every stage its
    own time (piecewise linear); a schedule shifted by one piece gives another value."""
    sch = _schedules()

    def f(t, y, a, b):
        return np.array([-a * y[0] + b * y[0] * y[1],
                         a * a * math.sin(y[0]) - P0[2] * y[1] + 0.1 * t])

    h, y = 2.0 / 40, Y0.copy()
    for s in range(40):
        t = s * h
        a = sch["a"].values[int((t + h / 2) // 0.2)]
        k1 = f(t, y, a, sch["b"](t))
        k2 = f(t + h / 2, y + h / 2 * k1, a, sch["b"](t + h / 2))
        k3 = f(t + h / 2, y + h / 2 * k2, a, sch["b"](t + h / 2))
        k4 = f(t + h, y + h * k3, a, sch["b"](t + h))
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    expected = y[0] ** 2 + y[1] + sch["a"].values[-1] * y[1]
    assert _objective(sch) == pytest.approx(expected, rel=1e-13)
    shifted = {**sch, "a": sch["a"].with_values(np.roll(sch["a"].values, 1))}
    assert abs(_objective(shifted) - expected) > 1e-6


def test_batch_members_match_single_runs():
    Y = np.array([Y0, Y0 * 0.5, Y0 * 1.5])             # below PARALLEL_FROM: serial
    batch = objective_gradient(TOY, Y, P0, _schedules(), 2.0, 40)
    for m in range(3):
        one = objective_gradient(TOY, Y[m], P0, _schedules(), 2.0, 40)
        assert batch.objective[m] == one.objective[0]
        np.testing.assert_array_equal(batch.grad["a"][m], one.grad["a"][0])


@pytest.mark.slow
def test_parallel_batch_matches_single_runs():
    from odesolve.control.sensitivity import PARALLEL_FROM

    Y = Y0 * np.linspace(0.5, 1.5, PARALLEL_FROM)[:, None]
    batch = objective_gradient(TOY, Y, P0, _schedules(), 2.0, 40)
    for m in range(PARALLEL_FROM):
        one = objective_gradient(TOY, Y[m], P0, _schedules(), 2.0, 40)
        assert batch.objective[m] == one.objective[0]
        np.testing.assert_array_equal(batch.grad["a"][m], one.grad["a"][0])


def test_failure_is_reported_with_its_time():
    res = objective_gradient(TOY, [9.9, 3.0], [0.1, 3.0, 0.1], {}, 2.0, 40)
    assert res.status[0] != 0 and 0 < res.t_fail[0] <= 2.0 and np.isnan(res.objective[0])
    assert np.all(np.isnan(res.y[0, -1]))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: objective_gradient(TOY, Y0, P0, {"d": piecewise_constant(2.0, [1.0])}, 2.0, 40),
     ValueError, "differentiable parameters are"),
    (lambda: objective_gradient(TOY, Y0, P0, {"a": piecewise_constant(2.0, [1.0] * 3)}, 2.0,
                                40), ValueError, "step grid"),
    (lambda: objective_gradient(TOY, Y0, P0, {"a": 1.0}, 2.0, 40), TypeError, "Schedule"),
    (lambda: objective_gradient(TOY, Y0, P0, {}, -1.0, 40), ValueError, "t_final"),
    (lambda: objective_gradient(TOY, Y0, P0, {}, 1.0, 40, method="reverse"), ValueError,
     "method"),
    (lambda: Schedule([0, 1, 1], [1, 2]), ValueError, "strictly increasing"),
    (lambda: Schedule([0, 1], [1, 2]), ValueError, "needs 1 values"),
    (lambda: Schedule([[0, 1], [2, 3]], [1, 2, 3]), ValueError, "one-dimensional"),
    (lambda: Schedule([0, 1], "1"), TypeError, "`values` must be an array of real"),
    (lambda: Schedule.from_dict(5), TypeError, "read from a dict"),
    (lambda: objective_gradient(TOY, ["a", "b"], P0, {}, 1.0, 10), TypeError, "`y0` must be"),
    (lambda: objective_gradient(TOY, Y0, P0, {}, 1.0, 10, lam_final=[1, 2, 3]), ValueError,
     "`lam_final` must have shape"),
])
def test_bad_input_names_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@numba.njit(cache=True)
def err_rhs(t, y, p, work, out):
    out[0] = -2 * p[0] * y[0] + p[0] * p[0] * (y[0] + p[1])


@numba.njit(cache=True)
def err_jac(t, y, p, work, Jy, Jp):
    Jy[0, 0] = -2 * p[0] + p[0] * p[0]
    Jp[0, 0] = -2 * y[0] + 2 * p[0] * (y[0] + p[1])
    Jp[0, 1] = p[0] * p[0]


@numba.njit(cache=True)
def err_cost(t, y, p, work, gy, gp):
    gy[0] = 0.5
    gp[0] = 0.0
    gp[1] = 0.0
    return 0.5 * y[0]


def test_costate_is_the_adjoint_of_the_error_equation():
    """For de/dt = -2 eta e + eta^2 (e + s) and J = e(t_f)/2 the costate is
    lambda(t) = exp(-int_t^t_f eta (2 - eta) ds) / 2 (a linear equation in e)."""
    prob = SensitivityProblem(err_rhs, err_jac, err_cost, {"eta": 0, "s": 1}, 0, name="err")
    sch = piecewise_linear([0.0, 5.0], [0.9, 0.2])
    res = objective_gradient(prob, [1.0], [0.5, 0.1], {"eta": sch}, 5.0, 2000, n_record=11)
    assert res.costate[0, 0, 0] == res.grad_y0[0, 0]
    for t, lam in zip(res.t, res.costate[0, :, 0]):
        integral = quad(lambda s: sch(s) * (2 - sch(s)), t, 5.0)[0]
        assert lam == pytest.approx(0.5 * np.exp(-integral), rel=1e-9)
