"""Gaussian kernels I2, J2, I3, I4: derivations, closed forms, numeric and quadrature kernels.

Every kernel is compared with independent computations:

* Monte Carlo with 10^6 samples (within 4 standard errors),
* direct numerical quadrature in another parametrisation (scipy.integrate.quad on a conditioned
  1-D integral for ReLU, a polar-coordinate rule with Owen's T for ReLU's I4, a trapezoidal
  rule in the *eigen*-basis of C for the smooth activations),
* the closed forms of docs/theory/kernels.md#theory-kernels-closed-forms, typed in here as the
  independent reference (Saad & Solla 1995).

Covariances include coincident fields, as they occur in the ODEs (``I4(i, k, a, b)`` with
``a = i``; ``I2(i, i)``, ``I4(i, i, c, d)``).
"""
from __future__ import annotations

import functools
import math
import zlib

import numpy as np
import pytest
import sympy as sp
from numpy.polynomial.legendre import leggauss
from scipy.integrate import quad
from scipy.special import erf as sp_erf
from scipy.special import ndtr, owens_t

from odesolve.derive.gaussian import (KernelExpr, check_codegen_friendly, derive_kernels,
                                      gaussian_identities, kernel_args)
from odesolve.kernels import numeric
from odesolve.kernels.numeric import relu_I4
from odesolve.activations import activation_functions
from odesolve.kernels.quadrature import quadrature_kernels

tanh, dtanh = activation_functions("tanh")

NAMES = ("I2", "J2", "I3", "I4")
FIELDS = {"I2": 2, "J2": 2, "I3": 3, "I4": 4}


# ---------------------------------------------------------------------------------------------
# covariances
# ---------------------------------------------------------------------------------------------
def _random_cov(rng, n, dof=6):
    """Random covariance with variances between 0.6 and 1.4 (fields of order one)."""
    A = rng.normal(size=(n, dof))
    C = A @ A.T / dof
    s = np.sqrt(np.diag(C) / rng.uniform(0.6, 1.4, size=n))
    return C / np.outer(s, s)


def _sym(C):
    return (C + C.T) / 2


def _make_covariances():
    rng = np.random.default_rng(20240611)
    out = {}
    base = _random_cov(rng, 4)
    out["generic"] = _sym(base)
    A = rng.normal(size=(4, 4)) + 0.8   # strongly correlated, unequal variances
    out["correlated"] = _sym(A @ A.T / 4)
    # I4(i, k, a, b) with a = i: fields (i, k, i, b)
    B3 = _sym(_random_cov(rng, 3))
    m = np.array([0, 1, 0, 2])
    out["coincident_ac"] = B3[np.ix_(m, m)]
    # I2(i, i), J2(i, i), I3(i, i, c), I4(i, i, c, d): fields (i, i, c, d)
    m = np.array([0, 0, 1, 2])
    out["coincident_ab"] = B3[np.ix_(m, m)]
    return out


COVS = _make_covariances()


def _upper(C):
    n = C.shape[0]
    return [float(C[i, j]) for i in range(n) for j in range(i, n)]


# ---------------------------------------------------------------------------------------------
# activations as numpy functions (for Monte Carlo and references)
# ---------------------------------------------------------------------------------------------
NP_ACT = {
    "erf": (lambda x: sp_erf(x / math.sqrt(2.0)),
            lambda x: math.sqrt(2.0 / math.pi) * np.exp(-0.5 * x * x)),
    "linear": (lambda x: x, lambda x: np.ones_like(x)),
    "relu": (lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(float)),
    "tanh": (np.tanh, lambda x: 1.0 - np.tanh(x) ** 2),
}


def _integrand(name, act):
    g, dg = NP_ACT[act]
    return {"I2": lambda x: g(x[0]) * g(x[1]),
            "J2": lambda x: dg(x[0]) * dg(x[1]),
            "I3": lambda x: dg(x[0]) * x[1] * g(x[2]),
            "I4": lambda x: dg(x[0]) * dg(x[1]) * g(x[2]) * g(x[3])}[name]


