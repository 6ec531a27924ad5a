"""Schedules (odesolve.control.schedule) and ODE runs that follow them
(odesolve.control.scheduled): values against their definitions, runs against runs restarted
piece by piece and against an independent SciPy integration."""
import numpy as np
import pytest
from scipy.integrate import quad, solve_ivp

from odesolve import committee
from odesolve.control import (Schedule, annealing, constant_schedule, piecewise_constant,
                              piecewise_linear)
from odesolve.control.scheduled import pack_schedules, scheduled_problem, solve_scheduled
from odesolve.model import Overlaps, TeacherStudent
from odesolve.solvers import solve

ETA = 2        # slot of eta in the committee parameter row (odesolve/committee.py)


def test_schedule_values_follow_the_definitions():
    pc = Schedule([0, 1, 3], [5.0, -1.0], "constant")
    np.testing.assert_array_equal(pc([-1, 0, 0.5, 1, 2.9, 3, 7]), [5, 5, 5, -1, -1, -1, -1])
    pl = piecewise_linear([0, 2, 3], [0.0, 4.0, 1.0])
    np.testing.assert_allclose(pl([-1, 0, 1, 2, 2.5, 3, 9]), [0, 0, 2, 4, 2.5, 1, 1])
    assert Schedule.from_dict(pl.to_dict())(1.5) == pl(1.5)
    assert constant_schedule(0.3, 5.0)(4.0) == 0.3


def test_annealing_pieces_are_the_means_of_eta0_t0_over_t0_plus_t():
    sch = annealing(10.0, 4, eta0=0.8, t0=2.0)
    for j in range(4):
        a, b = sch.times[j], sch.times[j + 1]
        mean = quad(lambda t: 0.8 * 2.0 / (2.0 + t), a, b)[0] / (b - a)
        assert sch.values[j] == pytest.approx(mean, rel=1e-12)


@pytest.fixture(scope="module")
def erf_run():
    setup = TeacherStudent(2, 2, "erf", eta=0.5, sigma=0.1)
    state = Overlaps.random(2, 2, N=10_000, student_std=0.3, seed=1)
    return (committee.committee_problem(setup), committee.pack_state(state),
            committee.pack_params(setup, state))


def test_piecewise_constant_run_equals_runs_restarted_at_each_jump(erf_run):
    prob, y0, p = erf_run
    sch = piecewise_constant(30.0, [0.5, 1.0, 0.2])
    res = solve_scheduled(prob, y0, p, np.array([0, 5, 10, 20, 30.0]), {ETA: sch},
                          method="rk4", dt=0.01)
    y, ends = y0, [y0[0]]
    for eta in sch.values:
        rows = p.copy()
        rows[:, ETA] = eta
        y = solve(prob, y, rows, np.array([0, 10.0]), method="rk4", dt=0.01).y[:, -1]
        ends.append(y[0])
    assert res.status[0] == 0
    np.testing.assert_array_equal(res.y[0, [0, 2, 3, 4]], np.array(ends))


