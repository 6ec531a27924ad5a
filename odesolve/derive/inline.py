"""Fast path: the committee right-hand side with one activation's kernels inlined.

The loops are the same as in the structural module (they come from the same derived
equations); the kernel calls are replaced by the derived kernel expressions written in the
covariance entries ``C[x, y]`` of the loop's field indices, loop-invariant parts are hoisted
(:mod:`odesolve.derive.hoist`) and each level is reduced by common-subexpression elimination.
Kernels without a closed form stay calls.
"""
from __future__ import annotations

import sympy as sp

from . import symbols as S
from .averages import canonicalize
from .codegen import HEADER, VIEWS_IMPORT, _ARG_ORDER, _output_views, _preamble, _StructPrinter
from .hoist import PLACEHOLDER, hoist

__all__ = ["emit_committee_inline_module"]

Cov = sp.IndexedBase("C", real=True)
_ORDER = {S.i: 0, S.k: 1, S.nt: 2}


def _cov(x, y):
    """C[x, y] with a canonical index order (C is symmetric)."""
    kx, ky = (_ORDER.get(x, 9), str(x)), (_ORDER.get(y, 9), str(y))
    return Cov[x, y] if kx <= ky else Cov[y, x]


def _inline_kernels(expr, kernels):
    """Replace kernel calls of field indices by their expressions in C[x, y]."""
    def rule(call):
        name = call.func.__name__
        kern = kernels[name]
        idx = call.args
        entries = [_cov(idx[p], idx[q]) for p, q in _ARG_ORDER[len(idx)]]
        if kern.expr is None:
            return sp.Function(name, real=True)(*entries)
        return kern.expr.xreplace(dict(zip(kern.args, entries)))

    return expr.replace(lambda e: isinstance(e, sp.Function) and e.func in S.KERNELS.values(),
                        rule)


class _InlinePrinter(_StructPrinter):
    def _print_Symbol(self, expr):
        if expr == PLACEHOLDER:
            return "f"
        return super()._print_Symbol(expr)

    def _print_Function(self, expr):
        name = expr.func.__name__
        if name in S.KERNELS:     # numeric kernel, already with covariance entries
            return f"{name}({', '.join(self._print(a) for a in expr.args)})"
        return super()._print_Function(expr)


def _deps(expr):
    return expr.free_symbols


def _is_symmetric(summand, dummies):
    """Whether a double-sum summand (in kernel form) is symmetric in its two indices."""
    if len(dummies) != 2:
        return False
    b, a = dummies
    swapped = canonicalize(summand.xreplace({a: b, b: a}))
    return sp.expand(swapped - canonicalize(summand)) == 0


class _Body:
    """Emits the statements of one outer iteration of an equation."""

    def __init__(self, printer, arrays, prefix):
        self.p = printer
        self.arrays = arrays          # global list of array names (work slots)
        self.prefix = prefix
        self.tmp = 0

    def _cse(self, exprs, pad, lines):
        syms = sp.numbered_symbols(f"{self.prefix}t{self.tmp}_")
        self.tmp += 1
        repl, reduced = sp.cse(exprs, symbols=syms, optimizations="basic")
        lines += [f"{pad}{s} = {self.p.doprint(e)}" for s, e in repl]
        return reduced

    def emit(self, rhs, kernels, pad, target):
        sums = sorted(rhs.atoms(sp.Sum), key=sp.default_sort_key)
        items = []
        for s in sums:
            dummies = tuple(lim[0] for lim in s.limits)
            items.append((_inline_kernels(s.function, kernels), dummies))
        h = hoist(items, _deps, prefix=f"{self.prefix}h")
        lines = []
        acc_names = [sp.Symbol(f"{self.prefix}s{j}") for j in range(len(sums))]
        rest = rhs.xreplace(dict(zip(sums, acc_names)))
        rest = _inline_kernels(rest, kernels)
        outer = self._cse([e for _, e in h.scalars] + [rest], pad, lines)
        for (name, _), val in zip(h.scalars, outer[:-1]):
            lines.append(f"{pad}{name} = {self.p.doprint(val)}")
        rest = outer[-1]
        for name, body in h.arrays:
            self.arrays.append(str(name))
            lines.append(f"{pad}for f in range(F):")
            inner = []
            (val,) = self._cse([body], pad + "    ", inner)
            lines += inner + [f"{pad}    {name}[f] = {self.p.doprint(val)}"]
        for s, (_, dummies), reduced, acc in zip(sums, items, h.exprs, acc_names):
            lines += self._sum(reduced, dummies, acc, pad, _is_symmetric(s.function, dummies))
        lines.append(f"{pad}{target} = {self.p.doprint(rest)}")
        return lines

    def _sum(self, summand, dummies, acc, pad, symmetric):
        lines = [f"{pad}{acc} = 0.0"]
        if len(dummies) == 1:
            (a,) = dummies
            lines.append(f"{pad}for {a} in range(F):")
            body = []
            (val,) = self._cse([summand], pad + "    ", body)
            return lines + body + [f"{pad}    {acc} += {self.p.doprint(val)}"]
        b, a = dummies
        lines.append(f"{pad}for {a} in range(F):")
        if symmetric:
            diag = []
            (val,) = self._cse([summand.xreplace({b: a})], pad + "    ", diag)
            lines += diag + [f"{pad}    {acc} += {self.p.doprint(val)}",
                             f"{pad}    for {b} in range({a} + 1, F):"]
            body = []
            (val,) = self._cse([summand], pad + "        ", body)
            return lines + body + [f"{pad}        {acc} += 2.0 * ({self.p.doprint(val)})"]
        lines.append(f"{pad}    for {b} in range(F):")
        body = []
        (val,) = self._cse([summand], pad + "        ", body)
        return lines + body + [f"{pad}        {acc} += {self.p.doprint(val)}"]


