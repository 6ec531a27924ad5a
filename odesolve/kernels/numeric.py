r"""Kernels without a closed form, as compiled Numba functions.

``relu_I4``: :math:`I_4 = \langle \theta(a)\,\theta(b)\, c^+ d^+ \rangle` for ReLU units
-------------------------------------------------------------------------------------------
(``g(x) = max(0, x)``, ``g' = theta`` the Heaviside step.) No closed form is known; it is
reduced here *exactly* to a one-dimensional integral with a closed-form integrand, which a
graded Gauss-Legendre rule evaluates to ~1e-10 relative accuracy in ~2 microseconds.

**Scaling.** theta is scale invariant and ReLU positively homogeneous, so
``I4(C) = sqrt(C33 C44) I4(r)`` with ``r`` the correlation matrix (``r_ab = C12/sqrt(C11 C22)``
etc.). A field with zero variance is 0: ``I4 = 0`` if ``C33 C44 = 0``; for ``C11 = 0`` (or
``C22``) its correlations are set to zero, which is the convention ``theta(0) = 1/2``.

**Path in covariance space.** Let ``R(t) = (1 - t) I + t r``, ``0 <= t <= 1``: positive definite
for ``t < 1`` even when ``r`` is singular (coincident fields), and ``I4(R(0)) = 1/(8 pi)``
(independent fields: ``<theta> = 1/2``, ``<x^+> = 1/sqrt(2 pi)``). Along the path

.. math:: \frac{d I_4}{dt} = \sum_{i<j} r_{ij} \frac{\partial I_4}{\partial R_{ij}},

and each derivative follows from **Price's theorem** (Price 1958),
``d<prod_k f_k(x_k)>/dR_ij = <f_i' f_j' prod_{k != i,j} f_k>``, with ``theta' = delta``:

* ``(a, b)``: ``<delta(a) delta(b) c+ d+> = p_ab(0, 0) <c+ d+ | a = b = 0>``, the ReLU ``I2`` of
  the conditional covariance of ``(c, d)``;
* ``(a, c)`` (and ``(a, d), (b, c), (b, d)``): ``<delta(a) theta(b) theta(c) d+> =
  p_a(0) <theta(b) theta(c) d+ | a = 0>``; **Stein's lemma** (Stein 1981) on the bare ``d`` of
  ``d+ = d theta(d)`` turns the conditional average into three terms
  ``S_dx <delta(x) ...>``, each a density at zero times a **bivariate orthant probability**
  ``P(k > 0, l > 0 | i = j = 0) = 1/4 + asin(rho_{kl|ij}) / (2 pi)`` (Sheppard 1899);
* ``(c, d)``: ``<theta(a) theta(b) theta(c) theta(d)> = P4(R(t))``, the quadrivariate orthant
  probability, itself ``1/16 + int_0^t G(s) ds`` with ``G = sum_ij r_ij p_ij(0,0) P(k,l > 0 |
  i = j = 0)`` (Price again). Exchanging the order of integration,
  ``int_0^1 P4(R(t)) dt = 1/16 + int_0^1 (1 - s) G(s) ds``.

Altogether, with ``P_ij = p_ij(0, 0) (1/4 + asin(rho_{kl|ij})/(2 pi))``, ``p_ij(0, 0) =
1/(2 pi sqrt(1 - R_ij^2))``, ``Sa_xy = R_xy - R_xa R_ay`` (covariance given ``a = 0``):

.. math::
   I_4(r) = \frac{1}{8\pi} + \frac{r_{cd}}{16} + \int_0^1 H(t)\, dt,\qquad
   H = r_{ab}\, p_{ab} \langle c^+ d^+ | a{=}b{=}0\rangle
       + r_{ac} D_{ac} + r_{ad} D_{ad} + r_{bc} D_{bc} + r_{bd} D_{bd} + r_{cd} (1 - t) G,

``D_ac = Sa_db P_ab + Sa_dc P_ac + Sa_dd P_ad`` and likewise (see ``_integrand``).

**Quadrature.** ``H`` is smooth on ``[0, 1)``; its singularities sit at ``t = 1/(1 - lambda)``
for the eigenvalues ``lambda`` of principal sub-matrices of ``r`` (all ``>= 1`` or ``< 0``), so
a coincident pair (``lambda = 0``) gives ``1/sqrt(1 - t)`` at ``t = 1``. The substitution
``t = 1 - v^2`` makes the integrand analytic in ``v`` for exactly singular ``r``; a nearly
singular ``r`` (smallest relevant ``lambda = delta``) leaves branch points at
``v = +- i sqrt(delta)``, which Gauss-Legendre rules on intervals graded geometrically towards
``v = 0`` (ratio ``SIGMA``) resolve. The number of graded levels follows from the smallest
non-zero 2x2, 3x3 or 4x4 principal minor of ``r``; generic covariances (all minors above
``SINGLE_INTERVAL``) use a single 16-node interval.

**No cancellation near t = 1.** Every determinant of ``R(t) = u I + t r`` (``u = 1 - t = v^2``)
is evaluated as ``sum_k u^(n-k) t^k E_k(r)``, ``E_k`` the sums of principal ``k x k`` minors of
``r`` (non-negative), and the off-diagonal conditional covariances likewise as polynomials in
``(u, t)`` with coefficients computed once per call. The minors are clipped to bounds that hold
exactly for a PSD matrix (Fischer's inequality, Cauchy-Schwarz), and ``1 - r^2 < DEGENERATE``
is snapped to 0 (coincident fields), so rounding cannot make a singular ``r`` look inconsistent.

Validity: any positive semi-definite ``C`` with ``C11, C22 > 0`` (coincident, anti-coincident
or linearly dependent fields included). Accuracy: ~1e-10 relative on generic covariances,
<= 1e-12 of ``sqrt(C33 C44)`` on (nearly) coincident ones; cost 1.5-2 microseconds (generic
or coincident), up to ~10 for nearly coincident fields. Fields within ~1e-14 of coincidence
get the coincident limit (the kernel itself changes by ``O(sqrt(1e-14))`` there).
"""
from __future__ import annotations