def test_linear_schedule_matches_an_independent_scalar_integration():
    """K = M = 1, linear units, fixed readouts: e = Q - 2R + T obeys
    de/dt = -2 eta e + eta^2 (e + sigma^2) (docs/theory/committee.md)."""
    sigma = 0.3
    setup = TeacherStudent(1, 1, "linear", eta=0.5, eta_v=0.0, sigma=sigma)
    state = Overlaps(Q=[[0.2]], R=[[0.1]], T=[[1.0]], v=[1.0], v_star=[1.0])
    prob = committee.committee_problem(setup)
    y0, p = committee.pack_state(state), committee.pack_params(setup, state)
    sch = piecewise_linear([0, 4, 10], [1.2, 0.3, 0.05])
    t = np.linspace(0, 10, 6)
    res = solve_scheduled(prob, y0, p, t, {ETA: sch}, method="dopri5", rtol=1e-11, atol=1e-13)
    Q, R = res.y[0, :, 0], res.y[0, :, 1]
    ref = solve_ivp(lambda s, e: -2 * sch(s) * e + sch(s) ** 2 * (e + sigma ** 2), (0, 10),
                    [0.2 - 0.2 + 1.0], t_eval=t, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(Q - 2 * R + 1.0, ref.y[0], rtol=1e-8)


def test_wrapper_reads_linear_schedules_with_an_offset(erf_run):
    prob, y0, p = erf_run
    sch = piecewise_linear([0, 20], [1.0, 0.2])
    shifted = piecewise_linear([5, 25], [1.0, 0.2])
    a = solve(scheduled_problem(prob), y0, pack_schedules(p, {ETA: sch}, offset=0.0),
              np.array([0.0, 20.0]), method="rk4", dt=0.01)
    b = solve(scheduled_problem(prob), y0, pack_schedules(p, {ETA: shifted}, offset=5.0),
              np.array([0.0, 20.0]), method="rk4", dt=0.01)
    np.testing.assert_allclose(a.y, b.y, rtol=1e-13, atol=1e-15)


def test_failure_inside_a_segment_is_reported_with_its_time():
    """Linear units with eta = 5 grow like exp(15 t) and cross the blow-up bound."""
    setup = TeacherStudent(1, 1, "linear", eta=0.5, eta_v=0.0)
    state = Overlaps(Q=[[0.2]], R=[[0.1]], T=[[1.0]], v=[1.0], v_star=[1.0])
    prob = committee.committee_problem(setup)
    y0, p = committee.pack_state(state), committee.pack_params(setup, state)
    sch = piecewise_constant(20.0, [0.5, 5.0])        # the second piece diverges
    res = solve_scheduled(prob, y0, p, np.linspace(0, 20, 5), {ETA: sch}, method="rk4",
                          dt=0.01)
    assert res.status[0] != 0 and 10.0 <= res.t_fail[0] <= 20.0
    assert np.all(np.isfinite(res.y[0, :3])) and np.all(np.isnan(res.y[0, -1]))


def test_integrate_with_schedules_equals_the_control_forward_pass():
    """odesolve.integrate(schedules=...) (the package's solver, restarted at jumps) and the
    RK4 pass of odesolve.control (its own stepping) are two implementations of the same
    discrete run."""
    import odesolve
    from odesolve.control import objective_gradient
    from odesolve.control.committee import committee_sensitivity_problem

    setup = TeacherStudent(2, 2, "erf", eta=0.5, eta_v=0.2, sigma=0.1)
    state = Overlaps.random(2, 2, N=10_000, student_std=0.3, seed=2)
    sch = {"eta": piecewise_constant(10.0, [0.5, 1.2, 0.3, 0.8]),
           "eta_v": piecewise_linear([0.0, 10.0], [0.1, 0.6])}
    traj = odesolve.integrate(setup, state, 10.0, method="rk4", dt=0.05, n_out=5,
                              schedules=sch)
    res = objective_gradient(committee_sensitivity_problem(setup), committee.pack_state(state)[0],
                             committee.pack_params(setup, state)[0], sch, 10.0, 200,
                             method="none", n_record=5)
    Q, R, v = committee.unpack_state(res.y[0], 2, 2)
    np.testing.assert_allclose(traj.Q, Q, atol=1e-12)
    np.testing.assert_allclose(traj.v, v, atol=1e-12)
    assert traj.eps_g[-1] == pytest.approx(res.objective[0], rel=1e-10)


@pytest.mark.parametrize("schedules, exc, match", [
    ({"learning_rate": piecewise_constant(1.0, [0.5])}, ValueError, "can be scheduled"),
    ({"eta": 0.5}, TypeError, "must be an odesolve.control.Schedule"),
    ([("eta", piecewise_constant(1.0, [0.5]))], TypeError, "must map parameter names"),
    ({"weight_decay": piecewise_constant(1.0, [-0.5])}, ValueError, "non-negative"),
])
def test_integrate_refuses_bad_schedules(schedules, exc, match):
    import odesolve

    setup = TeacherStudent(2, 2, "erf", eta=0.5)
    state = Overlaps.random(2, 2, N=10_000, student_std=0.3, seed=2)
    with pytest.raises(exc, match=match):
        odesolve.integrate(setup, state, 1.0, schedules=schedules)


def test_an_eta_schedule_drives_the_readout_rate_when_eta_v_is_none():
    """TeacherStudent(eta_v=None) means the readout rate is eta: scheduling eta must equal
    scheduling both rates with the same schedule."""
    import odesolve

    state = Overlaps.random(2, 2, N=10_000, student_std=0.3, readout_std=0.3, seed=2)
    sch = piecewise_constant(6.0, [0.4, 1.0, 0.2])
    same = odesolve.integrate(TeacherStudent(2, 2, "erf", eta=0.7), state, 6.0, n_out=4,
                              schedules={"eta": sch})
    both = odesolve.integrate(TeacherStudent(2, 2, "erf", eta=0.7, eta_v=0.7), state, 6.0,
                              n_out=4, schedules={"eta": sch, "eta_v": sch})
    np.testing.assert_array_equal(same.R, both.R)
    np.testing.assert_array_equal(same.v, both.v)
