"""Fixed points, plateaus and stability from the derived equations (issue 7).

Every derived number is checked against something independent of the fixed-point code:
the closed-form plateau of docs/theory/stability.md#theory-stability-plateau, long integrations
with the compiled solver, central finite
differences of the compiled right-hand side, and escape times measured by integration.
"""
import numpy as np
import pytest

from odesolve import TeacherStudent, integrate
from odesolve.committee import committee_problem, n_work, pack_params, pack_state
from odesolve.fixedpoint import NewtonError, fixed_point, full_spectrum, symmetric_state
from odesolve.model import Overlaps
from odesolve.stability import (escape_rate, max_learning_rate, optimal_learning_rate,
                                plateau, plateau_small_eta)


def _theory_plateau(K):
    q = 1 / (2 * K - 1)
    r = 1 / np.sqrt(K * (2 * K - 1))
    return [q, q, r, r], K / np.pi * (np.pi / 6 - K * np.arcsin(1 / (2 * K)))


@pytest.mark.parametrize("K", [2, 3, 4])
def test_small_eta_plateau_is_the_theory_formula(K, validation):
    d = plateau_small_eta(TeacherStudent(K, K, "erf", eta=0.1, eta_v=0.0))
    x, eps = _theory_plateau(K)
    validation(f"limits.plateau.newton.K{K}", area="Closed-form limits",
               claim=f"the eta -> 0 symmetric plateau found by Newton has Saad & Solla's "
                     f"q, c, r, s and eps_g, K = {K}",
               method="q = c = 1/(2K-1), r = s = 1/sqrt(K(2K-1)), "
                      "eps_g = (K/pi)(pi/6 - K asin(1/(2K)))",
               measured=max(abs(d["eps_g"] - eps), np.abs(np.asarray(d["x"]) - x).max()),
               bound=1e-6, unit="max abs error")
    np.testing.assert_allclose(d["x"], x, atol=1e-6)
    assert d["eps_g"] == pytest.approx(eps, abs=1e-7)


def _random_state(K, M, seed):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((K + M, K + M + 3)) * 0.6
    C = W @ W.T / (K + M + 3)
    return Overlaps(Q=C[:K, :K], R=C[:K, K:], T=C[K:, K:], v=rng.uniform(0.5, 1.5, K),
                    v_star=rng.uniform(0.5, 1.5, M))