# ---------------------------------------------------------------------------------------------
# the kernels under test
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _tanh_kernels():
    return quadrature_kernels(tanh, dtanh, n_nodes=32, n_nodes_i4=20)


@functools.lru_cache(maxsize=None)
def _compiled(act):
    """name -> python callable of the covariance upper triangle."""
    if act == "tanh":
        return dict(_tanh_kernels())
    out = {}
    for name, k in derive_kernels(act).items():
        if k.expr is None:
            module, func = k.numeric.split(":")
            out[name] = getattr(__import__(module, fromlist=[func]), func)
        else:
            out[name] = sp.lambdify(k.args, k.expr, modules="math")
    return out


def kernel_value(act, name, C):
    n = FIELDS[name]
    return float(_compiled(act)[name](*_upper(C[:n, :n])))


# ---------------------------------------------------------------------------------------------
# Monte Carlo (vectorised numpy, 10^6 samples, PSD square root so coincident fields are exact)
# ---------------------------------------------------------------------------------------------
N_MC = 1_000_000


@functools.lru_cache(maxsize=None)
def _mc_fields(cov_name):
    C = COVS[cov_name]
    lam, U = np.linalg.eigh(C)
    root = U * np.sqrt(np.clip(lam, 0.0, None))
    rng = np.random.default_rng(zlib.crc32(cov_name.encode()))     # stable across processes
    z = rng.standard_normal((4, N_MC))
    return root @ z


# ---------------------------------------------------------------------------------------------
# independent quadrature references
# ---------------------------------------------------------------------------------------------
def trapezoid_eigen_reference(fun, C, pole=0.5 * math.pi, tol_exp=30.0, z_max=7.5):
    """E[fun(x)], x ~ N(0, C): trapezoidal rule in the eigen-coordinates of C.

    The step on each axis is set by the distance ``pole`` of the activation's complex
    singularities (aliasing error ~exp(-tol_exp)); zero eigenvalues get one node.
    """
    lam, U = np.linalg.eigh(C)
    lam = np.where(lam > 1e-12 * lam.max(), lam, 0.0)
    L = U * np.sqrt(lam)
    axes = []
    for k in range(C.shape[0]):
        amp = np.abs(L[:, k]).max()
        if amp == 0.0:
            axes.append((np.zeros(1), np.ones(1)))
            continue
        h = min(0.4, 2 * math.pi * (pole / amp) / tol_exp)
        m = int(math.ceil(z_max / h))
        x = np.arange(-m, m + 1) * h
        w = np.exp(-0.5 * x * x)
        axes.append((x, w / w.sum()))
    grids = np.meshgrid(*[a[0] for a in axes], indexing="ij")
    W = functools.reduce(np.multiply, np.meshgrid(*[a[1] for a in axes], indexing="ij"))
    Z = np.stack([g.ravel() for g in grids])
    W = W.ravel()
    total = 0.0
    chunk = 1_000_000
    for s in range(0, Z.shape[1], chunk):
        total += np.sum(W[s:s + chunk] * fun(L @ Z[:, s:s + chunk]))
    return float(total)


def _cond(C, i, rest):
    """Conditional mean coefficients and covariance of fields ``rest`` given field i."""
    coef = C[rest, i] / C[i, i]
    S = C[np.ix_(rest, rest)] - np.outer(coef, C[i, rest])
    return coef, S


def _relu_mean(m, s):
    """E[max(0, m + s z)], z ~ N(0, 1)."""
    if s <= 1e-14:
        return max(m, 0.0)
    return m * ndtr(m / s) + s * math.exp(-0.5 * (m / s) ** 2) / math.sqrt(2 * math.pi)


def _step_mean(m, s):
    if s <= 1e-14:
        return float(m > 0)
    return float(ndtr(m / s))


