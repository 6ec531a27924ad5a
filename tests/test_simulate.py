"""The finite-N simulator: weights with prescribed overlaps, the SGD update, the random streams,
and agreement with the ODE that improves as 1/sqrt(N)
(docs/theory/simulation.md#theory-simulation-fluctuations)."""
import math

import numba
import numpy as np
import pytest
from scipy import special, stats

from odesolve import Activation, Overlaps, TeacherStudent
from odesolve.solvers import INTERRUPTED
from odesolve.integration import generalisation_error, integrate
from odesolve.simulation import driver, seed_statistics, sgd_step, simulate
from odesolve.simulation.rng import (ZIGGURAT_V, _ziggurat_tables, fill_normal, seed_state,
                                     standard_normal)
from odesolve.weights import random_weights, weights_from_overlaps

# -- weights ------------------------------------------------------------------------------


def _overlaps_of(W, W_star):
    N = W.shape[1]
    return W @ W.T / N, W @ W_star.T / N, W_star @ W_star.T / N


@pytest.mark.parametrize("K, M", [(2, 2), (3, 1), (4, 3)])
def test_constructed_weights_have_the_requested_overlaps(K, M):
    state = Overlaps.random(K, M, N=50, student_std=0.7, readout_std=0.5, teacher_std=1.2,
                            seed=K * M)
    W, W_star, v, v_star = weights_from_overlaps(state, N=300, seed=1)
    assert W.shape == (K, 300) and W_star.shape == (M, 300)
    for got, want in zip(_overlaps_of(W, W_star), (state.Q, state.R, state.T)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(v, state.v)
    np.testing.assert_array_equal(v_star, state.v_star)


def test_constructed_weights_at_perfect_learning_are_the_teacher():
    """Q = R = T = I is a singular covariance: a Cholesky factor fails, the student must equal
    the teacher vector by vector."""
    I3 = np.eye(3)
    state = Overlaps(I3, I3, I3, np.ones(3), np.ones(3))
    W, W_star, _, _ = weights_from_overlaps(state, N=200, seed=0)
    for got in _overlaps_of(W, W_star):
        np.testing.assert_allclose(got, I3, rtol=0, atol=1e-10)
    np.testing.assert_allclose(W, W_star, atol=1e-10)


def test_constructed_weights_with_rank_deficient_teacher():
    """Two identical teacher vectors (T singular) and a student in their span."""
    T = np.ones((2, 2))
    R = np.array([[0.5, 0.5]])
    state = Overlaps(np.array([[0.25]]), R, T, np.ones(1), np.ones(2))
    W, W_star, _, _ = weights_from_overlaps(state, N=100, seed=3)
    for got, want in zip(_overlaps_of(W, W_star), (state.Q, R, T)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_constructed_weights_orientation_is_random_and_seeded():
    state = Overlaps.random(2, 2, N=50, seed=0)
    a = weights_from_overlaps(state, 100, seed=5)[0]
    assert np.array_equal(a, weights_from_overlaps(state, 100, seed=5)[0])
    assert not np.allclose(a, weights_from_overlaps(state, 100, seed=6)[0])


def test_weights_from_overlaps_validates():
    state = Overlaps.random(2, 2, N=50, seed=0)
    with pytest.raises(ValueError, match="`N` must be at least"):
        weights_from_overlaps(state, 3)
    with pytest.raises(TypeError, match=r"`N` must be an integer, got 10\.5\."):
        weights_from_overlaps(state, 10.5)
    with pytest.raises(TypeError, match="`seed` must be None, a non-negative integer"):
        weights_from_overlaps(state, 100, seed=0.5)
    with pytest.raises(ValueError, match="unbatched"):
        weights_from_overlaps(Overlaps.random(2, 2, batch=2, seed=0), 100)


def test_random_weights_have_the_initialisation_scales():
    N = 20_000
    W, W_star, v, v_star = random_weights(3, 2, N, student_std=0.1, readout_std=0.2,
                                          teacher_std=2.0, v_star=[1.0, -1.0], seed=0)
    Q, R, T = _overlaps_of(W, W_star)
    tol = 6 / math.sqrt(N)      # relative fluctuations of a Gram matrix are ~ sqrt(2/N)
    np.testing.assert_allclose(np.diag(Q), 0.01, rtol=tol)
    np.testing.assert_allclose(np.diag(T), 4.0, rtol=tol)
    np.testing.assert_allclose(R, 0.0, atol=0.2 * tol)
    assert v.shape == (3,) and np.all(np.abs(v) < 1.0)
    np.testing.assert_array_equal(v_star, [1.0, -1.0])


# -- random streams -----------------------------------------------------------------------


def test_ziggurat_layers_have_equal_area():
    ki, wi, fi = _ziggurat_tables()
    x = wi * 2.0 ** 52
    area = x[1:] * (fi[:-1] - fi[1:])                 # layers 1..255: x_i (f(x_{i-1}) - f(x_i))
    np.testing.assert_allclose(area, ZIGGURAT_V, rtol=1e-8)


def test_ziggurat_samples_are_standard_normal():
    """Kolmogorov-Smirnov on 10^6 numbers, and the tail beyond the base layer (|x| > 3.65)."""
    out = np.empty(2_000_000)
    fill_normal(seed_state(123), out)
    assert stats.kstest(out[:1_000_000], "norm").pvalue > 1e-3
    assert abs(out.mean()) < 5 / math.sqrt(out.size)
    assert abs(out.var() - 1) < 5 * math.sqrt(2 / out.size)
    for a in (2.0, 3.0, 3.7, 4.2):
        expected = 2 * stats.norm.sf(a) * out.size
        assert abs(np.sum(np.abs(out) > a) - expected) < 5 * math.sqrt(expected) + 1


def test_streams_are_reproducible_and_distinct():
    a, b, c = np.empty(1000), np.empty(1000), np.empty(1000)
    fill_normal(seed_state(1), a)
    fill_normal(seed_state(1), b)
    fill_normal(seed_state(2), c)
    assert np.array_equal(a, b) and not np.allclose(a, c)
    s = seed_state(1)
    first = standard_normal(s)
    assert first == a[0] and standard_normal(s) == a[1]


# -- one SGD step -------------------------------------------------------------------------

_G = {"erf": (lambda x: special.erf(x / np.sqrt(2)),
              lambda x: np.sqrt(2 / np.pi) * np.exp(-x * x / 2)),
      "linear": (lambda x: x, lambda x: np.ones_like(x)),
      "relu": (lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(float)),
      "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2)}


def _numpy_step(setup, W, W_star, v, v_star, x, zeta):
    """docs/theory/simulation.md#theory-simulation-sgd written out in NumPy."""
    g, dg = _G[setup.activation]
    N = W.shape[1]
    lam, nu = W @ x / np.sqrt(N), W_star @ x / np.sqrt(N)
    delta = v_star @ g(nu) + setup.sigma * zeta - v @ g(lam)
    kappa, eta_v = setup.weight_decay, setup.eta_readout
    W_new = W + setup.eta / np.sqrt(N) * np.outer(v * dg(lam) * delta, x) - kappa / N * W
    v_new = v + eta_v / N * g(lam) * delta - kappa / N * v if eta_v > 0 else v.copy()
    return W_new, v_new, delta, lam, nu


@pytest.mark.parametrize("activation, eta_v", [("erf", 0.7), ("erf", 0.0), ("linear", 0.7),
                                               ("relu", 0.7), ("tanh", 0.0)])
def test_sgd_step_equals_numpy_transcription(activation, eta_v):
    K, M, N = 3, 2, 257
    setup = TeacherStudent(K, M, activation, eta=0.9, eta_v=eta_v, sigma=0.3, weight_decay=0.05)
    rng = np.random.default_rng(4)
    W, W_star = rng.standard_normal((K, N)), rng.standard_normal((M, N))
    v, v_star = rng.standard_normal(K), rng.standard_normal(M)
    x, zeta = rng.standard_normal(N), 0.8
    W_ref, v_ref, delta_ref, lam_ref, nu_ref = _numpy_step(setup, W, W_star, v, v_star, x, zeta)
    delta, lam, nu = sgd_step(setup, W, W_star, v, v_star, x, zeta)
    np.testing.assert_allclose(lam, lam_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(nu, nu_ref, rtol=1e-12, atol=1e-13)
    assert delta == pytest.approx(delta_ref, rel=1e-12, abs=1e-13)
    np.testing.assert_allclose(W, W_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(v, v_ref, rtol=1e-12, atol=1e-13)
    if eta_v == 0:
        assert np.array_equal(v, v_ref), "fixed readouts must not move (no decay either)"


# -- the simulator ------------------------------------------------------------------------

SETUP = TeacherStudent(2, 2, "erf", eta=1.0, sigma=0.1)
STATE = Overlaps(np.array([[0.3, 0.05], [0.05, 0.2]]), np.array([[0.1, 0.0], [0.0, 0.1]]),
                 np.eye(2), np.array([0.4, 0.2]), np.ones(2))


def test_simulate_returns_a_trajectory_with_a_seed_axis():
    sim = simulate(SETUP, STATE, N=300, t_max=1.0, seeds=(0, 1, 2), n_out=5, progress=False)
    assert sim.t.shape == (5,) and sim.is_batched
    assert sim.Q.shape == (3, 5, 2, 2) and sim.R.shape == (3, 5, 2, 2)
    assert sim.v.shape == (3, 5, 2) and sim.eps_g.shape == (3, 5)
    assert sim.T.shape == (3, 2, 2) and sim.v_star.shape == (3, 2)
    assert np.all(sim.status == 0) and np.all(np.isnan(sim.t_fail))
    start = sim.state(0)                        # realised initial overlaps = requested ones
    np.testing.assert_allclose(start.Q, np.broadcast_to(STATE.Q, (3, 2, 2)), atol=1e-10)
    np.testing.assert_allclose(sim.eps_g[:, 0], generalisation_error(SETUP, start))
    mean, sem = seed_statistics(sim)["Q"]
    np.testing.assert_allclose(mean, sim.Q.mean(axis=0))
    np.testing.assert_allclose(sem, sim.Q.std(axis=0, ddof=1) / np.sqrt(3))
    np.testing.assert_allclose(sim.info["mean"]["eps_g"], sim.eps_g.mean(axis=0))
    np.testing.assert_array_equal(sim.info["steps"], np.arange(5) * 75)
    assert not sim.info["interrupted"]


def test_simulation_is_deterministic_per_seed():
    """Same seed, same run, whatever the other seeds, the record times or the thread; a
    different seed gives a different run."""
    kw = dict(N=200, t_max=2.0, progress=False)
    a = simulate(SETUP, STATE, seeds=(3, 7), n_out=3, **kw)
    b = simulate(SETUP, STATE, seeds=(3, 7), n_out=3, **kw)
    c = simulate(SETUP, STATE, seeds=(7,), times=[0.5, 1.0, 1.5, 2.0], **kw)
    for name in ("Q", "R", "v", "eps_g"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
        assert np.array_equal(getattr(a, name)[1, -1], getattr(c, name)[0, -1])
        assert not np.allclose(getattr(a, name)[0, -1], getattr(a, name)[1, -1])


def test_explicit_weights_start_every_seed_at_the_same_point():
    weights = random_weights(2, 2, 400, student_std=0.5, readout_std=0.5, seed=2)
    sim = simulate(SETUP, weights, t_max=1.0, seeds=(0, 1), n_out=3, progress=False)
    start = Overlaps.from_weights(*weights)
    for s in range(2):
        np.testing.assert_allclose(sim.Q[s, 0], start.Q, rtol=1e-12)
        np.testing.assert_allclose(sim.T[s], start.T, rtol=1e-12)
    assert not np.allclose(sim.Q[0, -1], sim.Q[1, -1])
    assert sim.info["N"] == 400 and sim.info["init"] == "weights"


def test_a_batch_of_states_gives_one_start_per_seed():
    batch = Overlaps.random(1, 1, N=100, student_std=0.5, readout_std=0.5, batch=2, seed=1)
    sim = simulate(TeacherStudent(1, 1, "erf"), batch, N=100, t_max=1.0, seeds=(4, 5), n_out=2,
                   progress=False)
    for s in range(2):
        np.testing.assert_allclose(sim.Q[s, 0], batch.Q[s], atol=1e-10)
        np.testing.assert_allclose(sim.R[s, 0], batch.R[s], atol=1e-10)
        np.testing.assert_allclose(sim.v[s, 0], batch.v[s])


def test_fixed_readouts_stay_fixed():
    setup = TeacherStudent(2, 2, "erf", eta=1.0, eta_v=0.0, weight_decay=0.1)
    sim = simulate(setup, STATE, N=200, t_max=1.0, seeds=(0,), n_out=3, progress=False)
    assert np.all(sim.v == STATE.v)


def test_test_set_estimate_agrees_with_order_parameter_eps_g():
    sim = simulate(SETUP, STATE, N=400, t_max=2.0, seeds=range(4), n_out=3, test_set=3000,
                   progress=False)
    est, exact = sim.info["eps_g_test"], sim.eps_g
    # relative standard error of a mean of squared Gaussian errors: sqrt(2 / test_set)
    np.testing.assert_allclose(est, exact, rtol=6 * math.sqrt(2 / 3000))
    assert "eps_g_test" in seed_statistics(sim)


def test_interrupt_returns_what_was_recorded(monkeypatch):
    fns = driver.sgd.compiled("erf")
    calls = {"n": 0}

    class Interrupting:
        sgd_step, test_error = fns.sgd_step, fns.test_error

        def advance(self, *args):
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt
            fns.advance(*args)

    monkeypatch.setattr(driver.sgd, "compiled", lambda activation: Interrupting())
    monkeypatch.setattr(driver, "CHUNK_SECONDS", 1e9)       # one chunk per record interval
    sim = simulate(SETUP, STATE, N=100, t_max=4.0, seeds=(0, 1), n_out=5, progress=False)
    assert sim.info["interrupted"] and sim.interrupted
    np.testing.assert_array_equal(sim.status, INTERRUPTED)
    assert np.all((sim.t_fail >= sim.t[2]) & (sim.t_fail < sim.t[3]))
    sim.raise_if_failed()                    # an interruption is not a divergence
    assert np.all(np.isfinite(sim.Q[:, :3])) and np.all(np.isnan(sim.Q[:, 3:]))
    assert np.all(np.isnan(sim.eps_g[:, 3:])) and np.all(np.isfinite(sim.eps_g[:, :3]))


def test_progress_line(monkeypatch, capsys):
    monkeypatch.setattr(driver._Progress, "update", _eager_update)
    simulate(SETUP, STATE, N=100, t_max=1.0, seeds=(0,), n_out=3, progress=True)
    assert "simulate: t = " in capsys.readouterr().err
    simulate(SETUP, STATE, N=100, t_max=1.0, seeds=(0,), n_out=3, progress=False)
    assert capsys.readouterr().err == ""


_original_update = driver._Progress.update


def _eager_update(self, done):
    self.last = -np.inf
    _original_update(self, done)


@numba.njit(cache=True)
def _identity(x):
    return x


@numba.njit(cache=True)
def _one(x):
    return 1.0


def test_divergence_of_a_custom_activation_is_flagged():
    """A user-supplied (linear) activation at a learning rate far beyond stability: the weights
    overflow, the seeds are flagged with the time of the first non-finite record."""
    setup = TeacherStudent(2, 2, Activation("identity", _identity, _one), eta=50.0)
    with np.errstate(all="ignore"):
        sim = simulate(setup, STATE, N=100, t_max=5.0, seeds=(0, 1), n_out=6, progress=False)
    assert np.all(sim.status == 1) and np.all(sim.t_fail > 0) and np.all(sim.t_fail <= 5.0)
    assert np.all(np.isfinite(sim.Q[:, 0])) and np.all(np.isnan(sim.Q[:, -1]))
    assert "non-finite" in sim.info["messages"][0]


@pytest.mark.parametrize("kwargs, match", [
    (dict(N=0), r"`N` must be an integer >= 1, got 0\."),
    (dict(t_max=None), "Give `t_max` or `times`"),
    (dict(t_max=None, times=[]), "`times` must be a non-empty 1-D array"),
    (dict(t_max=None, times=[0.5, np.nan]), "`times` must be finite"),
    (dict(t_max=-1.0), r"`t_max` must be positive, got -1\."),
    (dict(t_max=np.inf), "`t_max` must be finite"),
    (dict(times=[0.5, 3.0]), r"`times` must lie in \[0, t_max\]"),
    (dict(times=[0.5, 0.2]), "`times` must be strictly increasing"),
    (dict(times=[0.5, 0.501, 1.0]), "at least 1/N"),
    (dict(times=[0.25, 0.5]), r"`times` ends at 0\.5 but `t_max` is 1"),
    (dict(n_out=1), r"`n_out` must be an integer >= 2, got 1\."),
    (dict(seeds=()), "`seeds` must not be empty"),
    (dict(seeds=(1, 1)), "`seeds` must be distinct"),
    (dict(seeds=(0, -1)), r"`seeds\[1\]` must be an integer >= 0, got -1\."),
    (dict(test_set=-1), r"`test_set` must be an integer >= 0, got -1\."),
])
def test_simulate_validates_arguments(kwargs, match):
    args = dict(N=100, t_max=1.0, seeds=(0,), progress=False)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        simulate(SETUP, STATE, **args)


@pytest.mark.parametrize("kwargs, match", [
    (dict(N=100.0), r"`N` must be an integer, got 100\.0\."),
    (dict(t_max="1"), r"`t_max` must be a real number, got the string '1'\."),
    (dict(n_out=2.5), r"`n_out` must be an integer, got 2\.5\."),
    (dict(seeds=(0.5,)), r"`seeds\[0\]` must be an integer, got 0\.5\."),
    (dict(times=["0", "1"]), "`times` must be an array of real numbers"),
    (dict(test_set=1.0), "`test_set` must be an integer"),
    (dict(progress="no"), "`progress` must be true or false"),
])
def test_simulate_refuses_wrong_types(kwargs, match):
    args = dict(N=100, t_max=1.0, seeds=(0,), progress=False)
    args.update(kwargs)
    with pytest.raises(TypeError, match=match):
        simulate(SETUP, STATE, **args)


def test_simulate_validates_the_start():
    W, W_star, v, v_star = random_weights(2, 2, 50, seed=0)
    kw = dict(t_max=1.0, progress=False)
    with pytest.raises(TypeError, match="`seeds` must be a sequence"):
        simulate(SETUP, STATE, N=50, seeds=4, **kw)
    with pytest.raises(ValueError, match="`W` has shape"):
        simulate(TeacherStudent(3, 2), (W, W_star, v, v_star), **kw)
    with pytest.raises(ValueError, match="`W_star` has shape"):
        simulate(SETUP, (W, W_star[:, :40], v, v_star), **kw)
    with pytest.raises(ValueError, match="`v_star` has shape"):
        simulate(SETUP, (W, W_star, v, v_star[:1]), **kw)
    with pytest.raises(ValueError, match="`N` = 60 does not match"):
        simulate(SETUP, (W, W_star, v, v_star), N=60, **kw)
    with pytest.raises(ValueError, match="`init` has K=2, M=2"):
        simulate(TeacherStudent(3, 2), STATE, N=50, **kw)
    with pytest.raises(ValueError, match="batch of 3 states but there are 2 seeds"):
        simulate(SETUP, Overlaps.random(2, 2, batch=3, seed=0), N=50, seeds=(0, 1), **kw)
    with pytest.raises(TypeError, match="`init` must be an odesolve.Overlaps"):
        simulate(SETUP, W, N=50, **kw)


# -- agreement with the ODE -----------------------------------------------------------------


def _simulate_and_integrate(setup, state, N, seeds, t_max=6.0):
    sim = simulate(setup, state, N=N, t_max=t_max, seeds=seeds, n_out=7, progress=False)
    ode = integrate(setup, sim.state(0), t_max=t_max, times=sim.t, method="dopri5",
                             rtol=1e-9, atol=1e-11)
    return _stack(sim), _stack(ode)


def _stack(traj):
    """All order parameters and eps_g after t = 0, shape (S, n - 1, K*K + K*M + K + 1)."""
    S, n = traj.eps_g.shape
    return np.concatenate([traj.Q.reshape(S, n, -1), traj.R.reshape(S, n, -1), traj.v,
                           traj.eps_g[..., None]], axis=2)[:, 1:]


@pytest.mark.parametrize("setup", [SETUP, TeacherStudent(2, 2, "erf", eta=1.0, eta_v=0.0,
                                                         weight_decay=0.1)],
                         ids=["both-layers-noise", "fixed-readouts-decay"])
def test_small_n_simulation_agrees_with_ode_within_statistical_error(setup):
    """N = 500, 32 seeds, t <= 6: every order parameter and eps_g at every time within
    4 standard errors of the seed mean plus 0.05/sqrt(N) (finite-N bias)."""
    N = 500
    sim, ode = _simulate_and_integrate(setup, STATE, N, range(32))
    dev = np.abs(sim.mean(axis=0) - ode.mean(axis=0))
    sem = sim.std(axis=0, ddof=1) / np.sqrt(sim.shape[0])
    assert np.all(dev <= 4 * sem + 0.05 / np.sqrt(N)), (dev / (4 * sem + 0.05 / np.sqrt(N))).max()


def test_deviation_from_ode_halves_from_n_500_to_2000():
    """Self-averaging: the RMS distance between a simulated trajectory and the ODE (over seeds,
    times and all order parameters) falls like 1/sqrt(N), i.e. by 2 from N = 500 to 2000."""
    rms = {}
    for N in (500, 2000):
        sim, ode = _simulate_and_integrate(SETUP, STATE, N, range(100, 132))
        rms[N] = np.sqrt(np.mean((sim - ode) ** 2))
    ratio = rms[500] / rms[2000]
    assert 1.5 < ratio < 2.8, (rms, ratio)


@pytest.mark.slow
@pytest.mark.parametrize("setup, state", [
    (TeacherStudent(3, 2, "erf", eta=1.0, eta_v=0.0),
     Overlaps.random(3, 2, N=2000, student_std=0.5, readout_std=0.0, readout_mean=1.0, seed=1)),
    (TeacherStudent(2, 2, "relu", eta=0.5), STATE),
    (TeacherStudent(2, 2, "linear", eta=0.3, sigma=0.2), STATE),
    (TeacherStudent(2, 2, "tanh", eta=0.5), STATE),
], ids=["erf-K3M2-fixed", "relu", "linear", "tanh"])
def test_other_activations_agree_with_ode(setup, state):
    N = 2000
    sim, ode = _simulate_and_integrate(setup, state, N, range(32))
    dev = np.abs(sim.mean(axis=0) - ode.mean(axis=0))
    sem = sim.std(axis=0, ddof=1) / np.sqrt(sim.shape[0])
    assert np.all(dev <= 4 * sem + 0.05 / np.sqrt(N)), (dev / (4 * sem + 0.05 / np.sqrt(N))).max()
