"""Schedules inside the phases of a protocol (learning rates, weight decay, EWC strength):
the ODE and the simulator read the same ones."""
import numpy as np
import pytest
from test_multitask import _agree, _state

from odesolve.control import piecewise_constant, piecewise_linear
from odesolve.multitask import (MultiTaskSetup, Phase, Protocol, continual, integrate_protocol,
                                simulate_protocol)

TIMES = np.linspace(0.0, 16.0, 17)


def _split_and_scheduled():
    """Task 0 with eta 1 then 0.3 and weight decay 0 then 0.05 (a knot at t = 5), then task
    1: once as one phase with schedules, once as two phases with constant values."""
    scheduled = Protocol((
        Phase(10.0, teacher=0, schedules={"eta": piecewise_constant(10.0, [1.0, 0.3]),
                                          "weight_decay": piecewise_constant(10.0,
                                                                             [0.0, 0.05])}),
        Phase(6.0, teacher=1)))
    split = Protocol((Phase(5.0, teacher=0, eta=1.0, weight_decay=0.0),
                      Phase(5.0, teacher=0, eta=0.3, weight_decay=0.05),
                      Phase(6.0, teacher=1)))
    return scheduled, split


def test_ode_phase_schedules_equal_the_phase_cut_at_the_knots():
    setup = MultiTaskSetup(2, 1, P=2, heads="multi", eta=1.0, sigma=0.1)
    st = _state(setup, a=0.3)
    scheduled, split = _split_and_scheduled()
    a = integrate_protocol(setup, st, scheduled, times=TIMES, rtol=1e-11, atol=1e-13)
    b = integrate_protocol(setup, st, split, times=TIMES, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(a.eps_g, b.eps_g, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(a.Q, b.Q, atol=1e-10)
    np.testing.assert_allclose(a.V, b.V, atol=1e-10)    # the eta schedule drives the readout
    plain = integrate_protocol(setup, st, continual(10.0, 6.0), times=TIMES)
    assert np.max(np.abs(plain.eps_g - a.eps_g)) > 1e-3     # the schedules do something


def test_simulated_phase_schedules_are_bit_identical_to_the_phase_cut_at_the_knots():
    setup = MultiTaskSetup(2, 1, P=2, heads="multi", eta=1.0, sigma=0.1)
    st = _state(setup, a=0.3, N=500)
    scheduled, split = _split_and_scheduled()
    kw = dict(N=500, seeds=[0, 1], times=TIMES, progress=False)
    a = simulate_protocol(setup, st, scheduled, **kw)
    b = simulate_protocol(setup, st, split, **kw)
    np.testing.assert_array_equal(a.Q, b.Q)
    np.testing.assert_array_equal(a.R, b.R)
    np.testing.assert_array_equal(a.V, b.V)


def test_a_flat_ewc_ramp_equals_the_constant_strength():
    """A piecewise-linear schedule goes through the wrapped right-hand side (ODE) and the
    sub-intervals of the simulator; flat at the phase's strength it changes nothing."""
    setup = MultiTaskSetup(2, 1, P=2, heads="single", eta=1.0)
    st = _state(setup, a=0.3, N=500)
    flat = Protocol((Phase(5.0, teacher=0),
                     Phase(5.0, teacher=1, ewc=4.0,
                           schedules={"ewc": piecewise_linear([0.0, 5.0], [4.0, 4.0])})))
    const = continual(5.0, 5.0, ewc=4.0)
    a = integrate_protocol(setup, st, flat, n_out=6, rtol=1e-11, atol=1e-13)
    b = integrate_protocol(setup, st, const, n_out=6, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(a.eps_g, b.eps_g, rtol=1e-8, atol=1e-12)
    kw = dict(N=500, seeds=[0, 1], n_out=6, progress=False)
    np.testing.assert_array_equal(simulate_protocol(setup, st, flat, **kw).Q,
                                  simulate_protocol(setup, st, const, **kw).Q)


def test_scheduled_ewc_and_eta_ode_agree_with_simulation(validation):
    """Single head, task 2 under an EWC strength rising from 0 to 20 and a learning rate
    halved at t = 2.5 (phase time): ODE against simulation at N = 2000, 16 seeds (Monte Carlo
    Fisher information). The ODE with the phase's constant strength, or without the eta
    schedule (which also scales the EWC pull), misses the simulation."""
    setup = MultiTaskSetup(2, 1, P=2, heads="single", eta=1.0)
    st = _state(setup, a=0.3)
    sched = {"ewc": piecewise_linear([0.0, 5.0], [0.0, 20.0]),
             "eta": piecewise_constant(5.0, [1.0, 0.5])}
    prot = Protocol((Phase(5.0, teacher=0), Phase(5.0, teacher=1, ewc=10.0, schedules=sched)))
    ode = integrate_protocol(setup, st, prot, n_out=6)
    sim = simulate_protocol(setup, st, prot, N=2000, seeds=range(16), n_out=6, progress=False)
    worst = max(_agree(ode, sim, 2000, 16).values())
    validation("continual.protocol-schedules-vs-simulation", area="Continual learning",
               claim="EWC strength and learning rate as schedules inside a phase: the "
                     "protocol ODE predicts the simulation",
               method="simulation at N = 2000, 16 seeds, EWC strength ramped 0 -> 20 and eta "
                      "halved mid-phase; every task's eps_g and the overlaps",
               measured=worst, bound=1.0, unit="x tolerance")
    assert worst <= 1.0
    constant = integrate_protocol(setup, st, continual(5.0, 5.0, ewc=10.0), n_out=6)
    assert max(_agree(constant, sim, 2000, 16).values()) > 2.0
    ewc_only = Protocol((Phase(5.0, teacher=0),
                         Phase(5.0, teacher=1, ewc=10.0, schedules={"ewc": sched["ewc"]})))
    ewc_only = integrate_protocol(setup, st, ewc_only, n_out=6)
    assert max(_agree(ewc_only, sim, 2000, 16).values()) > 2.0


@pytest.mark.parametrize("kw, error, match", [
    (dict(schedules={"ewc": 1.0}), ValueError, r"schedules\['ewc'\].*ewc"),
    (dict(schedules={"etaa": 1.0}), ValueError, "etaa"),
    (dict(train_first=False, schedules={"eta": 1.0}), ValueError, "train_first"),
    (dict(train_readout=False, schedules={"eta_v": 1.0}), ValueError, "train_readout"),
    (dict(schedules={"eta": -1.0}), ValueError, "non-negative"),
    (dict(schedules={"eta": "fast"}), TypeError, r"schedules\['eta'\]"),
    (dict(schedules=[("eta", 1.0)]), TypeError, "schedules"),
    (dict(schedules={"eta": {"kind": "linear", "times": [0, 5]}}), ValueError,
     r"schedules\['eta'\].*values"),
])
def test_phase_schedules_are_checked(kw, error, match):
    with pytest.raises(error, match=match):
        Phase(5.0, **kw)


def test_phase_schedules_accept_numbers_and_keep_phases_hashable():
    ph = Phase(5.0, ewc=1.0, schedules={"ewc": 2.0})
    assert ph.schedules["ewc"](np.array([0.0, 5.0])).tolist() == [2.0, 2.0]
    assert hash(ph) == hash(Phase(5.0, ewc=1.0, schedules={"ewc": 3.0}))
    assert Phase(5.0, schedules={}).schedules is None
    ramp = Phase(5.0, schedules={"eta": {"kind": "linear", "times": [0, 5], "values": [1, 0]}})
    assert ramp.schedules["eta"](2.5) == pytest.approx(0.5)       # the dict form (JSON)