import math
from collections import namedtuple

import numba
from numpy.polynomial.legendre import leggauss

__all__ = ["relu_I4"]

_N_GL = 16
_x, _w = leggauss(_N_GL)
#: Gauss-Legendre nodes and weights on [0, 1] (frozen constants in the compiled code)
GL_X = 0.5 * (_x + 1.0)
GL_W = 0.5 * _w
del _x, _w
#: ratio of the geometric grading towards v = 0
SIGMA = 0.15
#: most graded levels (the innermost interval is then [0, SIGMA**MAX_LEVELS] ~ [0, 6e-9])
MAX_LEVELS = 10
#: principal minors below this count as exactly singular (coincident fields); correlations
#: within DEGENERATE / 2 of +-1 are snapped to +-1
DEGENERATE = 1e-14
#: smallest non-zero principal minor above which one 16-node interval suffices
SINGLE_INTERVAL = 0.25
_INV2PI = 1.0 / (2.0 * math.pi)


_Path = namedtuple("_Path", [
    # correlations (target of the path)
    "ab", "ac", "ad", "bc", "bd", "cd",
    # 1 - r^2 of each pair and 3x3 minors of each triple (t = 1 values)
    "m_ab", "m_ac", "m_ad", "m_bc", "m_bd", "m_cd",
    "D_abc", "D_abd", "D_acd", "D_bcd", "S_abc", "S_abd", "S_acd", "S_bcd", "E2", "E3", "D4",
    # off-diagonal numerators, pair (i, j) -> complementary (k, l): t^3 K + t^2 u W + t u^2 r_kl
    "K_ab", "W_ab", "K_ac", "W_ac", "K_ad", "W_ad", "K_bc", "W_bc", "K_bd", "W_bd",
    "K_cd", "W_cd",
    # covariances given a = 0 or b = 0: t c + t u p
    "c_a_bd", "p_a_bd", "c_a_cd", "p_a_cd", "c_a_bc", "p_a_bc",
    "c_b_ad", "p_b_ad", "c_b_cd", "p_b_cd", "c_b_ac", "p_b_ac"])


@numba.njit(cache=True)
def _clip1(x):
    if x > 1.0:
        return 1.0
    if x < -1.0:
        return -1.0
    return x


@numba.njit(cache=True)
def _one_minus_sq(r):
    """1 - r^2 for |r| <= 1, without cancellation near |r| = 1 (0 within DEGENERATE)."""
    ar = abs(r)
    m = (1.0 - ar) * (1.0 + ar)
    return m if m > DEGENERATE else 0.0


@numba.njit(cache=True)
def _minor3(x, y, z):
    """Determinant of [[1, x, y], [x, 1, z], [y, z, 1]], clamped at 0 (r is PSD)."""
    return max(0.0, 1.0 - x * x - y * y - z * z + 2.0 * x * y * z)