def emit_committee_inline_module(eqs, activation: str, kernels: dict) -> str:
    """Source of the fast committee module for one closed-form activation.

    Parameters
    ----------
    eqs : odesolve.derive.sgd.CommitteeEquations
    activation : str
    kernels : dict
        name -> KernelExpr (see odesolve.derive.gaussian).
    """
    printer = _InlinePrinter()
    arrays = []
    body_lines = []

    def block(eq, prefix, pad, target):
        return _Body(printer, arrays, prefix).emit(eq.rhs, kernels, pad, target)

    q = eqs.Q
    body_lines += ["    for i in range(K):",
                   "        for k in range(i, K):" if q.symmetric_in else
                   "        for k in range(K):"]
    body_lines += block(q, "q", " " * 12, "dQ[i, k]")
    if q.symmetric_in:
        body_lines.append("            dQ[k, i] = dQ[i, k]")
    body_lines += ["    for i in range(K):", "        for n in range(M):",
                   "            nt = K + n"]
    body_lines += block(eqs.R, "r", " " * 12, "dR[i, n]")
    body_lines += ["    for i in range(K):"]
    body_lines += block(eqs.v, "v", " " * 8, "dv[i]")
    eg_lines = block(eqs.eps_g, "e", " " * 4, "eps_g")

    imports = sorted({kernels[name].numeric for name in kernels
                      if kernels[name].expr is None})
    head = [HEADER.format(title=f"Committee right-hand side with the {activation!r} kernels "
                                "inlined and loop invariants hoisted (fast path)."),
            "import math", "", "import numba", ""]
    for spec in imports:
        module, func = spec.split(":")
        name = [n for n in kernels if kernels[n].numeric == spec][0]
        head.append(f"from {module} import {func} as {name}")
    head += [VIEWS_IMPORT, "from .committee import load_fields", "",
             "#: scratch arrays of length F used after the covariance and coefficients in work",
             f"N_ARRAYS = {len(arrays)}", ""]

    def preamble():
        lines = _preamble() + ["    o = F * F + F"]
        for j, name in enumerate(arrays):
            lines.append(f"    {name} = work[o + {j} * F:o + {j + 1} * F]")
        return lines

    rhs = ["", "@numba.njit(cache=True, error_model=\"numpy\")", "def committee_rhs(t, y, p, work, out):",
           '    """dy/dt of the committee ODEs (state and parameter layout: ARCHITECTURE.md)."""']
    rhs += preamble()
    rhs += _output_views()
    rhs += body_lines
    eg = ["", "", "@numba.njit(cache=True, error_model=\"numpy\")", "def committee_eps_g(y, p, work):",
          '    """Generalisation error of the state y."""']
    eg += preamble() + eg_lines + ["    return eps_g", ""]
    return "\n".join(head + rhs + eg)
