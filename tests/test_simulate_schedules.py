"""Schedules in the finite-N simulator and the two-task mixture (replay) at finite N
(issue 16: one protocol object drives the ODE and the simulator).

The ODE references are independent computations: the fixed-step RK4 runs of
:func:`odesolve.control.objective_gradient` (committee problem with scheduled slots, and the
mixture ODE of :mod:`odesolve.control.mixture`). The rule is that of odesolve/comparison.py:
``|mean_sim - ode| <= k_S sem + c / sqrt(N)``, k_S the Student-t quantile of 4 normal
standard errors for the number of seeds, c = 0.05.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import odesolve
from odesolve import committee
from odesolve.comparison import seed_multiplier
from odesolve.control import Schedule, objective_gradient, piecewise_constant, piecewise_linear
from odesolve.control.committee import committee_sensitivity_problem
from odesolve.control.mixture import mixture_problem, mixture_state, pack_mixture, unpack_mixture
from odesolve.multitask import (MultiTaskSetup, MultiTaskState, continual, simulate_protocol,
                                task_errors, teacher_overlaps)
from odesolve.multitask.simulate import simulate_mixture
from odesolve.simulation import driver, sgd
from odesolve.simulation.schedules import segments
from odesolve.solvers import INTERRUPTED

SETUP = odesolve.TeacherStudent(2, 2, "erf", eta=1.0, eta_v=0.5, sigma=0.2)
STATE = odesolve.Overlaps(np.array([[0.3, 0.05], [0.05, 0.2]]),
                          np.array([[0.1, 0.0], [0.0, 0.1]]), np.eye(2),
                          np.array([0.4, 0.2]), np.ones(2))


def _worst_ratio(mean, sem, ode, n_seeds, N):
    """Largest |mean - ode| / (k_S sem + 0.05 / sqrt(N)) after the start."""
    tol = seed_multiplier(4.0, n_seeds) * sem[1:] + 0.05 / math.sqrt(N)
    return float(np.max(np.abs(mean[1:] - ode[1:]) / tol))


# -- schedules in odesolve.simulate ---------------------------------------------------------

def test_constant_schedules_cut_into_pieces_are_bit_identical_to_no_schedule():
    # the same values as the setup, but with knots and ramps that cut the run into segments
    sch = {"eta": piecewise_constant(2.0, [1.0] * 7),
           "sigma": piecewise_linear([0.0, 0.9, 2.0], [0.2, 0.2, 0.2]),
           "eta_v": piecewise_constant(2.0, [0.5, 0.5])}
    plain = odesolve.simulate(SETUP, STATE, N=200, t_max=2.0, seeds=(0, 1), n_out=5,
                              progress=False)
    cut = odesolve.simulate(SETUP, STATE, N=200, t_max=2.0, seeds=(0, 1), n_out=5,
                            progress=False, schedules=sch, ramp_dt=0.05)
    assert cut.info["n_segments"] > 20
    for name in ("Q", "R", "v"):
        np.testing.assert_array_equal(getattr(cut, name), getattr(plain, name))


@pytest.mark.parametrize("before,after", [(0.0, 1.0), (1.0, 0.0)])
def test_piecewise_constant_schedule_switches_at_the_knot_rounded_to_a_step(before, after):
    # knot at t = 0.503, N = 100: step 50.3 rounds to step 50; with eta = 0 (no weight
    # decay, fixed readouts) the first layer does not move at all
    setup = odesolve.TeacherStudent(2, 2, "erf", eta=1.0, eta_v=0.0)
    sch = {"eta": Schedule([0.0, 0.503, 2.0], [before, after])}
    sim = odesolve.simulate(setup, STATE, N=100, t_max=1.0, times=[0.49, 0.5, 0.51, 1.0],
                            seeds=(3,), progress=False, schedules=sch)
    Q = sim.Q[0]
    moved = [not np.array_equal(Q[j], Q[j - 1]) for j in range(1, 5)]
    # intervals (0, .49], (.49, .5], (.5, .51], (.51, 1]: eta = before up to step 50
    assert moved == [before > 0, before > 0, after > 0, after > 0]


def test_an_eta_v_schedule_trains_and_decays_the_readouts_of_a_fixed_readout_setup():
    setup = odesolve.TeacherStudent(2, 2, "erf", eta=1.0, eta_v=0.0, weight_decay=0.5)
    kw = dict(N=100, t_max=1.0, seeds=(0,), n_out=2, progress=False)
    fixed = odesolve.simulate(setup, STATE, **kw)
    np.testing.assert_array_equal(fixed.v[0, -1], STATE.v)
    # eta_v = 0 on the whole run: only the weight decay acts, v -> (1 - kappa/N)^steps v
    decayed = odesolve.simulate(setup, STATE, schedules={"eta_v": piecewise_constant(1.0, [0.0])},
                                **kw)
    np.testing.assert_allclose(decayed.v[0, -1], STATE.v * (1 - 0.5 / 100) ** 100, rtol=1e-13)
    trained = odesolve.simulate(setup, STATE, schedules={"eta_v": piecewise_constant(1.0, [0.5])},
                                **kw)
    assert not np.allclose(trained.v[0, -1], decayed.v[0, -1], rtol=1e-6)


def test_linear_schedule_is_held_at_midpoints_of_short_sub_intervals():
    N, ramp_dt = 1000, 0.01
    lin = piecewise_linear([0.0, 0.5, 1.2], [1.0, 2.0, 0.5])
    steps = Schedule([0.0, 0.3, 1.5], [4.0, 5.0], "constant")
    bounds, values = segments({"lin": lin, "pc": steps}, 1500, N, ramp_dt)
    length = np.diff(bounds)
    inside = bounds[1:] <= 1200
    assert bounds[0] == 0 and bounds[-1] == 1500 and length[inside].max() <= ramp_dt * N
    # the mean over the steps equals the integral of the linear schedule (trapezoids)
    integral = 0.5 * (1.0 + 2.0) / 2 + 0.7 * (2.0 + 0.5) / 2
    assert abs(np.sum(values["lin"][inside] * length[inside]) / N - integral) < 1e-12
    np.testing.assert_array_equal(values["lin"][~inside], 0.5)      # held after the last knot
    # the constant schedule changes exactly at step 300 and nowhere else
    assert 300 in bounds
    np.testing.assert_array_equal(values["pc"], np.where(bounds[:-1] < 300, 4.0, 5.0))


def test_chunks_never_cross_a_knot_and_interrupt_still_works(monkeypatch):
    fns = sgd.compiled("erf")
    calls = []

    class Recording:
        sgd_step, test_error = fns.sgd_step, fns.test_error

        def advance(self, W, W_star, v, v_star, params, *rest):
            calls.append((params[0], rest[-3]))
            if len(calls) == 6:
                raise KeyboardInterrupt
            fns.advance(W, W_star, v, v_star, params, *rest)

    monkeypatch.setattr(driver.sgd, "compiled", lambda activation: Recording())
    sch = piecewise_constant(4.0, [0.5, 1.0, 1.5, 2.0, 0.5, 1.0, 1.5, 2.0])
    sim = odesolve.simulate(SETUP, STATE, N=100, t_max=4.0, seeds=(0, 1), n_out=5,
                            progress=False, schedules={"eta": sch})
    start = np.cumsum([0] + [n for _, n in calls])[:-1]
    for (eta, n), s in zip(calls, start):
        piece = s // 50                                   # knots every 0.5 = 50 steps
        assert (s + n - 1) // 50 == piece and eta == sch.values[piece]
    assert sim.info["interrupted"] and np.all(sim.status == INTERRUPTED)
    assert len(calls) == 6 and np.all(sim.t_fail >= 2.5)


def test_simulation_under_schedules_follows_the_scheduled_ode(validation):
    N, seeds, t_f = 2000, range(8), 4.0
    sch = {"eta": piecewise_constant(t_f, [1.5, 0.5, 1.0, 2.0]),
           "eta_v": piecewise_linear([0.0, t_f], [0.2, 1.0]),
           "sigma": piecewise_linear([0.0, 2.0, t_f], [0.5, 0.0, 0.3]),
           "weight_decay": piecewise_constant(t_f, [0.0, 0.5])}
    sim = odesolve.simulate(SETUP, STATE, N=N, t_max=t_f, n_out=9, seeds=seeds,
                            progress=False, schedules=sch)
    prob = committee_sensitivity_problem(SETUP)
    p0 = committee.pack_params(SETUP, STATE)[0]
    y0 = committee.pack_state(STATE)[0]
    ode_sch = {("kappa" if k == "weight_decay" else k): v for k, v in sch.items()}

    def ode(schedules):
        res = objective_gradient(prob, y0, p0, schedules, t_f, 400, method="none", n_record=9)
        np.testing.assert_allclose(res.t, sim.t, atol=1e-12)
        Q, R, v = committee.unpack_state(res.y[0], 2, 2)
        eps = committee.evaluate_eps_g("erf", res.y, p0[None])[0]
        return {"Q": Q, "R": R, "v": v, "eps_g": eps}

    mean, sem = sim.info["mean"], sim.info["sem"]
    ref = ode(ode_sch)
    worst = max(_worst_ratio(mean[q], sem[q], ref[q], len(seeds), N) for q in ref)
    # the same dict of schedules drives odesolve.integrate (adaptive solver, restarts at jumps)
    adaptive = odesolve.integrate(SETUP, STATE, t_f, times=sim.t, schedules=sch, rtol=1e-10,
                                  atol=1e-12, progress=False)
    np.testing.assert_allclose(adaptive.Q, ref["Q"], atol=1e-7)
    np.testing.assert_allclose(adaptive.v, ref["v"], atol=1e-7)
    # power: the ODE with the setup's constant values is rejected by the same rule
    const = ode({})
    rejected = max(_worst_ratio(mean[q], sem[q], const[q], len(seeds), N) for q in const)
    validation("simulation.schedules.committee", area="Schedules",
               claim="finite-N SGD under piecewise-constant and piecewise-linear schedules of "
                     "eta, eta_v, sigma and weight decay follows the ODE under the same "
                     "Schedule objects",
               method=f"erf K = M = 2, N = {N}, {len(seeds)} seeds, t <= {t_f:g}; RK4 of the "
                      "scheduled committee ODE (odesolve.control); rule k_S sem + 0.05/sqrt N; "
                      f"the unscheduled ODE is rejected at {rejected:.1f}x",
               measured=worst, bound=1.0, unit="x tolerance")
    assert worst <= 1.0
    assert rejected > 3.0


@pytest.mark.parametrize("schedules,error,match", [
    ({"lr": piecewise_constant(1.0, [1.0])}, ValueError, "'lr'"),
    ({"eta": 0.5}, TypeError, r"schedules\['eta'\]"),
    ({"sigma": piecewise_constant(1.0, [-0.1])}, ValueError, "non-negative"),
    ([("eta", piecewise_constant(1.0, [1.0]))], TypeError, "`schedules`"),
])
def test_schedule_arguments_are_checked_before_any_work(schedules, error, match):
    with pytest.raises(error, match=match):
        odesolve.simulate(SETUP, STATE, N=100, t_max=1.0, progress=False,
                          schedules=schedules)


def test_ramp_dt_must_be_positive():
    with pytest.raises(ValueError, match="ramp_dt"):
        odesolve.simulate(SETUP, STATE, N=100, t_max=1.0, progress=False, ramp_dt=0.0)


# -- the two-task mixture at finite N -------------------------------------------------------

MT = MultiTaskSetup(2, 1, P=2, heads="multi", eta=1.0)
# off the plateau, so that both tasks are learnt visibly within a few time units
MT_STATE = MultiTaskState(np.array([[0.5, 0.1], [0.1, 0.4]]),
                          np.array([[0.3, 0.05], [0.1, 0.25]]),
                          teacher_overlaps(1, 2, feature_similarity=0.2),
                          np.array([[0.5, 0.2], [0.1, 0.4]]), np.array([[1.0], [1.0]]))


def test_mixture_of_task_0_then_task_1_is_the_continual_protocol_simulation():
    ref = simulate_protocol(MT, MT_STATE, continual(2.0, 3.0), N=300, seeds=range(3),
                            n_out=6, progress=False)
    mix = simulate_mixture(MT, MT_STATE, {"mix": piecewise_constant(5.0, [0, 0, 1, 1, 1])},
                           N=300, seeds=range(3), times=ref.t, progress=False)
    np.testing.assert_allclose(mix.t, ref.t, rtol=1e-15)
    for name in ("Q", "R", "V", "eps_g"):
        np.testing.assert_array_equal(getattr(mix, name), getattr(ref, name))


def _mixture_ode(schedules, t_f, n_record):
    """The mixture ODE of odesolve.control.mixture from MT_STATE: t, Q, R, V, eps (n, 2)."""
    ts = odesolve.TeacherStudent(2, 1, "erf", eta=MT.eta, eta_v=MT.eta)
    p0 = pack_mixture(ts, MT_STATE.T, MT_STATE.V_star, heads=(0, 1), n_heads=2)
    y0 = mixture_state(MT_STATE.Q, MT_STATE.R, MT_STATE.V)
    res = objective_gradient(mixture_problem("erf", 2, 1), y0, p0, schedules, t_f,
                             int(round(100 * t_f)), method="none", n_record=n_record)
    Q, R, V = unpack_mixture(res.y[0], 2, 1, 2)
    return res.t, {"Q": Q, "R": R, "V": V,
                   "eps_g": task_errors(MT, MT_STATE.T, MT_STATE.V_star, Q, R, V)}


def test_mixture_simulation_follows_the_mixture_ode(validation):
    N, seeds, t_f = 2000, range(8), 6.0
    sch = {"mix": piecewise_constant(t_f, [0.5]), "eta": piecewise_constant(t_f, [1.0, 0.6])}
    sim = simulate_mixture(MT, MT_STATE, sch, N=N, t_max=t_f, seeds=seeds, n_out=9,
                           progress=False)
    t, ref = _mixture_ode(sch, t_f, 9)
    np.testing.assert_allclose(t, sim.t, atol=1e-12)
    worst = max(_worst_ratio(sim.mean[q], sim.sem[q], ref[q], len(seeds), N) for q in ref)
    # power: the ODE of task 0 alone (mix = 0) is rejected by the same rule
    _, alone = _mixture_ode({"mix": piecewise_constant(t_f, [0.0]), "eta": sch["eta"]}, t_f, 9)
    rejected = max(_worst_ratio(sim.mean[q], sim.sem[q], alone[q], len(seeds), N)
                   for q in alone)
    validation("simulation.schedules.mixture", area="Schedules",
               claim="finite-N SGD that draws each sample's task with probability mix(t) "
                     "follows the two-task mixture ODE (replay) of odesolve.control.mixture",
               method=f"erf K = 2, one unit per teacher, a = 0.2, mix = 0.5, eta 1 then 0.6, "
                      f"N = {N}, {len(seeds)} seeds, t <= {t_f:g}; Q, R, both heads, both "
                      "tasks' eps_g; rule k_S sem + 0.05/sqrt N; the task-0-only ODE is "
                      f"rejected at {rejected:.1f}x",
               measured=worst, bound=1.0, unit="x tolerance")
    assert worst <= 1.0
    assert rejected > 3.0


@pytest.mark.parametrize("setup,schedules,error,match", [
    (MT, {"eta": piecewise_constant(1.0, [1.0])}, ValueError, "'mix'"),
    (MT, {"mix": piecewise_constant(1.0, [1.2])}, ValueError, r"\[0, 1\]"),
    (MT, {"mix": piecewise_constant(1.0, [0.5]), "sigma": piecewise_constant(1.0, [0.1])},
     ValueError, "'sigma'"),
    (MultiTaskSetup(2, 1, P=3), {"mix": piecewise_constant(1.0, [0.5])}, ValueError, "P"),
    (MT, {"mix": 0.5}, TypeError, r"schedules\['mix'\]"),
])
def test_mixture_arguments_are_checked(setup, schedules, error, match):
    with pytest.raises(error, match=match):
        simulate_mixture(setup, MT_STATE, schedules, N=100, t_max=1.0, progress=False)
