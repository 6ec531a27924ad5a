"""The optimiser of odesolve.control against the closed-form optimal learning-rate schedule
of the noisy linear student (odesolve.optimal_linear, docs/theory/optimal_linear.md): the
whole pipeline (committee ODE, derived Jacobian, adjoint, L-BFGS-B) on K = M = 1, linear
units, fixed readouts."""
import numpy as np
import pytest

from odesolve import committee
from odesolve.control import piecewise_constant
from odesolve.control.committee import committee_sensitivity_problem
from odesolve.control.optimise import optimise_schedules
from odesolve.model import Overlaps, TeacherStudent
from odesolve.optimal_linear import optimal_linear_schedule, optimal_piecewise_schedule


@pytest.mark.parametrize("eta_max", [None, 0.5])
def test_optimised_schedule_matches_the_closed_form(eta_max, validation):
    sigma, t_f, n = 0.5, 10.0, 100
    e0 = 2.0                                       # e = Q - 2R + T = 2 eps_g
    setup = TeacherStudent(1, 1, "linear", eta=0.5, eta_v=0.0, sigma=sigma)
    state = Overlaps(Q=[[1.0]], R=[[0.0]], T=[[1.0]], v=[1.0], v_star=[1.0])
    assert 2 * committee.evaluate_eps_g("linear", committee.pack_state(state)[:, None],
                                        committee.pack_params(setup, state))[0, 0] == e0
    prob = committee_sensitivity_problem(setup)
    cap = 2.0 if eta_max is None else eta_max
    res = optimise_schedules(prob, committee.pack_state(state)[0],
                             committee.pack_params(setup, state)[0],
                             {"eta": piecewise_constant(t_f, np.full(n, min(0.3, cap)))},
                             t_f, 20 * n, bounds={"eta": (0.0, cap)}, max_iter=500,
                             gtol=1e-12, ftol=1e-15)
    eta = res.schedules["eta"].values
    _, eta_discrete, e_edges = optimal_piecewise_schedule(t_f, n, e0, sigma, eta_max=eta_max)
    mid = (np.arange(n) + 0.5) * t_f / n
    eta_cont, _ = optimal_linear_schedule(mid, e0, sigma, eta_max=eta_max)
    gap_discrete = float(np.max(np.abs(eta - eta_discrete)))
    gap_cont = float(np.max(np.abs(eta - eta_cont)))
    validation(f"control.linear-optimum.{'free' if eta_max is None else 'bounded'}",
               area="Optimal protocols",
               claim="the optimiser's 100-piece learning-rate schedule for the noisy linear "
                     "student matches the closed-form optimum",
               method=f"committee ODE K = M = 1, linear, sigma = {sigma}, e0 = 2, t_f = 10, "
                      f"eta_max = {eta_max}; max |eta - eta*| over the pieces, against the "
                      "exact piecewise optimum (continuous optimum at the midpoints: "
                      f"{gap_cont:.1e})",
               measured=gap_discrete, bound=1e-3, unit="absolute")
    assert gap_discrete < 1e-3 and gap_cont < 1e-3
    assert res.objective == pytest.approx(e_edges[-1] / 2, rel=1e-4)
