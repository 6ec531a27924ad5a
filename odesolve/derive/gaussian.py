r"""Derive the Gaussian kernels I2, J2, I3, I4 of an activation with SymPy.

For zero-mean jointly Gaussian fields with covariance ``C`` (ARCHITECTURE.md):

    I2(a,b) = <g(a) g(b)>,  J2(a,b) = <g'(a) g'(b)>,  I3(a,b,c) = <g'(a) b g(c)>,
    I4(a,b,c,d) = <g'(a) g'(b) g(c) g(d)>.

Nothing below is a typed-in result. The identities are derived or verified symbolically first
(:func:`gaussian_identities`), then applied to the activation:

* **1-D Gaussian integral** ``int exp(-alpha x^2/2 + beta x) dx`` by ``sympy.integrate``;
  integrating out one variable after another (completing the square) gives the normaliser of
  ``exp(-x^T P x / 2)``, checked to equal ``(2 pi)^{n/2} det(P)^{-1/2}``, hence the density.
* **Price's theorem** (Price 1958), ``d<f(a) h(b)>/dC_ab = <f'(a) h'(b)>``, and the
  **heat-equation identity** ``d<f(a)>/dC_aa = 1/2 <f''(a)>``: both follow from the density
  satisfying ``dp/dC_ab = d^2 p / da db`` and ``dp/dC_aa = 1/2 d^2 p / da^2`` (checked).
* **Stein's lemma** (Stein 1981), ``<b F(x)> = sum_j C_bj <d_j F>``: from
  ``x p = -C grad p`` (checked).
* **Gaussian tilt** (conditioning): ``<exp(-x^T E x / 2) F(x)>_C = det(I + C E)^{-1/2}
  <F>_{C'}``, ``C' = (I + C E)^{-1} C``: from the normaliser, since ``C^{-1} + E =
  C^{-1}(I + C E)`` (checked).
* **Isserlis / Wick**: moments of Gaussian fields as sums over pairings.

Kernels (``derive_kernels``):

* ``J2``: erf (``g'`` a Gaussian function): the tilt with ``F = 1``. ReLU (``g' = theta``):
  Price's theorem, ``dJ2/dC12 = <delta(a) delta(b)> = p(0, 0)``, integrated from ``C12 = 0``
  where ``J2 = <theta>^2``. Linear: Wick.
* ``I2``: Price's theorem for every activation, ``dI2/dC12 = J2``, integrated from ``C12 = 0``
  where ``I2 = <g(a)> <g(b)>`` (computed; 0 for odd ``g``).
* ``I3``: Stein's lemma on the bare field ``b``,
  ``<g'(a) b g(c)> = C_ab <g''(a) g(c)> + C_bc <g'(a) g'(c)>``, and the heat-equation identity
  ``<g''(a) g(c)> = 2 d I2(a, c)/dC_aa``: ``I3 = 2 C12 d_{C11} I2(C11, C13, C33) +
  C23 J2(C11, C13, C33)``, for every activation.
* ``I4``: erf: the tilt with ``E = diag(1, 1, 0, 0)`` integrates out ``(a, b)`` and leaves the
  derived ``I2`` at the tilted covariance of ``(c, d)`` (Saad & Solla 1995 give the result).
  Linear: Wick. ReLU: no closed form; reduced exactly to a 1-D integral evaluated by
  :func:`odesolve.kernels.numeric.relu_I4` (the reduction is recorded in the steps).

Results are checked in tests/test_kernels.py against the closed forms of
docs/theory/kernels.md#theory-kernels-closed-forms (typed in there), never built
from them. The expressions contain only rationals, ``pi``, ``sqrt`` and ``asin`` (codegen
friendly, :func:`check_codegen_friendly`).

Domain of validity (positive semi-definite ``C``):

* erf: all PSD ``C`` (every square root and ``asin`` argument is strictly inside its domain,
  including coincident fields).
* linear: all ``C``.
* ReLU ``J2, I2``: ``C11, C22 > 0``; ``I3``: ``C11, C33 > 0``. Coincident fields give
  ``asin(+-1)`` and ``sqrt(0)`` exactly (the limits), but a caller passing nearly collinear
  fields whose rounding pushes ``C12^2 > C11 C22`` gets NaN: clamp the ``asin`` argument in
  generated code if such inputs can occur.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import sympy as sp

__all__ = ["KernelExpr", "derive_kernels", "kernel_args", "gaussian_identities",
           "check_codegen_friendly", "ACTIVATIONS", "KERNEL_FIELDS"]

#: number of fields of each kernel
KERNEL_FIELDS = {"I2": 2, "J2": 2, "I3": 3, "I4": 4}
#: activations with derived kernels
ACTIVATIONS = ("erf", "linear", "relu")
#: where the numeric ReLU I4 lives (same argument order as the closed forms)
RELU_I4_NUMERIC = "odesolve.kernels.numeric:relu_I4"


@dataclass
class KernelExpr:
    """One derived kernel.

    Attributes
    ----------
    name : str
        ``"I2"``, ``"J2"``, ``"I3"`` or ``"I4"``.
    args : tuple of sympy.Symbol
        The upper triangle of the covariance, row-major (``C11, C12, C22`` for n = 2).
    expr : sympy.Expr or None
        Closed form in ``args``; None when the kernel is computed numerically.
    numeric : str or None
        ``"module:function"`` of the Numba function (same argument order) when ``expr`` is None.
    steps : list of (str, sympy object)
        The derivation, step by step, for rendering (Markdown/LaTeX).
    """

    name: str
    args: tuple
    expr: sp.Expr | None
    numeric: str | None = None
    steps: list = field(default_factory=list)


# ------------------------------------------------------------------------------------------
# covariance symbols
# ------------------------------------------------------------------------------------------
def kernel_args(n: int) -> tuple:
    """The canonical kernel arguments for n fields: real Symbols C11, C12, .., Cnn."""
    return tuple(sp.Symbol(f"C{i + 1}{j + 1}", real=True) for i in range(n) for j in range(i, n))


def _positive_diagonal(n: int) -> dict:
    """Real symbol -> positive twin for the variances (used while simplifying)."""
    return {sp.Symbol(f"C{i}{i}", real=True): sp.Symbol(f"C{i}{i}", positive=True)
            for i in range(1, n + 1)}


def _cov_matrix(n: int, positive: bool = True) -> sp.Matrix:
    """Symmetric covariance matrix of n fields (variances positive symbols by default)."""
    pos = _positive_diagonal(n) if positive else {}
    sym = {s.name: pos.get(s, s) for s in kernel_args(n)}
    return sp.Matrix(n, n, lambda i, j: sym[f"C{min(i, j) + 1}{max(i, j) + 1}"])


def _to_real(expr):
    """Replace the positive variance symbols by the canonical real ones."""
    back = {v: k for k, v in _positive_diagonal(4).items()}
    return expr.xreplace(back)


def _fields(n: int):
    return sp.symbols(f"x1:{n + 1}", real=True)


# ------------------------------------------------------------------------------------------
# Gaussian-integral identities
# ------------------------------------------------------------------------------------------
_alpha = sp.Symbol("alpha", positive=True)
_beta = sp.Symbol("beta", real=True)


@functools.lru_cache(maxsize=None)
def _gauss_1d():
    """int exp(-alpha x^2/2 + beta x) dx over R, by sympy.integrate: (prefactor, exponent)."""
    x = sp.Symbol("x", real=True)
    value = sp.simplify(sp.integrate(sp.exp(-_alpha * x ** 2 / 2 + _beta * x),
                                     (x, -sp.oo, sp.oo), conds="none"))
    prefactor, expo = value.as_independent(_beta, as_Add=False)
    if not isinstance(expo, sp.exp):
        raise RuntimeError(f"unexpected form of the Gaussian integral: {value}")
    return prefactor, expo.args[0], value


def _integrate_out(exponent, var):
    """int exp(exponent) d var for an exponent quadratic in var: (prefactor, new exponent)."""
    poly = sp.Poly(sp.expand(exponent), var)
    if poly.degree() != 2:
        raise ValueError(f"exponent is not quadratic in {var}")
    a2, a1, a0 = (poly.coeff_monomial(var ** k) for k in (2, 1, 0))
    pre, expo, _ = _gauss_1d()
    sub = {_alpha: -2 * a2, _beta: a1}
    return pre.xreplace(sub), sp.cancel(a0 + expo.xreplace(sub))


def gaussian_normaliser_squared(P: sp.Matrix):
    """(int exp(-x^T P x / 2) dx)^2 by integrating out one variable after another.

    Returns the square (a rational function of the entries of P) to stay free of nested roots.
    """
    xs = _fields(P.shape[0])
    x = sp.Matrix(xs)
    exponent = sp.expand(-(x.T * P * x)[0, 0] / 2)
    square = sp.Integer(1)
    for var in xs:
        pre, exponent = _integrate_out(exponent, var)
        square *= pre ** 2
    if sp.cancel(exponent) != 0:
        raise RuntimeError("a non-zero exponent is left after integrating out every variable")
    return sp.cancel(square)


def _density(C: sp.Matrix, xs):
    """N(x; 0, C) from the derived normaliser with P = C^{-1} (det P = 1 / det C)."""
    n = C.shape[0]
    P = C.inv()
    x = sp.Matrix(xs)
    norm_sq = gaussian_normaliser_squared(sp.Matrix(n, n, lambda i, j: sp.Symbol(f"p{i}{j}")
                                                    if i <= j else sp.Symbol(f"p{j}{i}")))
    generic = {sp.Symbol(f"p{min(i, j)}{max(i, j)}"): P[i, j] for i in range(n) for j in range(n)}
    norm_sq = sp.cancel(norm_sq.xreplace(generic))
    return sp.exp(-sp.expand((x.T * P * x)[0, 0]) / 2) / sp.sqrt(norm_sq)


@functools.lru_cache(maxsize=None)
def gaussian_identities():
    """Derive and check the identities used by the kernels.

    Returns
    -------
    list of (str, sympy object)
        Derivation steps; each check has been verified (a RuntimeError is raised otherwise).
    """
    steps = []
    x = sp.Symbol("x", real=True)
    _, _, value = _gauss_1d()
    steps.append(("Gaussian integral (sympy.integrate)",
                  sp.Eq(sp.Integral(sp.exp(-_alpha * x ** 2 / 2 + _beta * x), (x, -sp.oo, sp.oo)),
                        value)))
    # determinant formula for n = 2, 3 by integrating out one variable after another
    for n in (2, 3):
        P = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"P{min(i, j) + 1}{max(i, j) + 1}", real=True))
        sq = gaussian_normaliser_squared(P)
        if sp.cancel(sq * P.det() - (2 * sp.pi) ** n) != 0:
            raise RuntimeError("determinant formula not reproduced")
    xs = _fields(2)
    P2 = sp.MatrixSymbol("P", 2, 2)
    steps.append(("Integrating out x1 then x2 (completing the square) gives, checked for a "
                  "generic symmetric P with n = 2 and n = 3",
                  sp.Eq(sp.Integral(sp.exp(-sp.Symbol("x^T P x") / 2), sp.Symbol("x")),
                        (2 * sp.pi) ** (sp.Symbol("n") / 2) / sp.sqrt(sp.Determinant(P2)))))
    # Price's theorem, the heat equation and Stein's lemma from the bivariate density
    C = _cov_matrix(2)
    p = _density(C, xs)
    a, b = xs
    if sp.simplify((sp.diff(p, C[0, 1]) - sp.diff(p, a, b)) / p) != 0:
        raise RuntimeError("dp/dC12 != d^2p/da db")
    if sp.simplify((sp.diff(p, C[0, 0]) - sp.diff(p, a, 2) / 2) / p) != 0:
        raise RuntimeError("dp/dC11 != 1/2 d^2p/da^2")
    for i in range(2):
        stein = xs[i] * p + sum(C[i, j] * sp.diff(p, xs[j]) for j in range(2))
        if sp.simplify(stein / p) != 0:
            raise RuntimeError("x p != -C grad p")
    f, h = sp.Function("f"), sp.Function("h")
    avg = sp.Function("E")
    steps.append(("The bivariate density satisfies dp/dC12 = d^2p/(da db) and "
                  "dp/dC11 = (1/2) d^2p/da^2 (checked); integrating by parts gives Price's "
                  "theorem (Price 1958) and the heat-equation identity",
                  (sp.Derivative(avg(f(a) * h(b)), C[0, 1]),
                   avg(sp.Derivative(f(a), a) * sp.Derivative(h(b), b)))))
    steps.append(("and", (sp.Derivative(avg(f(a)), C[0, 0]),
                          avg(sp.Derivative(f(a), (a, 2))) / 2)))
    steps.append(("x p = -C grad p (checked) gives Stein's lemma (Stein 1981)",
                  (avg(b * f(a, b)), C[0, 1] * avg(sp.Derivative(f(a, b), a))
                   + C[1, 1] * avg(sp.Derivative(f(a, b), b)))))
    # Gaussian tilt: C^{-1} + E = C^{-1} (I + C E); check on a generic 2x2 case
    e1, e2 = sp.symbols("e1 e2", positive=True)
    E = sp.diag(e1, e2)
    Pm = C.inv()
    ratio_sq = sp.cancel(gaussian_normaliser_squared(Pm + E) / gaussian_normaliser_squared(Pm))
    if sp.cancel(ratio_sq * (sp.eye(2) + C * E).det() - 1) != 0:
        raise RuntimeError("tilt normalisation not reproduced")
    if sp.simplify((Pm + E).inv() - (sp.eye(2) + C * E).inv() * C) != sp.zeros(2, 2):
        raise RuntimeError("tilted covariance not reproduced")
    Es, Cs = sp.MatrixSymbol("E", 2, 2), sp.MatrixSymbol("C", 2, 2)
    steps.append(("Gaussian tilt: p_C(x) exp(-x^T E x/2) = [Z(C^{-1}+E)/Z(C^{-1})] p_{C'}(x); "
                  "the ratio of normalisers and C' = (C^{-1} + E)^{-1} (checked for a generic "
                  "2x2 C and diagonal E)",
                  (sp.Symbol("Z(C^{-1}+E)^2/Z(C^{-1})^2"),
                   1 / sp.Determinant(sp.Identity(2) + Cs * Es))))
    steps.append(("so that", (sp.Symbol("C'"), sp.Inverse(sp.Identity(2) + Cs * Es) * Cs)))
    return steps


def gaussian_tilt(C: sp.Matrix, E: sp.Matrix):
    """Apply the tilt identity: (det(I + C E), C' = (I + C E)^{-1} C), both simplified."""
    n = C.shape[0]
    M = sp.eye(n) + C * E
    det = sp.expand(M.det())
    Cp = (M.inv(method="LU") * C).applyfunc(sp.cancel)
    return det, Cp


def isserlis(factors, C: sp.Matrix):
    """<prod_k x_{i_k}> for zero-mean Gaussian fields: sum over pairings (Isserlis 1918)."""
    factors = list(factors)
    if not factors:
        return sp.Integer(1)
    if len(factors) % 2:
        return sp.Integer(0)
    first, rest = factors[0], factors[1:]
    total = sp.Integer(0)
    for k, other in enumerate(rest):
        total += C[first, other] * isserlis(rest[:k] + rest[k + 1:], C)
    return sp.expand(total)


# ------------------------------------------------------------------------------------------
# activations
# ------------------------------------------------------------------------------------------
_x = sp.Symbol("x", real=True)


def _activation(name: str):
    """g(x) and g'(x) (derived with sympy.diff)."""
    if name == "erf":
        g = sp.erf(_x / sp.sqrt(2))
    elif name == "relu":
        g = sp.Max(0, _x)
    elif name == "linear":
        g = _x
    else:
        raise ValueError(f"`activation` must be one of {ACTIVATIONS}, got {name!r}.")
    return g, sp.diff(g, _x)


def _mean(g, var):
    """<g(a)> for a ~ N(0, var): 0 for odd g (checked), else sympy.integrate."""
    if sp.simplify(g.xreplace({_x: -_x}) + g) == 0:
        return sp.Integer(0)
    dens = sp.exp(-_x ** 2 / (2 * var)) / sp.sqrt(2 * sp.pi * var)
    return sp.simplify(sp.integrate(g * dens, (_x, -sp.oo, sp.oo)))


def _gaussian_form(gp):
    """Write g'(x) = kappa exp(-eps x^2 / 2) if it is a Gaussian function, else None."""
    logg = sp.expand_log(sp.log(gp), force=True)
    try:
        poly = sp.Poly(sp.expand(logg), _x)
    except sp.PolynomialError:
        return None
    if poly.degree() != 2 or poly.coeff_monomial(_x) != 0:
        return None
    return sp.simplify(sp.exp(poly.coeff_monomial(1))), -2 * poly.coeff_monomial(_x ** 2)


# ------------------------------------------------------------------------------------------
# kernels
# ------------------------------------------------------------------------------------------
def _J2(act: str, g, gp):
    C = _cov_matrix(2)
    steps = []
    if act == "linear":
        expr = isserlis([], C)
        steps.append(("g'(x) = 1: the average of a constant (Isserlis/Wick)",
                      sp.Eq(sp.Symbol("J2"), expr)))
        return expr, steps
    gauss = _gaussian_form(gp)
    if gauss is not None:
        kappa, eps = gauss
        steps.append(("g'(x) = kappa exp(-eps x^2/2) is a Gaussian function", sp.Eq(
            sp.Symbol("g'(x)"), kappa * sp.exp(-eps * _x ** 2 / 2))))
        det, _ = gaussian_tilt(C, eps * sp.eye(2))
        steps.append(("Gaussian tilt with E = eps I and F = 1: J2 = kappa^2 det(I + eps C)^(-1/2)",
                      sp.Eq(sp.Symbol("det(I + eps C)"), det)))
        return sp.simplify(kappa ** 2 / sp.sqrt(det)), steps
    if gp == sp.Heaviside(_x):
        s = sp.Symbol("s", real=True)
        xs = _fields(2)
        Cs = C.xreplace({C[0, 1]: s})
        p00 = sp.simplify(_density(Cs, xs).xreplace({xs[0]: 0, xs[1]: 0}))
        half = _mean(gp, C[0, 0])
        base = sp.simplify(half * _mean(gp, C[1, 1]))
        steps.append(("Price: dJ2/dC12 = <delta(a) delta(b)> = p(0, 0), the density at the origin",
                      sp.Eq(sp.Symbol("p(0,0)"), p00.xreplace({s: C[0, 1]}))))
        steps.append(("at C12 = 0 the fields are independent: J2 = <theta(a)> <theta(b)>",
                      sp.Eq(sp.Symbol("J2|_{C12=0}"), base)))
        expr = base + sp.integrate(p00, (s, 0, C[0, 1]), conds="none")
        return sp.simplify(expr), steps
    raise NotImplementedError(f"no derivation of J2 for g'(x) = {gp}")


def _I2(g, J2):
    """Price's theorem: I2 = <g(a)><g(b)> + int_0^C12 J2(C11, s, C22) ds."""
    C = _cov_matrix(2)
    s = sp.Symbol("s", real=True)
    base = sp.simplify(_mean(g, C[0, 0]) * _mean(g, C[1, 1]))
    integral = sp.integrate(J2.xreplace({C[0, 1]: s}), (s, 0, C[0, 1]), conds="none")
    expr = sp.simplify(base + integral)
    steps = [("at C12 = 0 the fields are independent: I2 = <g(a)> <g(b)>",
              sp.Eq(sp.Symbol("I2|_{C12=0}"), base)),
             ("Price's theorem dI2/dC12 = J2, integrated from C12 = 0",
              sp.Eq(sp.Symbol("I2"), base + sp.Integral(J2.xreplace({C[0, 1]: s}),
                                                         (s, 0, C[0, 1]))))]
    return expr, steps


def _I3(I2, J2):
    """Stein's lemma + heat equation: I3 = 2 C12 d_{C11} I2(C11,C13,C33) + C23 J2(C11,C13,C33)."""
    C3 = _cov_matrix(3)
    C2 = _cov_matrix(2)
    to_ac = {C2[0, 0]: C3[0, 0], C2[0, 1]: C3[0, 2], C2[1, 1]: C3[2, 2]}
    I2ac = I2.xreplace(to_ac)
    J2ac = J2.xreplace(to_ac)
    gpp_g = sp.simplify(2 * sp.diff(I2ac, C3[0, 0]))
    expr = sp.simplify(C3[0, 1] * gpp_g + C3[1, 2] * J2ac)
    steps = [("Stein's lemma on the bare field b (C_bb multiplies <g'(a) g(c) d_b 1> = 0)",
              sp.Eq(sp.Symbol("I3"), sp.Symbol("C12 <g''(a) g(c)> + C23 <g'(a) g'(c)>"))),
             ("heat-equation identity: <g''(a) g(c)> = 2 dI2(a,c)/dC_aa",
              sp.Eq(sp.Symbol("<g''(a) g(c)>"), gpp_g)),
             ("with J2(a, c)", sp.Eq(sp.Symbol("<g'(a) g'(c)>"), J2ac))]
    return expr, steps


def _I4(act: str, gp, I2):
    C = _cov_matrix(4)
    if act == "linear":
        expr = isserlis([2, 3], C)
        return expr, [("g' = 1: I4 = <c d> (Isserlis/Wick)", sp.Eq(sp.Symbol("I4"), expr))]
    gauss = _gaussian_form(gp)
    if gauss is None:
        raise NotImplementedError(f"no closed-form derivation of I4 for g'(x) = {gp}")
    kappa, eps = gauss
    E = sp.diag(eps, eps, 0, 0)
    det, Cp = gaussian_tilt(C, E)
    steps = [("g'(a) g'(b) = kappa^2 exp(-x^T E x / 2) with E = eps diag(1, 1, 0, 0); the tilt "
              "integrates out (a, b)", sp.Eq(sp.Symbol("det(I + C E)"), det))]
    # C'_cd = N / det with polynomial N
    N = {k: sp.factor_terms(sp.expand(sp.cancel(Cp[i, j] * det)))
         for k, (i, j) in {"33": (2, 2), "34": (2, 3), "44": (3, 3)}.items()}
    for k, (i, j) in {"33": (2, 2), "34": (2, 3), "44": (3, 3)}.items():
        if not N[k].is_polynomial(*C.free_symbols):
            raise RuntimeError("tilted covariance is not polynomial / det(I + C E)")
        steps.append((f"tilted covariance C'_{k} = N_{k} / det(I + C E)",
                      sp.Eq(sp.Symbol(f"N_{k}"), N[k])))
    C2 = _cov_matrix(2)
    tilted = {C2[0, 0]: N["33"] / det, C2[0, 1]: N["34"] / det, C2[1, 1]: N["44"] / det}
    direct = kappa ** 2 / sp.sqrt(det) * I2.xreplace(tilted)
    steps.append(("I4 = kappa^2 det(I + C E)^(-1/2) I2(C'_33, C'_34, C'_44)", sp.Eq(
        sp.Symbol("I4"), direct)))
    # clear the common denominator det > 0 inside I2: the argument of asin keeps its sign and
    # its square is unchanged (checked), so asin(N34 / sqrt((det + N33)(det + N44)))
    asins = list(direct.atoms(sp.asin))
    if len(asins) != 1:
        raise RuntimeError("expected one asin in the erf I4")
    old_arg = asins[0].args[0]
    new_arg = N["34"] / sp.sqrt((det + N["33"]) * (det + N["44"]))
    if sp.cancel(sp.together(old_arg ** 2 - new_arg ** 2)) != 0:
        raise RuntimeError("asin argument changed while clearing denominators")
    expr = direct.xreplace({asins[0]: sp.asin(new_arg)})
    steps.append(("multiplying numerator and denominator of the asin argument by "
                  "det(I + C E) > 0", sp.Eq(sp.Symbol("I4"), expr)))
    return expr, steps


def _relu_I4_steps(I2, J2):
    """Documentation of the exact 1-D reduction implemented by kernels.numeric.relu_I4."""
    t, v = sp.symbols("t v", real=True)
    R, H, G = sp.Function("R"), sp.Function("H"), sp.Function("G")
    I4f, P4 = sp.Function("I4"), sp.Function("P4")
    C2 = _cov_matrix(2)
    unit = {C2[0, 0]: 1, C2[1, 1]: 1}
    rho = sp.Symbol("rho", real=True)
    orthant = sp.simplify(J2.xreplace(unit).xreplace({C2[0, 1]: rho}))
    relu_i2 = sp.simplify(I2)
    zero = sp.simplify((_mean(sp.Heaviside(_x), 1) * _mean(sp.Max(0, _x), 1)) ** 2)
    r = {k: sp.Symbol(f"r_{k}", real=True) for k in ("ab", "ac", "ad", "bc", "bd", "cd")}
    return [
        ("theta is scale invariant and ReLU positively homogeneous: reduce to the correlation "
         "matrix r", sp.Eq(I4f(sp.Symbol("C")), sp.sqrt(sp.Symbol("C33") * sp.Symbol("C44"))
                           * I4f(sp.Symbol("r")))),
        ("path R(t) = (1 - t) I + t r, positive definite for t < 1; at t = 0 the fields are "
         "independent, I4 = <theta>^2 <x^+>^2", sp.Eq(I4f(R(0)), zero)),
        ("Price's theorem along the path (theta' = delta): each dI4/dR_ij is a density at zero "
         "times a conditional average; Stein's lemma on the remaining bare ReLU field reduces "
         "those to bivariate orthant probabilities (J2 of ReLU with unit variances)",
         sp.Eq(sp.Symbol("P(k>0, l>0)"), orthant)),
        ("and <c+ d+ | a = b = 0> is the ReLU I2 of the conditional covariance",
         sp.Eq(sp.Symbol("I2_ReLU"), relu_i2)),
        ("the (c, d) derivative is the orthant probability P4 = 1/16 + int_0^t G; exchanging "
         "the order of integration", sp.Eq(sp.Integral(P4(t), (t, 0, 1)), sp.Rational(1, 16)
                                          + sp.Integral((1 - t) * G(t), (t, 0, 1)))),
        ("result, integrated numerically in v = sqrt(1 - t) with graded Gauss-Legendre "
         f"({RELU_I4_NUMERIC})",
         sp.Eq(I4f(sp.Symbol("r")), zero + r["cd"] / 16
               + sp.Integral(2 * v * H(1 - v ** 2), (v, 0, 1)))),
    ]


def _in_shifted_variances(expr, n: int):
    """Rewrite the polynomials of ``expr`` in ``Y_i = 1 + C_ii`` (a change of variables).

    The erf kernels come out of the tilt as polynomials in ``1 + C_ii`` (det(I + C) etc.); written
    in those variables they are shorter (e.g. ``(1 + C11)(1 + C22) - C12^2`` instead of five
    expanded terms), cheaper to evaluate and comparable at a glance with Saad & Solla's forms.
    """
    diag = [sp.Symbol(f"C{i}{i}", real=True) for i in range(1, n + 1)]
    Y = [sp.Dummy(f"Y{i}") for i in range(1, n + 1)]

    def expand_factors(b):
        if b.is_Mul:
            return sp.Mul(*[expand_factors(f) for f in b.args])
        return sp.expand(b)

    e = expr.xreplace({c: y - 1 for c, y in zip(diag, Y)})
    e = e.replace(lambda u: u.is_Pow and not u.exp.is_Integer,
                  lambda u: expand_factors(u.base) ** u.exp)
    e = e.replace(lambda u: isinstance(u, sp.asin),
                  lambda u: sp.asin(sp.expand(sp.numer(u.args[0]))
                                    / sp.denom(u.args[0])))
    num, den = sp.fraction(e)
    e = sp.factor_terms(sp.expand(num, deep=False)) / den
    out = e.xreplace({y: c + 1 for c, y in zip(diag, Y)})
    if sp.simplify(sp.expand(out.xreplace({c: y - 1 for c, y in zip(diag, Y)})
                             - expr.xreplace({c: y - 1 for c, y in zip(diag, Y)}))) != 0:
        raise RuntimeError("change of variables changed the expression")
    return out


def check_codegen_friendly(expr) -> None:
    """Raise ValueError if ``expr`` contains anything but + * ** rationals pi sqrt asin atan exp."""
    allowed = (sp.Add, sp.Mul, sp.Pow, sp.Symbol, sp.Rational, sp.Integer, sp.asin, sp.atan,
               sp.exp)
    for node in sp.preorder_traversal(expr):
        if node is sp.pi or isinstance(node, allowed) or node.is_Number:
            continue
        raise ValueError(f"not codegen friendly: {node.func.__name__} in {expr}")


@functools.lru_cache(maxsize=None)
def derive_kernels(activation: str) -> dict:
    """Derive the Gaussian kernels of one activation.

    Parameters
    ----------
    activation : {"erf", "linear", "relu"}
        ``erf``: ``g(x) = erf(x / sqrt 2)`` (Saad & Solla 1995); ``linear``: ``g(x) = x``;
        ``relu``: ``g(x) = max(0, x)``.

    Returns
    -------
    dict of str -> KernelExpr
        Keys ``"I2", "J2", "I3", "I4"``; arguments the upper triangle of the covariance in
        row-major order (:func:`kernel_args`). ReLU's I4 has ``expr=None`` and ``numeric``
        naming :func:`odesolve.kernels.numeric.relu_I4`.

    Notes
    -----
    Identities: Price (1958), Stein (1981), Isserlis (1918), Gaussian conditioning; see the
    module docstring. The result is cached; derivation takes a few seconds.
    """
    g, gp = _activation(activation)
    common = list(gaussian_identities())
    act_step = [("activation and its derivative (sympy.diff)",
                 sp.Eq(sp.Function("g")(_x), g)), ("so that", sp.Eq(sp.Function("g'")(_x), gp))]
    j2, j2_steps = _J2(activation, g, gp)
    i2, i2_steps = _I2(g, j2)
    i3, i3_steps = _I3(i2, j2)
    out = {}

    def make(name, expr, steps, numeric=None):
        n = KERNEL_FIELDS[name]
        # sqrt(C11) sqrt(C22) -> sqrt(C11 C22): for coincident fields sqrt(fl(x*x)) == x exactly
        # in IEEE arithmetic, so asin(C12 / sqrt(C11 C22)) stays in its domain
        final = None if expr is None else sp.powsimp(_to_real(expr), force=True, deep=True)
        if final is not None and activation == "erf":
            final = _in_shifted_variances(final, n)
        if final is not None:
            check_codegen_friendly(final)
        out[name] = KernelExpr(name=name, args=kernel_args(n), expr=final, numeric=numeric,
                               steps=act_step + steps)

    make("J2", j2, j2_steps)
    make("I2", i2, i2_steps)
    make("I3", i3, i3_steps)
    if activation == "relu":
        make("I4", None, _relu_I4_steps(i2, j2), numeric=RELU_I4_NUMERIC)
    else:
        i4, i4_steps = _I4(activation, gp, i2)
        make("I4", i4, i4_steps)
    # the identities head the first kernel's derivation only (they are shared)
    out["J2"].steps = common + out["J2"].steps
    return {name: out[name] for name in ("I2", "J2", "I3", "I4")}
