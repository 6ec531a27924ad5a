"""Gaussian kernels of any activation by tensor-product quadrature (the slower, general path).

For activations without closed-form kernels (tanh, user-supplied functions) the four averages of
ARCHITECTURE.md,

    I2(a,b) = <g(a) g(b)>,  J2(a,b) = <g'(a) g'(b)>,  I3(a,b,c) = <g'(a) b g(c)>,
    I4(a,b,c,d) = <g'(a) g'(b) g(c) g(d)>,

are computed by writing the fields as ``x = L z`` with ``z ~ N(0, I)`` and ``L`` the lower
Cholesky factor of the small covariance ``C``, and applying a 1-D rule for the standard normal
weight in each ``z_k`` (a tensor-product rule). The loops are nested in the order of the
Cholesky factor, so each function is evaluated in the outermost loop it depends on (``g'(a)``
once per ``z_1`` node, ..., ``g(d)`` once per ``(z_1, .., z_4)`` node).

Structure used to reduce the cost
---------------------------------
* ``I3``: ``b`` enters linearly, so it is replaced by its conditional mean given ``(a, c)``
  (Gaussian conditioning, read off the Cholesky factor in the order ``(a, c, b)``): a 2-D rule
  instead of a 3-D one.
* Semi-definite covariances: the Cholesky factorisation is the semi-definite one (a pivot below
  ``PIVOT_RTOL * C_kk`` is set to zero together with the rest of its column; no jitter). A zero
  pivot means the field is a combination of the previous ones, and its dimension is integrated
  with the single node ``z_k = 0``: coincident fields (``I2(i, i)``, ``I4(i, k, a, b)`` with
  ``a = i``, ...) are exact and *cheaper* than generic ones.
* Products of weights below ``PRUNE`` (relative to the largest product) are skipped in I4.

The 1-D rule
------------
Gauss-Hermite converges only like ``exp(-tau sqrt(2 n))`` for an activation that is analytic
in a strip of half-width ``tau`` around the real axis (tanh has poles at ``+- i pi/2``): for
tanh with unit variance the 16-node GH rule gives ~1e-3 relative accuracy on the kernels, 32
nodes ~1e-5 (measured; see the tests and the notes in the report). The truncated trapezoidal
(sinc) rule converges like ``exp(-2 pi tau / h)`` instead, so it is used here, with nodes
``z_m = -Z + m h`` (``h = 2 Z / (n - 1)``) and weights proportional to ``exp(-z_m^2 / 2)``
(normalised to sum to one). The truncation is chosen per dimension from the largest coefficient
``amp_k = max_j |L_jk|`` of ``z_k`` in the fields: with ``tau_k = pole_distance / amp_k`` the
aliasing error ``exp(-pi tau_k (n - 1) / Z)`` and the truncation error ``exp(-Z^2 / 2)`` are
balanced by ``Z^3 = 2 pi tau_k (n - 1)`` (times ``TRAPEZOID_C``, tuned on tanh), capped at
``Z_MAX``. The nodes and weights are generated inside the loops by a two-multiplication
recursion (``w_{m+1} = w_m r_m``, ``r_{m+1} = r_m exp(-h^2)``), so nothing is allocated.

Every kernel is a plain-Python *template* calling the global names ``g`` and ``dg`` (and the
constants ``NQ``: nodes per dimension, ``POLE``: pole distance); :func:`quadrature_kernels`
compiles one copy per activation with :func:`odesolve._jit.specialise`, which caches on disk.
"""
from __future__ import annotations

import math
import sys

import numba

from .._jit import source_tag, specialise

__all__ = ["quadrature_kernels", "chol2", "chol3", "chol4"]

#: relative pivot below which a field is treated as a combination of the previous ones
PIVOT_RTOL = 1e-13
#: tensor-product terms of I4 whose weight is below PRUNE times the largest one are skipped
PRUNE = 1e-13
#: truncation of the trapezoidal rule: Z = TRAPEZOID_C (2 pi tau (n - 1))^(1/3)
TRAPEZOID_C = 0.8
#: largest truncation (the standard normal tail beyond it is below 1e-16)
Z_MAX = 8.5
#: smallest allowed ratio Z / (n - 1) keeps the step h below 0.9 (aliasing of the Gaussian)
H_MAX = 0.9

