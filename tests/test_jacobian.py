"""Jacobians of the committee right-hand side (odesolve.jacobian, odesolve/derive/jacobian.py).

Every check compares the derived, compiled Jacobian with an independent computation:

* central finite differences of the compiled right-hand side (the fast path of each
  activation), along symmetric perturbations of Q and T (the convention of the Jacobian);
* for a quadrature activation (erf supplied as a user Activation, so it takes the quadrature
  path): the closed-form erf Jacobian, and finite differences of the quadrature right-hand side;
* Price's theorem for the quadrature gradient kernels: finite differences of the quadrature
  kernels themselves (tanh).
"""
from __future__ import annotations

import math

import numba
import numpy as np
import pytest

import odesolve
from odesolve import committee
from odesolve.activations import Activation, activation_functions
from odesolve.jacobian import committee_jacobian, evaluate_jacobian, jac_work_size
from odesolve.kernels.kernel_gradients import quadrature_gradient_kernels
from odesolve.kernels.quadrature import quadrature_kernels

AREA = "Jacobians of the right-hand side"


@numba.njit(cache=True)
def _erf_g(x):
    return math.erf(x / math.sqrt(2.0))


@numba.njit(cache=True)
def _erf_dg(x):
    return math.sqrt(2.0 / math.pi) * math.exp(-0.5 * x * x)


#: erf through the quadrature path (a user activation): its exact Jacobian is the closed form's
ERF_QUADRATURE = Activation("erf_quadrature", _erf_g, _erf_dg)


def _case(activation, K, M, seed=3, batch_size=3):
    """Setup and one state: trained readouts, output noise, weight decay, a mini-batch."""
    setup = odesolve.TeacherStudent(K, M, activation, eta=0.7, eta_v=0.3, sigma=0.4,
                                    weight_decay=0.05, batch_size=batch_size)
    state = odesolve.Overlaps.random(K, M, N=50, student_std=0.6, readout_std=0.5,
                                     teacher_std=1.0, seed=seed)
    y = committee.pack_state(state)[0]
    p = committee.pack_params(setup, state)[0]
    return setup, state, y, p


def _rhs(activation, K, M):
    rhs = committee.committee_problem(odesolve.TeacherStudent(K, M, activation)).rhs
    work = np.zeros(jac_work_size(K, M))

    def f(y, p):
        out = np.empty(y.size)
        rhs(0.0, y, p, work, out)
        return out

    return f


def _state_directions(K, M):
    """Unit perturbations of the state; an off-diagonal overlap moves Q[i,k] and Q[k,i]."""
    n = K * K + K * M + K
    out = []
    for s in range(n):
        d = np.zeros(n)
        if s < K * K:
            i, k = divmod(s, K)
            if k < i:
                continue
            d[i * K + k] = d[k * K + i] = 1.0
        else:
            d[s] = 1.0
        out.append(d)
    return out


def _param_directions(M, n_p):
    """Unit perturbations of eta, eta_v, sigma, kappa, b, the symmetric T and v_star."""
    out = {}
    for name in ("eta", "eta_v", "sigma", "kappa", "b"):
        d = np.zeros(n_p)
        d[committee.PARAM_INDEX[name]] = 1.0
        out[name] = d
    t0 = committee.N_FIXED_PARAMS
    for n in range(M):
        for m in range(n, M):
            d = np.zeros(n_p)
            d[t0 + n * M + m] = d[t0 + m * M + n] = 1.0
            out[f"T[{n},{m}]"] = d
        d = np.zeros(n_p)
        d[t0 + M * M + n] = 1.0
        out[f"v_star[{n}]"] = d
    return out


def _relative(analytic, numeric, scale):
    """|analytic - numeric| relative to the column (at least 1e-3 of the Jacobian's scale)."""
    return float(np.abs(analytic - numeric).max() / max(np.abs(numeric).max(), 1e-3 * scale))


