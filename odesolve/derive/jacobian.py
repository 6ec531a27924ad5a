r"""Jacobians of the committee right-hand side with respect to the state and the parameters.

The derived equations (:func:`odesolve.derive.sgd.derive_committee`) are, for every output
``dQ[i,k]``, ``dR[i,n]``, ``dv[i]``, an expression ``E(s_0, s_1, .., kernels, v, Q, R,
parameters)`` of sums ``s_j = sum_{a(,b)} P_j(c, kernel(fields))`` over the F = K + M fields.
The entries of the field covariance ``C = [[Q, R], [R^T, T]]`` and of the error coefficients
``c = (-v, v_star)`` are the only ways the state (and T, v_star) enter the sums. So, by the
chain rule,

.. math::
   \frac{\partial E}{\partial y} = \sum_j \frac{\partial E}{\partial s_j}
       \Big(\sum_{a,b} \frac{\partial P_j}{\partial \kappa}
            \frac{\partial \kappa}{\partial C_{xy}} \frac{\partial C_{xy}}{\partial y}
          + \frac{\partial P_j}{\partial c_x} \frac{\partial c_x}{\partial y}\Big)
       + \text{explicit terms},

and everything except the kernel derivatives ``d kappa / d C_xy`` is symbolic algebra on the
derived equations (``sympy.diff``), done here once for any K and M. Generated code
(:func:`emit_jacobian_template_module`, :func:`emit_jacobian_module`) runs the same loops as the
right-hand side; every kernel evaluation yields its value and its partial derivatives with
respect to its covariance arguments and scatters them into a per-row gradient buffer
``G[x, y]`` (covariance entries) and ``g[x]`` (error coefficients), which is folded into the
Jacobian row (only the entries the row can touch; folding zeroes them). When an equation is
linear in its sums with weights that depend on neither sums nor kernels (:func:`_plan`; true of
the committee ODEs), the weights ``dE/ds_j`` are computed before the loops and multiply the
scatters; otherwise each sum gets its own buffer, weighted after the loops.

In the generated module of a closed-form activation the kernel derivatives are written into the
loops in the covariance entries and loop invariants are hoisted as in the right-hand side's
fast path (:mod:`odesolve.derive.hoist`: scalars per outer iteration, arrays over one field);
entries that do not depend on the innermost summation index are read once before that loop.
Kernels with a singular pair (below) or without a closed form stay calls of gradient kernels;
the structural template calls them always.

Kernel derivatives (the *gradient kernels* ``gI2, gJ2, gI3, gI4``, called as
``gI4(C11, .., C44, x1, x2, x3, x4) -> (I4, dI4/dC11, .., dI4/dC44)`` with the field indices
``x`` of the call):

* closed forms (erf, linear, ReLU's I2, J2, I3): ``sympy.diff`` of the derived kernels
  (:func:`odesolve.derive.gaussian.derive_kernels`), printed after common-subexpression
  elimination. Where two fields of a kernel coincide *structurally* in the loops (the sum index
  ``a`` runs over the unit ``i`` itself: ``I2(a, i)`` at ``a = i``), all arguments of the
  coincident entries are the same covariance entry. For ReLU the partial derivatives are then
  infinite (``d sqrt(C11 C22 - C12^2) / dC12``) while their sum along the coincident direction
  is finite; such *singular pairs* are detected (the partials at an exact coincident point are
  not finite) and a *reduced* gradient, the derivative of the kernel with the coincidence
  substituted, is used when the field indices are equal at run time;
* ReLU's I4 (a 1-D integral, :func:`odesolve.kernels.numeric.relu_I4`): central differences of
  that integral in the distinct covariance entries of the call
  (:func:`odesolve.kernels.kernel_gradients.relu_I4_gradient`);
* quadrature activations: Price's theorem (:mod:`odesolve.kernels.kernel_gradients`).

Convention for the symmetric Q (and T): the state stores Q as a full K x K block. The Jacobian
is that of the right-hand side composed with the symmetrisation ``Q -> (Q + Q^T)/2``: a column
of an off-diagonal stored entry ``Q[i,k]`` holds *half* the derivative with respect to the
symmetric overlap ``q_ik = q_ki``, so ``Jy @ dy`` is the exact directional derivative for every
symmetric perturbation ``dQ``, and rows ``(i, k)`` and ``(k, i)`` are equal. The same holds for
the columns of T in the parameter Jacobian.
"""
from __future__ import annotations

import functools
import itertools

import sympy as sp

from . import symbols as S
from .codegen import (_ARG_ORDER, _PARAMS, HEADER, VIEWS_IMPORT, NumbaPrinter, _preamble,
                      _StructPrinter)
from .gaussian import KERNEL_FIELDS, derive_kernels

__all__ = ["KernelGradient", "derive_kernel_gradients", "emit_jacobian_template_module",
           "emit_jacobian_module", "emit_ewc_jacobian_module",
           "emit_activation_derivatives_module", "n_buffers", "render_jacobian",
           "GRADIENT_NAMES", "NUMERIC_GRADIENTS", "DERIVATIVE_ACTIVATIONS"]

#: kernel -> name of its gradient kernel in generated code
GRADIENT_NAMES = {"I2": "gI2", "J2": "gJ2", "I3": "gI3", "I4": "gI4"}
#: numeric kernels -> the function computing their gradient (same calling convention)
NUMERIC_GRADIENTS = {"odesolve.kernels.numeric:relu_I4":
                     "odesolve.kernels.kernel_gradients:relu_I4_gradient"}
#: quadrature activations whose derivatives g', g'', g''' are derived here (sympy.diff);
#: a user-supplied Activation gets g'' and g''' by differences of its g'
DERIVATIVE_ACTIVATIONS = {"tanh": lambda x: sp.tanh(x)}


# ------------------------------------------------------------------------------------------
# gradient kernels
# ------------------------------------------------------------------------------------------
class KernelGradient:
    """Value and partial derivatives of one kernel with respect to its covariance arguments.

    Attributes
    ----------
    name : str
    args : tuple of sympy.Symbol
        Upper triangle of the covariance, row-major (as the kernel).
    expr : sympy.Expr or None
        The kernel; None for a numeric kernel.
    partials : list of sympy.Expr
        ``d expr / d args[p]`` for every argument (empty for a numeric kernel).
    singular : tuple (p, q) or None
        Fields whose structural coincidence makes some partials infinite (ReLU).
    reduced : list of (int, sympy.Expr)
        With ``singular``: (argument position, derivative of the kernel with fields p and q
        identified with respect to the covariance entry at that position).
    numeric : str or None
        ``"module:function"`` of the gradient of a numeric kernel.
    """

    def __init__(self, name, args, expr, partials=(), singular=None, reduced=(), numeric=None):
        self.name, self.args, self.expr = name, args, expr
        self.partials, self.singular, self.reduced = list(partials), singular, list(reduced)
        self.numeric = numeric


