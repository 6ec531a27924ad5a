"""Derive the order-parameter ODEs of online SGD from the update rule
(docs/theory/committee.md#theory-committee-odes).

The derivation is the textbook one (Saad & Solla 1995; Biehl & Schwarze 1995; Goldt et al. 2019),
carried out symbolically:

1. The weights are vectors in R^N. A vector is a linear combination of the basis vectors
   w_i, w_k (students), w*_n (teacher) and x (the input) with scalar SymPy coefficients.
   Inner products divided by N follow from the definitions: w_i.w_k/N = Q_ik,
   w_i.w*_n/N = R_in, w.x/N = epsilon u (epsilon = 1/sqrt N, u the local field), and
   x.x/N = 1 (its O(epsilon) fluctuation averages out at the order kept).
2. One SGD update (docs/theory/committee.md#theory-committee-sgd) changes every order
   parameter; the change is expanded in epsilon. An update averages the gradient over a
   mini-batch of b fresh samples x^mu, mu = 1..b
   (docs/theory/committee.md#theory-committee-minibatch):
   the step of w_i is (eta epsilon / b) sum_mu (...)^mu x^mu, kept as a ``sympy.Sum`` over the
   sample index. Two samples of a batch have x^mu.x^nu/N = delta_{mu nu} + epsilon Z_{mu nu},
   where Z_{mu nu} (mu != nu) is of order one, has zero mean and is independent of the local
   fields at the order kept.
   The O(epsilon) part vanishes identically and the O(epsilon^2) part, divided by the time step
   dt = 1/N = epsilon^2 (t counts updates / N), is the ODE right-hand side before averaging.
   The off-diagonal pairs mu != nu of the double sum carry epsilon^3 and drop with the higher
   orders, which vanish as N -> infinity (self-averaging).
3. The double sum is reduced to its diagonal (sum_nu f(nu) delta_{mu nu} = f(mu)); every
   remaining sum over the batch is a sum of b independent, identically distributed terms, so
   its average is ``Sum(<f>, (mu, 1, b))`` = b <f> with <f> the average over one generic
   sample. That average over the Gaussian local fields and the output noise is
   :func:`odesolve.derive.averages.gaussian_average`, which turns Gaussian moments into
   kernels. With b = 1 this is plain online SGD.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from . import symbols as S
from .averages import canonicalize, gaussian_average

__all__ = ["Vector", "derive_committee", "CommitteeEquations", "Equation"]


def _is_sample(key) -> bool:
    """Whether a basis key stands for the inputs x^mu of a batch, ``("x", mu)``."""
    return isinstance(key, tuple)


def sample_input(index=S.mu):
    """Basis key of the batch inputs x^index; a term with this key is summed over the batch."""
    return ("x", index)


class Vector:
    """A vector of R^N as a linear combination of named basis vectors.

    A term whose key is :func:`sample_input` ``("x", mu)`` stands for
    ``sum_{mu=1}^{b} coefficient(mu) x^mu``: its coefficient depends on the sample index.
    """

    def __init__(self, terms=None):
        self.terms = {key: sp.sympify(val) for key, val in (terms or {}).items()}

    @classmethod
    def basis(cls, name):
        return cls({name: 1})

    def __add__(self, other):
        out = dict(self.terms)
        for key, val in other.terms.items():
            out[key] = out.get(key, 0) + val
        return Vector(out)

    def __sub__(self, other):
        return self + (-1) * other

    def __rmul__(self, scalar):
        return Vector({key: scalar * val for key, val in self.terms.items()})

    def dot(self, other, inner):
        """Inner product divided by N, from the table ``inner(name1, name2)``; sums over the
        batch become ``sympy.Sum`` over the sample indices (two of them for two batch sums)."""
        return sp.Add(*[_pair_product(a, ca, b, cb, inner) for a, ca in self.terms.items()
                        for b, cb in other.terms.items()])


def _pair_product(a, ca, b, cb, inner):
    """ca cb (a . b)/N, summed over the batch for every sample key."""
    limits = []
    if _is_sample(b):
        if _is_sample(a) and a[1] == b[1]:          # a second batch sum: its own index
            cb = cb.xreplace({b[1]: S.nu})
            b = sample_input(S.nu)
        limits.append((b[1], 1, S.b))
    if _is_sample(a):
        limits.append((a[1], 1, S.b))
    expr = ca * cb * inner(a, b)
    return sp.Sum(expr, *limits) if limits else expr


def expand_sums(expr):
    """Expand ``expr`` and every ``Sum`` in it, pulling the factors that do not depend on a
    sum's indices (epsilon, eta, b, ...) in front of it, one ``Sum`` per term."""
    out = []
    for term in sp.Add.make_args(sp.expand(expr)):
        factors = sp.Mul.make_args(term)
        sums = [f for f in factors if isinstance(f, sp.Sum)]
        rest = sp.Mul(*[f for f in factors if not isinstance(f, sp.Sum)])
        if len(sums) > 1:
            raise NotImplementedError(f"product of batch sums in {term}")
        if not sums:
            out.append(rest)
            continue
        (s,) = sums
        dummies = {lim[0] for lim in s.limits}
        for inner_term in sp.Add.make_args(sp.expand(s.function)):
            parts = sp.Mul.make_args(inner_term)
            inside = sp.Mul(*[f for f in parts if f.free_symbols & dummies])
            outside = sp.Mul(*[f for f in parts if not f.free_symbols & dummies])
            out.append(rest * outside * sp.Sum(inside, *s.limits))
    return sp.Add(*out)