def _fd_errors(f, y, p, Jy, Jp, K, M, h=1e-6):
    """Largest relative deviation of Jy @ d and Jp @ d from central differences of f."""
    scale = max(np.abs(Jy).max(), np.abs(Jp).max())
    ey = 0.0
    for d in _state_directions(K, M):
        fd = (f(y + h * d, p) - f(y - h * d, p)) / (2 * h)
        ey = max(ey, _relative(Jy @ d, fd, scale))
    ep = 0.0
    for d in _param_directions(M, p.size).values():
        hp = h * max(1.0, float(np.abs(p[d != 0]).max()))
        fd = (f(y, p + hp * d) - f(y, p - hp * d)) / (2 * hp)
        ep = max(ep, _relative(Jp @ d, fd, scale))
    return ey, ep


@pytest.mark.parametrize("activation", ["erf", "linear", "relu"])
@pytest.mark.parametrize("K, M", [(2, 2), (3, 2)])
def test_jacobian_matches_central_differences_of_the_rhs(activation, K, M, validation):
    setup, state, y, p = _case(activation, K, M)
    Jy, Jp = evaluate_jacobian(setup, state)
    ey, ep = _fd_errors(_rhs(activation, K, M), y, p, Jy, Jp, K, M)
    validation(f"jacobian.{activation}.K{K}M{M}.finite-differences", area=AREA,
               claim=f"d rhs/d y and d rhs/d (eta, eta_v, sigma, kappa, b, T, v_star) of the "
                     f"committee ODE ({activation}, K={K}, M={M}, trained readouts, noise, "
                     f"weight decay, b=3) equal the derivatives of the compiled rhs",
               method="central finite differences (h = 1e-6) of the compiled right-hand side "
                      "along symmetric perturbations",
               measured=max(ey, ep), bound=1e-6, unit="relative")
    assert ey < 1e-6 and ep < 1e-6, (ey, ep)


def test_symmetric_convention_for_Q(validation):
    """Rows (i,k), (k,i) are equal, columns of Q[i,k] and Q[k,i] are equal (half the
    derivative with respect to the overlap), and a symmetric perturbation of Q gives the
    rhs's change to first order."""
    K, M = 3, 2
    setup, state, y, p = _case("erf", K, M)
    Jy, Jp = evaluate_jacobian(setup, state)
    f = _rhs("erf", K, M)
    dev = 0.0
    for i in range(K):
        for k in range(i + 1, K):
            assert np.array_equal(Jy[i * K + k], Jy[k * K + i])
            assert np.array_equal(Jp[i * K + k], Jp[k * K + i])
            np.testing.assert_allclose(Jy[:, i * K + k], Jy[:, k * K + i], rtol=0, atol=0)
    rng = np.random.default_rng(5)
    A = rng.normal(size=(K, K))
    d = np.concatenate([(A + A.T).ravel(), rng.normal(size=K * M + K)])
    h = 1e-6
    fd = (f(y + h * d, p) - f(y - h * d, p)) / (2 * h)
    dy = Jy @ d
    dQ = dy[:K * K].reshape(K, K)
    assert np.array_equal(dQ, dQ.T)           # a symmetric direction stays symmetric
    dev = float(np.abs(dy - fd).max() / np.abs(fd).max())
    validation("jacobian.symmetric-Q", area=AREA,
               claim="for a random symmetric perturbation of Q (with R and v), Jy @ dy is the "
                     "change of the rhs and keeps dQ/dt symmetric (erf, K=3, M=2)",
               method="central finite differences of the compiled rhs along the perturbation",
               measured=dev, bound=1e-6, unit="relative")
    assert dev < 1e-6


def test_quadrature_jacobian_matches_the_closed_form_and_differences(validation):
    """erf through the quadrature path: Price's-theorem gradients against the exact (closed-form)
    Jacobian, and against finite differences of the quadrature right-hand side."""
    K, M = 2, 2
    setup, state, y, p = _case(ERF_QUADRATURE, K, M)
    Jy, Jp = evaluate_jacobian(setup, state)
    exact_y, exact_p = evaluate_jacobian(_case("erf", K, M)[0], state)
    scale = np.abs(exact_y).max()
    e_exact = max(float(np.abs(Jy - exact_y).max()), float(np.abs(Jp - exact_p).max())) / scale
    ey, ep = _fd_errors(_rhs(ERF_QUADRATURE, K, M), y, p, Jy, Jp, K, M)
    validation("jacobian.quadrature.erf-as-user-activation.closed-form", area=AREA,
               claim="the quadrature Jacobian (Price's theorem, user activation erf, K=M=2) "
                     "equals the closed-form erf Jacobian",
               method="closed-form erf Jacobian (sympy.diff of the derived kernels)",
               measured=e_exact, bound=1e-6, unit="relative to max |Jy|")
    validation("jacobian.quadrature.erf-as-user-activation.finite-differences", area=AREA,
               claim="the quadrature Jacobian equals the derivative of the quadrature rhs; "
                     "the bound is the rhs's own quadrature error (its I4 rule, 16 nodes, moves "
                     "with the covariance: its differences are ~3e-6 from the exact Jacobian)",
               method="central finite differences of the compiled quadrature rhs",
               measured=max(ey, ep), bound=1e-5, unit="relative")
    assert e_exact < 1e-6
    assert ey < 1e-5 and ep < 1e-5, (ey, ep)