def relu_conditioned_reference(name, C):
    """ReLU I2, J2, I3 by scipy.integrate.quad over the first field a > 0, the others
    averaged in closed form given a (Gaussian conditioning; Stein for the bare b in I3)."""
    s_a = math.sqrt(C[0, 0])

    def phi(x):
        return math.exp(-0.5 * x * x / C[0, 0]) / (math.sqrt(2 * math.pi) * s_a)

    if name in ("I2", "J2"):
        coef, S = _cond(C, 0, [1])
        sb = math.sqrt(max(S[0, 0], 0.0))
        if name == "J2":
            f = lambda x: phi(x) * _step_mean(coef[0] * x, sb)  # noqa: E731
        else:
            f = lambda x: phi(x) * x * _relu_mean(coef[0] * x, sb)  # noqa: E731
    elif name == "I3":
        coef, S = _cond(C, 0, [1, 2])
        sc = math.sqrt(max(S[1, 1], 0.0))

        def f(x):
            mb, mc = coef[0] * x, coef[1] * x
            return phi(x) * (mb * _relu_mean(mc, sc) + S[0, 1] * _step_mean(mc, sc))
    else:
        raise ValueError(name)
    return quad(f, 0.0, 12 * s_a, epsabs=1e-15, epsrel=1e-13, limit=200)[0]


def _bvn_cdf(h, k, r):
    """P(X < h, Y < k) for standard bivariate normal with correlation |r| < 1 (Owen's T)."""
    s = math.sqrt(1 - r * r)
    with np.errstate(divide="ignore", invalid="ignore"):
        ah = np.where(h != 0, (k - r * h) / (h * s), 0.0)
        ak = np.where(k != 0, (h - r * k) / (k * s), 0.0)
    Th = np.where(h != 0, owens_t(h, ah), 0.0)
    Tk = np.where(k != 0, owens_t(k, ak), 0.0)
    beta = np.where((h * k < 0) | ((h * k == 0) & (h + k < 0)), 0.5, 0.0)
    return 0.5 * ndtr(h) + 0.5 * ndtr(k) - Th - Tk - beta


def relu_I4_polar_reference(C, theta, relu, n=200):
    """E[prod_{i in theta} theta(x_i) prod_{j in relu} x_j^+] for a positive definite C.

    ``relu`` lists one or two distinct fields, a repeated field meaning ``(x^+)^2``. The relu
    fields are integrated in polar coordinates of their whitened plane (Gauss-Legendre in the
    radius and in the angle of the positive quadrant); the theta fields are conditioned on them:
    P(theta fields > 0 | relu fields) is a normal or bivariate normal CDF (Owen's T).
    """
    distinct = sorted(set(relu))
    th = [i for i in sorted(set(theta)) if i not in distinct]
    xr, wr = leggauss(n)
    rmax = 14.0
    r = (0.5 * rmax * (xr + 1))[:, None]
    wr = (0.5 * rmax * wr)[:, None]
    Cr = C[np.ix_(distinct, distinct)]
    if len(distinct) == 2:
        L = np.linalg.cholesky(Cr)
        lo, hi = max(-math.pi / 2, math.atan2(-L[1, 0], L[1, 1])), math.pi / 2
        xp, wp = leggauss(n)
        ang = 0.5 * (hi - lo) * xp + 0.5 * (hi + lo)
        wang = 0.5 * (hi - lo) * wp
        dirs = L @ np.stack([np.cos(ang), np.sin(ang)])
        base = r ** 3 * dirs[0] * dirs[1] * np.exp(-0.5 * r * r) / (2 * math.pi)
    else:
        power = len(relu)
        dirs = math.sqrt(Cr[0, 0]) * np.ones((1, 1))
        wang = np.ones(1)
        base = (r * dirs[0]) ** power * np.exp(-0.5 * r * r) / math.sqrt(2 * math.pi)
    if th:
        cross = C[np.ix_(th, distinct)]
        A = cross @ np.linalg.inv(Cr)
        S = C[np.ix_(th, th)] - A @ cross.T
        mu = A @ dirs
        if len(th) == 1:
            P = ndtr(r * mu[0] / math.sqrt(S[0, 0]))
        else:
            sa, sb = math.sqrt(S[0, 0]), math.sqrt(S[1, 1])
            P = _bvn_cdf(r * mu[0] / sa, r * mu[1] / sb, S[0, 1] / (sa * sb))
    else:
        P = 1.0
    return float(np.sum(wr * wang[None, :] * base * P))