def _pair_position(n):
    """(field x, field y) with x <= y -> argument position, for a kernel of n fields."""
    return {pair: pos for pos, pair in enumerate(_ARG_ORDER[n])}


def _coincide(n, p, q):
    """Argument -> argument map identifying field q with field p (for n fields)."""
    pos = _pair_position(n)
    out = {}
    for j, (x, y) in enumerate(_ARG_ORDER[n]):
        xx, yy = (p if x == q else x), (p if y == q else y)
        out[j] = pos[(min(xx, yy), max(xx, yy))]
    return out


#: an exact positive-definite 4x4 covariance (integer Cholesky factor) for singularity tests
_L4 = sp.Matrix([[2, 0, 0, 0], [1, 3, 0, 0], [1, -1, 2, 0], [2, 1, 1, 3]])


def _is_singular(n, args, partials, p, q):
    """Whether some partial is not finite at an exact point where fields p and q coincide."""
    C = _L4[:n, :n] * _L4[:n, :n].T
    C[q, :] = C[p, :]
    C[:, q] = C[:, p]
    C[q, q] = C[p, p]
    point = {a: C[x, y] for a, (x, y) in zip(args, _ARG_ORDER[n])}
    for d in partials:
        val = d.subs(point)
        if val.has(sp.zoo, sp.oo, -sp.oo, sp.nan) or not val.is_finite:
            return True
    return False


def _reduced_gradient(n, args, expr, p, q):
    """Derivatives of ``expr`` with fields p and q identified: [(position, derivative)]."""
    mapping = _coincide(n, p, q)
    positive = {a: sp.Symbol(a.name, positive=True) for a in args}
    back = {v: k for k, v in positive.items()}
    reduced = expr.xreplace({args[j]: positive[args[t]] for j, t in mapping.items()})
    out = []
    for t in sorted(set(mapping.values())):
        d = sp.diff(reduced, positive[args[t]])
        out.append((t, sp.simplify(d).xreplace(back)))
    return out


@functools.lru_cache(maxsize=None)
def derive_kernel_gradients(activation: str) -> dict:
    """Gradient kernels of one closed-form activation.

    Parameters
    ----------
    activation : {"erf", "linear", "relu"}

    Returns
    -------
    dict of str -> KernelGradient
        Keys ``"I2", "J2", "I3", "I4"``.

    Raises
    ------
    NotImplementedError
        If a kernel has more than one singular pair of fields.
    """
    out = {}
    for name, kern in derive_kernels(activation).items():
        n = KERNEL_FIELDS[name]
        if kern.expr is None:
            out[name] = KernelGradient(name, kern.args, None,
                                       numeric=NUMERIC_GRADIENTS[kern.numeric])
            continue
        partials = [sp.diff(kern.expr, a) for a in kern.args]
        pairs = [(p, q) for p, q in itertools.combinations(range(n), 2)
                 if _is_singular(n, kern.args, partials, p, q)]
        if len(pairs) > 1:
            raise NotImplementedError(f"{activation} {name}: several singular pairs {pairs}")
        singular = pairs[0] if pairs else None
        reduced = _reduced_gradient(n, kern.args, kern.expr, *singular) if singular else []
        out[name] = KernelGradient(name, kern.args, kern.expr, partials, singular, reduced)
    return out


class _GradientPrinter(NumbaPrinter):
    """Half-integer powers as square roots (``x**1.5`` -> ``x*math.sqrt(x)``): ``**`` with a
    float exponent is a call of ``pow``, several times slower."""

    def _print_Pow(self, expr, rational=False):
        return _half_power(self, expr) or super()._print_Pow(expr, rational=rational)