def test_price_theorem_gradients_match_differences_of_the_quadrature_kernels(validation):
    """tanh: each derivative of I2, J2, I3, I4 with respect to a covariance entry (Price's
    theorem, g'' and g''' by sympy.diff) against central differences of the kernel (fine rules
    for both, so the quadrature error is below the tolerance)."""
    g, dg = activation_functions("tanh")
    n2, n4 = 40, 28
    kernels = quadrature_kernels(g, dg, n_nodes=n2, n_nodes_i4=n4)
    grads = quadrature_gradient_kernels("tanh", n_nodes=n2, n_nodes_i4=n4)
    rng = np.random.default_rng(1)
    A = rng.normal(size=(4, 6))
    C = A @ A.T / 6
    order = {2: [(0, 0), (0, 1), (1, 1)],
             3: [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)],
             4: [(0, 0), (0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3), (2, 2), (2, 3), (3, 3)]}
    worst = 0.0
    for name, n in (("I2", 2), ("J2", 2), ("I3", 3), ("I4", 4)):
        args = np.array([C[x, y] for x, y in order[n]])
        out = grads["g" + name](*args, *range(n))
        assert out[0] == pytest.approx(kernels[name](*args), rel=1e-12)
        h = 1e-4
        fd = np.array([(kernels[name](*(args + h * e)) - kernels[name](*(args - h * e))) / (2 * h)
                       for e in np.eye(args.size)])
        worst = max(worst, float(np.abs(np.array(out[1:]) - fd).max() / np.abs(fd).max()))
    validation("jacobian.price-theorem.tanh", area=AREA,
               claim="Price's-theorem derivatives of the tanh quadrature kernels I2, J2, I3, I4 "
                     "with respect to every covariance entry",
               method="central finite differences (h = 1e-4) of the quadrature kernels",
               measured=worst, bound=1e-6, unit="relative")
    assert worst < 1e-6


def test_relu_coincident_fields_use_the_reduced_gradient():
    """ReLU's I2 at coincident fields: the partial derivatives are infinite, the derivative
    along the coincident entry (I2(a, a) = C_aa / 2) is 1/2."""
    from odesolve.kernels._generated import jacobian_relu

    val, d11, d12, d22 = jacobian_relu.gI2(1.3, 1.3, 1.3, 2, 2)
    assert val == pytest.approx(0.65) and d11 == pytest.approx(0.5) and d12 == d22 == 0.0
    val, *partials = jacobian_relu.gI3(1.3, 0.4, 1.3, 0.9, 0.4, 1.3, 1, 0, 1)
    # I3(a, b, a) = <theta(a) b a^+> = C_ab / 2: derivative 1/2 with respect to C_ab only
    assert val == pytest.approx(0.2)
    np.testing.assert_allclose(partials, [0.0, 0.5, 0.0, 0.0, 0.0, 0.0], atol=1e-15)


def test_jacobian_allocates_nothing_and_writes_every_entry():
    K, M = 2, 2
    setup, state, y, p = _case("erf", K, M)
    jac = committee_jacobian("erf")
    n = y.size
    Jy = np.full((n, n), np.nan)
    Jp = np.full((n, p.size), np.nan)
    jac(0.0, y, p, np.full(jac_work_size(K, M), np.nan), Jy, Jp)
    assert np.isfinite(Jy).all() and np.isfinite(Jp).all()
    assert jac_work_size(K, M) >= committee.n_work(K, M)
    # parameter columns that the rhs does not depend on are zero
    for j in (committee.PARAM_INDEX["K"], committee.PARAM_INDEX["M"], p.size - 1):
        assert not Jp[:, j].any()


