"""Loop-invariant code motion for kernel expressions inlined into the derived loops.

Inside ``for a: for b:`` a kernel such as I4(i, k, a, b) depends on covariance entries with
index pairs among (i, k, a, b). Many of its subexpressions depend on fewer indices: e.g. for
erf the determinant of the (i, k) block depends on (i, k) only, and the conditional variance of
field b on (i, k, b) only. :func:`hoist` moves every maximal subexpression whose summation
indices are a strict subset of those of its loop out of the loop:

* no summation index -> a scalar computed once per outer iteration,
* one summation index d of two -> an array over d (length F) filled once per outer iteration.

Products and sums whose factors live at different levels are re-associated so that the
factors of one level are grouped (``C_ii * C_ka * C_kb`` -> ``(C_ii * C_ka) * C_kb``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

__all__ = ["Hoisted", "hoist", "PLACEHOLDER"]

#: the field index of array expressions (arrays are filled by ``for PLACEHOLDER in range(F)``)
_PLACEHOLDER = PLACEHOLDER = sp.Symbol("f", integer=True, nonnegative=True)


@dataclass
class Hoisted:
    """Result of :func:`hoist`: hoisted assignments per level and the reduced expressions."""

    scalars: list = field(default_factory=list)   # (Symbol, expr): outer level
    arrays: list = field(default_factory=list)    # (IndexedBase, expr in PLACEHOLDER): per field
    exprs: list = field(default_factory=list)     # reduced innermost expressions


class _Hoister:
    def __init__(self, deps_of, loop_dummies, prefix):
        self.deps_of = deps_of
        self.full = frozenset(loop_dummies)
        self.prefix = prefix
        self.out = Hoisted()
        self.seen = {}
        self.count = 0

    def _name(self, level):
        self.count += 1
        if not level:
            return sp.Symbol(f"{self.prefix}{self.count}", real=True)
        return sp.IndexedBase(f"{self.prefix}{self.count}", real=True)

    def _record(self, expr, level):
        (d,) = level if level else (None,)
        # one array serves every dummy: key on the expression with its dummy renamed
        key = (expr.xreplace({d: _PLACEHOLDER}) if d is not None else expr, bool(level))
        if key not in self.seen:
            name = self._name(level)
            if d is None:
                self.out.scalars.append((name, expr))
            else:
                # the array's own expression may itself contain outer-level pieces
                body = self.reduce(expr, frozenset(level)).xreplace({d: _PLACEHOLDER})
                self.out.arrays.append((name, body))
            self.seen[key] = name
        name = self.seen[key]
        return name if d is None else name[d]

    def level(self, expr):
        return frozenset(self.deps_of(expr)) & self.full

    def _hoistable(self, expr, lev, context):
        return (lev < context and len(lev) <= 1 and not expr.is_Atom
                and not isinstance(expr, sp.Indexed))

    def reduce(self, expr, context):
        """Rewrite ``expr`` (living at level ``context``) with hoisted lower-level parts."""
        if expr.is_Atom or isinstance(expr, sp.Indexed):
            return expr
        lev = self.level(expr)
        if self._hoistable(expr, lev, context):
            return self._record(expr, lev)
        if isinstance(expr, (sp.Add, sp.Mul)):
            groups = {}
            for arg in expr.args:
                groups.setdefault(self.level(arg), []).append(arg)
            new_args = []
            for lev_g, args in groups.items():
                sub = expr.func(*args) if len(args) > 1 else args[0]
                if self._hoistable(sub, lev_g, context):
                    new_args.append(self._record(sub, lev_g))
                else:
                    new_args.extend(self.reduce(a, context) for a in args)
            return expr.func(*new_args)
        return expr.func(*[self.reduce(a, context) for a in expr.args])


def hoist(items, deps_of, prefix="h"):
    """Hoist loop-invariant subexpressions out of summation loops.

    Parameters
    ----------
    items : list of (sympy expression, tuple of Symbols)
        Each summand with the summation indices of its loop nest (one or two).
        Hoisted quantities are shared between the items.
    deps_of : callable
        expr -> set of symbols it depends on (only summation indices matter).
    prefix : str
        Prefix of the names of hoisted quantities.

    Returns
    -------
    Hoisted
        ``exprs`` holds the reduced summands in the order of ``items``.
    """
    dummies = set().union(*(set(d) for _, d in items)) if items else set()
    h = _Hoister(deps_of, dummies, prefix)
    h.out.exprs = [h.reduce(e, frozenset(d)) for e, d in items]
    return h.out
