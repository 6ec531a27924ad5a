"""Both levers of specialisation (issue 14, item 4): readouts with a prescribed entropy, the
unit-side and mode-side indices, lambda-balanced starts with a norm profile, the scans, the
scenario ``specialisation_levers``."""
from __future__ import annotations

import inspect
import json

import numpy as np
import pytest

from odesolve import TeacherStudent, integrate, simulate
from odesolve.linear import exact_QQT, gradient_flow
from odesolve.linear import specialisation as lin
from odesolve.observables import readout_entropy, teacher_specialisation
from odesolve import specialisation as spec


def _shannon(p):
    """Normalised entropy, computed independently of the package (scipy)."""
    from scipy.stats import entropy

    return entropy(p) / np.log(len(p))


# --- readouts with a prescribed entropy --------------------------------------------------------
@pytest.mark.parametrize("K", [2, 4, 8])
@pytest.mark.parametrize("H", [0.0, 0.1, 0.5, 0.9, 0.999, 1.0])
def test_readout_constructor_hits_the_requested_entropy_and_norm(K, H, validation):
    v = spec.readouts_with_entropy(K, H, norm=2.5, n=5, seed=1)
    assert v.shape == (5, K)
    measured = max(abs(_shannon(row ** 2 / (row ** 2).sum()) - H) if H > 0 else
                   abs(float(readout_entropy(row)) - H) for row in v)
    if K == 4 and H == 0.5:
        validation("levers.readout-entropy", area="Specialisation levers",
                   claim="readouts_with_entropy hits the requested normalised entropy "
                         "(K = 4, H = 0.5) at the requested norm",
                   method="scipy.stats.entropy of v_i^2 / |v|^2, divided by log K",
                   measured=measured, bound=1e-12, unit="abs error")
    assert measured < 1e-12
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 2.5, rtol=1e-13)
    # each draw holds the profile's magnitudes, in some order
    prof = np.sort(np.sqrt(spec.readout_profile(K, H)) * 2.5)
    np.testing.assert_allclose(np.sort(np.abs(v), axis=1), np.broadcast_to(prof, v.shape),
                               rtol=1e-13, atol=1e-15)


def test_readout_profile_limits_and_monotonicity():
    np.testing.assert_array_equal(spec.readout_profile(3, 1.0), np.full(3, 1 / 3))
    np.testing.assert_array_equal(spec.readout_profile(3, 0.0), [1.0, 0.0, 0.0])
    tops = [spec.readout_profile(5, h)[0] for h in np.linspace(0, 1, 11)]
    assert np.all(np.diff(tops) < 0)            # more entropy, a smaller largest share


def test_readouts_have_random_signs_and_orders():
    v = spec.readouts_with_entropy(4, 0.6, 1.0, n=200, seed=0)
    assert 0.4 < np.mean(v > 0) < 0.6
    assert len({int(np.argmax(np.abs(row))) for row in v}) == 4


def test_lever_states_have_the_requested_scales():
    st = spec.lever_states(4, 2, 1e-2, 0.3, 0.7, 64, seed=2)
    np.testing.assert_allclose(np.linalg.norm(st.v, axis=1), 0.3 * 2.0, rtol=1e-13)
    np.testing.assert_allclose(readout_entropy(st.v), 0.7, atol=1e-12)
    # Q_ii = |w_i|^2 / N with N = 10 000 i.i.d. N(0, 1e-4) components: mean 1e-4, sd 1.4e-6
    q = np.diagonal(st.Q, axis1=1, axis2=2)
    assert abs(q.mean() / 1e-4 - 1) < 4 * np.sqrt(2 / 10_000) / np.sqrt(q.size)
    np.testing.assert_array_equal(st.T, np.eye(2))


# --- indices -----------------------------------------------------------------------------------
def test_unit_purity_of_hand_built_networks():
    perm = np.array([[0, 2.0, 0], [0, 0, 0.5], [3.0, 0, 0], [0, 0, 0]])   # one dead unit
    assert spec.unit_purity(perm) == pytest.approx(1.0)
    assert spec.unit_purity(np.ones((4, 3))) == pytest.approx(0.0, abs=1e-15)
    # unit 0 pure, unit 1 mixed equally, carrying 1/4 and 3/4 of the total
    c = np.array([[1.0, 0.0], [1.5, 1.5]])
    assert spec.unit_purity(c) == pytest.approx(0.25 * 1.0 + 0.75 * 0.0)
    assert spec.unit_purity(np.array([[1.0], [2.0]])) == 1.0
    assert np.isnan(spec.unit_purity(np.zeros((2, 2))))
    assert spec.unit_purity(np.ones((5, 2, 3))).shape == (5,)