def test_structural_template_with_closed_form_gradients_equals_the_generated_module():
    """The structural Jacobian (the template the quadrature path uses) bound to ReLU's derived
    gradient kernels gives the same Jy and Jp as the generated ReLU module."""
    from odesolve._jit import source_tag, specialise
    from odesolve.kernels._generated import jacobian as template
    from odesolve.kernels._generated import jacobian_relu as module

    K, M = 3, 2
    setup, state, y, p = _case("relu", K, M)
    grads = {name: getattr(module, name) for name in ("gI2", "gJ2", "gI3", "gI4")}
    jac = specialise(template.committee_jac, "relu_test_" + source_tag(module, template),
                     **grads)
    n = y.size
    work = np.zeros(jac_work_size(K, M))
    Jy, Jp = np.empty((n, n)), np.empty((n, p.size))
    jac(0.0, y, p, work, Jy, Jp)
    ref_y, ref_p = evaluate_jacobian(setup, state)
    np.testing.assert_allclose(Jy, ref_y, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(Jp, ref_p, rtol=1e-13, atol=1e-13)


def test_ewc_phase_jacobian_matches_central_differences(validation):
    """The Jacobian of an EWC phase (committee terms plus the derived EWC drift, anchors as
    the last K teacher fields) against central differences of that phase's compiled rhs."""
    from odesolve.jacobian import ewc_committee_jacobian
    from odesolve.multitask.ode import _ewc_problem

    K, L = 2, 2
    M = L + K                                  # L teacher units, then the K anchors
    setup, state, y, _ = _case("erf", K, M, seed=7)
    base = committee.pack_params(setup, state)[0]
    rng = np.random.default_rng(11)
    p = np.concatenate([base, [0.8], rng.uniform(0.5, 1.5, K), rng.uniform(0.5, 1.5, K),
                        rng.normal(size=K)])
    p[committee.N_FIXED_PARAMS + M * M + L:committee.N_FIXED_PARAMS + M * M + M] = 0.0
    rhs = _ewc_problem("erf", K, M).rhs
    work = np.zeros(jac_work_size(K, M))

    def f(yy, pp):
        out = np.empty(yy.size)
        rhs(0.0, yy, pp, work, out)
        return out

    n = y.size
    Jy, Jp = np.empty((n, n)), np.empty((n, p.size))
    ewc_committee_jacobian("erf")(0.0, y, p, work, Jy, Jp)
    ey, ep = _fd_errors(f, y, p, Jy, Jp, K, M)
    scale = max(np.abs(Jy).max(), np.abs(Jp).max())
    h = 1e-6
    tail = committee.N_FIXED_PARAMS + M * M + M + 1
    for j in range(tail, p.size):            # lambda, F, Fv, va
        d = np.zeros(p.size)
        d[j] = 1.0
        fd = (f(y, p + h * d) - f(y, p - h * d)) / (2 * h)
        ep = max(ep, _relative(Jp @ d, fd, scale))
    validation("jacobian.ewc.erf.K2M4.finite-differences", area=AREA,
               claim="Jacobian of an EWC phase (erf, K=2, 2 teacher units + 2 anchors, trained "
                     "readouts, noise, weight decay, b=3) w.r.t. the state, the model "
                     "parameters, T, v_star and the EWC parameters (lambda, F, Fv, va)",
               method="central finite differences of the compiled EWC-phase rhs",
               measured=max(ey, ep), bound=1e-6, unit="relative")
    assert ey < 1e-6 and ep < 1e-6, (ey, ep)


def test_jacobian_refuses_arrays_of_the_wrong_shape():
    K, M = 2, 2
    _, _, y, p = _case("erf", K, M)
    n = y.size
    work = np.zeros(jac_work_size(K, M))
    jac = committee_jacobian("erf")
    with pytest.raises(ValueError, match="Jp"):
        jac(0.0, y, p, work, np.empty((n, n)), np.empty((n, 6)))
    with pytest.raises(ValueError, match="Jy"):
        jac(0.0, y, p, work, np.empty((n, n - 1)), np.empty((n, p.size)))