# defaults of the names bound by quadrature_kernels, so that the templates run as plain Python
NQ = 24
POLE = 0.5 * math.pi


def g(x):  # placeholder, rebound by specialise
    """The activation; a template global rebound by :func:`quadrature_kernels`."""
    raise NotImplementedError("template global: bind `g` with odesolve._jit.specialise")


def dg(x):  # placeholder, rebound by specialise
    """The activation's derivative; a template global rebound by :func:`quadrature_kernels`."""
    raise NotImplementedError("template global: bind `dg` with odesolve._jit.specialise")


# --------------------------------------------------------------------------------------------
# semi-definite Cholesky factors (returned as tuples: no allocation)
# --------------------------------------------------------------------------------------------
@numba.njit(cache=True)
def _pivot(p, ckk):
    """sqrt of a Cholesky pivot, or 0 when it is zero relative to the variance ``ckk``."""
    if p <= PIVOT_RTOL * ckk or p <= 0.0:
        return 0.0
    return math.sqrt(p)


@numba.njit(cache=True)
def _div(num, den):
    return num / den if den > 0.0 else 0.0


@numba.njit(cache=True)
def chol2(C11, C12, C22):
    """Semi-definite Cholesky factor ``(l11, l21, l22)`` of ``[[C11, C12], [C12, C22]]``."""
    l11 = _pivot(C11, C11)
    l21 = _div(C12, l11)
    l22 = _pivot(C22 - l21 * l21, C22)
    return l11, l21, l22


@numba.njit(cache=True)
def chol3(C11, C12, C13, C22, C23, C33):
    """Semi-definite Cholesky factor ``(l11, l21, l22, l31, l32, l33)`` of a 3x3 covariance."""
    l11, l21, l22 = chol2(C11, C12, C22)
    l31 = _div(C13, l11)
    l32 = _div(C23 - l31 * l21, l22)
    l33 = _pivot(C33 - l31 * l31 - l32 * l32, C33)
    return l11, l21, l22, l31, l32, l33


@numba.njit(cache=True)
def chol4(C11, C12, C13, C14, C22, C23, C24, C33, C34, C44):
    """Semi-definite Cholesky factor ``(l11, l21, l22, l31, .., l44)`` of a 4x4 covariance."""
    l11, l21, l22, l31, l32, l33 = chol3(C11, C12, C13, C22, C23, C33)
    l41 = _div(C14, l11)
    l42 = _div(C24 - l41 * l21, l22)
    l43 = _div(C34 - l41 * l31 - l42 * l32, l33)
    l44 = _pivot(C44 - l41 * l41 - l42 * l42 - l43 * l43, C44)
    return l11, l21, l22, l31, l32, l33, l41, l42, l43, l44


# --------------------------------------------------------------------------------------------
# the 1-D trapezoidal rule for N(0, 1), generated by recursion
# --------------------------------------------------------------------------------------------
@numba.njit(cache=True)
def trapezoid_rule(n, amp, pole):
    """Parameters of the n-node trapezoidal rule for the standard normal weight.

    Parameters
    ----------
    n : int
        Number of nodes (used when ``amp > 0``).
    amp : float
        Largest coefficient of this ``z_k`` in the fields; 0 for a zero Cholesky pivot, which
        gives the one-node rule ``z = 0``, weight 1.
    pole : float
        Half-width (in field units) of the strip around the real axis where ``g`` and ``dg``
        are analytic (pi/2 for tanh).

    Returns
    -------
    (m, x0, h, w0, r0, q) : tuple
        ``m`` nodes ``x0 + j h``; weight ``w_j``: ``w_0 = w0``, ``w_{j+1} = w_j r_j``,
        ``r_{j+1} = r_j q`` (the weights sum to one).
    """
    if amp <= 0.0 or n <= 1:
        return 1, 0.0, 0.0, 1.0, 1.0, 1.0
    tau = pole / amp
    z = TRAPEZOID_C * (2.0 * math.pi * tau * (n - 1)) ** (1.0 / 3.0)
    z = min(z, Z_MAX, 0.5 * H_MAX * (n - 1))
    h = 2.0 * z / (n - 1)
    q = math.exp(-h * h)
    r0 = math.exp(h * z - 0.5 * h * h)
    # normalisation: sum of exp(-x^2/2) over the nodes
    total = 0.0
    w = 1.0
    r = r0
    for _ in range(n):
        total += w
        w *= r
        r *= q
    return n, -z, h, 1.0 / total, r0, q