def test_teacher_side_index_does_not_see_a_unit_that_carries_two_teacher_units():
    """What the package's teacher_specialisation measures: a single student unit carrying
    both teacher units scores 1 on the teacher side, 0 on the unit side."""
    R = np.array([[1.0, 1.0], [0.0, 0.0]])
    v = np.array([1.0, 0.0])
    assert teacher_specialisation(R, np.eye(2), v) == pytest.approx(1.0)
    assert spec.unit_purity(spec.unit_contributions(R, np.eye(2), v)) == pytest.approx(0.0)


def _hadamard4():
    H2 = np.array([[1.0, 1.0], [1.0, -1.0]])
    return np.kron(H2, H2) / 2.0


@pytest.fixture
def task():
    return lin._task(4, [3.0, 2.0, 1.0, 0.5], seed=7)


def test_mode_specialisation_of_hand_built_linear_networks(task, validation):
    U, s, V = lin.task_modes(task)
    P = np.eye(4)[[2, 0, 3, 1]]
    # specialised: unit P(a) carries mode a alone (and the network solves the task)
    W1, W2 = P @ np.diag(np.sqrt(s)) @ V.T, U @ np.diag(np.sqrt(s)) @ P.T
    np.testing.assert_allclose(W2 @ W1, task, atol=1e-12)
    unit, mode = lin.mode_specialisation(W1, W2, task)
    # mixed: a Hadamard rotation of the hidden layer, equal mode strengths: c_ia = 1/4
    O = _hadamard4()
    unit0, mode0 = lin.mode_specialisation(O @ V.T, U @ O.T, task)
    validation("levers.linear-index-limits", area="Specialisation levers",
               claim="the unit-side mode index is 1 for a hand-built specialised network and "
                     "0 for a Hadamard-mixed one",
               method="weights built by hand from the task's SVD",
               measured=max(abs(unit - 1), abs(unit0)), bound=1e-12, unit="abs error")
    assert unit == pytest.approx(1.0, abs=1e-12) and mode == pytest.approx(1.0, abs=1e-12)
    assert unit0 == pytest.approx(0.0, abs=1e-12) and mode0 == pytest.approx(0.0, abs=1e-12)
    # the contributions add up to the network's strength on each mode
    c = lin.mode_contributions(W1, W2, task)
    np.testing.assert_allclose(c.sum(axis=0), np.diag(U.T @ W2 @ W1 @ V), rtol=1e-12)


def test_hidden_rotation_leaves_X_and_the_flow_unchanged_but_not_the_index(task):
    """Why the exact solution X = QQ^T cannot give the index: rotating the hidden layer
    commutes with gradient flow and leaves X unchanged, but changes the unit-side index."""
    W1, W2 = lin.profile_balanced_weights(4, 4, 4, 0.5, 0.3, 0.6, seed=3)
    O = np.linalg.qr(np.random.default_rng(4).standard_normal((4, 4)))[0]
    t = np.array([0.0, 1.0, 3.0])
    A1, A2 = gradient_flow(task, W1, W2, t)
    B1, B2 = gradient_flow(task, O @ W1, W2 @ O.T, t)
    np.testing.assert_allclose(B1, O @ A1, atol=1e-8)
    np.testing.assert_allclose(B2, A2 @ O.T, atol=1e-8)
    X = exact_QQT(task, W1, W2, t)
    np.testing.assert_allclose(X, exact_QQT(task, O @ W1, W2 @ O.T, t), atol=1e-10)
    Q = np.concatenate([np.swapaxes(A1, 1, 2), A2], axis=1)
    np.testing.assert_allclose(X, Q @ np.swapaxes(Q, 1, 2), atol=1e-8)
    u_a = lin.mode_specialisation(A1[-1], A2[-1], task)[0]
    u_b = lin.mode_specialisation(B1[-1], B2[-1], task)[0]
    assert abs(u_a - u_b) > 1e-3


