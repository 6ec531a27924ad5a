"""Physics checks of the integrated ODEs against closed-form results and independent computations."""
import math

import numpy as np
import pytest

import odesolve
from odesolve import Overlaps, TeacherStudent, committee
from odesolve.activations import activation_functions
from odesolve.reference import erf_eps_g_numpy, erf_rhs_numpy

ALL = ["erf", "linear", "relu", "tanh"]


def _rhs(setup, state, fast=True):
    y = committee.pack_state(state)[0]
    p = committee.pack_params(setup, state)[0]
    work = np.zeros(committee.n_work(setup.K, setup.M))
    out = np.empty_like(y)
    committee.committee_problem(setup, fast=fast).rhs(0.0, y, p, work, out)
    return committee.unpack_state(out, setup.K, setup.M)


def _random_state(K, M, seed):
    return Overlaps.random(K, M, N=40, student_std=0.8, readout_std=0.7, teacher_std=1.0,
                           v_star=np.linspace(0.5, 1.5, M), seed=seed)


@pytest.mark.parametrize("activation", ALL)
def test_perfect_learning_is_a_fixed_point(activation, validation):
    """Q = R = T = I, v = v*: the student is the teacher, every derivative vanishes."""
    K = 3
    setup = TeacherStudent(K, K, activation, eta=0.7, eta_v=0.4)
    state = Overlaps(np.eye(K), np.eye(K), np.eye(K), np.ones(K), np.ones(K))
    tol = 1e-9 if activation == "tanh" else 1e-13
    largest = max(np.abs(d).max() for d in _rhs(setup, state))
    validation(f"fixed-point.perfect-learning.{activation}", area="Fixed points and stability",
               claim=f"perfect learning (Q = R = T = I, v = v*) is a fixed point, {activation}, "
                     "K = M = 3", method="every derivative of the compiled right-hand side",
               measured=largest, bound=tol, unit="max |dX/dt|")
    assert largest <= tol
    assert odesolve.generalisation_error(setup, state) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("K, M", [(2, 2), (3, 2), (4, 3)])
def test_erf_rhs_matches_hand_written_numpy_transcription(K, M, validation):
    """The derived, generated, compiled erf ODE equals the equations of
    docs/theory/committee.md#theory-committee-odes transcribed into NumPy."""
    setup = TeacherStudent(K, M, "erf", eta=0.7, eta_v=0.3, sigma=0.2, weight_decay=0.01)
    state = _random_state(K, M, seed=K + M)
    got = _rhs(setup, state)
    ref = erf_rhs_numpy(state.Q, state.R, state.T, state.v, state.v_star, 0.7, 0.3, 0.2, 0.01)
    validation(f"committee.erf-rhs.numpy.K{K}M{M}", area="Committee ODEs",
               claim=f"derived erf ODEs (K = {K}, M = {M}, noise, weight decay, trained "
                     "readouts) equal the published equations",
               method="the published ODEs transcribed by hand into NumPy "
                      "(odesolve.reference)",
               measured=max(float(np.max(np.abs(g - r) / (1e-14 + 1e-12 * np.abs(r))))
                             for g, r in zip(got, ref)),
               bound=1, unit="x tolerance (rtol 1e-12, atol 1e-14)")
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-14)
    assert odesolve.generalisation_error(setup, state) == pytest.approx(
        erf_eps_g_numpy(state.Q, state.R, state.T, state.v, state.v_star), rel=1e-12)


@pytest.mark.parametrize("activation", ["erf", "linear", "relu"])
def test_fast_path_equals_structural_template(activation):
    setup = TeacherStudent(3, 2, activation, eta=0.9, eta_v=0.5, sigma=0.3, weight_decay=0.02)
    state = _random_state(3, 2, seed=7)
    for f, t in zip(_rhs(setup, state, fast=True), _rhs(setup, state, fast=False)):
        np.testing.assert_allclose(f, t, rtol=1e-11, atol=1e-13)