# --------------------------------------------------------------------------------------------
# templates: call the global names g, dg; constants NQ (nodes per dimension), POLE
# --------------------------------------------------------------------------------------------
def pair_template(C11, C12, C22):
    """<f(a) f(b)> for (a, b) ~ N(0, [[C11, C12], [C12, C22]]) by a 2-D trapezoidal rule;
    I2 binds ``f = g``, J2 binds ``f = dg``."""
    l11, l21, l22 = chol2(C11, C12, C22)
    n1, x01, h1, w01, r01, q1 = trapezoid_rule(NQ, max(l11, abs(l21)), POLE)
    n2, x02, h2, w02, r02, q2 = trapezoid_rule(NQ, l22, POLE)
    tot = 0.0
    w1 = w01
    r1 = r01
    for i in range(n1):
        x1 = x01 + i * h1
        inner = 0.0
        w2 = w02
        r2 = r02
        for j in range(n2):
            inner += w2 * f(l21 * x1 + l22 * (x02 + j * h2))  # noqa: F821 (bound)
            w2 *= r2
            r2 *= q2
        tot += w1 * f(l11 * x1) * inner  # noqa: F821
        w1 *= r1
        r1 *= q1
    return tot


def I3_template(C11, C12, C13, C22, C23, C33):
    """<g'(a) b g(c)>, with b replaced by its conditional mean given (a, c); a 2-D rule.

    In the field order (a, c, b): a = l11 z1, c = l21 z1 + l22 z2 and
    E[b | z1, z2] = m1 z1 + m2 z2, (m1, m2) the first two entries of b's Cholesky row.
    """
    # (a, b, c) -> (a, c, b): C_aa = C11, C_ac = C13, C_ab = C12, C_cc = C33, C_cb = C23
    l11, l21, l22, m1, m2, _m3 = chol3(C11, C13, C12, C33, C23, C22)
    n1, x01, h1, w01, r01, q1 = trapezoid_rule(NQ, max(l11, abs(l21)), POLE)
    n2, x02, h2, w02, r02, q2 = trapezoid_rule(NQ, l22, POLE)
    tot = 0.0
    w1 = w01
    r1 = r01
    for i in range(n1):
        x1 = x01 + i * h1
        inner = 0.0
        w2 = w02
        r2 = r02
        for j in range(n2):
            x2 = x02 + j * h2
            inner += w2 * (m1 * x1 + m2 * x2) * g(l21 * x1 + l22 * x2)
            w2 *= r2
            r2 *= q2
        tot += w1 * dg(l11 * x1) * inner
        w1 *= r1
        r1 *= q1
    return tot


def I4_template(C11, C12, C13, C14, C22, C23, C24, C33, C34, C44):
    """<g'(a) g'(b) g(c) g(d)> by a 4-D trapezoidal rule in the Cholesky coordinates."""
    l11, l21, l22, l31, l32, l33, l41, l42, l43, l44 = chol4(
        C11, C12, C13, C14, C22, C23, C24, C33, C34, C44)
    amp1 = max(max(l11, abs(l21)), max(abs(l31), abs(l41)))
    amp2 = max(l22, max(abs(l32), abs(l42)))
    amp3 = max(l33, abs(l43))
    n1, x01, h1, w01, r01, q1 = trapezoid_rule(NQ, amp1, POLE)
    n2, x02, h2, w02, r02, q2 = trapezoid_rule(NQ, amp2, POLE)
    n3, x03, h3, w03, r03, q3 = trapezoid_rule(NQ, amp3, POLE)
    n4, x04, h4, w04, r04, q4 = trapezoid_rule(NQ, l44, POLE)
    # largest weight of each rule is near its middle node (at most the normalised w(0))
    wmax = 1.0
    for n, h in ((n1, h1), (n2, h2), (n3, h3), (n4, h4)):
        if n > 1:
            wmax *= min(1.0, h / math.sqrt(2.0 * math.pi))
    cut = PRUNE * wmax
    tot = 0.0
    w1 = w01
    r1 = r01
    for i in range(n1):
        x1 = x01 + i * h1
        s2 = 0.0
        w2 = w02
        r2 = r02
        for j in range(n2):
            x2 = x02 + j * h2
            w12 = w1 * w2
            if w12 >= cut:
                s3 = 0.0
                w3 = w03
                r3 = r03
                for k in range(n3):
                    w123 = w12 * w3
                    if w123 >= cut:
                        x3 = x03 + k * h3
                        base = l41 * x1 + l42 * x2 + l43 * x3
                        s4 = 0.0
                        w4 = w04
                        r4 = r04
                        for m in range(n4):
                            if w123 * w4 >= cut:
                                s4 += w4 * g(base + l44 * (x04 + m * h4))
                            w4 *= r4
                            r4 *= q4
                        s3 += w3 * g(l31 * x1 + l32 * x2 + l33 * x3) * s4
                    w3 *= r3
                    r3 *= q3
                s2 += w2 * dg(l21 * x1 + l22 * x2) * s3
            w2 *= r2
            r2 *= q2
        tot += w1 * dg(l11 * x1) * s2
        w1 *= r1
        r1 *= q1
    return tot