@pytest.mark.parametrize("train_v", [False, True])
def test_exact_jacobian_against_finite_differences_of_the_compiled_rhs(train_v):
    """The written-out equations equal the compiled kernels' right-hand side, and the SymPy
    Jacobian equals central differences of that (independently generated) code."""
    from odesolve.fixedpoint import _coordinates, _parameters, system_for

    setup = TeacherStudent(2, 2, "erf", eta=0.7, eta_v=0.4 if train_v else 0.0, sigma=0.2,
                           weight_decay=0.01)
    st = _random_state(2, 2, seed=1)
    system = system_for(setup)
    x, p = _coordinates(system, st), _parameters(setup, system, st)
    rhs = committee_problem(setup).rhs
    P = pack_params(setup, st)[0]
    names = [str(v) for v in system.variables]

    def compiled(xv):
        Q = np.empty((2, 2))
        R = np.empty((2, 2))
        v = st.v.copy()
        for name, val in zip(names, xv):
            kind, *idx = name.split("_")
            idx = tuple(map(int, idx))
            if kind == "Q":
                Q[idx] = Q[idx[::-1]] = val
            elif kind == "R":
                R[idx] = val
            else:
                v[idx] = val
        y = pack_state(Overlaps(Q=Q, R=R, T=st.T, v=v, v_star=st.v_star, check=False))[0]
        out = np.empty_like(y)
        rhs(0.0, y, P, np.empty(n_work(2, 2)), out)
        dQ, dR, dv = out[:4].reshape(2, 2), out[4:8].reshape(2, 2), out[8:]
        vals = {"Q": dQ, "R": dR, "v": dv}
        return np.array([vals[n.split("_")[0]][tuple(map(int, n.split("_")[1:]))]
                         for n in names])

    np.testing.assert_allclose(system.lambdify("rhs")(x, p), compiled(x), rtol=1e-12,
                               atol=1e-14)
    h = 1e-6
    fd = np.stack([(compiled(x + h * e) - compiled(x - h * e)) / (2 * h)
                   for e in np.eye(len(x))], axis=1)
    np.testing.assert_allclose(system.lambdify("jacobian")(x, p), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("K,eta", [(2, 0.5), (3, 0.3)])
def test_finite_eta_plateau_matches_a_long_integration(K, eta, validation):
    """Identical students stay identical and converge to the plateau; the fixed point found
    by Newton agrees with the integrated end point to 1e-6 (in fact ~1e-12)."""
    setup = TeacherStudent(K, K, "erf", eta=eta, eta_v=0.0)
    fp = plateau(setup)
    assert fp.x[0] == pytest.approx(fp.x[1], abs=1e-12)             # q = c: identical units
    tr = integrate(setup, symmetric_state(K, 0.2, 0.2, 0.05, 0.05), 300.0 / eta,
                   method="dopri5", rtol=1e-11, atol=1e-13, n_out=3)
    validation(f"fixed-point.plateau.K{K}.eta{eta:g}", area="Fixed points and stability",
               claim=f"the finite-eta plateau from Newton is where a long integration ends, "
                     f"K = {K}, eta = {eta:g}", method=f"dopri5 to t = {300 / eta:g} from a "
                                                       "symmetric start",
               measured=max(np.abs(tr.Q[-1] - fp.state.Q).max(),
                            np.abs(tr.R[-1] - fp.state.R).max()),
               bound=1e-6, unit="max abs difference of Q, R")
    np.testing.assert_allclose(tr.Q[-1], fp.state.Q, atol=1e-6)
    np.testing.assert_allclose(tr.R[-1], fp.state.R, atol=1e-6)
    assert tr.eps_g[-1] == pytest.approx(fp.eps_g, abs=1e-6)
    assert fp.eps_g > _theory_plateau(K)[1]                           # moves up with eta


def test_noisy_perfect_learning_fixed_point_matches_a_long_integration():
    """With output noise perfect learning moves (eps_g > 0); full coordinates, trained
    readouts."""
    setup = TeacherStudent(2, 2, "erf", eta=0.5, eta_v=0.5, sigma=0.3)
    guess = symmetric_state(2, 1.0, 0.0, 1.0, 0.0)
    fp = fixed_point(setup, guess)
    assert fp.stable and fp.eps_g > 1e-4
    R = np.eye(2) + 0.02 * np.array([[-1.0, 0.5], [0.3, 1.0]])
    start = Overlaps(Q=R @ R.T + 1e-3 * np.eye(2), R=R, T=np.eye(2), v=np.array([0.9, 1.1]),
                     v_star=np.ones(2))
    tr = integrate(setup, start, 3000.0, method="dopri5", rtol=1e-11, atol=1e-13, n_out=3)
    np.testing.assert_allclose(tr.Q[-1], fp.state.Q, atol=1e-6)
    np.testing.assert_allclose(tr.R[-1], fp.state.R, atol=1e-6)
    np.testing.assert_allclose(tr.v[-1], fp.state.v, atol=1e-6)


def _near_perfect(K):
    rng = np.random.default_rng(3)
    R = np.eye(K) + 0.01 * rng.standard_normal((K, K))
    return Overlaps(Q=R @ R.T + 1e-3 * np.eye(K), R=R, T=np.eye(K), v=np.ones(K),
                    v_star=np.ones(K))


@pytest.mark.parametrize("train_v", [False, True])
def test_max_learning_rate_brackets_integrations(train_v, validation):
    """Below eta_max long integrations from near perfect learning converge to it, above it
    they do not; the ansatz and the full Jacobian give the same threshold."""
    base = TeacherStudent(2, 2, "erf", eta=1.0, eta_v=None if train_v else 0.0)
    eta_max = max_learning_rate(base)
    assert max_learning_rate(base, full=True) == pytest.approx(eta_max, rel=1e-10)
    for factor, converges in ((0.95, True), (1.05, False)):
        setup = TeacherStudent(2, 2, "erf", eta=factor * eta_max,
                               eta_v=None if train_v else 0.0)
        tr = integrate(setup, _near_perfect(2), 3000.0, method="dopri5", rtol=1e-10,
                       atol=1e-12, on_failure="flag", n_out=3)
        final = tr.eps_g[-1]
        validation(f"fixed-point.eta-max.{'trained' if train_v else 'fixed'}.{factor:g}",
                   area="Fixed points and stability",
                   claim=f"at {factor:g} eta_max (eta_max = {eta_max:.6g}, readouts "
                         f"{'trained' if train_v else 'fixed'}) a start near perfect learning "
                         f"{'converges' if converges else 'does not converge'}",
                   method="dopri5 integration to t = 3000; eps_g at the end",
                   measured=final if tr.status == 0 else float("inf"),
                   bound=1e-10 if converges else 1e-6, comparison="<=" if converges else ">=",
                   unit="final eps_g")
        if converges:
            assert tr.status == 0 and final < 1e-10
        else:
            assert tr.status != 0 or not final < 1e-6


def test_optimal_learning_rate_maximises_the_decay_rate(validation):
    from odesolve.stability import decay_rate

    setup = TeacherStudent(2, 2, "erf", eta=1.0, eta_v=0.0)
    eta_max = max_learning_rate(setup)
    eta_opt, gamma = optimal_learning_rate(setup, eta_max)
    assert 0 < eta_opt < eta_max
    for e in (0.9 * eta_opt, 1.1 * eta_opt, 0.5 * eta_max):
        s = TeacherStudent(2, 2, "erf", eta=e, eta_v=0.0)
        assert decay_rate(s) < gamma
    # the decay rate is what a long integration shows: eps_g ~ exp(-2 gamma t)
    s = TeacherStudent(2, 2, "erf", eta=0.5 * eta_opt, eta_v=0.0)
    tr = integrate(s, _near_perfect(2), 150.0, method="dopri5", rtol=1e-12, atol=1e-16,
                   times=[0.0, 50.0, 100.0, 150.0])          # eps_g ~ 1e-13 at t = 150
    slope = -np.diff(np.log(tr.eps_g[1:])) / np.diff(tr.t[1:])
    validation("fixed-point.decay-rate", area="Fixed points and stability",
               claim="eps_g decays near perfect learning as exp(-2 gamma t), gamma from the "
                     "Jacobian's spectrum", method="slope of log eps_g of a long integration",
               measured=np.abs(slope / (2 * decay_rate(s)) - 1).max(), bound=1e-3,
               unit="relative error")
    np.testing.assert_allclose(slope, 2 * decay_rate(s), rtol=1e-3)


@pytest.mark.parametrize("K", [2, 3])
def test_escape_time_grows_with_log_of_the_initial_symmetry_breaking(K):
    """Perturb the plateau by delta along its unstable eigenvector: the integrated escape
    time grows by ln(100) / lambda per factor 100 in delta (lambda: derived eigenvalue)."""
    setup = TeacherStudent(K, K, "erf", eta=0.5, eta_v=0.0)
    fp = plateau(setup)
    lam = escape_rate(fp)
    assert lam == pytest.approx(fp.eigenvalues[0].real)       # the leading one at eta 0.5
    e = fp.eigenvectors[:, 0].real
    e = e / np.abs(e).max() * np.sign(e[2] - e[3])     # r - s grows: units specialise
    times = []
    for delta in (1e-4, 1e-6, 1e-8, 1e-10):
        x = fp.x + delta * e
        x[0] = x[1] + 2 * (x[2] - x[3]) ** 2          # admissible: q - c >= (r - s)^2
        tr = integrate(setup, symmetric_state(K, *x), 1500.0, method="dopri5", rtol=1e-11,
                       atol=1e-14, times=np.linspace(0, 1500, 15001))
        times.append(tr.t[np.flatnonzero(tr.eps_g < fp.eps_g / 2)[0]])
    np.testing.assert_allclose(np.diff(times) / np.log(100), 1 / lam, rtol=1e-3)


def test_escape_rate_is_the_specialisation_direction_not_the_largest_eigenvalue():
    """At eta = 2 (K = 2) the q - c direction grows faster than r - s; the escape rate is
    the eigenvalue of the eigenvector that moves r - s."""
    fp = plateau(TeacherStudent(2, 2, "erf", eta=2.0, eta_v=0.0))
    j = int(np.argmin(np.abs(fp.eigenvalues - escape_rate(fp))))
    v = np.abs(fp.eigenvectors[:, j])
    assert j != 0 and v[2] > 0.7 and v[0] < 0.01          # pure r - s, no q - c


def test_fixed_point_input_errors():
    with pytest.raises(ValueError, match="closed-form I4"):
        fixed_point(TeacherStudent(2, 2, "relu", eta=0.5), "plateau")
    with pytest.raises(ValueError, match="K = M"):
        fixed_point(TeacherStudent(2, 3, "erf", eta=0.5), "plateau")
    with pytest.raises(ValueError, match="unknown coordinates"):
        fixed_point(TeacherStudent(2, 2, "erf", eta=0.5, eta_v=0.0), {"q": 0.3, "x": 1})
    with pytest.raises(ValueError, match="unknown named guess"):
        fixed_point(TeacherStudent(2, 2, "erf", eta=0.5, eta_v=0.0), "saddle")
    with pytest.raises(NewtonError):
        fixed_point(TeacherStudent(2, 2, "erf", eta=0.5, eta_v=0.0), {"q": 50.0, "r": -40.0},
                    max_iter=2)


def test_full_spectrum_contains_the_ansatz_spectrum():
    setup = TeacherStudent(2, 2, "erf", eta=0.5, eta_v=0.0)
    fp = plateau(setup)
    full = full_spectrum(fp)
    for lam in fp.eigenvalues:
        assert np.min(np.abs(full - lam)) < 1e-10


@pytest.mark.parametrize("K", [2, 3])
def test_symbolic_plateau_is_the_theory_formula(K):
    """SymPy solves the derived eta -> 0 plateau equations exactly (derivations/plateau.md):
    q = 1/(2K - 1), r = 1/sqrt(K(2K - 1)), eps_g = (K/pi)(pi/6 - K asin(1/(2K)))."""
    import sympy as sp

    from odesolve.derive.explicit import derive_plateau

    d = derive_plateau(K)
    assert sp.simplify(d["q"] - sp.Rational(1, 2 * K - 1)) == 0
    assert sp.simplify(d["r"] - 1 / sp.sqrt(K * (2 * K - 1))) == 0
    formula = K / sp.pi * (sp.pi / 6 - K * sp.asin(sp.Rational(1, 2 * K)))
    assert abs(sp.N(d["eps_g"] - formula, 40)) < 1e-35


def _refused(call, name, error):
    with pytest.raises(error) as info:
        call()
    assert f"`{name}" in str(info.value), str(info.value)


def test_stability_and_fixed_point_arguments_are_checked_by_name():
    """TypeError for a wrong type, ValueError for a wrong value, the argument named; the grids
    of learning rates must be positive and strictly increasing (bisection between grid
    points assumes it)."""
    from odesolve.fixedpoint import continuation
    from odesolve.stability import (asymptotic_branch, decay_rate, perfect_learning,
                                    stability_curves)

    setup = TeacherStudent(2, 2, "erf", eta=0.5, eta_v=0.0)
    _refused(lambda: plateau(setup, eta_start=0.0), "eta_start", ValueError)
    _refused(lambda: plateau(setup, n_steps=1), "n_steps", ValueError)
    _refused(lambda: plateau(setup, tol="1e-14"), "tol", TypeError)
    _refused(lambda: plateau_small_eta(setup, eta=-0.02), "eta", ValueError)
    _refused(lambda: max_learning_rate(setup, eta_grid=[1.0]), "eta_grid", ValueError)
    _refused(lambda: max_learning_rate(setup, eta_grid=[2.0, 1.0]), "eta_grid", ValueError)
    _refused(lambda: max_learning_rate(setup, eta_grid=[0.0, 1.0]), "eta_grid", ValueError)
    _refused(lambda: max_learning_rate(setup, eta_grid=["a", "b"]), "eta_grid", TypeError)
    _refused(lambda: max_learning_rate(setup, full=1), "full", TypeError)
    _refused(lambda: optimal_learning_rate(setup, eta_max=-1.0), "eta_max", ValueError)
    _refused(lambda: stability_curves(setup, n_eta=1), "n_eta", ValueError)
    _refused(lambda: stability_curves(setup, etas=[[0.5, 1.0]]), "etas", ValueError)
    _refused(lambda: asymptotic_branch(setup, []), "etas", ValueError)
    _refused(lambda: asymptotic_branch(setup, [0.5, float("nan")]), "etas", ValueError)
    _refused(lambda: decay_rate(setup, full="yes"), "full", TypeError)
    _refused(lambda: perfect_learning(setup, guess="perfect"), "guess", TypeError)
    _refused(lambda: escape_rate(None), "fp", TypeError)
    _refused(lambda: full_spectrum(setup), "fp", TypeError)
    _refused(lambda: fixed_point(setup, None), "guess", TypeError)
    _refused(lambda: fixed_point(setup, {"q": "0.3"}), "guess['q']", TypeError)
    _refused(lambda: fixed_point(setup, "plateau", ansatz="sym"), "ansatz", ValueError)
    _refused(lambda: fixed_point(setup, "plateau", small_eta=None), "small_eta", TypeError)
    _refused(lambda: fixed_point(setup, "plateau", max_iter=1.5), "max_iter", TypeError)
    _refused(lambda: fixed_point(setup, "plateau", tol=0.0), "tol", ValueError)
    _refused(lambda: symmetric_state(0, 0.5, 0.1, 0.3, 0.3), "K", ValueError)
    three = Overlaps(np.eye(3), np.zeros((3, 3)), np.eye(3), np.ones(3), np.ones(3))
    _refused(lambda: fixed_point(setup, three), "guess", ValueError)
    start = plateau(setup)
    _refused(lambda: continuation(setup, None, [0.6]), "start", TypeError)
    _refused(lambda: continuation(setup, start, [0.6, float("inf")]), "values", ValueError)
    _refused(lambda: continuation(setup, start, [-0.6]), "values", ValueError)
    _refused(lambda: continuation(setup, start, [0.6], parameter="K"), "parameter", ValueError)
    assert continuation(setup, start, []) == []