def _field_of(name, sample):
    """The local field w.x^mu/sqrt(N) of a weight vector on sample mu, u[field, mu]."""
    return S.u[{"w_i": S.i, "w_k": S.k, "w*_n": S.nt}[name], sample]


def _inner(a, b):
    """w.w'/N, w.x^mu/N and x^mu.x^nu/N for the basis vectors of :class:`Vector` (step 1 of
    the module doc)."""
    if _is_sample(a) and _is_sample(b):
        mu, nu = a[1], b[1]
        return sp.KroneckerDelta(mu, nu) + S.eps * S.Z[mu, nu] * (1 - sp.KroneckerDelta(mu, nu))
    if _is_sample(a) or _is_sample(b):
        (sample, other) = (a, b) if _is_sample(a) else (b, a)
        return S.eps * _field_of(other, sample[1])
    pair = tuple(sorted((a, b)))
    table = {("w_i", "w_i"): S.Q[S.i, S.i], ("w_k", "w_k"): S.Q[S.k, S.k],
             ("w_i", "w_k"): S.Q[S.i, S.k], ("w*_n", "w_i"): S.R[S.i, S.n],
             ("w*_n", "w_k"): S.R[S.k, S.n]}
    return table[pair]


def sgd_step_first_layer(unit: str, index) -> Vector:
    """w_unit after one SGD update on a batch of b samples:
    w + (eta/sqrt(N)) (1/b) sum_mu v g'(lambda^mu) Delta^mu x^mu - kappa/N w."""
    w = Vector.basis(unit)
    mu = S.mu
    per_sample = S.v[index] * S.gp(S.u[index, mu]) * S.Delta_s[mu]
    step = Vector({sample_input(mu): S.eta * S.eps / S.b * per_sample})
    return w + step - (S.kappa * S.eps ** 2) * w


def sgd_step_readout(index):
    """v_i after one SGD update on a batch of b samples:
    v + train_v (eta_v/N (1/b) sum_mu g(lambda^mu) Delta^mu - kappa/N v)."""
    mu = S.mu
    batch_mean = sp.Sum(S.g(S.u[index, mu]) * S.Delta_s[mu], (mu, 1, S.b)) / S.b
    return S.v[index] + S.train_v * (S.eta_v * S.eps ** 2 * batch_mean
                                     - S.kappa * S.eps ** 2 * S.v[index])


def diagonal_pairs(expr):
    """Reduce double sums over the batch with a factor delta_{mu nu} to single sums:
    sum_{mu, nu = 1..b} f(mu, nu) delta_{mu nu} = sum_{mu = 1..b} f(mu, mu) (step 3)."""
    def rule(s):
        factors = sp.Mul.make_args(s.function)
        deltas = [f for f in factors if isinstance(f, sp.KroneckerDelta)]
        if len(s.limits) != 2 or len(deltas) != 1:
            return s
        (delta,) = deltas
        (inner_idx, lo1, hi1), (outer_idx, lo2, hi2) = s.limits
        if set(delta.args) != {inner_idx, outer_idx} or (lo1, hi1) != (lo2, hi2):
            raise NotImplementedError(f"cannot reduce {s}")
        rest = sp.Mul(*[f for f in factors if f is not delta])
        return sp.Sum(rest.xreplace({inner_idx: outer_idx}), (outer_idx, lo2, hi2))

    return expr.replace(lambda e: isinstance(e, sp.Sum), rule)


def pair_counts():
    """Diagonal and off-diagonal pairs (mu, nu) of a double sum over a batch, from the
    algebra: (sum_{mu nu} delta_{mu nu}, sum_{mu nu} (1 - delta_{mu nu})) = (b, b (b - 1))."""
    limits = ((S.nu, 1, S.b), (S.mu, 1, S.b))
    diag = diagonal_pairs(sp.Sum(sp.KroneckerDelta(S.mu, S.nu), *limits)).doit()
    total = sp.Sum(1, *limits).doit()
    return diag, sp.factor(total - diag)


def _one_sample(expr, sample):
    """f(x^mu) as a function of one generic sample: u[a, mu] -> u[a], Delta^mu -> Delta."""
    def is_field(e):
        return isinstance(e, sp.Indexed) and e.base == S.u and len(e.indices) == 2

    def field(e):
        if e.indices[1] != sample:
            raise NotImplementedError(f"a term mixes samples: {expr}")
        return S.u[e.indices[0]]

    out = expr.replace(is_field, field)
    out = out.replace(lambda e: isinstance(e, sp.Indexed) and e.base == S.Delta_s,
                      lambda e: S.Delta if e.indices[0] == sample else e)
    if sample in out.free_symbols:
        raise NotImplementedError(f"a term mixes samples: {expr}")
    return out