def _network_error_mc(activation, W, Ws, v, vs, n_samples, seed):
    """Monte Carlo of 1/2 <(yhat - y*)^2> over Gaussian inputs for explicit weight matrices."""
    g = {"erf": _erf, "linear": lambda x: x, "relu": lambda x: np.maximum(x, 0.0),
         "tanh": np.tanh}[activation]
    rng = np.random.default_rng(seed)
    N = W.shape[1]
    errs = []
    for _ in range(n_samples // 20_000):
        x = rng.standard_normal((20_000, N))
        diff = g(x @ W.T / math.sqrt(N)) @ v - g(x @ Ws.T / math.sqrt(N)) @ vs
        errs.append(0.5 * diff ** 2)
    e = np.concatenate(errs)
    return e.mean(), e.std() / math.sqrt(e.size)


def _erf(x):
    from scipy.special import erf
    return erf(x / math.sqrt(2))


@pytest.mark.parametrize("activation", ALL)
def test_eps_g_matches_monte_carlo_of_the_networks_error(activation, validation):
    rng = np.random.default_rng(11)
    N, K, M = 300, 3, 2
    W = 1.2 * rng.standard_normal((K, N))
    Ws = rng.standard_normal((M, N))
    W[0] += 0.8 * Ws[0]                      # some student-teacher alignment
    v, vs = np.array([0.8, -0.5, 1.1]), np.array([1.0, 0.7])
    state = Overlaps.from_weights(W, Ws, v, vs)
    setup = TeacherStudent(K, M, activation)
    mean, se = _network_error_mc(activation, W, Ws, v, vs, 400_000, seed=3)
    got = odesolve.generalisation_error(setup, state)
    validation(f"committee.eps_g.monte-carlo.{activation}", area="Committee ODEs",
               claim=f"eps_g from the order parameters equals the networks' error, "
                     f"{activation}", method="Monte Carlo of 1/2 (student - teacher)^2 on "
                                             "explicit weights, N = 300, 400 000 inputs",
               measured=abs(got - mean) / se, bound=4, unit="standard errors")
    assert abs(got - mean) < 4 * se, (got, mean, se)


def _symmetric_plateau_state(K, r0=0.0, q0=0.2):
    Q = np.full((K, K), 0.05) + (q0 - 0.05) * np.eye(K)
    R = np.full((K, K), r0)
    return Overlaps(Q, R, np.eye(K), np.ones(K), np.ones(K))


def _saad_solla_plateau(K):
    return (K / math.pi) * (math.pi / 6 - K * math.asin(1 / (2 * K)))


def _plateau_fixed_point(K, eta, guess):
    """Root of the compiled right-hand side in (Q, R) with fixed readouts v = v* = 1."""
    from scipy.optimize import root

    setup = TeacherStudent(K, K, "erf", eta=eta, eta_v=0.0)
    iu = np.triu_indices(K)

    def unpack(x):
        Q = np.zeros((K, K))
        Q[iu] = x[:iu[0].size]
        Q = Q + np.triu(Q, 1).T
        return Overlaps(Q, x[iu[0].size:].reshape(K, K), np.eye(K), np.ones(K), np.ones(K),
                        check=False)

    def f(x):
        dQ, dR, _ = _rhs(setup, unpack(x))
        return np.concatenate([dQ[iu], dR.ravel()]) / eta     # rates scale with eta

    x0 = np.concatenate([guess.Q[iu], guess.R.ravel()])
    sol = root(f, x0, method="hybr", tol=1e-14)
    assert np.abs(f(sol.x)).max() < 1e-12, sol.message
    state = unpack(sol.x)
    return state, odesolve.generalisation_error(setup, state)


@pytest.mark.parametrize("K", [2, 3])
def test_symmetric_plateau_matches_saad_solla(K, validation):
    """K = M, T = I, v = v* = 1 fixed, symmetric start: the dynamics reach the plateau.

    Integration from a generic symmetric state (all R_in equal) reaches the plateau (eps_g
    flattest there); polishing that state as a root of the right-hand side gives the plateau
    at finite eta, which moves by O(eta); extrapolated to eta -> 0 it equals Saad & Solla's
    (K/pi)(pi/6 - K asin(1/(2K))) with q = c = 1/(2K-1), r = s = 1/sqrt(K(2K-1)).
    """
    expected = _saad_solla_plateau(K)
    assert expected == pytest.approx({2: 0.0116108, 3: 0.0202966}[K], abs=1e-7)
    eta = 0.1
    setup = TeacherStudent(K, K, "erf", eta=eta, eta_v=0.0)
    traj = odesolve.integrate(setup, _symmetric_plateau_state(K, r0=1e-3), t_max=1500 / eta,
                              method="dopri5", rtol=1e-10, atol=1e-12,
                              times=np.geomspace(1, 1500 / eta, 60))
    slope = np.abs(np.diff(np.log(np.abs(traj.eps_g[1:]))) / np.diff(np.log(traj.t[1:])))
    slope[traj.eps_g[2:] < 1e-3] = np.inf              # ignore the converged tail after escape
    j = int(np.argmin(slope)) + 1                      # flattest point: on the plateau
    reached = traj.state(j)
    fixed, eg_fixed = _plateau_fixed_point(K, eta, reached)
    assert traj.eps_g[j] == pytest.approx(eg_fixed, rel=0.02)
    np.testing.assert_allclose(reached.R, fixed.R, atol=0.02)
    # eta -> 0: Richardson extrapolation of the fixed point from two small learning rates
    e1 = _plateau_fixed_point(K, 2e-3, fixed)
    e2 = _plateau_fixed_point(K, 1e-3, e1[0])
    validation(f"limits.plateau.integrated.K{K}", area="Closed-form limits",
               claim=f"the plateau reached by integration, extrapolated to eta -> 0, has "
                     f"eps_g = (K/pi)(pi/6 - K asin(1/(2K))), K = {K}",
               method="integration to the plateau, root polishing at eta = 2e-3 and 1e-3, "
                      "Richardson extrapolation; Saad & Solla's formula",
               measured=abs(2 * e2[1] - e1[1] - expected) / expected, bound=1e-5,
               unit="relative error")
    assert 2 * e2[1] - e1[1] == pytest.approx(expected, rel=1e-5)
    q, r = 1 / (2 * K - 1), 1 / math.sqrt(K * (2 * K - 1))
    Q0 = 2 * e2[0].Q - e1[0].Q
    R0 = 2 * e2[0].R - e1[0].R
    np.testing.assert_allclose(Q0, np.full((K, K), q), atol=1e-4)
    np.testing.assert_allclose(R0, np.full((K, K), r), atol=1e-4)


def _gradient_flow_part(setup_kwargs, state, activation):
    """The O(eta) part A of the rates dX = eta A + eta^2 B, from two evaluations (exact)."""
    rates = []
    for eta in (1.0, 2.0):
        s = TeacherStudent(state.K, state.M, activation, eta=eta, eta_v=eta, **setup_kwargs)
        rates.append(_rhs(s, state))
    # X(1) = A + B, X(2) = 2A + 4B  =>  A = 2 X(1) - X(2)/2
    return [2 * a - b / 2 for a, b in zip(*rates)]


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_layer_imbalance_is_conserved_by_gradient_flow(activation, validation):
    """v_i^2 - Q_ii is constant under gradient flow (no eta^2 term) for homogeneous units."""
    state = _random_state(3, 2, seed=5)
    dQ, dR, dv = _gradient_flow_part({}, state, activation)
    balance_rate = 2 * state.v * dv - np.diag(dQ)
    validation(f"limits.layer-imbalance.{activation}", area="Closed-form limits",
               claim=f"v_i^2 - Q_ii is conserved by gradient flow, {activation} units",
               method="d/dt (v_i^2 - Q_ii) from the O(eta) part of the right-hand side, "
                      "relative to the size of dQ_ii/dt",
               measured=np.abs(balance_rate).max() / np.abs(np.diag(dQ)).max(), bound=1e-12,
               unit="relative")
    np.testing.assert_allclose(balance_rate, 0.0, atol=1e-12 * np.abs(np.diag(dQ)).max())
    # erf is not homogeneous: the same combination does not vanish (the test can fail)
    dQe, _, dve = _gradient_flow_part({}, state, "erf")
    assert np.abs(2 * state.v * dve - np.diag(dQe)).max() > 1e-3


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_layer_imbalance_drift_vanishes_with_eta_along_trajectories(activation):
    """Integrated at learning rate eta over time ~1/eta, v_i^2 - Q_ii drifts only by O(eta)."""
    state = _random_state(2, 2, seed=9)
    drifts = []
    for eta in (0.02, 0.01):
        setup = TeacherStudent(2, 2, activation, eta=eta)
        traj = odesolve.integrate(setup, state, t_max=2.0 / eta, method="dopri5", rtol=1e-10,
                                  n_out=21)
        imbalance = traj.v ** 2 - np.einsum("tii->ti", traj.Q)
        drifts.append(np.abs(imbalance - imbalance[0]).max())
    assert drifts[1] < 0.6 * drifts[0]       # ~ halves with eta
    assert drifts[1] < 0.05


def test_divergence_is_reported_with_its_time():
    """Linear units, fixed readouts v = 1: dQ/dt ~ (eta^2 - 2 eta) Q blows up for eta > 2."""
    setup = TeacherStudent(1, 1, "linear", eta=4.0, eta_v=0.0)
    state = Overlaps(np.eye(1), 0.5 * np.eye(1), np.eye(1), np.ones(1), np.ones(1))
    with pytest.raises(odesolve.DivergenceError) as err:
        odesolve.integrate(setup, state, t_max=1e4, method="dopri5")
    assert np.all(np.isfinite(err.value.t_fail)) and "t =" in str(err.value)
    traj = odesolve.integrate(setup, state, t_max=1e4, method="dopri5", on_failure="flag")
    assert traj.status != 0 and 0 < traj.t_fail < 1e4
    after = traj.t > traj.t_fail
    assert np.all(np.isnan(traj.Q[after])) and np.all(np.isfinite(traj.Q[traj.t < traj.t_fail]))


def test_batched_member_diverges_alone():
    setup = TeacherStudent(1, 1, "linear", eta=1.0, eta_v=0.0)
    R = np.array([[[0.5]], [[0.5]]])
    state = Overlaps(np.eye(1), R, np.eye(1), np.array([[1.0], [3.0]]), np.ones(1))
    traj = odesolve.integrate(setup, state, t_max=100.0, method="dopri5", on_failure="flag")
    assert traj.status[0] == 0 and traj.status[1] != 0
    assert np.isfinite(traj.t_fail[1]) and np.isnan(traj.t_fail[0])
    assert traj.eps_g[0, -1] < 1e-6


def test_activation_functions_are_the_documented_ones():
    g, dg = activation_functions("erf")
    assert g(0.7) == pytest.approx(math.erf(0.7 / math.sqrt(2)))
    assert dg(0.7) == pytest.approx(math.sqrt(2 / math.pi) * math.exp(-0.245))