def reference(act, name, cov_name):
    """Independent quadrature value of a kernel on one of the test covariances."""
    n = FIELDS[name]
    C = COVS[cov_name][:n, :n]
    if act == "relu":
        if name != "I4":
            return relu_conditioned_reference(name, C)
        m, B = _distinct_fields(cov_name)
        return relu_I4_polar_reference(B, [m[0], m[1]], [m[2], m[3]])
    pole = {"tanh": 0.5 * math.pi, "erf": 3.0, "linear": 3.0}[act]
    return trapezoid_eigen_reference(_integrand(name, act), C, pole=pole)


def _distinct_fields(cov_name):
    """(slot -> distinct field, covariance of the distinct fields) of a test covariance."""
    C = COVS[cov_name]
    m = [0, 1, 2, 3]
    for i in range(4):
        for j in range(i):
            if np.allclose(C[i], C[j], rtol=0, atol=1e-14):
                m[i] = m[j]
                break
    keep = sorted(set(m))
    return [keep.index(x) for x in m], C[np.ix_(keep, keep)]


# ---------------------------------------------------------------------------------------------
# derivation API
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("act", ["erf", "linear", "relu"])
def test_derive_kernels_returns_the_canonical_api(act):
    kernels = derive_kernels(act)
    assert list(kernels) == list(NAMES)
    assert derive_kernels(act) is kernels      # cached
    for name, k in kernels.items():
        assert isinstance(k, KernelExpr) and k.name == name
        assert k.args == kernel_args(FIELDS[name])
        assert [s.name for s in k.args][:3] == ["C11", "C12", "C13" if FIELDS[name] > 2
                                                else "C22"]
        assert all(s.is_real for s in k.args)
        assert k.steps and all(isinstance(t, str) for t, _ in k.steps)
        if k.expr is None:
            module, func = k.numeric.split(":")
            assert getattr(__import__(module, fromlist=[func]), func) is relu_I4
        else:
            assert k.numeric is None
            assert k.expr.free_symbols <= set(k.args)
            assert not k.expr.has(sp.Piecewise, sp.Abs, sp.sign, sp.Heaviside, sp.Max)
            check_codegen_friendly(k.expr)


def test_gaussian_identities_are_derived_and_checked():
    steps = gaussian_identities()
    text = " ".join(t for t, _ in steps)
    for identity in ("Price", "Stein", "tilt", "Gaussian integral"):
        assert identity in text


def test_linear_kernels_follow_from_isserlis():
    C = {s.name: s for s in kernel_args(4)}
    k = derive_kernels("linear")
    assert k["I2"].expr == C["C12"]
    assert k["J2"].expr == 1
    assert k["I3"].expr == C["C23"]
    assert k["I4"].expr == C["C34"]


# ---------------------------------------------------------------------------------------------
# erf: the derived expressions equal Saad & Solla's closed forms
# (docs/theory/kernels.md#theory-kernels-erf)
# ---------------------------------------------------------------------------------------------
def _theory_erf(name, c):
    """docs/theory/kernels.md#theory-kernels-erf, typed in as the independent reference."""
    asin, sqrt, pi = math.asin, math.sqrt, math.pi
    if name == "I2":
        C11, C12, C22 = c
        return 2 / pi * asin(C12 / sqrt((1 + C11) * (1 + C22)))
    if name == "J2":
        C11, C12, C22 = c
        return 2 / pi / sqrt((1 + C11) * (1 + C22) - C12 ** 2)
    if name == "I3":
        C11, C12, C13, C22, C23, C33 = c
        L3 = (1 + C11) * (1 + C33) - C13 ** 2
        return 2 / pi * (C23 * (1 + C11) - C12 * C13) / ((1 + C11) * sqrt(L3))
    C11, C12, C13, C14, C22, C23, C24, C33, C34, C44 = c
    L4 = (1 + C11) * (1 + C22) - C12 ** 2
    L0 = (L4 * C34 - C23 * C24 * (1 + C11) - C13 * C14 * (1 + C22) + C12 * C13 * C24
          + C12 * C14 * C23)
    L1 = L4 * (1 + C33) - C23 ** 2 * (1 + C11) - C13 ** 2 * (1 + C22) + 2 * C12 * C13 * C23
    L2 = L4 * (1 + C44) - C24 ** 2 * (1 + C11) - C14 ** 2 * (1 + C22) + 2 * C12 * C14 * C24
    return 4 / pi ** 2 * asin(L0 / sqrt(L1 * L2)) / sqrt(L4)