def test_weights_are_the_exact_factor_times_a_rotation_that_X_does_not_fix(task, validation):
    """The statement of docs/theory/levers.md: Q(t) = e^{Fs} Q0 N(s) with
    N' = -1/2 M^-1 M' N, M(s) = I + Q0^T G(s) Q0, and N N^T = M^-1 (all that X fixes)."""
    from scipy.integrate import solve_ivp

    from odesolve.linear import riccati_matrix

    lam = 0.5
    W1, W2 = lin.profile_balanced_weights(4, 4, 4, lam, 0.3, 0.6, seed=3)
    mu, V = np.linalg.eigh(riccati_matrix(task, lam))
    Q0 = np.concatenate([W1.T, W2])

    def M(s):
        g = np.expm1(2 * mu * s) / (2 * mu)
        return np.eye(4) + Q0.T @ ((V * g) @ V.T) @ Q0

    def rhs(s, y):
        dM = Q0.T @ ((V * np.exp(2 * mu * s)) @ V.T) @ Q0
        return (-0.5 * np.linalg.solve(M(s), dM) @ y.reshape(4, 4)).ravel()

    t = np.array([0.0, 0.5, 2.0])
    sol = solve_ivp(rhs, (0, 2), np.eye(4).ravel(), t_eval=t, rtol=1e-12, atol=1e-14,
                    method="DOP853")
    A1, A2 = gradient_flow(task, W1, W2, t)
    err = 0.0
    for k, s in enumerate(t):
        N = sol.y[:, k].reshape(4, 4)
        Q = (V * np.exp(mu * s)) @ V.T @ Q0 @ N
        err = max(err, np.abs(Q - np.concatenate([A1[k].T, A2[k]])).max())
        np.testing.assert_allclose(N @ N.T, np.linalg.inv(M(s)), atol=1e-10)
    validation("levers.weights-rotation-ode", area="Specialisation levers",
               claim="the weights of a lambda-balanced network are e^{Fs} Q0 N(s) with "
                     "N' = -1/2 M^-1 M' N (lambda = 0.5, 4-4-4)",
               method="SciPy DOP853 on the 4 x 4 equation against the package's gradient flow",
               measured=err, bound=1e-9, unit="max abs difference of the weights")
    assert err < 1e-9


@pytest.mark.parametrize("lam", [-2.0, 0.0, 0.7])
def test_profile_balanced_weights_are_balanced_with_the_requested_profile(lam):
    W1, W2 = lin.profile_balanced_weights(5, 4, 6, lam, 0.2, 0.5, seed=0)
    assert W1.shape == (4, 5) and W2.shape == (6, 4)
    np.testing.assert_allclose(W2.T @ W2 - W1 @ W1.T, lam * np.eye(4), atol=1e-13)
    n2 = (W2 ** 2).sum(axis=0) - max(lam, 0.0)
    assert _shannon(n2 / n2.sum()) == pytest.approx(0.5, abs=1e-12)
    np.testing.assert_allclose(n2.sum(), 4 * 0.2 ** 2, rtol=1e-12)


# --- ODE against the finite-N network ------------------------------------------------------
def test_ode_specialisation_matches_a_finite_N_simulation(validation):
    """One lever point (K = 2, M = 1, sigma_w = sigma_v = 0.1, H = 0.5): the teacher
    specialisation of 16 initialisations from the ODE and from SGD at N = 500 started from the
    same overlaps."""
    st = spec.lever_states(2, 1, 0.1, 0.1, 0.5, 16, N=500, seed=3)
    setup = TeacherStudent(2, 1, "erf", eta=1.0)
    times = np.array([0.0, 50.0, 100.0])
    ode = integrate(setup, st, t_max=100.0, method="dopri5", times=times, progress=False)
    sim = simulate(setup, st, N=500, times=times, seeds=range(16), progress=False)
    s_ode = teacher_specialisation(ode.R, np.eye(1), ode.v)
    s_sim = teacher_specialisation(sim.R, np.eye(1), sim.v)
    diff = np.abs(s_ode - s_sim)[:, 1:]
    validation("levers.ode-vs-simulation", area="Specialisation levers",
               claim="teacher specialisation of the ODE equals SGD at N = 500 from the same "
                     "16 starts (K = 2, M = 1, H = 0.5, t = 50, 100)",
               method="finite-N online SGD (odesolve.simulate), per start",
               measured=float(diff.mean()), bound=0.03, unit="mean abs difference")
    assert diff.mean() < 0.03 and diff.max() < 0.1
    assert np.ptp(s_ode[:, -1]) > 0.05          # the starts do differ: a real comparison