def _half_power(printer, expr):
    """``x**(p/2)`` (|p| > 1 odd) as ``x**((p-1)/2)*math.sqrt(x)``, else None."""
    base, exp = expr.as_base_exp()
    if exp.is_Rational and exp.q == 2 and abs(exp.p) > 1:
        whole = sp.Pow(base, (abs(exp.p) - 1) // 2)
        text = f"({printer._print(whole)}*math.sqrt({printer._print(base)}))"
        return text if exp > 0 else f"(1.0/{text})"
    return None


def _fast_printer():
    from .hoist import PLACEHOLDER

    class _FastPrinter(_StructPrinter):
        """Loop code: covariance entries, the hoisting placeholder ``f``, half-integer powers
        as square roots."""

        def _print_Symbol(self, expr):
            if expr == PLACEHOLDER:
                return "f"
            return super()._print_Symbol(expr)

        def _print_Pow(self, expr, rational=False):
            return _half_power(self, expr) or super()._print_Pow(expr, rational=rational)

    return _FastPrinter()


def _field_names(n):
    return [f"x{j + 1}" for j in range(n)]


def _print_block(exprs, pad, printer, prefix="t"):
    """CSE of ``exprs``: (assignment lines, printed reduced expressions). Integer results are
    printed as floats (every branch of a generated function returns a tuple of floats)."""
    repl, reduced = sp.cse(exprs, symbols=sp.numbered_symbols(prefix), optimizations="basic")
    lines = [f"{pad}{s} = {printer.doprint(e)}" for s, e in repl]
    return lines, [_as_float(printer.doprint(e)) for e in reduced]


def _as_float(text):
    return f"{text}.0" if text.lstrip("-").isdigit() else text


def _emit_gradient_function(grad: KernelGradient) -> str:
    n = KERNEL_FIELDS[grad.name]
    printer = _GradientPrinter()
    sig = ", ".join([str(a) for a in grad.args] + _field_names(n))
    lines = ['@numba.njit(cache=True, error_model="numpy", inline="always")',
             f"def {GRADIENT_NAMES[grad.name]}({sig}):",
             f'    """{grad.name} and its partial derivatives with respect to its arguments."""']
    if grad.singular is not None:
        p, q = grad.singular
        derivs = dict(grad.reduced)
        body, printed = _print_block([grad.expr] + [derivs[t] for t in sorted(derivs)],
                                     " " * 8, printer, "r")
        values = dict(zip(sorted(derivs), printed[1:]))
        ret = [printed[0]] + [values.get(j, "0.0") for j in range(len(grad.args))]
        lines += [f"    if x{p + 1} == x{q + 1}:   # coincident fields: reduced gradient"]
        lines += body + [f"        return ({', '.join(ret)})"]
    body, printed = _print_block([grad.expr] + grad.partials, " " * 4, printer)
    lines += body + [f"    return ({', '.join(printed)})"]
    return "\n".join(lines)


def _gradient_kernel_source(activation):
    """Source of the gradient kernels of a closed-form activation (and numeric imports)."""
    grads = derive_kernel_gradients(activation)
    imports, bodies = [], []
    for name in ("I2", "J2", "I3", "I4"):
        g = grads[name]
        if g.expr is None:
            module, func = g.numeric.split(":")
            imports.append(f"from {module} import {func} as {GRADIENT_NAMES[name]}")
        else:
            bodies.append(_emit_gradient_function(g))
    return imports, bodies


# ------------------------------------------------------------------------------------------
# the Jacobian loops
# ------------------------------------------------------------------------------------------
_KERNEL_FUNCS = tuple(S.KERNELS.values())
_PRINTER = _StructPrinter()
_FAST_PRINTER = _fast_printer()


def _pr(expr):
    return _PRINTER.doprint(expr)


def _kernel_calls(expr):
    """The kernel calls in ``expr`` (sorted, each once)."""
    calls = {e for e in sp.preorder_traversal(expr)
             if isinstance(e, sp.Function) and e.func in _KERNEL_FUNCS}
    return sorted(calls, key=sp.default_sort_key)


def _independent(expr, entries):
    """``expr`` with every array entry in ``entries`` replaced by its own symbol, so that
    derivatives treat ``v[i]`` and ``v[k]`` as different arguments (equal indices at run time
    then add both contributions to the same column); (new expr, symbols)."""
    syms = [sp.Dummy(f"e{j}", real=True) for j in range(len(entries))]
    return expr.xreplace(dict(zip(entries, syms))), syms


def _param_slots():
    """Printed parameter name -> index in the parameter row p."""
    return {name: 2 + j for j, name in enumerate(_PARAMS)}


def _params_in(expr):
    slots = _param_slots()
    return sorted((s for s in expr.free_symbols
                   if isinstance(s, sp.Symbol) and _pr(s) in slots), key=sp.default_sort_key)


def _plan(rhs):
    """(sums, linear) of one equation: ``linear`` when the right-hand side is linear in its sums
    with weights that depend on neither the sums nor kernels (then the weights are computed
    before the loops and every sum scatters into one gradient buffer)."""
    sums = sorted(rhs.atoms(sp.Sum), key=sp.default_sort_key)
    accs = [sp.Dummy() for _ in sums]
    E = rhs.xreplace(dict(zip(sums, accs)))
    kernels = {c: sp.Dummy() for c in _kernel_calls(E)}
    Ed, _ = _independent(E.xreplace(kernels), sorted(E.atoms(sp.Indexed),
                                                     key=sp.default_sort_key))
    blocked = set(accs) | set(kernels.values())
    linear = all(not (sp.diff(Ed, a).free_symbols & blocked) for a in accs)
    return sums, linear


def n_buffers(eqs) -> int:
    """Gradient buffers of F*F + F entries the Jacobian needs in ``work``: one when every
    equation is linear in its sums (:func:`_plan`), else one per sum of the equation with most
    sums plus one for the terms outside the sums."""
    out = 1
    for eq in (eqs.Q, eqs.R, eqs.v):
        sums, linear = _plan(eq.rhs)
        out = max(out, 1 if linear else len(sums) + 1)
    return out


def _target(t):
    """Printed buffer entry of a scatter target ("G", j, x, y) or ("g", j, x)."""
    if t[0] == "G":
        return f"G{t[1]}[{_pr(t[2])}, {_pr(t[3])}]"
    return f"g{t[1]}[{_pr(t[2])}]"


class _RowEmitter:
    """Statements computing one Jacobian row (one output of the right-hand side).

    Scatter targets (buffer entries) that do not depend on the innermost summation index are
    accumulated in scalars and written once after that loop; contributions of several partial
    derivatives to the same entry are added first.
    """

    def __init__(self, grads=None):
        self.count = 0
        self.patterns = set()
        self.grads = grads or {}
        #: hoisted arrays of length F (names), views of ``work`` after the buffers
        self.arrays = []

    def _inlinable(self, calls):
        """Whether every call has a closed-form gradient without a singular pair (then the
        derivatives are written into the loop and loop invariants hoisted)."""
        return bool(calls) and all(
            (g := self.grads.get(c.func.__name__)) is not None and g.expr is not None
            and g.singular is None for c in calls)

    def _inline_part(self, part, mult, weight, buf, pad, dummies, loads):
        """:meth:`_part` with the kernel derivatives written out in the covariance entries and
        loop invariants hoisted (:func:`odesolve.derive.hoist.hoist`): (lines before the
        loop, lines, printed value, contributions)."""
        from .hoist import hoist
        from .inline import _cov

        dummies = tuple(d for d in dummies if d in part.free_symbols)
        outer_pad = self.sum_pad
        syms, scatters = {}, []
        subs_val = {}
        for call in _kernel_calls(part):
            g = self.grads[call.func.__name__]
            idx = call.args
            entries = {a: _cov(idx[x], idx[y])
                       for a, (x, y) in zip(g.args, _ARG_ORDER[len(idx)])}
            val = sp.Symbol(self._name("kv"), real=True)
            syms[call] = val
            subs_val[val] = g.expr.xreplace(entries)
            scatters.append((val, [(idx[x], idx[y], d.xreplace(entries))
                                   for (x, y), d in zip(_ARG_ORDER[len(idx)], g.partials)]))
        P = part.xreplace(syms)
        cs = sorted({e for e in P.atoms(sp.Indexed) if e.base == S.c}, key=sp.default_sort_key)
        Pd, cd = _independent(P, cs)
        w = mult * (sp.Symbol(weight) if weight else 1)
        targets = {}
        for val, scat in scatters:
            coef = w * sp.diff(Pd, val)
            for x, y, d in scat:
                key = ("G", buf, x, y)
                targets[key] = targets.get(key, 0) + coef * d
        for e, d in zip(cs, cd):
            key = ("g", buf, e.indices[0])
            targets[key] = targets.get(key, 0) + w * sp.diff(Pd, d)
        keys = list(targets)
        self.patterns.update(keys)
        exprs = [mult * P] + [targets[k].xreplace(dict(zip(cd, cs))) for k in keys]
        exprs = [e.xreplace(subs_val) for e in exprs]
        h = hoist([(e, tuple(dummies)) for e in exprs], lambda e: e.free_symbols,
                  prefix=self._name("h") + "_")
        pre = []
        printer = _FAST_PRINTER
        if h.scalars:
            body, printed = _print_block([e for _, e in h.scalars], outer_pad, printer,
                                         self._name("o") + "_")
            pre += body + [f"{outer_pad}{n} = {e}" for (n, _), e in zip(h.scalars, printed)]
        for name, body_expr in h.arrays:
            self.arrays.append(str(name))
            body, (printed,) = _print_block([body_expr], outer_pad + "    ", printer,
                                            self._name("a") + "_")
            pre += [f"{outer_pad}for f in range(F):"] + body + [
                f"{outer_pad}    {name}[f] = {printed}"]
        # every entry read in the loop: C, c and the hoisted arrays
        entries = sorted({e for x in h.exprs for e in x.atoms(sp.Indexed)},
                         key=sp.default_sort_key)
        load = {e: sp.Symbol(self._load(_pr(e), e.indices, loads, dummies)) for e in entries}
        reduced = [e.xreplace(load) for e in h.exprs]
        body, printed = _print_block(reduced, pad, printer, self._name("u") + "_")
        contrib = [(k, e) for k, e in zip(keys, printed[1:]) if e not in ("0", "0.0")]
        return pre, body, printed[0], contrib

    def _name(self, stem):
        self.count += 1
        return f"{stem}{self.count}"

    def _load(self, source, indices, loads, dummies):
        """Name under which the entry ``source`` is read: a scalar loaded before the loop of
        the first level of ``loads`` (pairs of an index set and a dict) that contains its
        summation indices, else ``source`` itself (read in place). Loop-invariant entries in
        scalars let the compiler hoist what depends on them: the gradient buffers live in the
        same ``work`` array as C and c, so it cannot prove that a store leaves them unchanged."""
        idx = set().union(*(sp.sympify(x).free_symbols for x in indices)) & set(dummies)
        for lev, table in loads:
            if idx <= lev:
                if source not in table:
                    table[source] = self._name("cl")
                return table[source]
        return source

    def _call(self, call, pad, loads=(), dummies=()):
        """Gradient-kernel call: (lines, value symbol, [(x, y, partial symbol)])."""
        name = call.func.__name__
        idx = call.args
        n = len(idx)
        tag = self._name("k")
        outs = [f"{tag}v"] + [f"{tag}d{j}" for j in range(len(_ARG_ORDER[n]))]
        cargs = [self._load(f"C[{_pr(idx[x])}, {_pr(idx[y])}]", (idx[x], idx[y]), loads,
                            dummies) for x, y in _ARG_ORDER[n]]
        line = (f"{pad}{', '.join(outs)} = {GRADIENT_NAMES[name]}("
                f"{', '.join(cargs + [_pr(a) for a in idx])})")
        scat = [(idx[x], idx[y], sp.Symbol(o)) for (x, y), o in zip(_ARG_ORDER[n], outs[1:])]
        return [line], sp.Symbol(outs[0]), scat

    def _part(self, part, mult, weight, buf, pad, dummies, loads=()):
        """One summand (kernel calls times coefficients): (lines, printed value,
        [(target, printed contribution)])."""
        lines = []
        calls = _kernel_calls(part)
        if self._inlinable(calls):
            pre, body, val, contrib = self._inline_part(part, mult, weight, buf, pad, dummies,
                                                        loads)
            self.pre += pre
            return body, val, contrib
        syms, scatters = {}, []
        for call in calls:
            ls, val, scat = self._call(call, pad, loads, dummies)
            lines += ls
            syms[call] = val
            scatters.append((val, scat))
        P = part.xreplace(syms)
        allowed = set(syms.values()) | set(dummies) | {S.i, S.k, S.nt, S.n}
        bad = {s for s in P.free_symbols if s not in allowed}
        cs = sorted({e for e in P.atoms(sp.Indexed) if e.base == S.c}, key=sp.default_sort_key)
        bad -= {s for e in cs for s in e.free_symbols}
        if bad or any(e.base != S.c for e in P.atoms(sp.Indexed)):
            raise NotImplementedError(f"summand depends on more than c and kernels: {part}")
        Pd, cd = _independent(P, cs)
        w = mult * (sp.Symbol(weight) if weight else 1)
        targets = {}
        for val, scat in scatters:
            coef = w * sp.diff(Pd, val)
            for x, y, d in scat:
                key = ("G", buf, x, y)
                targets[key] = targets.get(key, 0) + coef * d
        for e, d in zip(cs, cd):
            key = ("g", buf, e.indices[0])
            targets[key] = targets.get(key, 0) + w * sp.diff(Pd, d)
        keys = list(targets)
        self.patterns.update(keys)
        cload = {e: sp.Symbol(self._load(_pr(e), e.indices, loads, dummies)) for e in cs}
        exprs = [mult * P] + [targets[k].xreplace(dict(zip(cd, cs))) for k in keys]
        exprs = [e.xreplace(cload) for e in exprs]
        body, printed = _print_block(exprs, pad, _PRINTER, self._name("u") + "_")
        return lines + body, printed[0], list(zip(keys, printed[1:]))

    def _scatter(self, contributions, pad, levels, dummies):
        """Lines adding contributions; a target whose summation indices (among ``dummies``)
        are a subset of the first set of ``levels`` (pairs of a set of indices and an
        accumulator dict) that contains them goes to that accumulator."""
        lines = []
        for t, e in contributions:
            idx = set().union(*(sp.sympify(x).free_symbols for x in t[2:])) & set(dummies)
            for lev, accs in levels:
                if idx <= lev:
                    name = accs.setdefault(t, self._name("acc"))
                    lines.append(f"{pad}{name} += {e}")
                    break
            else:
                lines.append(f"{pad}{_target(t)} += {e}")
        return lines

    @staticmethod
    def _flush(accs, pad, loads=None):
        """(lines before a loop: loads and zeroed accumulators, lines after it: flushes)."""
        init = [f"{pad}{name} = {src}" for src, name in (loads or {}).items()]
        init += [f"{pad}{name} = 0.0" for name in accs.values()]
        flush = [f"{pad}{_target(t)} += {name}" for t, name in accs.items()]
        return init, flush

    def sum_lines(self, s, buf, weight, acc, pad):
        summand, limits = s.function, s.limits
        dummies = [lim[0] for lim in limits]
        for lim in limits:
            if lim[1] != 0 or lim[2] != S.F - 1:
                raise NotImplementedError(f"sums must run over all fields, got {lim}")
        self.pre = []
        self.sum_pad = pad
        lines = self._sum_loops(s, buf, weight, acc, pad, dummies)
        return self.pre + lines

    def _sum_loops(self, s, buf, weight, acc, pad, dummies):
        summand = s.function
        outer, outer_loads = {}, {}
        p1 = pad + "    "
        if len(dummies) == 1:
            (a,) = dummies
            body, val, contrib = self._part(summand, 1, weight, buf, p1, dummies,
                                            [(frozenset(), outer_loads)])
            body += [f"{p1}{acc} += {val}"]
            body += self._scatter(contrib, p1, [(frozenset(), outer)], dummies)
            init, flush = self._flush(outer, pad, outer_loads)
            return [f"{pad}{acc} = 0.0"] + init + [f"{pad}for {_pr(a)} in range(F):"] + body + flush
        if len(dummies) != 2:
            raise NotImplementedError("sums over more than two field indices")
        b, a = dummies
        from .averages import canonicalize
        swapped = canonicalize(summand.xreplace({a: b, b: a}))
        symmetric = sp.expand(swapped - canonicalize(summand)) == 0
        p2 = p1 + "    "
        body = []
        if symmetric:
            d, val, contrib = self._part(summand.xreplace({b: a}), 1, weight, buf, p1, dummies,
                                         [(frozenset(), outer_loads)])
            body += d + [f"{p1}{acc} += {val}"]
            body += self._scatter(contrib, p1, [(frozenset(), outer)], dummies)
            inner_range = f"range({_pr(a)} + 1, F)"
            mult = 2
        else:
            inner_range = "range(F)"
            mult = 1
        at_a, a_loads = {}, {}
        d, val, contrib = self._part(summand, mult, weight, buf, p2, dummies,
                                     [(frozenset(), outer_loads), (frozenset({a}), a_loads)])
        inner = d + [f"{p2}{acc} += {val}"]
        inner += self._scatter(contrib, p2, [(frozenset(), outer), (frozenset({a}), at_a)],
                               dummies)
        init_a, flush_a = self._flush(at_a, p1, a_loads)
        body += init_a + [f"{p1}for {_pr(b)} in {inner_range}:"] + inner + flush_a
        init, flush = self._flush(outer, pad, outer_loads)
        return [f"{pad}{acc} = 0.0"] + init + [f"{pad}for {_pr(a)} in range(F):"] + body + flush

    def row(self, rhs, row, pad, n_buf):
        """All statements of one row: sums, explicit terms, fold into Jy/Jp."""
        sums, linear = _plan(rhs)
        D = 0 if linear else n_buf - 1
        self.patterns = set()
        lines = [f"{pad}row = {row}"]
        if not linear:
            lines += [f"{pad}for f in range(nb):", f"{pad}    gbuf[f] = 0.0"]
        accs = [sp.Symbol(f"sv{j}") for j in range(len(sums))]
        E = rhs.xreplace(dict(zip(sums, accs)))
        # kernel calls outside the sums
        syms, scatters = {}, []
        for call in _kernel_calls(E):
            ls, val, scat = self._call(call, pad)
            lines += ls
            syms[call] = val
            scatters.append((val, scat))
        E = E.xreplace(syms)
        explicit = sorted(E.atoms(sp.Indexed), key=sp.default_sort_key)
        params = _params_in(E)
        Ed, xd = _independent(E, explicit)
        weights = [sp.diff(Ed, acc).xreplace(dict(zip(xd, explicit))) for acc in accs]
        wnames = [f"wt{j}" for j in range(len(sums))]
        if linear:
            body, printed = _print_block(weights, pad, _PRINTER, self._name("w") + "_")
            lines += body + [f"{pad}{w} = {e}" for w, e in zip(wnames, printed)]
        for j, (s, acc) in enumerate(zip(sums, accs)):
            lines += self.sum_lines(s, 0 if linear else j, wnames[j] if linear else None,
                                    str(acc), pad)
        exprs = [sp.diff(Ed, val) for val, _ in scatters]
        exprs += [sp.diff(Ed, d) for d in xd] + [sp.diff(Ed, s) for s in params]
        exprs = [e.xreplace(dict(zip(xd, explicit))) for e in exprs]
        if not linear:
            exprs = weights + exprs
        body, printed = _print_block(exprs, pad, _PRINTER, self._name("w") + "_")
        lines += body
        if not linear:
            lines += [f"{pad}{w} = {e}" for w, e in zip(wnames, printed[:len(sums)])]
            printed = printed[len(sums):]
        rest = printed
        for (val, scat), w in zip(scatters, rest[:len(scatters)]):
            for x, y, d in scat:
                lines.append(f"{pad}G{D}[{_pr(x)}, {_pr(y)}] += {w} * {d}")
                self.patterns.add(("G", D, x, y))
        rest = rest[len(scatters):]
        vdirect = []
        for e, w in zip(explicit, rest[:len(explicit)]):
            ix = [_pr(t) for t in e.indices]
            if e.base == S.Q:
                lines.append(f"{pad}G{D}[{ix[0]}, {ix[1]}] += {w}")
                self.patterns.add(("G", D, e.indices[0], e.indices[1]))
            elif e.base == S.R:
                if e.indices[1] != S.n:
                    raise NotImplementedError(f"R entry {e} with a teacher index other than n")
                lines.append(f"{pad}G{D}[{ix[0]}, K + {ix[1]}] += {w}")
                self.patterns.add(("G", D, e.indices[0], S.nt))
            elif e.base == S.c:
                lines.append(f"{pad}g{D}[{ix[0]}] += {w}")
                self.patterns.add(("g", D, e.indices[0]))
            elif e.base == S.v:
                vdirect.append(f"{pad}Jy[row, vo + {ix[0]}] += {w}")
            else:
                raise NotImplementedError(f"unexpected array {e} in {rhs}")
        slots = _param_slots()
        pdirect = [f"{pad}Jp[row, {slots[_pr(s)]}] += {w}"
                   for s, w in zip(params, rest[len(explicit):])]
        if linear:
            lines += _sparse_fold(self.patterns, pad)
        else:
            lines += _fold(wnames, D, pad) + [f"{pad}for f in range(nb):",
                                              f"{pad}    gbuf[f] = 0.0"]
        return lines + vdirect + pdirect


_OUTER = {S.i, S.k, S.n, S.nt}

def _fold_entry(x, z, pad):
    """Lines adding the gradient with respect to the covariance entry (x, z) to the row
    (symmetric convention of the module doc) and zeroing it in the buffer. The buffer is
    therefore zero again after every row, and an entry reached twice adds nothing the second
    time. (Written out: a compiled helper taking the arrays costs reference counting per
    call.)"""
    p2, p3 = pad + "    ", pad + "        "
    return [f"{pad}if {x} == {z}:",
            f"{p2}gv = G0[{x}, {x}]",
            f"{p2}G0[{x}, {x}] = 0.0",
            f"{p2}if {x} < K:",
            f"{p3}Jy[row, {x} * K + {x}] += gv",
            f"{p2}else:",
            f"{p3}Jp[row, t0 + ({x} - K) * M + {x} - K] += gv",
            f"{pad}else:",
            f"{p2}lo = min({x}, {z})",
            f"{p2}hi = max({x}, {z})",
            f"{p2}gv = G0[lo, hi] + G0[hi, lo]",
            f"{p2}G0[lo, hi] = 0.0",
            f"{p2}G0[hi, lo] = 0.0",
            f"{p2}if hi < K:",
            f"{p3}Jy[row, lo * K + hi] += 0.5 * gv",
            f"{p3}Jy[row, hi * K + lo] += 0.5 * gv",
            f"{p2}elif lo < K:",
            f"{p3}Jy[row, K * K + lo * M + hi - K] += gv",
            f"{p2}else:",
            f"{p3}Jp[row, t0 + (lo - K) * M + hi - K] += 0.5 * gv",
            f"{p3}Jp[row, t0 + (hi - K) * M + lo - K] += 0.5 * gv"]


def _fold_coefficient(x, pad):
    """Lines adding the gradient with respect to the error coefficient c[x] (-v_x or v*_x)
    to the row and zeroing it."""
    p2 = pad + "    "
    return [f"{pad}gv = g0[{x}]",
            f"{pad}g0[{x}] = 0.0",
            f"{pad}if {x} < K:",
            f"{p2}Jy[row, vo + {x}] -= gv",
            f"{pad}else:",
            f"{p2}Jp[row, t0 + M * M + {x} - K] += gv"]


def _sparse_fold(patterns, pad):
    """Fold only the buffer entries the row can have touched (its scatter patterns)."""
    def dummy(x):
        return not (sp.sympify(x).free_symbols <= _OUTER)

    lines = []
    G = sorted({t[2:] for t in patterns if t[0] == "G"}, key=sp.default_sort_key)
    p2 = pad + "    "
    if any(dummy(x) and dummy(y) and x != y for x, y in G):
        lines += [f"{pad}for x in range(F):", f"{p2}for z in range(x, F):"]
        lines += _fold_entry("x", "z", p2 + "    ")
    else:
        rows = {y if dummy(x) else x for x, y in G if dummy(x) != dummy(y)}
        diagonal = any(dummy(x) and dummy(y) for x, y in G)
        # entries of fixed indices already reached by a loop over a row or the diagonal
        G = [(x, y) for x, y in G if dummy(x) or dummy(y)
             or not (x in rows or y in rows or (diagonal and x == y))]
        for x, y in G:
            if dummy(x) and dummy(y):
                lines += [f"{pad}for z in range(F):"] + _fold_entry("z", "z", p2)
            elif dummy(x) or dummy(y):
                fixed = y if dummy(x) else x
                lines += [f"{pad}for z in range(F):"] + _fold_entry(_pr(fixed), "z", p2)
            else:
                lines += _fold_entry(_pr(x), _pr(y), pad)
    g = sorted({t[2] for t in patterns if t[0] == "g"}, key=sp.default_sort_key)
    if any(dummy(x) for x in g):
        lines += [f"{pad}for z in range(F):"] + _fold_coefficient("z", p2)
    else:
        for x in g:
            lines += _fold_coefficient(_pr(x), pad)
    return lines


def _fold(wnames, D, pad):
    """Gradient buffers -> Jacobian row (symmetric convention of the module doc): buffer j
    weighted by ``wnames[j]``, buffer D unweighted."""
    diag = " + ".join([f"{w} * G{j}[x, x]" for j, w in enumerate(wnames)] + [f"G{D}[x, x]"])
    off = " + ".join([f"{w} * (G{j}[x, z] + G{j}[z, x])" for j, w in enumerate(wnames)]
                     + [f"G{D}[x, z] + G{D}[z, x]"])
    cc = " + ".join([f"{w} * g{j}[x]" for j, w in enumerate(wnames)] + [f"g{D}[x]"])
    p2 = pad + "    "
    p3 = p2 + "    "
    return [f"{pad}for x in range(F):",
            f"{p2}gxx = {diag}",
            f"{p2}if x < K:",
            f"{p3}Jy[row, x * K + x] += gxx",
            f"{p3}Jy[row, vo + x] -= {cc}",
            f"{p2}else:",
            f"{p3}Jp[row, t0 + (x - K) * M + x - K] += gxx",
            f"{p3}Jp[row, t0 + M * M + x - K] += {cc}",
            f"{p2}for z in range(x + 1, F):",
            f"{p3}gxz = {off}",
            f"{p3}if z < K:",
            f"{p3}    Jy[row, x * K + z] += 0.5 * gxz",
            f"{p3}    Jy[row, z * K + x] += 0.5 * gxz",
            f"{p3}elif x < K:",
            f"{p3}    Jy[row, K * K + x * M + z - K] += gxz",
            f"{p3}else:",
            f"{p3}    Jp[row, t0 + (x - K) * M + z - K] += 0.5 * gxz",
            f"{p3}    Jp[row, t0 + (z - K) * M + x - K] += 0.5 * gxz"]


def _jacobian_body(eqs, grads=None):
    """Lines of ``committee_jac`` (after its def line) and the number of hoisted arrays.

    Without ``grads`` the kernels' gradients are calls of ``gI2..gI4`` (any binding); with
    the derived gradients of a closed-form activation they are written into the loops
    wherever no singular pair forces a call."""
    nb = n_buffers(eqs)
    lines = ['    """d rhs / d y into Jy (n, n) and d rhs / d p into Jp (n, n_p); columns of Jp',
             '    follow the parameter row p. Symmetric convention for Q and T: module',
             '    odesolve.derive.jacobian."""']
    lines += _preamble()
    lines += [f"    t0 = {2 + len(_PARAMS)}",
              "    vo = K * K + K * M",
              "    o = F * F + F",
              f"    nb = {nb} * (F * F + F)",
              "    gbuf = work[o:o + nb]"]
    for j in range(nb):
        lines += [f"    G{j} = matrix(work, o + {j} * (F * F + F), F, F)",
                  f"    g{j} = work[o + {j} * (F * F + F) + F * F:o + {j + 1} * (F * F + F)]"]
    lines += ["    n_y = K * K + K * M + K",
              "    if Jy.shape[0] != n_y or Jy.shape[1] != n_y or Jp.shape[0] != n_y \\",
              "            or Jp.shape[1] < t0 + M * M + M:",
              "        raise ValueError(\"`Jy` must have shape (n, n) and `Jp` (n, n_p) with n_p "
              "the length of the parameter row p (n = K*K + K*M + K).\")",
              "    Jy[:, :] = 0.0", "    Jp[:, :] = 0.0",
              "    for f in range(nb):", "        gbuf[f] = 0.0"]
    em = _RowEmitter(grads)
    head = lines
    lines = []
    q = eqs.Q
    lines += ["    for i in range(K):",
              "        for k in range(i, K):" if q.symmetric_in else "        for k in range(K):"]
    lines += em.row(q.rhs, "i * K + k", " " * 12, nb)
    if q.symmetric_in:
        lines += ["            if k != i:",
                  "                for f in range(Jy.shape[1]):",
                  "                    Jy[k * K + i, f] = Jy[row, f]",
                  "                for f in range(Jp.shape[1]):",
                  "                    Jp[k * K + i, f] = Jp[row, f]"]
    lines += ["    for i in range(K):", "        for n in range(M):", "            nt = K + n"]
    lines += em.row(eqs.R.rhs, "K * K + i * M + n", " " * 12, nb)
    lines += ["    for i in range(K):"]
    lines += em.row(eqs.v.rhs, "vo + i", " " * 8, nb)
    views = [f"    {name} = work[o + nb + {j} * F:o + nb + {j + 1} * F]"
             for j, name in enumerate(em.arrays)]
    return head + views + lines, len(em.arrays)


def _module_head(title):
    return [HEADER.format(title=title), "import math", "", "import numba", ""]


def emit_jacobian_template_module(eqs) -> str:
    """Source of the structural Jacobian: a template calling the global gradient kernels
    ``gI2, gJ2, gI3, gI4`` (bound per activation by :func:`odesolve._jit.specialise`).

    Parameters
    ----------
    eqs : odesolve.derive.sgd.CommitteeEquations
    """
    lines = _module_head("Structural Jacobian of the committee right-hand side (any K, M, "
                         "activation): template calling the gradient kernels gI2..gI4.")
    lines += [VIEWS_IMPORT, "from .committee import load_fields", "",
              "#: gradient buffers of F*F + F entries after C and c in work",
              f"N_BUFFERS = {n_buffers(eqs)}",
              "#: hoisted arrays of length F after the gradient buffers", "N_ARRAYS = 0", "", "",
              "def committee_jac(t, y, p, work, Jy, Jp):"]
    lines += _jacobian_body(eqs)[0]
    return "\n".join(lines) + "\n"


def emit_jacobian_module(eqs, activation: str) -> str:
    """Source of the compiled Jacobian of one closed-form activation: its derived gradient
    kernels and the Jacobian loops calling them.

    Parameters
    ----------
    eqs : odesolve.derive.sgd.CommitteeEquations
    activation : {"erf", "linear", "relu"}
    """
    imports, bodies = _gradient_kernel_source(activation)
    body, n_arrays = _jacobian_body(eqs, derive_kernel_gradients(activation))
    lines = _module_head(f"Jacobian of the committee right-hand side for activation "
                         f"{activation!r}: derived gradient kernels and the Jacobian loops.")
    lines += imports + [VIEWS_IMPORT, "from .committee import load_fields", "",
                        "#: gradient buffers of F*F + F entries after C and c in work",
                        f"N_BUFFERS = {n_buffers(eqs)}",
                        "#: hoisted arrays of length F after the gradient buffers",
                        f"N_ARRAYS = {n_arrays}", "", ""]
    lines += ["\n\n\n".join(bodies), "", "",
              '@numba.njit(cache=True, error_model="numpy")',
              "def committee_jac(t, y, p, work, Jy, Jp):"]
    lines += body
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------
# derivatives of quadrature activations
# ------------------------------------------------------------------------------------------
def emit_activation_derivatives_module() -> str:
    """Source of ``derivs_<name>(x) -> (g, g', g'', g''')`` for the activations of
    :data:`DERIVATIVE_ACTIVATIONS` (``sympy.diff``), used by the Price's-theorem gradients of
    the quadrature kernels."""
    x = sp.Symbol("x", real=True)
    lines = _module_head("Activations and their first three derivatives (sympy.diff), for the "
                         "gradients of the quadrature kernels.")
    for name, make in DERIVATIVE_ACTIVATIONS.items():
        g = make(x)
        exprs = [g] + [sp.diff(g, x, m) for m in (1, 2, 3)]
        body, printed = _print_block(exprs, "    ", NumbaPrinter())
        lines += ["", '@numba.njit(cache=True, error_model="numpy")', f"def derivs_{name}(x):",
                  f'    """g, g\', g\'\', g\'\'\' of {name} at x."""']
        lines += body + [f"    return ({', '.join(printed)})", ""]
    return "\n".join(lines)


def render_jacobian() -> str:
    """Markdown summary of the derived kernel derivatives (the singular pairs and reduced
    gradients included)."""
    out = ["<!-- GENERATED by `odesolve derive`; do not edit. Source: odesolve/derive/. -->\n\n",
           "# Jacobians of the committee right-hand side\n\n",
           "Derived by `odesolve.derive.jacobian`. Every output $E$ of the right-hand side "
           "(`derivations/committee.md`) is a function of sums "
           "$s_j = \\sum_{a(,b)} P_j(c, \\kappa(C))$ of kernels $\\kappa$ of the field "
           "covariance $C = [[Q, R], [R^T, T]]$ with the error coefficients "
           "$c = (-v, v^*)$, and of $v$, $Q$, $R$ and the parameters explicitly. The chain rule "
           "gives\n\n$$\n\\frac{\\partial E}{\\partial y} = \\sum_j "
           "\\frac{\\partial E}{\\partial s_j}\\sum_{a(,b)}\\Big(\\frac{\\partial P_j}"
           "{\\partial \\kappa}\\frac{\\partial \\kappa}{\\partial C_{xy}}"
           "\\frac{\\partial C_{xy}}{\\partial y} + \\frac{\\partial P_j}{\\partial c_x}"
           "\\frac{\\partial c_x}{\\partial y}\\Big) + \\text{explicit terms},\n$$\n\n"
           "all by `sympy.diff`; the kernel derivatives are `sympy.diff` of the derived kernels "
           "(`derivations/kernels_*.md`). Q and T enter as symmetric matrices: the column of a "
           "stored off-diagonal entry holds half the derivative with respect to the overlap.\n\n"]
    for act in ("erf", "linear", "relu"):
        out.append(f"## {act}\n\n")
        grads = derive_kernel_gradients(act)
        for name in ("I2", "J2"):
            g = grads[name]
            for a, d in zip(g.args, g.partials):
                out.append(f"$$\\frac{{\\partial {name}}}{{\\partial {sp.latex(a)}}} = "
                           f"{sp.latex(sp.simplify(d))}$$\n\n")
        for name, g in grads.items():
            if g.expr is None:
                out.append(f"- {name}: numeric kernel; gradient `{g.numeric}`.\n")
                continue
            sing = ("none" if g.singular is None else
                    f"fields {g.singular[0] + 1} and {g.singular[1] + 1} (reduced gradient "
                    "when they coincide)")
            out.append(f"- {name}: {len(g.partials)} partial derivatives; singular pair: "
                       f"{sing}.\n")
            if g.singular is not None:
                for pos, d in g.reduced:
                    out.append(f"  - $\\partial/\\partial {sp.latex(g.args[pos])}$ (reduced): "
                               f"${sp.latex(d)}$\n")
        out.append("\n")
    return "".join(out)


# ------------------------------------------------------------------------------------------
# elastic weight consolidation terms
# ------------------------------------------------------------------------------------------
def emit_ewc_jacobian_module() -> str:
    """Source of ``add_ewc_jacobian(y, p, Jy, Jp)``: adds the derivatives of the EWC drift
    (:func:`odesolve.derive.ewc.derive_ewc`, layout of :func:`odesolve.derive.ewc.emit_ewc_module`)
    to ``Jy`` and to the columns of ``Jp`` that follow the EWC parameter row (``lam, F (K),
    Fv (K), va (K)`` after the PSD tolerance). The terms are linear in the state; every
    derivative is ``sympy.diff`` of the derived terms, with the symmetric convention for Q and T
    (module doc)."""
    from .ewc import EWC_SYMBOLS, derive_ewc

    lam, Fw, Fv, va, Sa, Qa, Ra = EWC_SYMBOLS
    terms = derive_ewc()
    slots = _param_slots()
    class _EwcPrinter(_StructPrinter):
        """The anchors' overlaps as entries of R and T (layout of the EWC module)."""

        def _print_Indexed(self, expr):
            base, idx = expr.base, [self._print(j) for j in expr.indices]
            if base == Sa:
                return f"R[{idx[0]}, L + {idx[1]}]"
            if base == Qa:
                return f"T[L + {idx[0]}, L + {idx[1]}]"
            if base == Ra:
                return f"T[L + {idx[0]}, {idx[1]}]"
            return super()._print_Indexed(expr)

    printer = _EwcPrinter()

    def pr(e):
        return printer.doprint(e)

    def column(e):
        """(array, column expression or pair of symmetric columns) of an entry."""
        base, idx = e.base, [pr(j) for j in e.indices]
        if base == S.Q:
            return "Jy", ("sym", idx[0], idx[1], "0", "K")
        if base == S.R:
            return "Jy", ("one", f"K * K + {idx[0]} * M + {idx[1]}")
        if base == Sa:
            return "Jy", ("one", f"K * K + {idx[0]} * M + L + {idx[1]}")
        if base == S.v:
            return "Jy", ("one", f"vo + {idx[0]}")
        if base == Qa:
            return "Jp", ("sym", f"L + {idx[0]}", f"L + {idx[1]}", "t0", "M")
        if base == Ra:
            return "Jp", ("sym", f"L + {idx[0]}", idx[1], "t0", "M")
        if base == Fw:
            return "Jp", ("one", f"o + 1 + {idx[0]}")
        if base == Fv:
            return "Jp", ("one", f"o + 1 + K + {idx[0]}")
        if base == va:
            return "Jp", ("one", f"o + 1 + 2 * K + {idx[0]}")
        raise NotImplementedError(f"EWC term reads {e}")

    def add(array, col, d, pad):
        if col[0] == "one":
            return [f"{pad}{array}[row, {col[1]}] += {d}"]
        _, x, y, off, width = col
        return [f"{pad}if {x} == {y}:",
                f"{pad}    {array}[row, {off} + ({x}) * {width} + {x}] += {d}",
                f"{pad}else:",
                f"{pad}    {array}[row, {off} + ({x}) * {width} + {y}] += 0.5 * ({d})",
                f"{pad}    {array}[row, {off} + ({y}) * {width} + {x}] += 0.5 * ({d})"]

    def statement(expr, row, pad, prefix):
        lines = [f"{pad}row = {row}"]
        entries = sorted(expr.atoms(sp.Indexed), key=sp.default_sort_key)
        Ed, ed = _independent(expr, entries)
        params = [s for s in sorted(Ed.free_symbols, key=sp.default_sort_key)
                  if s == lam or pr(s) in slots]
        derivs = [sp.diff(Ed, d) for d in ed] + [sp.diff(Ed, s) for s in params]
        derivs = [d.xreplace(dict(zip(ed, entries))) for d in derivs]
        body, printed = _print_block(derivs, pad, printer, prefix)
        lines += body
        for e, d in zip(entries, printed):
            array, col = column(e)
            lines += add(array, col, d, pad)
        for s, d in zip(params, printed[len(entries):]):
            col = "o" if s == lam else str(slots[pr(s)])
            lines.append(f"{pad}Jp[row, {col}] += {d}")
        return lines

    lines = _module_head("Jacobian of the elastic-weight-consolidation terms of the committee "
                         "ODEs (derived from odesolve/derive/ewc.py).")
    lines += ["", '@numba.njit(cache=True, error_model="numpy")',
              "def add_ewc_jacobian(y, p, Jy, Jp):",
              '    """Add d(EWC drift)/dy to Jy and d(EWC drift)/dp to Jp (symmetric convention',
              '    for Q and T; layout of the parameters: odesolve/derive/ewc.py)."""',
              "    K = int(p[0])",
              "    M = int(p[1])",
              *(f"    {name} = p[{2 + j}]" for j, name in enumerate(_PARAMS)),
              "    L = M - K",
              f"    t0 = {2 + len(_PARAMS)}",
              "    vo = K * K + K * M",
              "    o = t0 + M * M + M + 1",
              "    lambda_ = p[o]",
              "    F = p[o + 1:o + 1 + K]",
              "    Fv = p[o + 1 + K:o + 1 + 2 * K]",
              "    va = p[o + 1 + 2 * K:o + 1 + 3 * K]",
              "    T = matrix(p, t0, M, M)",
              *[ln for ln in _preamble() if ln.strip().startswith(("Q =", "R =", "v ="))],
              "    if Jp.shape[1] < o + 1 + 3 * K or Jy.shape[1] != vo + K:",
              "        raise ValueError(\"`Jp` must have a column per entry of the EWC parameter "
              "row and `Jy` (n, n).\")",
              "    for i in range(K):",
              "        for k in range(K):"]
    lines += statement(terms["Q"], "i * K + k", " " * 12, "eq")
    lines += statement(terms["S"], "K * K + i * M + L + k", " " * 12, "es")
    lines += ["        for n in range(L):"]
    lines += statement(terms["R"], "K * K + i * M + n", " " * 12, "er")
    lines += statement(terms["v"], "vo + i", " " * 8, "ev")
    text = "\n".join(lines) + "\n"
    return text.replace("import numba\n", "import numba\n\n" + VIEWS_IMPORT + "\n", 1)