def _random_psd(rng, n, rank=None):
    A = rng.normal(size=(n, rank or n)) * rng.uniform(0.2, 2.0)
    return A @ A.T


@pytest.mark.parametrize("name", NAMES)
def test_erf_kernels_match_saad_solla_closed_forms(name, validation):
    """Derived erf I2, J2, I3, I4 == the closed forms of docs/theory/kernels.md#theory-kernels-erf
    to 1e-12 on random (also singular) covariances."""
    f = sp.lambdify(derive_kernels("erf")[name].args, derive_kernels("erf")[name].expr, "math")
    rng = np.random.default_rng(1)
    n = FIELDS[name]
    worst = 0.0
    for trial in range(200):
        C = _random_psd(rng, n, rank=None if trial % 4 else rng.integers(1, n + 1))
        c = _upper(C)
        ref = _theory_erf(name, c)
        worst = max(worst, abs(f(*c) - ref) / max(1.0, abs(ref)))
    validation(f"kernels.erf.{name}.published", area="Gaussian kernels",
               claim=f"derived erf {name} equals the published closed form (Saad & Solla 1995)",
               method="the published formula typed independently into the test, on 200 random "
                      "(also singular) covariances", measured=worst, bound=1e-12,
               unit="relative error")
    assert worst <= 1e-12, name


def test_erf_i4_matches_saad_solla_closed_form_symbolically_in_its_parts():
    """The tilt's determinant and the asin argument are L4 and L0 / sqrt(L1 L2) of
    docs/theory/kernels.md#theory-kernels-erf."""
    C11, C12, C13, C14, C22, C23, C24, C33, C34, C44 = kernel_args(4)
    expr = derive_kernels("erf")["I4"].expr
    L4 = (1 + C11) * (1 + C22) - C12 ** 2
    L0 = (L4 * C34 - C23 * C24 * (1 + C11) - C13 * C14 * (1 + C22) + C12 * C13 * C24
          + C12 * C14 * C23)
    L1 = L4 * (1 + C33) - C23 ** 2 * (1 + C11) - C13 ** 2 * (1 + C22) + 2 * C12 * C13 * C23
    L2 = L4 * (1 + C44) - C24 ** 2 * (1 + C11) - C14 ** 2 * (1 + C22) + 2 * C12 * C14 * C24
    (arg,) = [a.args[0] for a in expr.atoms(sp.asin)]
    assert sp.expand(sp.numer(sp.together(arg)) - L0) == 0
    assert sp.expand(sp.denom(sp.together(arg)) ** 2 - L1 * L2) == 0
    assert sp.simplify(expr - 4 / sp.pi ** 2 * sp.asin(arg) / sp.sqrt(L4)) == 0


