"""The two-task mixture ODE (odesolve.control.mixture): block training reproduces the
multi-task protocol ODE, and its gradients (adjoint, forward, finite differences) agree."""
import numpy as np
import pytest

from odesolve.control import objective_gradient, piecewise_constant, piecewise_linear
from odesolve.control.mixture import (mixture_problem, mixture_state, pack_mixture,
                                      unpack_mixture)
from odesolve.model import TeacherStudent
from odesolve.multitask import MultiTaskSetup, MultiTaskState, continual, integrate_protocol
from odesolve.multitask.model import teacher_overlaps


def _two_tasks(activation="erf", a=0.5, seed=0):
    setup = MultiTaskSetup(2, 1, P=2, heads="multi", eta=0.8, activation=activation)
    T = teacher_overlaps(1, 2, feature_similarity=a)
    st = MultiTaskState.random(setup, T, [[1.0], [1.0]], N=10_000, seed=seed,
                               student_std=0.3, readout_std=0.3)
    return setup, st


def test_block_training_equals_the_continual_protocol():
    setup, st = _two_tasks()
    prot = continual(10.0, 10.0)
    ref = integrate_protocol(setup, st, prot, times=[0, 5, 10, 15, 20], rtol=1e-11,
                             atol=1e-13)
    ts = TeacherStudent(2, 1, "erf", eta=0.8, eta_v=0.8)
    p0 = pack_mixture(ts, st.T, st.V_star, heads=(0, 1), n_heads=2)
    prob = mixture_problem("erf", 2, 1)
    res = objective_gradient(prob, mixture_state(st.Q, st.R, st.V), p0,
                             {"mix": piecewise_constant(20.0, [0.0, 1.0])}, 20.0, 4000,
                             method="none", n_record=5)
    Q, R, V = unpack_mixture(res.y[0], 2, 1, 2)
    np.testing.assert_allclose(Q, ref.Q, atol=1e-9)
    np.testing.assert_allclose(R, ref.R, atol=1e-9)
    np.testing.assert_allclose(V, ref.V, atol=1e-9)
    # the cost is eps_0 + eps_1 through the heads
    assert res.objective[0] == pytest.approx(ref.eps_g[-1].sum(), rel=1e-8)


@pytest.mark.parametrize("activation", ["erf", pytest.param("linear", marks=pytest.mark.slow),
                                        pytest.param("relu", marks=pytest.mark.slow)])
def test_mixture_gradients_agree(activation, validation):
    setup, st = _two_tasks(activation)
    ts = TeacherStudent(2, 1, activation, eta=0.5, eta_v=0.4, sigma=0.1, weight_decay=0.01)
    p0 = pack_mixture(ts, st.T, st.V_star, heads=(0, 1), n_heads=2, cost_weights=(1.0, 0.5))
    prob = mixture_problem(activation, 2, 1)
    y0 = mixture_state(st.Q, st.R, st.V)
    t_f, n_steps = 6.0, 60
    sch = {"mix": piecewise_constant(t_f, [0.1, 0.7, 0.4]),
           "eta": piecewise_linear([0, 6], [0.6, 0.3])}
    adj = objective_gradient(prob, y0, p0, sch, t_f, n_steps, w_integral=0.3)
    fwd = objective_gradient(prob, y0, p0, sch, t_f, n_steps, w_integral=0.3,
                             method="forward")
    g_adj = np.concatenate([adj.grad["mix"][0], adj.grad["eta"][0], [adj.grad_params["c_1"][0]]])
    g_fwd = np.concatenate([fwd.grad["mix"][0], fwd.grad["eta"][0], [fwd.grad_params["c_1"][0]]])
    agree = np.max(np.abs(g_adj - g_fwd)) / np.max(np.abs(g_fwd))
    h, fd = 1e-6, []
    for name in sch:
        for j in range(sch[name].n_values):
            vals = [sch[name].values.copy() for _ in range(2)]
            vals[0][j] += h
            vals[1][j] -= h
            fd.append(np.diff([objective_gradient(
                prob, y0, p0, {**sch, name: sch[name].with_values(v)}, t_f, n_steps,
                w_integral=0.3, method="none").objective[0] for v in vals[::-1]])[0] / (2 * h))
    d = np.zeros(p0.size)
    d[prob.slots["c_1"]] = h
    fd.append((objective_gradient(prob, y0, p0 + d, sch, t_f, n_steps, w_integral=0.3,
                                  method="none").objective[0]
               - objective_gradient(prob, y0, p0 - d, sch, t_f, n_steps, w_integral=0.3,
                                    method="none").objective[0]) / (2 * h))
    rel = np.max(np.abs(g_adj - np.array(fd))) / np.max(np.abs(fd))
    validation(f"control.mixture.adjoint-vs-fd.{activation}", area="Optimal protocols",
               claim="gradients through the two-task mixture ODE (task selection and eta "
                     "schedules, multi-head) from the adjoint equal forward sensitivities and "
                     "central differences",
               method="K = 2, M = 1 per task, a = 0.5, sigma = 0.1, weight decay 0.01, "
                      "trained heads; h = 1e-6",
               measured=float(max(rel, agree)), bound=1e-6, unit="relative")
    assert agree < 1e-8 and rel < 1e-6


def test_pack_mixture_and_the_problem_refuse_what_they_cannot_take():
    setup, st = _two_tasks()
    ts = TeacherStudent(2, 1, "erf", eta=0.8, eta_v=0.8)
    with pytest.raises(ValueError, match=r"`heads\[1\]`"):
        pack_mixture(ts, st.T, st.V_star, heads=(0, 7), n_heads=2)
    with pytest.raises(ValueError, match="`V_star` must have shape"):
        pack_mixture(ts, st.T, np.ones((3, 1)), heads=(0, 1), n_heads=2)
    with pytest.raises(ValueError, match="`mix`"):
        pack_mixture(ts, st.T, st.V_star, heads=(0, 1), n_heads=2, mix=1.5)
    p0 = pack_mixture(ts, st.T, st.V_star, heads=(0, 1), n_heads=2)
    prob = mixture_problem("erf", 2, 1)
    y0 = mixture_state(st.Q, st.R, st.V)
    with pytest.raises(ValueError, match="`y0` has"):
        objective_gradient(prob, y0[:-2], p0, {}, 1.0, 10)
    with pytest.raises(ValueError, match=r"names \['head_0'\]"):
        objective_gradient(prob, y0, p0, {"head_0": piecewise_constant(1.0, [1.0])}, 1.0, 10)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        objective_gradient(prob, y0, p0, {"mix": piecewise_constant(1.0, [1.2])}, 1.0, 10)