@numba.njit(cache=True)
def _clamp(x, bound):
    """x clipped to [-bound, bound]."""
    return max(-bound, min(bound, x))


@numba.njit(cache=True)
def _cofactor(rij, rik, ril, rjk, rjl, rkl, mij, D_ijk, D_ijl):
    """(K, W) of the conditional covariance numerator of (k, l) given (i, j).

    K (the t = 1 value) is clipped to the Cauchy-Schwarz bound sqrt(D_ijk D_ijl).
    """
    X = rik * ril + rjk * rjl
    K = mij * rkl - X + rij * (rik * rjl + rjk * ril)
    return _clamp(K, math.sqrt(D_ijk * D_ijl)), 2.0 * rkl - X


@numba.njit(cache=True)
def _path_constants(ab, ac, ad, bc, bd, cd):
    """Everything the integrand needs that does not depend on t (computed once per call).

    Rounding can make the minors of a singular r slightly inconsistent (e.g. det r = 1e-16
    while r_ab = 1 exactly), which the singular weights near t = 1 would amplify. They are
    therefore clipped to the bounds that hold exactly for a PSD matrix: Fischer's inequality
    (a minor is at most the product of complementary principal minors) and Cauchy-Schwarz for
    the off-diagonal conditional covariances.
    """
    m_ab, m_ac, m_ad = _one_minus_sq(ab), _one_minus_sq(ac), _one_minus_sq(ad)
    m_bc, m_bd, m_cd = _one_minus_sq(bc), _one_minus_sq(bd), _one_minus_sq(cd)
    D_abc = min(_minor3(ab, ac, bc), m_ab, m_ac, m_bc)
    D_abd = min(_minor3(ab, ad, bd), m_ab, m_ad, m_bd)
    D_acd = min(_minor3(ac, ad, cd), m_ac, m_ad, m_cd)
    D_bcd = min(_minor3(bc, bd, cd), m_bc, m_bd, m_cd)
    D4 = (1.0 - ab * ab - ac * ac - ad * ad - bc * bc - bd * bd - cd * cd
          + 2.0 * (ab * ac * bc + ab * ad * bd + ac * ad * cd + bc * bd * cd)
          + ab * ab * cd * cd + ac * ac * bd * bd + ad * ad * bc * bc
          - 2.0 * (ab * ac * bd * cd + ab * ad * bc * cd + ac * ad * bc * bd))
    D4 = max(0.0, min(D4, m_ab * m_cd, m_ac * m_bd, m_ad * m_bc,
                      min(D_abc, D_abd), min(D_acd, D_bcd)))
    K_ab, W_ab = _cofactor(ab, ac, ad, bc, bd, cd, m_ab, D_abc, D_abd)
    K_ac, W_ac = _cofactor(ac, ab, ad, bc, cd, bd, m_ac, D_abc, D_acd)
    K_ad, W_ad = _cofactor(ad, ab, ac, bd, cd, bc, m_ad, D_abd, D_acd)
    K_bc, W_bc = _cofactor(bc, ab, bd, ac, cd, ad, m_bc, D_abc, D_bcd)
    K_bd, W_bd = _cofactor(bd, ab, bc, ad, cd, ac, m_bd, D_abd, D_bcd)
    K_cd, W_cd = _cofactor(cd, ac, bc, ad, bd, ab, m_cd, D_acd, D_bcd)
    return _Path(ab, ac, ad, bc, bd, cd, m_ab, m_ac, m_ad, m_bc, m_bd, m_cd,
                 D_abc, D_abd, D_acd, D_bcd,
                 m_ab + m_ac + m_bc, m_ab + m_ad + m_bd, m_ac + m_ad + m_cd, m_bc + m_bd + m_cd,
                 m_ab + m_ac + m_ad + m_bc + m_bd + m_cd, D_abc + D_abd + D_acd + D_bcd, D4,
                 K_ab, W_ab, K_ac, W_ac, K_ad, W_ad, K_bc, W_bc, K_bd, W_bd, K_cd, W_cd,
                 _clamp(bd - ab * ad, math.sqrt(m_ab * m_ad)), ab * ad,
                 _clamp(cd - ac * ad, math.sqrt(m_ac * m_ad)), ac * ad,
                 _clamp(bc - ab * ac, math.sqrt(m_ab * m_ac)), ab * ac,
                 _clamp(ad - ab * bd, math.sqrt(m_ab * m_bd)), ab * bd,
                 _clamp(cd - bc * bd, math.sqrt(m_bc * m_bd)), bc * bd,
                 _clamp(ac - ab * bc, math.sqrt(m_ab * m_bc)), ab * bc)