@pytest.mark.parametrize("name", ["I2", "J2", "I3"])
def test_erf_lower_kernels_equal_saad_solla_symbolically(name):
    s = {x.name: x for x in kernel_args(3)}
    C11, C12, C13, C22, C23, C33 = (s[k] for k in ("C11", "C12", "C13", "C22", "C23", "C33"))
    theory = {
        "I2": 2 / sp.pi * sp.asin(C12 / sp.sqrt((1 + C11) * (1 + C22))),
        "J2": 2 / sp.pi / sp.sqrt((1 + C11) * (1 + C22) - C12 ** 2),
        "I3": 2 / sp.pi * (C23 * (1 + C11) - C12 * C13)
        / ((1 + C11) * sp.sqrt((1 + C11) * (1 + C33) - C13 ** 2)),
    }[name]
    derived = derive_kernels("erf")[name].expr
    pos = {x: sp.Symbol(x.name, positive=True) for x in (C11, C22, C33)}

    def factor_roots(e):       # sqrt(C11 C22 + C11 + C22 + 1) -> sqrt(C11 + 1) sqrt(C22 + 1)
        return e.xreplace(pos).replace(
            lambda u: u.is_Pow and u.exp in (sp.S.Half, -sp.S.Half),
            lambda u: sp.sqrt(sp.factor(u.base)) ** sp.sign(u.exp))

    assert sp.simplify(factor_roots(derived) - factor_roots(theory)) == 0


# ---------------------------------------------------------------------------------------------
# ReLU closed forms against docs/theory/kernels.md#theory-kernels-relu (I2 written with atan)
# ---------------------------------------------------------------------------------------------
def _theory_relu(name, c):
    sqrt, pi, asin, atan = math.sqrt, math.pi, math.asin, math.atan
    if name == "I2":
        C11, C12, C22 = c
        D = C11 * C22 - C12 ** 2
        return (sqrt(D) + C12 * (pi / 2 + atan(C12 / sqrt(D)))) / (2 * pi)
    if name == "J2":
        C11, C12, C22 = c
        return 0.25 + asin(C12 / sqrt(C11 * C22)) / (2 * pi)
    C11, C12, C13, C22, C23, C33 = c
    return (C12 * sqrt(C11 * C33 - C13 ** 2) / (2 * pi * C11)
            + C23 * asin(C13 / sqrt(C11 * C33)) / (2 * pi) + C23 / 4)


@pytest.mark.parametrize("name", ["I2", "J2", "I3"])
def test_relu_kernels_match_theory_closed_forms(name, validation):
    k = derive_kernels("relu")[name]
    f = sp.lambdify(k.args, k.expr, "math")
    rng = np.random.default_rng(2)
    worst = 0.0
    for _ in range(200):
        c = _upper(_random_psd(rng, FIELDS[name]))
        ref = _theory_relu(name, c)
        worst = max(worst, abs(f(*c) - ref) / max(1.0, abs(ref)))
    validation(f"kernels.relu.{name}.published", area="Gaussian kernels",
               claim=f"derived ReLU {name} equals its known closed form",
               method="the closed form (with atan for I2) typed independently into the test, "
                      "200 random covariances", measured=worst, bound=1e-12,
               unit="relative error")
    assert worst <= 1e-12


def test_relu_kernels_at_coincident_fields_are_finite_limits():
    """I2(i, i) = C11/2 (the correct value; a halved I2 would give C11/4), J2(i, i) = 1/2."""
    k = _compiled("relu")
    for c11 in (0.3, 1.0, 2.0, 7.1):
        assert kernel_value("relu", "I2", np.full((2, 2), c11)) == pytest.approx(c11 / 2, 1e-14)
        assert k["J2"](c11, c11, c11) == pytest.approx(0.5, rel=1e-14)
        assert math.isfinite(k["I3"](c11, 0.2, c11, 1.0, 0.2, c11))


# ---------------------------------------------------------------------------------------------
# all kernels of all activations: Monte Carlo and independent quadrature
# ---------------------------------------------------------------------------------------------
ACTS = ["erf", "linear", "relu", "tanh"]


