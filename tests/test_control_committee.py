"""Exact gradients through the committee ODE (odesolve.control.committee): the cost's gradient
and the adjoint and forward-sensitivity passes against central finite differences, for erf,
linear, ReLU and a quadrature activation, with trained readouts, noise, weight decay and
scheduled learning rates."""
import numpy as np
import pytest

from odesolve import committee, generalisation_error
from odesolve.control import objective_gradient, piecewise_constant, piecewise_linear
from odesolve.control.committee import committee_sensitivity_problem, parameter_names
from odesolve.model import Overlaps, TeacherStudent

ACTIVATIONS = ["erf", "linear", "relu", "tanh"]


def _setup_state(activation, K=2, M=2, seed=3):
    setup = TeacherStudent(K, M, activation, eta=0.4, eta_v=0.3, sigma=0.2, weight_decay=0.01)
    state = Overlaps.random(K, M, N=10_000, student_std=0.5, seed=seed)
    state = Overlaps(state.Q, state.R, state.T, state.v + 0.3, state.v_star)
    return setup, state


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_eps_g_cost_and_its_gradient(activation, validation):
    setup, state = _setup_state(activation)
    prob = committee_sensitivity_problem(setup)
    y = committee.pack_state(state)[0]
    p = committee.pack_params(setup, state)[0]
    work = np.zeros(prob.n_work)
    gy, gp = np.zeros(y.size), np.zeros(p.size)
    value = prob.cost(0.0, y, p, work, gy, gp)
    # the quadrature activation's gradient kernel uses its own rule for I2 (agrees to ~1e-9)
    rel = 1e-12 if activation != "tanh" else 1e-8
    assert value == pytest.approx(generalisation_error(setup, state), rel=rel)
    h = 1e-6
    K, M = setup.K, setup.M
    fd_y = np.zeros(y.size)
    for j in range(y.size):
        d = np.zeros(y.size)
        d[j] = h
        if j < K * K and j // K != j % K:            # keep Q symmetric: move both copies
            d[(j % K) * K + j // K] = h
        up = prob.cost(0.0, y + d, p, work, np.zeros(y.size), np.zeros(p.size))
        dn = prob.cost(0.0, y - d, p, work, np.zeros(y.size), np.zeros(p.size))
        fd_y[j] = (up - dn) / (2 * h)
    sym = gy.copy()
    for i in range(K):                                # derivative w.r.t. the overlap q_ik
        for k in range(K):
            if i != k:
                sym[i * K + k] = gy[i * K + k] + gy[k * K + i]
    err = np.max(np.abs(sym - fd_y)) / np.max(np.abs(fd_y))
    names = parameter_names(K, M)
    vs = [names.index(f"v_star[{n}]") for n in range(M)]
    fd_p = []
    for j in vs:
        d = np.zeros(p.size)
        d[j] = h
        fd_p.append((prob.cost(0.0, y, p + d, work, np.zeros(y.size), np.zeros(p.size))
                     - prob.cost(0.0, y, p - d, work, np.zeros(y.size), np.zeros(p.size)))
                    / (2 * h))
    err_p = np.max(np.abs(gp[vs] - fd_p)) / np.max(np.abs(fd_p))
    validation(f"control.eps_g-gradient.{activation}", area="Optimal protocols",
               claim="the gradient of eps_g w.r.t. the overlaps, readouts and teacher "
                     "readouts equals central finite differences",
               method="K = M = 2, random overlaps, h = 1e-6", measured=float(max(err, err_p)),
               bound=1e-6, unit="relative")
    assert err < 1e-6 and err_p < 1e-6


@pytest.mark.parametrize("activation", ["erf", "linear", "relu",
                                        pytest.param("tanh", marks=pytest.mark.slow)])
def test_adjoint_forward_and_finite_differences_agree(activation, validation):
    setup, state = _setup_state(activation)
    prob = committee_sensitivity_problem(setup)
    y0 = committee.pack_state(state)[0]
    p0 = committee.pack_params(setup, state)[0]
    t_f, n_steps = 6.0, 60
    sch = {"eta": piecewise_constant(t_f, [0.6, 0.3, 0.5]),
           "eta_v": piecewise_linear([0, 3, 6], [0.2, 0.5, 0.1])}
    kw = dict(w_final=1.0, w_integral=0.5)
    adj = objective_gradient(prob, y0, p0, sch, t_f, n_steps, method="adjoint", **kw)
    fwd = objective_gradient(prob, y0, p0, sch, t_f, n_steps, method="forward", **kw)
    assert adj.status[0] == 0
    g_adj = np.concatenate([adj.grad["eta"][0], adj.grad["eta_v"][0],
                            [adj.grad_params["sigma"][0], adj.grad_params["kappa"][0]]])
    g_fwd = np.concatenate([fwd.grad["eta"][0], fwd.grad["eta_v"][0],
                            [fwd.grad_params["sigma"][0], fwd.grad_params["kappa"][0]]])
    agree = np.max(np.abs(g_adj - g_fwd)) / np.max(np.abs(g_fwd))

    def objective(schedules=sch, p=p0):
        return objective_gradient(prob, y0, p, schedules, t_f, n_steps, method="none",
                                  **kw).objective[0]

    h = 1e-6
    fd = []
    for name in ("eta", "eta_v"):
        for j in range(sch[name].n_values):
            vals = [sch[name].values.copy() for _ in range(2)]
            vals[0][j] += h
            vals[1][j] -= h
            fd.append((objective({**sch, name: sch[name].with_values(vals[0])})
                       - objective({**sch, name: sch[name].with_values(vals[1])})) / (2 * h))
    for name in ("sigma", "kappa"):
        d = np.zeros(p0.size)
        d[prob.slots[name]] = h
        fd.append((objective(p=p0 + d) - objective(p=p0 - d)) / (2 * h))
    rel = np.max(np.abs(g_adj - np.array(fd))) / np.max(np.abs(fd))
    validation(f"control.committee.adjoint-vs-forward.{activation}", area="Optimal protocols",
               claim="adjoint and forward-sensitivity gradients through the committee ODE agree",
               method="K = M = 2, trained readouts, sigma = 0.2, weight decay 0.01, eta "
                      "piecewise constant, eta_v piecewise linear, final plus integrated eps_g",
               measured=float(agree), bound=1e-8, unit="relative")
    validation(f"control.committee.adjoint-vs-fd.{activation}", area="Optimal protocols",
               claim="the adjoint gradient equals central finite differences of the objective",
               method="central differences h = 1e-6 over every schedule value, sigma, kappa",
               measured=float(rel), bound=1e-6, unit="relative")
    assert agree < 1e-8 and rel < (1e-6 if activation != "tanh" else 1e-4)


@pytest.mark.parametrize("activation", ["erf", pytest.param("linear", marks=pytest.mark.slow),
                                        "relu"])
def test_gradients_through_an_ewc_phase_with_switches(activation, validation):
    """Task 2 of a continual protocol with EWC around the end of task 1 (multi-head, trained
    readouts, noise): eta and the EWC strength switch during the phase."""
    from odesolve.control.committee import ewc_sensitivity_problem
    from odesolve.multitask import MultiTaskSetup, MultiTaskState, Phase
    from odesolve.multitask.model import teacher_overlaps
    from odesolve.multitask.ode import phase_problem

    setup = MultiTaskSetup(2, 1, P=2, heads="multi", eta=0.6, sigma=0.2,
                           activation=activation)
    T = teacher_overlaps(1, 2, feature_similarity=0.5)
    st = MultiTaskState.random(setup, T, [[1.0], [1.0]], N=10_000, seed=1, student_std=0.5,
                               readout_std=0.5)
    Q, R, V = st.Q[None], st.R[None], st.V[None]
    anchor = (Q.copy(), R.copy(), V[:, 0].copy(), 0)
    _, ov, p, M_tot = phase_problem(setup, Phase(5.0, teacher=1, ewc=1.0), 1, Q, R, V,
                                    T[None], st.V_star[None], anchor)
    prob = ewc_sensitivity_problem(activation, 2, M_tot)
    # start 0.5 into the phase: at its start the student's fields coincide with the anchors',
    # where ReLU's kernels are not differentiable (the right-hand side itself is fine)
    p0 = p[0]
    y0 = objective_gradient(prob, committee.pack_state(ov)[0], p0, {}, 0.5, 10,
                            method="none", n_record=2).y[0, -1]
    t_f, n_steps = 5.0, 50
    sch = {"eta": piecewise_constant(t_f, [0.6, 0.2]),
           "ewc": piecewise_constant(t_f, [0.0, 2.0, 0.5, 1.0, 0.0])}
    adj = objective_gradient(prob, y0, p0, sch, t_f, n_steps, w_integral=0.2)
    fwd = objective_gradient(prob, y0, p0, sch, t_f, n_steps, w_integral=0.2, method="forward")
    assert adj.status[0] == 0
    g_adj = np.concatenate([adj.grad["eta"][0], adj.grad["ewc"][0]])
    g_fwd = np.concatenate([fwd.grad["eta"][0], fwd.grad["ewc"][0]])
    agree = np.max(np.abs(g_adj - g_fwd)) / np.max(np.abs(g_fwd))
    h, fd = 1e-6, []
    for name in sch:
        for j in range(sch[name].n_values):
            vals = [sch[name].values.copy() for _ in range(2)]
            vals[0][j] += h
            vals[1][j] -= h
            up, dn = (objective_gradient(prob, y0, p0, {**sch, name: sch[name].with_values(v)},
                                         t_f, n_steps, w_integral=0.2,
                                         method="none").objective[0] for v in vals)
            fd.append((up - dn) / (2 * h))
    rel = np.max(np.abs(g_adj - np.array(fd))) / np.max(np.abs(fd))
    validation(f"control.ewc.adjoint-vs-fd.{activation}", area="Optimal protocols",
               claim="gradients through an EWC phase whose learning rate and EWC strength "
                     "switch: adjoint = forward sensitivities = central differences",
               method="K = 2, two one-unit teachers (a = 0.5), task 2 with EWC around task 1, "
                      "trained heads, sigma = 0.2; eta 2 pieces, EWC strength 5 pieces; "
                      f"adjoint vs forward {agree:.1e}",
               measured=float(max(rel, agree)), bound=1e-6, unit="relative")
    assert agree < 1e-8 and rel < 1e-6


def test_inputs_the_compiled_passes_cannot_take_are_refused():
    setup, state = _setup_state("erf")
    prob = committee_sensitivity_problem(setup)
    y0 = committee.pack_state(state)[0]
    p0 = committee.pack_params(setup, state)[0]
    one = piecewise_constant(2.0, [1.0])
    with pytest.raises(ValueError, match="`y0` has 9 entries per state"):
        objective_gradient(prob, y0[:-1], p0, {}, 2.0, 20)
    with pytest.raises(ValueError, match=r"names \['K'\]"):
        objective_gradient(prob, y0, p0, {"K": one}, 2.0, 20)
    fixed = committee.pack_params(TeacherStudent(2, 2, "erf", eta=0.4, eta_v=0.0), state)[0]
    with pytest.raises(ValueError, match="readouts are not trained"):
        objective_gradient(prob, y0, fixed, {"eta_v": one}, 2.0, 20)