#: kernel -> (template, the function bound as ``f`` in the pair template)
_TEMPLATES = {"I2": (pair_template, "g"), "J2": (pair_template, "dg"),
              "I3": (I3_template, None), "I4": (I4_template, None)}


def quadrature_kernels(g, dg, n_nodes: int = 32, n_nodes_i4: int | None = None,
                       pole_distance: float = 0.5 * math.pi) -> dict:
    """Compiled quadrature kernels I2, J2, I3, I4 of one activation.

    Parameters
    ----------
    g, dg : Numba-compilable functions of one float
        The activation and its derivative. Plain Python functions are wrapped with
        ``numba.njit``. They are bound as the globals ``g`` and ``dg`` of the templates.
    n_nodes : int
        Nodes per dimension of the 2-D rules of I2, J2 and I3 (cost ~ n^2 evaluations).
    n_nodes_i4 : int, optional
        Nodes per dimension of the 4-D rule of I4 (cost ~ n^4 evaluations of ``g``);
        default ``min(n_nodes, 16)``.
    pole_distance : float
        Half-width, in field units, of the strip around the real axis in which ``g`` and ``dg``
        are analytic (pi/2 for tanh; any value >= 3 for entire functions such as erf). It sets
        the truncation of the trapezoidal rule; activations with kinks (ReLU-like) converge
        only algebraically whatever its value.

    Returns
    -------
    dict
        ``{"I2": f, "J2": f, "I3": f, "I4": f}``: Numba functions of the upper triangle of the
        covariance in row-major order (ARCHITECTURE.md), e.g. ``I2(C11, C12, C22)``.

    Notes
    -----
    Measured for tanh against an independent eigen-basis quadrature (tests/test_kernels.py,
    variances 0.3 to 2.6): I2, J2, I3 with 32 nodes agree to 1e-8 .. 1e-6 relative (~10 us per
    call); I4 to ~5e-5 with 16 nodes (~0.7 ms per call) and ~2e-5 with 20 (~1.6 ms). The error
    grows with the variances (the poles come closer in the normalised coordinates); coincident
    fields are cheaper (one node in each degenerate dimension: ~50 us for I4 with 16 nodes).
    """
    n4 = min(n_nodes, 16) if n_nodes_i4 is None else n_nodes_i4
    for name, n in (("n_nodes", n_nodes), ("n_nodes_i4", n4)):
        if not (isinstance(n, int) and n >= 1):
            raise ValueError(f"`{name}` must be a positive integer, got {n!r}.")
    if not pole_distance > 0:
        raise ValueError("`pole_distance` must be positive.")
    g = g if hasattr(g, "py_func") else numba.njit(cache=True)(g)
    dg = dg if hasattr(dg, "py_func") else numba.njit(cache=True)(dg)
    out = {}
    funcs = {"g": g, "dg": dg}
    for name, (template, pair) in _TEMPLATES.items():
        n = n4 if name == "I4" else n_nodes
        tag = f"{name}_n{n}_" + source_tag(g, dg, sys.modules[__name__],
                                           repr(float(pole_distance)))
        extra = {"f": funcs[pair]} if pair else {}
        out[name] = specialise(template, tag, g=g, dg=dg, NQ=int(n), POLE=float(pole_distance),
                               **extra)
    return out