@pytest.mark.parametrize("cov_name", list(COVS))
@pytest.mark.parametrize("act", ACTS)
def test_kernels_match_monte_carlo(act, cov_name, validation):
    x = _mc_fields(cov_name)
    checks = []
    for name in NAMES:
        samples = _integrand(name, act)(x)
        mean = samples.mean()
        se = samples.std() / math.sqrt(samples.size)
        value = kernel_value(act, name, COVS[cov_name])
        excess = max(abs(value - mean) - 1e-12, 0.0)          # 1e-12: round-off allowance
        ratio = excess / se if se > 0 else (math.inf if excess else 0.0)
        checks.append((ratio, act, name, value, mean))
    validation(f"kernels.monte-carlo.{act}.{cov_name}", area="Gaussian kernels",
               claim=f"{act}: I2, J2, I3, I4 equal Gaussian averages (covariance {cov_name})",
               method=f"Monte Carlo over {x.shape[-1]:,} samples of the fields",
               measured=max(c[0] for c in checks), bound=4, unit="standard errors")
    for ratio, *info in checks:
        assert ratio <= 4, info


# relative tolerance against the independent quadrature: the closed forms and relu_I4 are
# exact up to the reference's own error; tanh's quadrature (32 nodes in 2-D, 20 per dimension
# in I4) is limited by tanh's poles at +-i pi/2 (measured: ~1e-6 and ~2e-5 at variances <= 2.6)
QUAD_RTOL = {"erf": 1e-9, "linear": 1e-9, "relu": 1e-9, "tanh": 3e-6}
QUAD_RTOL_TANH_I4 = 5e-5


@pytest.mark.parametrize("cov_name", list(COVS))
@pytest.mark.parametrize("act", ACTS)
def test_kernels_match_independent_quadrature(act, cov_name, validation):
    checks = []
    for name in NAMES:
        value = kernel_value(act, name, COVS[cov_name])
        ref = reference(act, name, cov_name)
        tol = QUAD_RTOL_TANH_I4 if (act, name) == ("tanh", "I4") else QUAD_RTOL[act]
        checks.append((abs(value - ref) / max(abs(ref), 1e-3), tol, act, name, value, ref))
    validation(f"kernels.quadrature.{act}.{cov_name}", area="Gaussian kernels",
               claim=f"{act}: I2, J2, I3, I4 equal an independent quadrature (covariance "
                     f"{cov_name})",
               method="tensor-product quadrature in the eigen-coordinates of the covariance "
                      "(scipy.integrate.quad for ReLU)",
               measured=max(c[0] for c in checks), bound=max(c[1] for c in checks),
               unit="relative error")
    for dev, tol, *info in checks:
        assert dev <= tol, info


# ---------------------------------------------------------------------------------------------
# relu_I4 (numeric)
# ---------------------------------------------------------------------------------------------
def test_relu_i4_matches_polar_quadrature_on_random_covariances():
    rng = np.random.default_rng(3)
    for _ in range(12):
        C = _random_psd(rng, 4)
        ref = relu_I4_polar_reference(C, [0, 1], [2, 3])
        assert relu_I4(*_upper(C)) == pytest.approx(ref, rel=1e-9)


COINCIDENCES = {           # slot -> distinct field
    "a=b": [0, 0, 1, 2], "a=c": [0, 1, 0, 2], "a=d": [0, 1, 2, 0], "b=c": [0, 1, 1, 2],
    "c=d": [0, 1, 2, 2], "a=c,b=d": [0, 1, 0, 1], "a=b,c=d": [0, 0, 1, 1],
    "a=b=c": [0, 0, 0, 1], "a=c=d": [0, 1, 0, 0],
}


@pytest.mark.parametrize("pattern", list(COINCIDENCES))
def test_relu_i4_handles_coincident_fields(pattern):
    """Semi-definite covariances as in the ODE sums: I4(i, k, j, l) with j or l = i or k."""
    rng = np.random.default_rng(4)
    m = COINCIDENCES[pattern]
    B = _random_psd(rng, max(m) + 1)
    C = B[np.ix_(m, m)]
    ref = relu_I4_polar_reference(B, m[:2], m[2:])
    assert relu_I4(*_upper(C)) == pytest.approx(ref, rel=1e-9)


