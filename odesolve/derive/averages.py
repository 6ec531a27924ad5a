"""Average a polynomial in the error Delta over the Gaussian local fields and the noise.

Steps (each a symbolic operation, no formula is typed in):

1. Delta**p = (S + sigma zeta)**p is expanded by the binomial theorem, with
   S = sum_a c[a] g(u[a]) written out as a sum over a fresh dummy index for every factor.
2. zeta ~ N(0, 1) is independent of the fields: zeta**m averages to its Gaussian moment
   (m - 1)!! for even m and 0 for odd m.
3. What is left in each term is a product of g(u[.]), g'(u[.]) and bare fields u[.]. The product
   is identified with the kernel that defines it (ARCHITECTURE.md):
   g g -> I2, g' g' -> J2, g' u g -> I3, g' g' g g -> I4.
   A product with no kernel raises, naming the moment, so a new update rule cannot silently
   produce a wrong equation.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from . import symbols as S

__all__ = ["gaussian_average", "KernelNotAvailable"]


class KernelNotAvailable(ValueError):
    """Raised when a Gaussian moment has no kernel to stand for it."""


def _noise_moment(m: int) -> sp.Integer:
    if m % 2:
        return sp.Integer(0)
    return sp.factorial2(m - 1) if m > 0 else sp.Integer(1)


def _expand_delta_power(p: int, first_dummy: int):
    """Delta**p as a list of (coefficient, dummies, random product) after the zeta average."""
    terms = []
    for j in range(p + 1):          # j factors of S, p - j factors of sigma*zeta
        noise = _noise_moment(p - j)
        if noise == 0:
            continue
        dummies = [S.dummy_index(first_dummy + m) for m in range(j)]
        coeff = sp.binomial(p, j) * S.sigma ** (p - j) * noise
        product = sp.Mul(*[S.c[d] * S.g(S.u[d]) for d in dummies])
        terms.append((coeff, dummies, product))
    return terms


@dataclass
class _Factors:
    gp: list
    bare: list
    g: list
    rest: list


def _split(monomial) -> _Factors:
    """Separate the random factors g(u), g'(u), u from the deterministic ones."""
    out = _Factors([], [], [], [])
    for factor in sp.Mul.make_args(monomial):
        base, power = factor.as_base_exp()
        if not (power.is_Integer and power > 0):
            out.rest.append(factor)
            continue
        for _ in range(int(power)):
            if isinstance(base, sp.Indexed) and base.base == S.u:
                out.bare.append(base.indices[0])
            elif isinstance(base, sp.Function) and base.func == S.g:
                out.g.append(_field_index(base))
            elif isinstance(base, sp.Function) and base.func == S.gp:
                out.gp.append(_field_index(base))
            else:
                out.rest.append(base)
    return out


def _field_index(call):
    arg = call.args[0]
    if not (isinstance(arg, sp.Indexed) and arg.base == S.u):
        raise KernelNotAvailable(f"{call} is not a function of a single local field")
    return arg.indices[0]


def canonical_kernel(name, args):
    """Kernel call with its index arguments put in canonical order within symmetric groups."""
    args = list(args)
    for group in S.KERNEL_SYMMETRY[name]:
        vals = sorted((args[p] for p in group), key=sp.default_sort_key)
        for p, val in zip(group, vals):
            args[p] = val
    return S.KERNELS[name](*args)


def _kernel(f: _Factors):
    shape = (len(f.gp), len(f.bare), len(f.g))
    table = {(0, 0, 0): lambda: sp.Integer(1),
             (0, 0, 2): lambda: canonical_kernel("I2", f.g),
             (2, 0, 0): lambda: canonical_kernel("J2", f.gp),
             (1, 1, 1): lambda: canonical_kernel("I3", [f.gp[0], f.bare[0], f.g[0]]),
             (2, 0, 2): lambda: canonical_kernel("I4", f.gp + f.g)}
    if shape not in table:
        moment = " * ".join([f"g'(u[{x}])" for x in f.gp] + [f"u[{x}]" for x in f.bare]
                            + [f"g(u[{x}])" for x in f.g])
        raise KernelNotAvailable(f"no kernel for the Gaussian moment <{moment}>")
    return table[shape]()


def gaussian_average(expr, first_dummy: int = 0):
    """Average ``expr`` (polynomial in Delta and the random factors) over fields and noise.

    Parameters
    ----------
    expr : sympy expression
        Polynomial in ``Delta`` whose coefficients are products of deterministic symbols and
        of g(u[.]), g'(u[.]), u[.].
    first_dummy : int
        Number of the first summation index to use.

    Returns
    -------
    sympy expression
        A sum of deterministic coefficients times kernels, with ``sympy.Sum`` over the field
        dummies (range 0 .. F-1).
    """
    result = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(expr)):
        power = sp.degree(term, S.Delta) if term.has(S.Delta) else 0
        rest = sp.cancel(term / S.Delta ** power) if power else term
        if rest.has(S.zeta):
            raise KernelNotAvailable("zeta must enter only through Delta")
        for coeff, dummies, product in _expand_delta_power(int(power), first_dummy):
            f = _split(sp.expand(rest * product))
            inside = [x for x in f.rest if x.free_symbols & set(dummies)]
            outside = [x for x in f.rest if not x.free_symbols & set(dummies)]
            summand = sp.Mul(*inside) * _kernel(f)
            for d in reversed(dummies):
                summand = sp.Sum(summand, (d, 0, S.F - 1))
            result += coeff * sp.Mul(*outside) * summand
    return result


def canonicalize(expr):
    """Put kernel calls and the symmetric overlaps Q in canonical index order."""
    def kernel_rule(call):
        return canonical_kernel(call.func.__name__, call.args)

    out = expr.replace(lambda e: isinstance(e, sp.Function) and e.func in S.KERNELS.values(),
                       kernel_rule)
    out = out.replace(lambda e: isinstance(e, sp.Indexed) and e.base == S.Q,
                      lambda e: S.Q[tuple(sorted(e.indices, key=sp.default_sort_key))])
    return out