# --- bad inputs --------------------------------------------------------------------------------
@pytest.mark.parametrize("call, exc, name", [
    (lambda: spec.readout_profile(1, 0.5), ValueError, "K"),
    (lambda: spec.readout_profile(2.0, 0.5), TypeError, "K"),
    (lambda: spec.readout_profile(3, 1.5), ValueError, "entropy"),
    (lambda: spec.readout_profile(3, float("nan")), ValueError, "entropy"),
    (lambda: spec.readouts_with_entropy(3, 0.5, 0.0), ValueError, "norm"),
    (lambda: spec.readouts_with_entropy(3, 0.5, 1.0, n=0), ValueError, "n"),
    (lambda: spec.lever_states(3, 1, -1e-3, 1.0, 0.5, 4), ValueError, "student_std"),
    (lambda: spec.lever_states(3, 1, 1e-3, 1.0, 0.5, "4"), TypeError, "n_init"),
    (lambda: spec.unit_purity(np.array([[-1.0, 1.0]])), ValueError, "c"),
    (lambda: spec.unit_contributions(np.ones((3, 2)), np.eye(2), np.ones(4)), ValueError, "R"),
    (lambda: spec.unit_contributions(np.ones((3, 2)), np.eye(3), np.ones(3)), ValueError, "T"),
    (lambda: spec.lever_scan(2, 1, [], n_init=2), ValueError, "points"),
    (lambda: lin.task_modes(np.diag([2.0, 1.0]), rtol="x"), TypeError, "rtol"),
    (lambda: spec.lever_scan(2, 1, [(1e-3, 1.0)], n_init=2), TypeError, "points[0]"),
    (lambda: spec.lever_scan(2, 1, [(1e-3, 1.0, 2.0)], n_init=2), ValueError, "points[0][2]"),
    (lambda: spec.lever_scan(2, 1, [(1e-3, 1.0, 0.5)], horizons=[10.0, 5.0]), ValueError,
     "horizons"),
    (lambda: spec.committee_levers("yes"), TypeError, "quick"),
    (lambda: lin.task_modes(np.diag([2.0, 2.0])), ValueError, "Sigma"),
    (lambda: lin.mode_specialisation(np.ones((1, 2)), np.ones((2, 1)), np.diag([2.0, 1.0])),
     ValueError, "W1"),
    (lambda: lin.mode_contributions(np.ones((2, 3)), np.ones((2, 2)), np.diag([2.0, 1.0])),
     ValueError, "W1"),
    (lambda: lin.profile_balanced_weights(3, 4, 5, 0.0, 0.1, 0.5), ValueError, "h"),
    (lambda: lin.profile_balanced_weights(5, 4, 5, float("inf"), 0.1, 0.5), ValueError, "lam"),
    (lambda: lin.linear_lever_scan(np.diag([2.0, 1.0]), 2, [0.0], [0.5], 0.1, [1.0, 2.0]),
     ValueError, "t"),
])
def test_bad_inputs_are_refused_naming_the_argument(call, exc, name):
    with pytest.raises(exc, match=f"`{name}`" if not name.startswith("points") else
                       name.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_lever_scan_takes_points_as_an_array_too():
    pts = [(1e-2, 0.1, 0.5), (1e-2, 1.0, 0.9)]
    a = spec.lever_scan(2, 1, pts, n_init=2, horizons=[1.0])
    b = spec.lever_scan(2, 1, np.array(pts), n_init=2, horizons=[1.0])
    np.testing.assert_array_equal(a["teacher_specialisation"], b["teacher_specialisation"])
    assert a["teacher_specialisation"].shape == (2, 2, 2)


def test_public_functions_are_annotated():
    for module in (spec, lin):
        for name in module.__all__:
            obj = getattr(module, name)
            if not callable(obj):
                continue
            sig = inspect.signature(obj)
            assert sig.return_annotation is not sig.empty, f"{name}: return"
            for p in sig.parameters.values():
                assert p.annotation is not p.empty, f"{name}: {p.name}"


# --- the scenario ------------------------------------------------------------------------------
def test_quick_scenario_runs_and_plots(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run, plot, layout, title = spec.LEVER_SCENARIOS["specialisation_levers"]
    d = run(True)
    d = json.loads(json.dumps(d))                  # JSON-serialisable, plotted after a round trip
    assert d["scenario"] == "specialisation_levers"
    com = d["committee"]["sizes"]["K2M1"]
    assert com["entropy_scan"]["initial_entropy_max_error"] < 1e-12
    n_t = len(d["committee"]["grid"]["horizons"]) + 1
    assert np.shape(com["entropy_scan"]["teacher_specialisation"]["median"]) == (
        len(com["entropy_scan"]["points"]), n_t)
    med = np.asarray(d["linear"]["unit_side"]["median"])
    assert med.shape == (len(d["linear"]["lambda"]), len(d["linear"]["entropy"]),
                         len(d["linear"]["t"]))
    assert np.all((med >= 0) & (med <= 1))
    rows, cols = layout
    fig, axes = plt.subplots(rows, cols)
    plot(d, axes.ravel())
    fig.savefig(tmp_path / "levers.png")
    plt.close(fig)
    assert (tmp_path / "levers.png").stat().st_size > 10_000