def test_relu_i4_accuracy_near_coincidence_matches_deep_grading():
    """Nearly coincident fields (correlation 1 - eps, eps down to 1e-11): the automatically
    chosen grading is as accurate as a 14-level graded rule."""
    rng = np.random.default_rng(5)
    worst = 0.0
    for _ in range(150):
        k = int(rng.integers(2, 5))
        base = _random_psd(rng, k)
        Lb = np.linalg.cholesky(base + 1e-12 * np.eye(k))
        m = rng.integers(0, k, size=4)
        L = np.hstack([Lb[m], np.diag(np.sqrt(10.0 ** rng.uniform(-11, 0, size=4)
                                              * (rng.random(4) < 0.7)))])
        C = L @ L.T
        scale = math.sqrt(C[2, 2] * C[3, 3])
        deep = numeric._relu_I4(*_upper(C), 14)
        worst = max(worst, abs(relu_I4(*_upper(C)) - deep) / scale)
    assert worst < 1e-11


def test_relu_i4_vanishes_for_anti_coincident_fields():
    """c = -a: theta(a) max(0, -a) = 0 pointwise, although r_ac = -1 is singular."""
    rng = np.random.default_rng(7)
    B = _random_psd(rng, 3)
    S = np.diag([1.0, 1.0, -1.0, 1.0])
    m = [0, 1, 0, 2]
    C = S @ B[np.ix_(m, m)] @ S
    assert abs(relu_I4(*_upper(C))) <= 1e-14 * math.sqrt(C[2, 2] * C[3, 3])


def test_relu_i4_scaling_and_zero_variance():
    rng = np.random.default_rng(6)
    C = _random_psd(rng, 4)
    D = np.diag([0.5, 3.0, 2.0, 0.7])
    scaled = D @ C @ D           # theta invariant, ReLU homogeneous: factor 2.0 * 0.7
    assert relu_I4(*_upper(scaled)) == pytest.approx(1.4 * relu_I4(*_upper(C)), rel=1e-12)
    C[3, :] = C[:, 3] = 0.0
    assert relu_I4(*_upper(C)) == 0.0


# ---------------------------------------------------------------------------------------------
# quadrature kernels
# ---------------------------------------------------------------------------------------------
def test_quadrature_kernels_reproduce_erf_closed_forms():
    """The generic quadrature with g = erf(x/sqrt 2) against the derived closed forms."""
    import numba

    @numba.njit(cache=True)
    def g(x):
        return math.erf(x / math.sqrt(2.0))

    @numba.njit(cache=True)
    def dg(x):
        return math.sqrt(2.0 / math.pi) * math.exp(-0.5 * x * x)

    quad_k = quadrature_kernels(g, dg, n_nodes=32, n_nodes_i4=20, pole_distance=3.0)
    closed = _compiled("erf")
    for cov_name, C in COVS.items():
        for name in NAMES:
            c = _upper(C[:FIELDS[name], :FIELDS[name]])
            rel = 2e-6 if name == "I4" else 1e-8
            assert quad_k[name](*c) == pytest.approx(closed[name](*c), rel=rel, abs=1e-12)


def test_quadrature_kernels_validate_arguments():
    with pytest.raises(ValueError, match="n_nodes"):
        quadrature_kernels(tanh, dtanh, n_nodes=0)
    with pytest.raises(ValueError, match="pole_distance"):
        quadrature_kernels(tanh, dtanh, pole_distance=-1.0)


def test_monte_carlo_rejects_a_halved_relu_i2():
    """The check has teeth: it rejects a halved ReLU I2, an easy slip in hand-written code
    (docs/theory/kernels.md#theory-kernels-checks)."""
    x = _mc_fields("generic")
    samples = np.maximum(x[0], 0.0) * np.maximum(x[1], 0.0)
    se = samples.std() / math.sqrt(samples.size)
    value = kernel_value("relu", "I2", COVS["generic"])
    assert abs(value - samples.mean()) <= 4 * se
    assert abs(value / 2 - samples.mean()) > 100 * se