def batch_average(expr):
    """Average over the batch and the Gaussian fields (step 3): every ``Sum`` over the batch
    is a sum of b iid terms, ``Sum(<f>, (mu, 1, b)).doit()`` with <f> the Gaussian average of
    one generic sample (:func:`gaussian_average`); other terms are averaged as they are."""
    out = []
    for term in sp.Add.make_args(expand_sums(expr)):
        factors = sp.Mul.make_args(term)
        sums = [f for f in factors if isinstance(f, sp.Sum)]
        rest = sp.Mul(*[f for f in factors if not isinstance(f, sp.Sum)])
        if not sums:
            out.append(gaussian_average(term))
            continue
        (s,) = sums
        if len(s.limits) != 1:
            raise NotImplementedError(f"double batch sum left after the diagonal: {s}")
        (mu, lo, hi) = s.limits[0]
        mean = gaussian_average(_one_sample(s.function, mu))
        # b identically distributed terms: the sum of their averages is (number of terms) <f>
        count = sp.Sum(sp.Integer(1), (mu, lo, hi)).doit()
        out.append(rest * count * mean)
    return sp.expand(sp.Add(*out))


def _rate(change):
    """Coefficient of dt = epsilon^2 in the expansion of a one-step change (step 2)."""
    change = expand_sums(change)
    first = change.coeff(S.eps, 1)
    if first != 0:
        raise AssertionError(f"the O(1/sqrt N) part of the update does not vanish: {first}")
    return change.coeff(S.eps, 2)


@dataclass
class Equation:
    """One derived ODE: ``lhs`` (e.g. dQ[i,k]/dt) = ``rhs``, with the derivation steps."""

    name: str
    lhs: sp.Basic
    rhs: sp.Basic
    indices: tuple
    steps: list = field(default_factory=list)
    symmetric_in: tuple | None = None


@dataclass
class CommitteeEquations:
    """The derived ODEs of the soft committee machine and its generalisation error."""

    Q: Equation
    R: Equation
    v: Equation
    eps_g: Equation

    def __iter__(self):
        return iter((self.Q, self.R, self.v, self.eps_g))


def _swap(expr, x, y):
    return expr.xreplace({x: y, y: x})


def derive_committee() -> CommitteeEquations:
    """Derive dQ/dt, dR/dt, dv/dt and eps_g of online SGD in a soft committee machine.

    Returns
    -------
    CommitteeEquations
        Right-hand sides in terms of the kernels I2, J2, I3, I4 of field indices, summed over
        all F = K + M fields with the coefficients c = (-v, v_star).
    """
    wi = sgd_step_first_layer("w_i", S.i)
    wk = sgd_step_first_layer("w_k", S.k)
    w_star = Vector.basis("w*_n")

    def steps_of(label, raw):
        """Expansion, rate, diagonal of the batch double sum, average (module doc)."""
        expanded = expand_sums(raw)
        rate = _rate(raw)
        diagonal = diagonal_pairs(rate)
        mean = batch_average(diagonal)
        steps = [(f"one SGD update on a batch of b samples, {label} (expanded in "
                  "epsilon = 1/sqrt N)", expanded),
                 ("coefficient of dt = epsilon^2 (the off-diagonal pairs mu != nu carry "
                  "epsilon^3 and drop)", rate)]
        if diagonal != rate:
            steps.append(("diagonal mu = nu of the double sum over the batch", diagonal))
        steps.append(("average: b iid samples per batch sum, Gaussian average of one sample",
                      mean))
        return mean, steps

    dQ, steps = steps_of("Q_ik' - Q_ik", wi.dot(wk, _inner) - S.Q[S.i, S.k])
    Q_eq = Equation("Q", sp.Derivative(S.Q[S.i, S.k], sp.Symbol("t")), dQ, (S.i, S.k),
                    steps=steps)
    if sp.expand(canonicalize(_swap(dQ, S.i, S.k)) - canonicalize(dQ)) == 0:
        Q_eq.symmetric_in = (S.i, S.k)      # derived: the equation is symmetric in i <-> k

    dR, steps = steps_of("R_in' - R_in", wi.dot(w_star, _inner) - S.R[S.i, S.n])
    R_eq = Equation("R", sp.Derivative(S.R[S.i, S.n], sp.Symbol("t")), dR, (S.i, S.n),
                    steps=steps)

    dv, steps = steps_of("v_i' - v_i", sgd_step_readout(S.i) - S.v[S.i])
    v_eq = Equation("v", sp.Derivative(S.v[S.i], sp.Symbol("t")), dv, (S.i,), steps=steps)

    # eps_g = 1/2 < (yhat - teacher output)^2 > is the noise-free part of Delta^2 / 2
    eg_raw = sp.Rational(1, 2) * S.Delta ** 2
    eg = gaussian_average(eg_raw).subs(S.sigma, 0)
    eg_eq = Equation("eps_g", sp.Symbol("epsilon_g"), eg, (),
                     steps=[("definition, noise-free part of Delta^2/2", eg_raw),
                            ("Gaussian average", eg)])
    return CommitteeEquations(Q_eq, R_eq, v_eq, eg_eq)