@numba.njit(cache=True)
def _rho(t, u, K, W, rkl, nkk, nll):
    """Conditional correlation of (k, l) given a pair, from its numerators."""
    nkl = t * (t * (t * K + u * W) + u * u * rkl)
    den = nkk * nll
    return _clip1(nkl / math.sqrt(den)) if den > 0.0 else 0.0, nkl


@numba.njit(cache=True)
def _integrand(v, p):
    """2 v H(1 - v^2): the integrand in v (module docstring), u = 1 - t = v^2.

    Every determinant of R(t) = u I + t r is evaluated as the polynomial
    det(u I + t r) = sum_k u^(n-k) t^k E_k(r) (E_k: sums of principal k x k minors of r, all
    non-negative), so no cancellation occurs near t = 1 for singular r.
    """
    u = v * v
    t = 1.0 - u
    u2 = u * u
    tt = t * t
    # 1 - R_ij^2 = det of the 2x2 block
    base2 = u2 + 2.0 * u * t
    d_ab, d_ac, d_ad = base2 + tt * p.m_ab, base2 + tt * p.m_ac, base2 + tt * p.m_ad
    d_bc, d_bd, d_cd = base2 + tt * p.m_bc, base2 + tt * p.m_bd, base2 + tt * p.m_cd
    # 3x3 principal minors of R(t)
    base3 = u2 * u + 3.0 * u2 * t
    n_abc = base3 + u * tt * p.S_abc + tt * t * p.D_abc
    n_abd = base3 + u * tt * p.S_abd + tt * t * p.D_abd
    n_acd = base3 + u * tt * p.S_acd + tt * t * p.D_acd
    n_bcd = base3 + u * tt * p.S_bcd + tt * t * p.D_bcd
    det4 = u2 * u2 + 4.0 * u2 * u * t + u2 * tt * p.E2 + u * tt * t * p.E3 + tt * tt * p.D4
    det4 = min(det4, d_ab * d_cd)         # Fischer's inequality, exact for PSD R(t)
    # conditional correlations of the complementary pair given each pair
    rho_ab, n_cd_ab = _rho(t, u, p.K_ab, p.W_ab, p.cd, n_abc, n_abd)
    rho_ac = _rho(t, u, p.K_ac, p.W_ac, p.bd, n_abc, n_acd)[0]
    rho_ad = _rho(t, u, p.K_ad, p.W_ad, p.bc, n_abd, n_acd)[0]
    rho_bc = _rho(t, u, p.K_bc, p.W_bc, p.ad, n_abc, n_bcd)[0]
    rho_bd = _rho(t, u, p.K_bd, p.W_bd, p.ac, n_abd, n_bcd)[0]
    rho_cd = _rho(t, u, p.K_cd, p.W_cd, p.ab, n_acd, n_bcd)[0]
    # P_ij = p_ij(0, 0) P(k > 0, l > 0 | i = j = 0), p_ij(0, 0) = 1 / (2 pi sqrt(d_ij))
    asin_ab = math.asin(rho_ab)
    pab = _INV2PI / math.sqrt(d_ab)
    Pab = pab * (0.25 + asin_ab * _INV2PI)
    Pac = _INV2PI / math.sqrt(d_ac) * (0.25 + math.asin(rho_ac) * _INV2PI)
    Pad = _INV2PI / math.sqrt(d_ad) * (0.25 + math.asin(rho_ad) * _INV2PI)
    Pbc = _INV2PI / math.sqrt(d_bc) * (0.25 + math.asin(rho_bc) * _INV2PI)
    Pbd = _INV2PI / math.sqrt(d_bd) * (0.25 + math.asin(rho_bd) * _INV2PI)
    Pcd = _INV2PI / math.sqrt(d_cd) * (0.25 + math.asin(rho_cd) * _INV2PI)
    # <c+ d+ | a = b = 0>: ReLU I2 of the conditional covariance N / d_ab, det N = d_ab det4
    i2 = (math.sqrt(d_ab * det4) + n_cd_ab * (0.5 * math.pi + asin_ab)) * _INV2PI / d_ab
    # covariances given a = 0 (Sa) and b = 0 (Sb): t c + t u p
    tu = t * u
    Sa_db = t * p.c_a_bd + tu * p.p_a_bd
    Sa_dc = t * p.c_a_cd + tu * p.p_a_cd
    Sa_cb = t * p.c_a_bc + tu * p.p_a_bc
    Sb_da = t * p.c_b_ad + tu * p.p_b_ad
    Sb_dc = t * p.c_b_cd + tu * p.p_b_cd
    Sb_ca = t * p.c_b_ac + tu * p.p_b_ac
    # Price derivatives dI4/dR_ij, after Stein's lemma on the remaining ReLU field
    D_ac = Sa_db * Pab + Sa_dc * Pac + d_ad * Pad
    D_ad = Sa_cb * Pab + d_ac * Pac + Sa_dc * Pad
    D_bc = Sb_da * Pab + Sb_dc * Pbc + d_bd * Pbd
    D_bd = Sb_ca * Pab + d_bc * Pbc + Sb_dc * Pbd
    G = p.ab * Pab + p.ac * Pac + p.ad * Pad + p.bc * Pbc + p.bd * Pbd + p.cd * Pcd
    H = (p.ab * pab * i2 + p.ac * D_ac + p.ad * D_ad + p.bc * D_bc + p.bd * D_bd
         + p.cd * u * G)
    return 2.0 * v * H


