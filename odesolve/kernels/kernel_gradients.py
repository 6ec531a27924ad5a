r"""Gradient kernels without a closed form: ReLU's I4 and the quadrature kernels.

A gradient kernel returns a kernel's value and its partial derivatives with respect to its
covariance arguments (the upper triangle, row-major, ARCHITECTURE.md), and takes the field
indices of the call after them: ``gI4(C11, .., C44, x1, x2, x3, x4) -> (I4, dI4/dC11, ..,
dI4/dC44)`` (the calling convention of :mod:`odesolve.derive.jacobian`).

ReLU's I4 (:func:`relu_I4_gradient`)
------------------------------------
The kernel is a 1-D integral (:func:`odesolve.kernels.numeric.relu_I4`) with a fixed rule,
smooth in the covariance away from coincident fields. Its derivatives are central differences
in the *distinct covariance entries of the call*: arguments that are the same entry of the
field covariance (``I4(i, k, a, a)``: ``C13 = C14``, ``C33 = C34 = C44``) are perturbed
together, so the perturbed covariance keeps the structure of the call (coincident fields stay
coincident, where the partial derivatives of the separate arguments are infinite). The
derivative goes to the first argument of its group, zeros to the others: scattered into the
covariance entries, that is the same total. Step ``FD_STEP`` times the largest variance.

Quadrature kernels (:func:`quadrature_gradient_kernels`)
--------------------------------------------------------
**Price's theorem** (Price 1958): for jointly Gaussian fields,
``d <prod_k f_k(x_k)> / dC_pq = <f_p'(x_p) f_q'(x_q) prod_{k != p,q} f_k(x_k)>`` for ``p != q``
and ``d/dC_pp = 1/2 <f_p''(x_p) prod_{k != p} f_k(x_k)>`` (the heat equation). With ``g'`` and
``g`` factors this needs ``g''`` and ``g'''``, taken from a function ``derivs(x) -> (g, g',
g'', g''')``: derived by ``sympy.diff`` for tanh (generated module
``activation_derivatives``), central differences of the user's ``g'`` otherwise
(:data:`DERIV_STEP`). The derivative integrals are evaluated by the same trapezoidal rules as
the kernels (:mod:`odesolve.kernels.quadrature`), all partial derivatives of a kernel in one
pass over the nodes (the functions of each field are evaluated once per node of its loop):
I2, J2 and I3 by 2-D rules (I3's bare field replaced by its conditional mean), I4 by the 4-D
rule with the same pruning.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import numba

from .._jit import source_tag, specialise
from . import quadrature as _q
from .numeric import relu_I4
from .quadrature import PRUNE, chol2, chol3, chol4, trapezoid_rule

if TYPE_CHECKING:
    from ..activations import Activation

__all__ = ["relu_I4_gradient", "quadrature_gradient_kernels", "FD_STEP", "DERIV_STEP"]

#: relative step of the central differences of ReLU's I4 (its rule is smooth in C)
FD_STEP = 1e-5
#: step of the central differences giving g'' and g''' of a user activation from its g'
DERIV_STEP = 2e-4

# template globals, rebound by specialise
NQ = 24
POLE = 0.5 * math.pi
ORD = 0


def derivs(x):  # placeholder, rebound by specialise
    """(g, g', g'', g''') at x; a template global."""
    raise NotImplementedError("template global: bind `derivs` with odesolve._jit.specialise")


def g(x):  # placeholder
    raise NotImplementedError("template global: bind `g` with odesolve._jit.specialise")


def dg(x):  # placeholder
    raise NotImplementedError("template global: bind `dg` with odesolve._jit.specialise")


# --------------------------------------------------------------------------------------------
# ReLU I4: central differences in the distinct covariance entries
# --------------------------------------------------------------------------------------------
@numba.njit(cache=True)
def _group_derivative(C, keys, pos, h):
    """d relu_I4 / d (the covariance entry at argument ``pos``), perturbing every argument
    with the same entry; 0 when an earlier argument has it (counted there)."""
    key = keys[pos]
    for q in range(pos):
        if keys[q] == key:
            return 0.0
    m = (1.0 if keys[0] == key else 0.0, 1.0 if keys[1] == key else 0.0,
         1.0 if keys[2] == key else 0.0, 1.0 if keys[3] == key else 0.0,
         1.0 if keys[4] == key else 0.0, 1.0 if keys[5] == key else 0.0,
         1.0 if keys[6] == key else 0.0, 1.0 if keys[7] == key else 0.0,
         1.0 if keys[8] == key else 0.0, 1.0 if keys[9] == key else 0.0)
    plus = relu_I4(C[0] + h * m[0], C[1] + h * m[1], C[2] + h * m[2], C[3] + h * m[3],
                   C[4] + h * m[4], C[5] + h * m[5], C[6] + h * m[6], C[7] + h * m[7],
                   C[8] + h * m[8], C[9] + h * m[9])
    minus = relu_I4(C[0] - h * m[0], C[1] - h * m[1], C[2] - h * m[2], C[3] - h * m[3],
                    C[4] - h * m[4], C[5] - h * m[5], C[6] - h * m[6], C[7] - h * m[7],
                    C[8] - h * m[8], C[9] - h * m[9])
    return (plus - minus) / (2.0 * h)


@numba.njit(cache=True)
def _key(x, y):
    return min(x, y) * 1000003 + max(x, y)


@numba.njit(cache=True)
def relu_I4_gradient(C11, C12, C13, C14, C22, C23, C24, C33, C34, C44, x1, x2, x3, x4):
    """ReLU's I4 and its derivatives with respect to the ten covariance arguments.

    Parameters
    ----------
    C11, .., C44 : float
        Upper triangle of the 4x4 covariance of the fields (a, b, c, d), row-major.
    x1, x2, x3, x4 : int
        Field indices of the call; arguments with the same unordered index pair are one
        covariance entry (module docstring).

    Returns
    -------
    tuple of 11 floats
        ``(I4, dI4/dC11, dI4/dC12, .., dI4/dC44)``; within a group of arguments that are the
        same entry, the first carries the group's derivative and the others 0.
    """
    C = (C11, C12, C13, C14, C22, C23, C24, C33, C34, C44)
    keys = (_key(x1, x1), _key(x1, x2), _key(x1, x3), _key(x1, x4), _key(x2, x2),
            _key(x2, x3), _key(x2, x4), _key(x3, x3), _key(x3, x4), _key(x4, x4))
    h = FD_STEP * max(max(C11, C22), max(C33, C44))
    return (relu_I4(C11, C12, C13, C14, C22, C23, C24, C33, C34, C44),
            _group_derivative(C, keys, 0, h), _group_derivative(C, keys, 1, h),
            _group_derivative(C, keys, 2, h), _group_derivative(C, keys, 3, h),
            _group_derivative(C, keys, 4, h), _group_derivative(C, keys, 5, h),
            _group_derivative(C, keys, 6, h), _group_derivative(C, keys, 7, h),
            _group_derivative(C, keys, 8, h), _group_derivative(C, keys, 9, h))


# --------------------------------------------------------------------------------------------
# quadrature: Price's theorem, templates calling the global `derivs`
# --------------------------------------------------------------------------------------------
def derivs_difference_template(x):
    """(g, g', g'', g''') from the globals ``g`` and ``dg``: g'' and g''' by central
    differences of g' with step DERIV_STEP."""
    h = DERIV_STEP
    d0 = dg(x)
    dp = dg(x + h)
    dm = dg(x - h)
    return g(x), d0, (dp - dm) / (2.0 * h), (dp - 2.0 * d0 + dm) / (h * h)


def pair_gradient_template(C11, C12, C22, x1, x2):
    """<f(a) f(b)> with f the ORD-th derivative of g (I2: ORD = 0, J2: ORD = 1) and its
    derivatives (Price): dC11 = <f''(a) f(b)>/2, dC12 = <f'(a) f'(b)>, dC22 = <f(a) f''(b)>/2."""
    l11, l21, l22 = chol2(C11, C12, C22)
    n1, x01, h1, w01, r01, q1 = trapezoid_rule(NQ, max(l11, abs(l21)), POLE)
    n2, x02, h2, w02, r02, q2 = trapezoid_rule(NQ, l22, POLE)
    v = 0.0
    d11 = 0.0
    d12 = 0.0
    d22 = 0.0
    w1 = w01
    r1 = r01
    for i in range(n1):
        z1 = x01 + i * h1
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        w2 = w02
        r2 = r02
        for j in range(n2):
            db = derivs(l21 * z1 + l22 * (x02 + j * h2))
            s0 += w2 * db[ORD]
            s1 += w2 * db[ORD + 1]
            s2 += w2 * db[ORD + 2]
            w2 *= r2
            r2 *= q2
        da = derivs(l11 * z1)
        v += w1 * da[ORD] * s0
        d11 += w1 * da[ORD + 2] * s0
        d12 += w1 * da[ORD + 1] * s1
        d22 += w1 * da[ORD] * s2
        w1 *= r1
        r1 *= q1
    return v, 0.5 * d11, d12, 0.5 * d22


def I3_gradient_template(C11, C12, C13, C22, C23, C33, x1, x2, x3):
    """<g'(a) b g(c)> and its derivatives (Price; f_b(b) = b has f_b' = 1, f_b'' = 0), with b
    replaced by its conditional mean given (a, c) as in the I3 quadrature."""
    l11, l21, l22, m1, m2, _m3 = chol3(C11, C13, C12, C33, C23, C22)
    n1, x01, h1, w01, r01, q1 = trapezoid_rule(NQ, max(l11, abs(l21)), POLE)
    n2, x02, h2, w02, r02, q2 = trapezoid_rule(NQ, l22, POLE)
    v = 0.0
    d11 = 0.0
    d12 = 0.0
    d13 = 0.0
    d23 = 0.0
    d33 = 0.0
    w1 = w01
    r1 = r01
    for i in range(n1):
        z1 = x01 + i * h1
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        b0 = 0.0
        b1 = 0.0
        w2 = w02
        r2 = r02
        for j in range(n2):
            z2 = x02 + j * h2
            dc = derivs(l21 * z1 + l22 * z2)
            bm = w2 * (m1 * z1 + m2 * z2)
            a0 += bm * dc[0]
            a1 += bm * dc[1]
            a2 += bm * dc[2]
            b0 += w2 * dc[0]
            b1 += w2 * dc[1]
            w2 *= r2
            r2 *= q2
        da = derivs(l11 * z1)
        v += w1 * da[1] * a0
        d11 += w1 * da[3] * a0
        d12 += w1 * da[2] * b0
        d13 += w1 * da[2] * a1
        d23 += w1 * da[1] * b1
        d33 += w1 * da[1] * a2
        w1 *= r1
        r1 *= q1
    return v, 0.5 * d11, d12, d13, 0.0, d23, 0.5 * d33


def I4_gradient_template(C11, C12, C13, C14, C22, C23, C24, C33, C34, C44, x1, x2, x3, x4):
    """<g'(a) g'(b) g(c) g(d)> and its ten derivatives (Price) in one pass of the 4-D rule."""
    l11, l21, l22, l31, l32, l33, l41, l42, l43, l44 = chol4(
        C11, C12, C13, C14, C22, C23, C24, C33, C34, C44)
    amp1 = max(max(l11, abs(l21)), max(abs(l31), abs(l41)))
    amp2 = max(l22, max(abs(l32), abs(l42)))
    amp3 = max(l33, abs(l43))
    n1, x01, h1, w01, r01, q1 = trapezoid_rule(NQ, amp1, POLE)
    n2, x02, h2, w02, r02, q2 = trapezoid_rule(NQ, amp2, POLE)
    n3, x03, h3, w03, r03, q3 = trapezoid_rule(NQ, amp3, POLE)
    n4, x04, h4, w04, r04, q4 = trapezoid_rule(NQ, l44, POLE)
    wmax = 1.0
    for n, h in ((n1, h1), (n2, h2), (n3, h3), (n4, h4)):
        if n > 1:
            wmax *= min(1.0, h / math.sqrt(2.0 * math.pi))
    cut = PRUNE * wmax
    v = d11 = d12 = d13 = d14 = d22 = d23 = d24 = d33 = d34 = d44 = 0.0
    w1 = w01
    r1 = r01
    for i in range(n1):
        z1 = x01 + i * h1
        # sums over (b, c, d) of products with derivative orders (e2, e3, e4)
        t000 = t200 = t110 = t101 = t020 = t011 = t002 = t100 = t010 = t001 = 0.0
        w2 = w02
        r2 = r02
        for j in range(n2):
            z2 = x02 + j * h2
            w12 = w1 * w2
            if w12 >= cut:
                s00 = s10 = s01 = s11 = s20 = s02 = 0.0
                w3 = w03
                r3 = r03
                for k in range(n3):
                    w123 = w12 * w3
                    if w123 >= cut:
                        z3 = x03 + k * h3
                        base = l41 * z1 + l42 * z2 + l43 * z3
                        e0 = 0.0
                        e1 = 0.0
                        e2 = 0.0
                        w4 = w04
                        r4 = r04
                        for m in range(n4):
                            if w123 * w4 >= cut:
                                dd = derivs(base + l44 * (x04 + m * h4))
                                e0 += w4 * dd[0]
                                e1 += w4 * dd[1]
                                e2 += w4 * dd[2]
                            w4 *= r4
                            r4 *= q4
                        dc = derivs(l31 * z1 + l32 * z2 + l33 * z3)
                        s00 += w3 * dc[0] * e0
                        s10 += w3 * dc[1] * e0
                        s01 += w3 * dc[0] * e1
                        s11 += w3 * dc[1] * e1
                        s20 += w3 * dc[2] * e0
                        s02 += w3 * dc[0] * e2
                    w3 *= r3
                    r3 *= q3
                db = derivs(l21 * z1 + l22 * z2)
                b1 = w2 * db[1]
                b2 = w2 * db[2]
                t000 += b1 * s00
                t200 += w2 * db[3] * s00
                t110 += b2 * s10
                t101 += b2 * s01
                t020 += b1 * s20
                t011 += b1 * s11
                t002 += b1 * s02
                t100 += b2 * s00
                t010 += b1 * s10
                t001 += b1 * s01
            w2 *= r2
            r2 *= q2
        da = derivs(l11 * z1)
        a1 = w1 * da[1]
        a2 = w1 * da[2]
        v += a1 * t000
        d11 += w1 * da[3] * t000
        d12 += a2 * t100
        d13 += a2 * t010
        d14 += a2 * t001
        d22 += a1 * t200
        d23 += a1 * t110
        d24 += a1 * t101
        d33 += a1 * t020
        d34 += a1 * t011
        d44 += a1 * t002
        w1 *= r1
        r1 *= q1
    return (v, 0.5 * d11, d12, d13, d14, 0.5 * d22, d23, d24, 0.5 * d33, d34, 0.5 * d44)


def activation_derivatives(activation) -> Callable[[float], tuple]:
    """Compiled ``derivs(x) -> (g, g', g'', g''')`` of a quadrature activation: the derived
    one (``sympy.diff``) for a named activation that has it, central differences of the
    user's ``g'`` otherwise."""
    from ..activations import activation_functions
    from ._generated import activation_derivatives as generated

    if isinstance(activation, str) and hasattr(generated, f"derivs_{activation}"):
        return getattr(generated, f"derivs_{activation}")
    gf, dgf = activation_functions(activation)
    tag = "fd_" + source_tag(gf, dgf, sys.modules[__name__])
    return specialise(derivs_difference_template, tag, g=gf, dg=dgf)


_TEMPLATES = {"gI2": (pair_gradient_template, 0), "gJ2": (pair_gradient_template, 1),
              "gI3": (I3_gradient_template, None), "gI4": (I4_gradient_template, None)}


def quadrature_gradient_kernels(activation: str | Activation, n_nodes: int = 32,
                                n_nodes_i4: int | None = None,
                                pole_distance: float = 0.5 * math.pi) -> dict[str, Callable]:
    """Compiled gradient kernels ``{"gI2", "gJ2", "gI3", "gI4"}`` of a quadrature activation.

    Parameters
    ----------
    activation : str or odesolve.activations.Activation
        Any activation without closed-form kernels (e.g. ``"tanh"``).
    n_nodes, n_nodes_i4, pole_distance
        As :func:`odesolve.kernels.quadrature.quadrature_kernels` (same defaults).

    Returns
    -------
    dict
        Gradient kernels with the calling convention of the module docstring.
    """
    n4 = min(n_nodes, 16) if n_nodes_i4 is None else n_nodes_i4
    d = activation_derivatives(activation)
    out = {}
    for name, (template, order) in _TEMPLATES.items():
        n = n4 if name == "gI4" else n_nodes
        tag = f"{name}_n{n}_" + source_tag(d, sys.modules[__name__], _q,
                                           repr(float(pole_distance)))
        extra = {} if order is None else {"ORD": order}
        out[name] = specialise(template, tag, derivs=d, NQ=int(n), POLE=float(pole_distance),
                               **extra)
    return out
