"""The derived committee ODEs written out for explicit K and M, with exact Jacobians.

The generated kernels (:mod:`odesolve.derive.codegen`) keep the sums over units as loops, so
one compiled right-hand side serves every K and M. Fixed-point and stability analysis
(:mod:`odesolve.fixedpoint`) needs the equations as expressions in named coordinates
instead, so that SymPy can differentiate them. This module takes the *same* derived
equations (:func:`odesolve.derive.sgd.derive_committee`) and the *same* derived closed-form
kernels (:func:`odesolve.derive.gaussian.derive_kernels`) and

1. expands the sums over the F = K + M fields (``sympy.Sum.doit``),
2. replaces every kernel call I2/J2/I3/I4(fields) by its closed form evaluated on the
   covariance of those fields, ``C = [[Q, R], [R^T, T]]``,
3. optionally restricts the order parameters to an *ansatz*: a map from a handful of
   variables to Q, R, v (and a fixed teacher). The ansatz is checked to be invariant (every
   equation of a class of equal order parameters reduces to the same expression, checked at
   random points), so the reduced equations are an exact restriction of the full ones,
4. differentiates: ``J = d rhs / d variables`` (``sympy.Matrix.jacobian``), and the eta -> 0
   limit of the fixed-point equations, ``d rhs / d eta`` at eta = 0 (online SGD is
   ``eta f1 + eta^2 f2``; for small eta the fixed points solve ``f1 = 0``).

Nothing here is typed in: the expressions are those of the derivation, written out.
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import sympy as sp

from . import symbols as S
from .gaussian import derive_kernels
from .sgd import derive_committee

__all__ = ["ExplicitSystem", "committee_system", "symmetric_ansatz", "full_coordinates",
           "derive_plateau", "render_plateau", "EXPLICIT_ACTIVATIONS"]

#: activations whose four kernels all have derived closed forms (ReLU's I4 is numeric)
EXPLICIT_ACTIVATIONS = ("erf", "linear")

#: model parameters, in the order the numeric functions take them (b: the mini-batch size)
PARAMETERS = (S.eta, S.eta_v, S.sigma, S.kappa, S.b)


@dataclass(frozen=True)
class ExplicitSystem:
    """Order-parameter ODEs in explicit coordinates.

    Attributes
    ----------
    K, M : int
    activation : str
    train_v : bool
        Whether the readouts are dynamical variables.
    variables : tuple of sympy.Symbol
        The coordinates x (e.g. ``Q_0_0, Q_0_1, R_0_0, ..., v_0`` or ``q, c, r, s``).
    rhs : sympy.Matrix, shape (n, 1)
        dx/dt.
    eps_g : sympy.Expr
        Generalisation error.
    parameters : tuple of sympy.Symbol
        ``eta, eta_v, sigma, kappa, b`` followed by the remaining free symbols (teacher overlaps,
        teacher readouts, fixed student readouts), in :attr:`extra` order.
    extra : tuple of sympy.Symbol
        Free symbols beyond the model parameters.
    ansatz : str or None
    """

    K: int
    M: int
    activation: str
    train_v: bool
    variables: tuple
    rhs: sp.Matrix
    eps_g: sp.Expr
    extra: tuple
    ansatz: str | None = None

    @property
    def parameters(self) -> tuple:
        return PARAMETERS + self.extra

    @functools.cached_property
    def jacobian(self) -> sp.Matrix:
        """Exact Jacobian d rhs / d variables, shape (n, n)."""
        return self.rhs.jacobian(list(self.variables))

    @functools.cached_property
    def rhs_small_eta(self) -> sp.Matrix:
        """``d rhs / d eta`` at eta = eta_v = 0 with eta_v = rho eta fixed: the fixed-point
        equations of the eta -> 0 limit (no weight decay). ``rho`` is the symbol ``eta_v``
        reused as the ratio eta_v / eta."""
        e = sp.Symbol("e_small", positive=True)
        scaled = self.rhs.xreplace({S.eta: e, S.eta_v: S.eta_v * e, S.kappa: 0})
        return scaled.diff(e).xreplace({e: 0})

    def lambdify(self, what: str = "rhs"):
        """Numeric ``f(x, params) -> ndarray`` for ``rhs``, ``jacobian``, ``eps_g`` or
        ``rhs_small_eta``/``jacobian_small_eta``; ``params`` in :attr:`parameters` order."""
        cache = self.__dict__.setdefault("_numeric", {})
        if what not in cache:
            cache[what] = _lambdify(self, what)
        return cache[what]


def _lambdify(system: ExplicitSystem, what: str):
    x = sp.MatrixSymbol("x", len(system.variables), 1)
    p = sp.MatrixSymbol("p", len(system.parameters), 1)
    subs = {v: x[j, 0] for j, v in enumerate(system.variables)}
    subs.update({s: p[j, 0] for j, s in enumerate(system.parameters)})
    expr = {"rhs": lambda: system.rhs, "jacobian": lambda: system.jacobian,
            "eps_g": lambda: system.eps_g, "rhs_small_eta": lambda: system.rhs_small_eta,
            "jacobian_small_eta": lambda: system.rhs_small_eta.jacobian(
                list(system.variables))}[what]()
    f = sp.lambdify((x, p), expr.xreplace(subs), modules="numpy", cse=True)

    def call(xv, pv):
        xv = np.asarray(xv, dtype=np.float64).reshape(-1, 1)
        pv = np.asarray(pv, dtype=np.float64).reshape(-1, 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            # outside the admissible region the result is NaN; callers check for it
            out = np.asarray(f(xv, pv), dtype=np.float64)
        return out[:, 0] if what.startswith("rhs") else (float(out) if what == "eps_g"
                                                          else out)
    return call


# ------------------------------------------------------------------------------------------
# coordinates
# ------------------------------------------------------------------------------------------
def full_coordinates(K: int, M: int, train_v: bool):
    """Symbols of the full system: Q (upper triangle), R, v (when trained); and the symbols
    for T (upper triangle), v_star and fixed v. Returns (variables, Q, R, v, T, v_star)."""
    Q = [[sp.Symbol(f"Q_{min(i, k)}_{max(i, k)}", real=True) for k in range(K)]
         for i in range(K)]
    R = [[sp.Symbol(f"R_{i}_{n}", real=True) for n in range(M)] for i in range(K)]
    v = [sp.Symbol(f"v_{i}", real=True) for i in range(K)]
    T = [[sp.Symbol(f"T_{min(n, m)}_{max(n, m)}", real=True) for m in range(M)]
         for n in range(M)]
    v_star = [sp.Symbol(f"vstar_{n}", real=True) for n in range(M)]
    variables = [Q[i][k] for i in range(K) for k in range(i, K)]
    variables += [R[i][n] for i in range(K) for n in range(M)]
    if train_v:
        variables += v
    return tuple(variables), Q, R, v, T, v_star


def _covariance_entry(a: int, b: int, K: int, Q, R, T):
    if a < K and b < K:
        return Q[a][b]
    if a < K:
        return R[a][b - K]
    if b < K:
        return R[b][a - K]
    return T[a - K][b - K]


def _write_out(expr, K: int, M: int, index: dict, Q, R, v, T, v_star, kernels: dict):
    """Steps 1-2 of the module docstring for one equation component."""
    expr = expr.xreplace({S.K: K, S.M: M, **index})
    expr = expr.replace(lambda e: isinstance(e, sp.Sum), lambda e: e.doit())
    coeff = {S.c[a]: (-v[a] if a < K else v_star[a - K]) for a in range(K + M)}
    expr = expr.xreplace(coeff).xreplace({S.v[i]: v[i] for i in range(K)})
    expr = expr.xreplace({S.Q[i, k]: Q[i][k] for i in range(K) for k in range(K)})
    expr = expr.xreplace({S.R[i, n]: R[i][n] for i in range(K) for n in range(M)})

    def closed_form(call):
        kern = kernels[call.func.__name__]
        fields = [int(a) for a in call.args]
        n = len(fields)
        pairs = [(fields[p], fields[q]) for p in range(n) for q in range(p, n)]
        return kern.expr.xreplace({arg: _covariance_entry(a, b, K, Q, R, T)
                                   for arg, (a, b) in zip(kern.args, pairs)})

    return expr.replace(lambda e: isinstance(e, sp.Function) and e.func in S.KERNELS.values(),
                        closed_form)


@functools.lru_cache(maxsize=None)
def committee_system(K: int, M: int, activation: str = "erf", train_v: bool = False,
                     ansatz: str | None = None) -> ExplicitSystem:
    """The derived committee ODEs for explicit K, M (cached).

    Parameters
    ----------
    K, M : int
    activation : {"erf", "linear"}
        Activations whose kernels all have derived closed forms.
    train_v : bool
        Readouts trained (rate ``eta_v``) or fixed (then ``v_i`` are parameters).
    ansatz : None or "symmetric"
        ``"symmetric"``: :func:`symmetric_ansatz` (K = M, T = I, v* = 1).

    Returns
    -------
    ExplicitSystem
    """
    if activation not in EXPLICIT_ACTIVATIONS:
        raise ValueError(f"activation {activation!r} has no closed-form I4; explicit systems "
                         f"(fixed points, exact Jacobians) exist for {EXPLICIT_ACTIVATIONS}.")
    if K < 1 or M < 1:
        raise ValueError(f"K and M must be positive, got K={K}, M={M}.")
    eqs = derive_committee()
    kernels = derive_kernels(activation)
    variables, Q, R, v, T, v_star = full_coordinates(K, M, train_v)
    sub, variables_out, classes = {}, variables, None
    if ansatz == "symmetric":
        sub, variables_out, classes = symmetric_ansatz(K, M, train_v)
    elif ansatz is not None:
        raise ValueError(f"unknown ansatz {ansatz!r}; known: None, 'symmetric'.")

    def out(expr, index):
        e = _write_out(expr, K, M, index, Q, R, v, T, v_star, kernels)
        return e.xreplace(sub) if sub else e

    rhs = {}
    for i in range(K):
        for k in range(i, K):
            rhs[Q[i][k]] = out(eqs.Q.rhs, {S.i: i, S.k: k})
        for n in range(M):
            rhs[R[i][n]] = out(eqs.R.rhs, {S.i: i, S.n: n, S.nt: K + n})
        if train_v:
            rhs[v[i]] = out(eqs.v.rhs, {S.i: i}).xreplace({S.train_v: 1})
    eps_g = out(eqs.eps_g.rhs, {})
    if classes is None:
        rows = [rhs[x] for x in variables]
    else:
        _check_invariant(rhs, classes)
        rows = [rhs[members[0]] for members in classes.values()]
    free = set().union(*(r.free_symbols for r in rows), eps_g.free_symbols)
    extra = tuple(s for s in [*itertools.chain(*T), *v_star, *v]
                  if s in free and s not in variables_out)
    extra = tuple(dict.fromkeys(extra))
    return ExplicitSystem(K, M, activation, train_v, tuple(variables_out),
                          sp.ImmutableMatrix(rows),
                          eps_g, extra, ansatz)


def symmetric_ansatz(K: int, M: int, train_v: bool):
    """Saad & Solla's symmetric subspace for K = M with an orthonormal teacher (T = I,
    v* = 1): ``Q_ii = q``, ``Q_ik = c``, ``R_ii = r``, ``R_in = s`` (i != n), and, with trained
    readouts, ``v_i = w`` (fixed readouts: v_i = 1). Contains the symmetric plateau (r = s)
    and perfect learning (q = r = 1, c = s = 0).

    Returns (substitution dict, variables, classes: variable -> list of full coordinates).
    """
    if K != M:
        raise ValueError(f"the symmetric ansatz needs K = M, got K={K}, M={M}.")
    _, Q, R, v, T, v_star = full_coordinates(K, M, train_v)
    q, c, r, s, w = sp.symbols("q c r s w", real=True)
    sub = {}
    classes = {q: [], r: []}
    if K > 1:
        classes.update({c: [], s: []})
    for i in range(K):
        for k in range(i, K):
            sub[Q[i][k]] = q if i == k else c
            classes[q if i == k else c].append(Q[i][k])
        for n in range(M):
            sub[R[i][n]] = r if i == n else s
            classes[r if i == n else s].append(R[i][n])
    for n in range(M):
        for m in range(n, M):
            sub[T[n][m]] = sp.Integer(1 if n == m else 0)
        sub[v_star[n]] = sp.Integer(1)
    if train_v:
        classes[w] = list(v)
    sub.update({v[i]: (w if train_v else sp.Integer(1)) for i in range(K)})
    order = [q, c, r, s, w] if K > 1 else [q, r, w]
    variables = tuple(x for x in order if x in classes)
    classes = {x: classes[x] for x in variables}
    return sub, variables, classes


def _check_invariant(rhs: dict, classes: dict, n_points: int = 3, seed: int = 0):
    """Every member of a class must have the same reduced right-hand side (so the ansatz is an
    invariant subspace); checked at random admissible points."""
    rng = np.random.default_rng(seed)
    for x, members in classes.items():
        exprs = [rhs[m] for m in members]
        syms = sorted(set().union(*(e.free_symbols for e in exprs)), key=str)
        for _ in range(n_points):
            point = {sym: _random_value(sym, rng) for sym in syms}
            vals = [complex(e.evalf(subs=point)) for e in exprs]
            if not np.allclose(vals, vals[0], rtol=1e-10, atol=1e-12):
                raise AssertionError(f"the ansatz is not invariant: d{members[0]}/dt and "
                                     f"d{members[1]}/dt differ ({vals[:2]})")


def _random_value(sym, rng):
    name = str(sym)
    if name in ("q",):
        return 0.5 + 0.3 * rng.random()
    if name in ("c", "r", "s"):
        return 0.05 + 0.1 * rng.random()
    return 0.5 + rng.random()


@functools.lru_cache(maxsize=None)
def derive_plateau(K: int) -> dict:
    """The eta -> 0 symmetric plateau of erf units with fixed readouts, solved exactly.

    Steps: the symmetric ansatz of :func:`committee_system`; its eta -> 0 equations
    (:attr:`ExplicitSystem.rhs_small_eta`); restricted to the plateau manifold q = c, r = s
    (identical students), where ``dq/dt`` and ``dr/dt`` remain (dc, ds coincide with them);
    their numerators solved by ``sympy.solve`` for q, r > 0; eps_g there.

    Returns
    -------
    dict with ``equations`` (the two reduced right-hand sides), ``q``, ``r`` and ``eps_g``
    (exact SymPy numbers) and ``solutions`` (all positive solutions found).
    """
    system = committee_system(K, K, "erf", False, "symmetric")
    q, c, r, s = system.variables
    on_plateau = {c: q, s: r}
    reduced = [sp.simplify(e.xreplace(on_plateau)) for e in system.rhs_small_eta]
    if sp.simplify(reduced[0] - reduced[1]) != 0 or sp.simplify(reduced[2] - reduced[3]) != 0:
        raise AssertionError("q = c, r = s is not invariant under the eta -> 0 equations")
    equations = [reduced[0], reduced[2]]
    qp, rp = sp.symbols("q r", positive=True)
    pos = {q: qp, r: rp}
    numerators = [sp.numer(sp.together(e)).xreplace(pos) for e in equations]
    solutions = sp.solve(numerators, [qp, rp], dict=True)
    if len(solutions) != 1:
        raise AssertionError(f"expected one positive plateau for K = {K}, got {solutions}")
    sol = solutions[0]
    eps_g = sp.simplify(system.eps_g.xreplace(on_plateau).xreplace(pos).xreplace(sol))
    return {"K": K, "equations": equations, "q": sol[qp], "r": sol[rp], "eps_g": eps_g,
            "symbols": (q, r)}


#: K of the plateaus rendered into derivations/plateau.md (tests check K = 4 numerically)
RENDERED_PLATEAUS = (2, 3)


def render_plateau() -> str:
    """Markdown of :func:`derive_plateau` for :data:`RENDERED_PLATEAUS`."""
    out = ["<!-- GENERATED by `odesolve derive`; do not edit. Source: odesolve/derive/. -->\n\n",
           "# The symmetric plateau, derived\n\n",
           "Erf units, K = M, orthonormal teacher (T = I), readouts fixed at 1. The derived "
           "committee equations are written out for explicit K (`odesolve/derive/explicit.py`) "
           "and restricted to the symmetric ansatz $Q_{ii} = q$, $Q_{ik} = c$, $R_{ii} = r$, "
           "$R_{in} = s$ (checked to be invariant). For $\\eta \\to 0$ only the $O(\\eta)$ "
           "terms remain (gradient flow); on the plateau manifold $q = c$, $r = s$ (identical "
           "students) two equations are left, and `sympy.solve` finds their positive "
           "solution. (In these equations the plateau has a neutral direction, $q - c$; the "
           "$O(\\eta^2)$ terms select $q = c$, see `odesolve.stability.plateau_small_eta`.)\n\n"]
    for K in RENDERED_PLATEAUS:
        d = derive_plateau(K)
        q, r = d["symbols"]
        out.append(f"## K = {K}\n\n")
        out.append(f"$$\n\\frac{{1}}{{\\eta}}\\frac{{dq}}{{dt}} = "
                   f"{sp.latex(d['equations'][0])}\n$$\n\n")
        out.append(f"$$\n\\frac{{1}}{{\\eta}}\\frac{{dr}}{{dt}} = "
                   f"{sp.latex(d['equations'][1])}\n$$\n\n")
        out.append(f"Solution: $q = c = {sp.latex(d['q'])}$, $r = s = {sp.latex(d['r'])}$, "
                   f"$\\epsilon_g = {sp.latex(d['eps_g'])} = {float(d['eps_g']):.10f}$.\n\n")
    return "".join(out)