@numba.njit(cache=True)
def _corr(Cij, si, sj):
    den = si * sj
    return _clip1(Cij / den) if den > 0.0 else 0.0


@numba.njit(cache=True)
def _graded_levels(p):
    """Number of graded levels from the smallest non-zero principal minor of r."""
    dmin = 1.0
    for q in (p.m_ab, p.m_ac, p.m_ad, p.m_bc, p.m_bd, p.m_cd,
              p.D_abc, p.D_abd, p.D_acd, p.D_bcd, p.D4):
        if DEGENERATE < q < dmin:
            dmin = q
    if dmin >= SINGLE_INTERVAL:
        return 0
    vfloor = 0.05 * math.sqrt(dmin)
    return min(MAX_LEVELS, int(math.ceil(math.log(vfloor) / math.log(SIGMA))))


@numba.njit(cache=True)
def _relu_I4(C11, C12, C13, C14, C22, C23, C24, C33, C34, C44, levels):
    """relu_I4 with a given number of graded levels (-1: automatic)."""
    sc = math.sqrt(max(C33, 0.0))
    sd = math.sqrt(max(C44, 0.0))
    if sc == 0.0 or sd == 0.0:
        return 0.0
    sa = math.sqrt(max(C11, 0.0))
    sb = math.sqrt(max(C22, 0.0))
    p = _path_constants(_corr(C12, sa, sb), _corr(C13, sa, sc), _corr(C14, sa, sd),
                        _corr(C23, sb, sc), _corr(C24, sb, sd), _corr(C34, sc, sd))
    n_levels = _graded_levels(p) if levels < 0 else levels
    tot = 0.0
    hi = 1.0
    for lev in range(n_levels + 1):
        lo = hi * SIGMA if lev < n_levels else 0.0
        width = hi - lo
        part = 0.0
        for m in range(_N_GL):
            part += GL_W[m] * _integrand(lo + width * GL_X[m], p)
        tot += width * part
        hi = lo
    return sc * sd * (1.0 / (8.0 * math.pi) + p.cd / 16.0 + tot)


@numba.njit(cache=True)
def relu_I4(C11, C12, C13, C14, C22, C23, C24, C33, C34, C44):
    """ReLU kernel ``I4(a,b,c,d) = <theta(a) theta(b) max(0,c) max(0,d)>``.

    Parameters
    ----------
    C11, C12, C13, C14, C22, C23, C24, C33, C34, C44 : float
        Upper triangle (row-major) of the 4x4 covariance of the fields ``(a, b, c, d)``;
        positive semi-definite with ``C11, C22 > 0`` (coincident fields allowed).

    Returns
    -------
    float
        The average, to ~1e-10 relative accuracy (measured against independent quadrature in
        tests/test_kernels.py), in ~2 microseconds.

    Notes
    -----
    Exact reduction to a 1-D integral along the path ``R(t) = (1 - t) I + t r`` in correlation
    space by Price's theorem (Price 1958), Stein's lemma (Stein 1981) and the bivariate orthant
    probability (Sheppard 1899); graded Gauss-Legendre quadrature in ``v = sqrt(1 - t)``. See
    the module docstring.
    """
    return _relu_I4(C11, C12, C13, C14, C22, C23, C24, C33, C34, C44, -1)

