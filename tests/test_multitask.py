"""Several teachers, heads, protocols and EWC: reductions, exact similarities, ODE = simulation."""
import numpy as np
import pytest

import odesolve
from odesolve.comparison import seed_multiplier
from odesolve.multitask import (MultiTaskSetup, MultiTaskState, Phase, Protocol, continual,
                                integrate_protocol, multitask_weights, readout_with_similarity,
                                simulate_protocol, teacher_overlaps)

VS = np.array([[1.0], [1.0]])


def _state(setup, a=0.5, N=2000, std=0.5, seed=0, V_star=VS):
    T = teacher_overlaps(setup.M, setup.P, feature_similarity=a)
    return MultiTaskState.random(setup, T, V_star, N=N, student_std=std, readout_std=std,
                                 seed=seed)


def test_identical_second_teacher_reduces_to_the_single_teacher_ode():
    setup = MultiTaskSetup(2, 2, P=2, heads="single", eta=1.0, sigma=0.1)
    T = teacher_overlaps(2, 2, feature_similarity=1.0)
    V_star = np.array([[1.0, 0.7], [1.0, 0.7]])
    st = MultiTaskState.random(setup, T, V_star, N=5000, student_std=0.3, readout_std=0.3,
                               seed=2)
    traj = integrate_protocol(setup, st, continual(7.0, 8.0), times=np.linspace(0, 15, 16),
                              rtol=1e-11, atol=1e-12)
    single = odesolve.integrate(odesolve.TeacherStudent(2, 2, "erf", eta=1.0, sigma=0.1),
                                st.task_overlaps(0, 0), t_max=15.0, times=traj.t,
                                method="dopri5", rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(traj.eps_g[:, 0], single.eps_g, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(traj.eps_g[:, 1], single.eps_g, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(traj.Q, single.Q, atol=1e-8)
    np.testing.assert_allclose(traj.R[:, :, :2], single.R, atol=1e-8)
    np.testing.assert_allclose(traj.R[:, :, 2:], single.R, atol=1e-8)   # same teacher twice


def test_ewc_with_zero_strength_equals_no_ewc():
    setup = MultiTaskSetup(2, 1, P=2, heads="single", eta=1.0)
    st = _state(setup, a=0.3)
    plain = integrate_protocol(setup, st, continual(20.0, 20.0), n_out=11, rtol=1e-11,
                               atol=1e-12)
    zero = integrate_protocol(setup, st, continual(20.0, 20.0, ewc=0.0), n_out=11, rtol=1e-11,
                              atol=1e-12)
    np.testing.assert_allclose(zero.eps_g, plain.eps_g, rtol=1e-8, atol=1e-11)
    np.testing.assert_allclose(zero.Q, plain.Q, atol=1e-9)
    strong = integrate_protocol(setup, st, continual(20.0, 20.0, ewc=10.0), n_out=11)
    assert strong.eps_g[-1, 0] < 0.5 * plain.eps_g[-1, 0]      # EWC protects task 1


def test_teachers_have_the_requested_similarities_exactly():
    a = 0.37
    T = teacher_overlaps(3, 2, feature_similarity=a, teacher_std=1.0)
    np.testing.assert_allclose(np.diag(T), 1.0)
    np.testing.assert_allclose(np.diag(T[:3, 3:]), a)
    np.testing.assert_allclose(T[:3, 3:] - np.diag(np.diag(T[:3, 3:])), 0.0)
    setup = MultiTaskSetup(2, 3, P=2)
    st = MultiTaskState.random(setup, T, np.ones((2, 3)), N=1000, seed=1)
    W, W_star, V = multitask_weights(st, 1000, seed=4)
    np.testing.assert_allclose(W_star @ W_star.T / 1000, T, atol=1e-10)
    np.testing.assert_allclose(W @ W_star.T / 1000, st.R, atol=1e-10)
    np.testing.assert_allclose(W @ W.T / 1000, st.Q, atol=1e-10)
    # per hidden unit: cosine a between w*_1m and w*_2m
    cos = np.einsum("mn,mn->m", W_star[:3], W_star[3:]) / (
        np.linalg.norm(W_star[:3], axis=1) * np.linalg.norm(W_star[3:], axis=1))
    np.testing.assert_allclose(cos, a, atol=1e-12)
    v = np.array([1.0, -2.0, 0.5])
    w = readout_with_similarity(v, 0.2, seed=3)
    assert np.linalg.norm(w) == pytest.approx(np.linalg.norm(v))
    assert w @ v / (v @ v) == pytest.approx(0.2)
    np.testing.assert_array_equal(readout_with_similarity([1.0], -1.0), [-1.0])
    with pytest.raises(ValueError, match="M = 1"):
        readout_with_similarity([1.0], 0.5)


def _agree(ode, sim, N, S):
    """The comparison rule of odesolve.compare: |mean - ode| <= k_S sem + 0.05/sqrt(N)."""
    k = seed_multiplier(4.0, S)
    worst = {}
    for name, o in (("Q", ode.Q), ("R", ode.R), ("V", ode.V), ("eps_g", ode.eps_g)):
        m, e = sim.info["mean"][name][1:], sim.info["sem"][name][1:]
        worst[name] = float(np.max(np.abs(m - o[1:]) / (k * e + 0.05 / np.sqrt(N))))
    return worst


@pytest.mark.parametrize("heads, ewc", [("multi", None), ("single", 10.0)])
def test_protocol_ode_agrees_with_simulation(heads, ewc, validation):
    """N = 2000, 16 seeds: multi-head continual learning, and single-head with EWC (the
    simulator estimates the Fisher information by Monte Carlo and pulls the weights; the ODE
    uses the derived terms)."""
    setup = MultiTaskSetup(2, 1, P=2, heads=heads, eta=1.0)
    st = _state(setup, a=0.3)
    prot = continual(5.0, 5.0, ewc=ewc)
    ode = integrate_protocol(setup, st, prot, n_out=6)
    sim = simulate_protocol(setup, st, prot, N=2000, seeds=range(16), n_out=6,
                            progress=False)
    worst = _agree(ode, sim, 2000, 16)
    validation(f"continual.protocol-vs-simulation.{heads}.ewc{ewc}", area="Continual learning",
               claim=f"two tasks in sequence, {heads}-head"
                     + (f", EWC strength {ewc:g}: the derived EWC terms" if ewc else "")
                     + ": the protocol ODE predicts the simulation",
               method="simulation at N = 2000, 16 seeds (EWC with a Monte Carlo Fisher "
                      "information); every task's eps_g and the overlaps",
               measured=max(worst.values()), bound=1.0, unit="x tolerance")
    assert max(worst.values()) <= 1.0, worst
    assert sim.eps_g.shape == (16, ode.t.size, 2) and ode.eps_g.shape == (ode.t.size, 2)


def test_a_wrong_ewc_strength_is_caught_by_the_simulation():
    setup = MultiTaskSetup(2, 1, P=2, heads="single", eta=1.0)
    st = _state(setup, a=0.3)
    ode = integrate_protocol(setup, st, continual(5.0, 5.0, ewc=10.0), n_out=6)
    sim = simulate_protocol(setup, st, continual(5.0, 5.0, ewc=3.0), N=2000, seeds=range(16),
                            n_out=6, progress=False)
    assert max(_agree(ode, sim, 2000, 16).values()) > 2.0


def test_protocol_validation():
    with pytest.raises(ValueError, match="duration"):
        Phase(0.0)
    with pytest.raises(ValueError, match="ewc"):
        Phase(1.0, ewc=-1.0)
    with pytest.raises(ValueError, match="first phase"):
        Protocol((Phase(1.0, ewc=1.0),))
    setup = MultiTaskSetup(2, 1, P=2, heads="single")
    with pytest.raises(ValueError, match="teacher 2"):
        integrate_protocol(setup, _state(setup), Protocol((Phase(1.0, teacher=2),)))
    with pytest.raises(ValueError, match="head 1"):
        integrate_protocol(setup, _state(setup), Protocol((Phase(1.0, head=1),)))
    with pytest.raises(ValueError, match="heads"):
        MultiTaskSetup(2, 1, heads="two")


def test_divergence_in_a_phase_is_reported():
    setup = MultiTaskSetup(1, 1, P=2, heads="single", activation="linear", eta=1.0,
                           eta_v=0.0)
    T = teacher_overlaps(1, 2, feature_similarity=0.5)
    st = MultiTaskState(np.eye(1) * 0.5, np.array([[0.2, 0.1]]), T, np.ones((1, 1)), VS)
    prot = Protocol((Phase(5.0, teacher=0), Phase(500.0, teacher=1, eta=4.0)))
    traj = integrate_protocol(setup, st, prot, n_out=11)
    assert traj.status != 0 and 5.0 < traj.t_fail < 505.0
    assert np.isnan(traj.eps_g[-1]).all() and np.isfinite(traj.eps_g[traj.t <= 5.0]).all()


def test_reversal_and_deficit_are_protocols():
    """Reversal: teacher 1 is teacher 0 with flipped readout (same features), one head. After
    learning it, the head has flipped sign, so task 0's error is large; the ODE's v changes
    sign. Deficit: three phases, back to the intact teacher at the end."""
    from odesolve.multitask import deficit, reversal

    setup = MultiTaskSetup(2, 1, P=2, heads="single", eta=1.0)
    T = teacher_overlaps(1, 2, feature_similarity=1.0)
    st = MultiTaskState.random(setup, T, [[1.0], [-1.0]], N=5000, student_std=0.3,
                               readout_std=0.3, seed=1)
    tr = integrate_protocol(setup, st, reversal(100.0, 200.0), n_out=21)
    j = tr.at(100.0)
    assert tr.eps_g[j, 0] < 1e-3 and tr.eps_g[-1, 1] < 1e-3 and tr.eps_g[-1, 0] > 0.5
    assert np.sign(tr.V[j, 0].sum()) == -np.sign(tr.V[-1, 0].sum())
    # deficit: teacher 1 degraded (feature similarity 0.2), then the intact teacher again
    T2 = teacher_overlaps(1, 2, feature_similarity=0.2)
    st2 = MultiTaskState.random(setup, T2, [[1.0], [1.0]], N=5000, student_std=0.3,
                                readout_std=0.3, seed=1)
    tr2 = integrate_protocol(setup, st2, deficit(100.0, 100.0, 200.0), n_out=11)
    assert tr2.switch_times == [100.0, 200.0]
    assert set(np.unique(tr2.phase)) == {0, 1, 2}
    assert tr2.eps_g[tr2.at(200.0), 0] > 10 * tr2.eps_g[tr2.at(100.0), 0]   # deficit hurts
    assert tr2.eps_g[-1, 0] < 1e-3                                           # and recovers


def test_protocol_simulation_can_be_interrupted(monkeypatch):
    from odesolve.simulation import sgd

    setup = MultiTaskSetup(2, 1, P=2, heads="multi", eta=1.0)
    st = _state(setup)
    fns = sgd.compiled("erf")
    calls = {"n": 0}

    class Interrupting:
        def advance(self, *args):
            calls["n"] += 1
            if calls["n"] == 4:
                raise KeyboardInterrupt
            fns.advance(*args)

    import odesolve.multitask.simulate as ms
    monkeypatch.setattr(ms.sgd, "compiled", lambda activation: Interrupting())
    sim = simulate_protocol(setup, st, continual(3.0, 3.0), N=500, seeds=range(2), n_out=4,
                            progress=False)
    assert sim.info["interrupted"]
    assert np.isfinite(sim.eps_g[:, :4]).all() and np.isnan(sim.eps_g[:, -1]).all()


# -- argument checks: TypeError for a wrong type, ValueError for a wrong value, the message
#    names the argument in backticks, and nothing runs before the checks --------------------
def _refused(call, name, error):
    with pytest.raises(error) as info:
        call()
    assert f"`{name}" in str(info.value), str(info.value)


def test_protocol_builders_name_their_own_arguments():
    from odesolve.multitask import deficit, reversal

    _refused(lambda: continual("1", 2.0), "t1", TypeError)
    _refused(lambda: continual(1.0, 0.0), "t2", ValueError)
    _refused(lambda: continual(1.0, 1.0, ewc=-1.0), "ewc", ValueError)
    _refused(lambda: continual(1.0, 1.0, teacher=1), "teacher", TypeError)
    _refused(lambda: continual(1.0, 1.0, etaa=0.5), "etaa", TypeError)
    _refused(lambda: continual(1.0, 1.0, train_first="no"), "train_first", TypeError)
    _refused(lambda: reversal(1.0, True), "t2", TypeError)
    _refused(lambda: reversal(1.0, 1.0, head=1), "head", TypeError)
    _refused(lambda: deficit(1.0, float("nan"), 1.0), "t_deficit", ValueError)
    _refused(lambda: deficit(1.0, 1.0, 1.0, degraded=1.5), "degraded", TypeError)
    _refused(lambda: deficit(1.0, 1.0, 1.0, degraded=-1), "degraded", ValueError)
    _refused(lambda: Protocol([Phase(1.0), "x"]), "phases[1]", TypeError)
    # checked values are stored normalised: the same phase whatever the number types
    assert Phase(np.int64(2), teacher=np.int64(1), eta=1) == Phase(2.0, teacher=1, eta=1.0)


def test_multitask_state_checks_name_the_field():
    setup = MultiTaskSetup(2, 1, P=2)
    st = _state(setup)
    fields = {n: getattr(st, n) for n in ("Q", "R", "T", "V", "V_star")}
    _refused(lambda: MultiTaskState(**{**fields, "V": np.ones((2, 3))}), "V", ValueError)
    _refused(lambda: MultiTaskState(**{**fields, "T": np.eye(3)}), "T", ValueError)
    _refused(lambda: MultiTaskState(**fields, check="yes"), "check", TypeError)
    T, V_star = fields["T"], fields["V_star"]
    _refused(lambda: MultiTaskState.random(None, T, V_star), "setup", TypeError)
    _refused(lambda: MultiTaskState.random(setup, np.eye(3), V_star), "T", ValueError)
    _refused(lambda: MultiTaskState.random(setup, T, [[1.0, 1.0]]), "V_star", ValueError)
    _refused(lambda: MultiTaskState.random(setup, [[1.0, 2.0], [2.0, 1.0]], V_star), "T",
             ValueError)                                  # not positive semi-definite
    _refused(lambda: MultiTaskState.random(setup, T, V_star, N=1e4), "N", TypeError)
    _refused(lambda: MultiTaskState.random(setup, T, V_star, readout_std=-1.0), "readout_std",
             ValueError)
    _refused(lambda: teacher_overlaps(1, P=0), "P", ValueError)
    _refused(lambda: teacher_overlaps(1, P=3, feature_similarity=[0.1, 0.2, 0.3]),
             "feature_similarity", ValueError)
    _refused(lambda: teacher_overlaps(1, feature_similarity=float("nan")),
             "feature_similarity", ValueError)
    _refused(lambda: teacher_overlaps(1, teacher_std=0.0), "teacher_std", ValueError)
    _refused(lambda: readout_with_similarity([1.0, 2.0], "0.5"), "similarity", TypeError)
    _refused(lambda: readout_with_similarity([1.0, 2.0], 1.5), "similarity", ValueError)
    _refused(lambda: readout_with_similarity([0.0, 0.0], 0.5), "v_star", ValueError)


def test_protocol_output_times_follow_the_rules_of_output_times():
    """``times`` in [0, t_max] ending at t_max (odesolve.integration.output_times); the phase
    boundaries are always added. Refused, not clipped, outside."""
    setup = MultiTaskSetup(2, 1, P=2, heads="single")
    st, prot = _state(setup), continual(0.1, 0.1)
    traj = integrate_protocol(setup, st, prot, times=[0.05, 0.15, 0.2])
    np.testing.assert_allclose(traj.t, [0.0, 0.05, 0.1, 0.15, 0.2])
    for bad in ([-5, 0.05, 0.2], [0.05, 99.0], [0.05, 0.15], [0.1, 0.05, 0.2], [[0.1, 0.2]],
                []):
        _refused(lambda: integrate_protocol(setup, st, prot, times=bad), "times", ValueError)
    _refused(lambda: integrate_protocol(setup, st, prot, times=["0.1", "0.2"]), "times",
             TypeError)
    for n_out in (0, 1):
        _refused(lambda: integrate_protocol(setup, st, prot, n_out=n_out), "n_out", ValueError)
    assert integrate_protocol(setup, st, prot, n_out=2).t.tolist() == [0.0, 0.1, 0.2]


def test_integrate_protocol_checks_its_states():
    setup = MultiTaskSetup(2, 1, P=2, heads="single")
    st, prot = _state(setup), continual(0.1, 0.1)
    other = _state(MultiTaskSetup(2, 1, P=2, heads="multi"))
    _refused(lambda: integrate_protocol(setup, [], prot), "state", ValueError)
    _refused(lambda: integrate_protocol(setup, [st, None], prot), "state[1]", TypeError)
    _refused(lambda: integrate_protocol(setup, [st, other], prot), "state[1]", ValueError)
    _refused(lambda: integrate_protocol(setup, other, prot), "state", ValueError)
    _refused(lambda: integrate_protocol(setup, st, prot, method="rk4"), "dt", ValueError)


def test_simulation_and_comparison_check_everything_before_running(monkeypatch):
    """Bad arguments of simulate_protocol and compare_protocol are refused before the ODE or
    any SGD step runs (both are replaced by functions that fail the test)."""
    import odesolve.multitask.compare as mc
    import odesolve.multitask.simulate as ms
    from odesolve.multitask.compare import compare_protocol

    def ran(*args, **kwargs):
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(ms.sgd, "compiled", ran)
    monkeypatch.setattr(mc, "integrate_protocol", ran)
    setup = MultiTaskSetup(2, 1, P=2, heads="multi")
    st, prot = _state(setup), continual(1.0, 1.0, ewc=1.0)
    sim = dict(setup=setup, state=st, protocol=prot, N=100, seeds=range(2), progress=False)
    for name, value, error in [("setup", "x", TypeError), ("state", [st], TypeError),
                               ("protocol", None, TypeError), ("N", 100.0, TypeError),
                               ("N", 3, ValueError),        # < K + P*M = 4 weight vectors
                               ("seeds", 3, TypeError), ("seeds", [0, 0], ValueError),
                               ("seeds", [0, -1], ValueError), ("n_out", 1, ValueError),
                               ("times", [0.5, 3.0], ValueError),
                               ("fisher_samples", 0, ValueError),
                               ("progress", "no", TypeError)]:
        _refused(lambda: simulate_protocol(**{**sim, name: value}), name, error)
    for name, value, error in [("state", None, TypeError), ("seeds", [0], ValueError),
                               ("N", 0, ValueError), ("n_out", 1, ValueError),
                               ("tolerance_k", "4", TypeError),
                               ("tolerance_c", -0.1, ValueError),
                               ("rtol", 0.0, ValueError), ("atol", None, TypeError),
                               ("progress", 1, TypeError)]:
        _refused(lambda: compare_protocol(**{**sim, name: value}), name, error)
