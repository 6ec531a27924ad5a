"""Derive the order-parameter ODEs of online SGD from the update rule
(docs/theory/committee.md#theory-committee-odes).

The derivation is the textbook one (Saad & Solla 1995; Biehl & Schwarze 1995; Goldt et al. 2019),
carried out symbolically:

1. The weights are vectors in R^N. A vector is a linear combination of the basis vectors
   w_i, w_k (students), w*_n (teacher) and x (the input) with scalar SymPy coefficients.
   Inner products divided by N follow from the definitions: w_i.w_k/N = Q_ik,
   w_i.w*_n/N = R_in, w.x/N = epsilon u (epsilon = 1/sqrt N, u the local field), and
   x.x/N = 1 (its O(epsilon) fluctuation averages out at the order kept).
2. One SGD step (docs/theory/committee.md#theory-committee-sgd) changes every order parameter;
   the change is expanded in epsilon.
   The O(epsilon) part vanishes identically and the O(epsilon^2) part, divided by the time step
   dt = 1/N = epsilon^2, is the ODE right-hand side before averaging. Higher orders vanish as
   N -> infinity (self-averaging).
3. The right-hand side is averaged over the Gaussian local fields and the output noise by
   :func:`odesolve.derive.averages.gaussian_average`, which turns Gaussian moments into kernels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from . import symbols as S
from .averages import canonicalize, gaussian_average

__all__ = ["Vector", "derive_committee", "CommitteeEquations", "Equation"]


class Vector:
    """A vector of R^N as a linear combination of named basis vectors."""

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
        """Inner product divided by N, from the table ``inner(name1, name2)``."""
        return sp.Add(*[ca * cb * inner(a, b) for a, ca in self.terms.items()
                        for b, cb in other.terms.items()])


def _field_of(name):
    """The local field w.x/sqrt(N) of a weight vector, as an entry of u."""
    return {"w_i": S.u[S.i], "w_k": S.u[S.k], "w*_n": S.u[S.nt]}[name]


def _inner(a, b):
    """w.w'/N and w.x/N for the basis vectors of :class:`Vector` (step 1 of the module doc)."""
    pair = tuple(sorted((a, b)))
    if pair == ("x", "x"):
        return sp.Integer(1)
    if "x" in pair:
        other = pair[0] if pair[1] == "x" else pair[1]
        return S.eps * _field_of(other)
    table = {("w_i", "w_i"): S.Q[S.i, S.i], ("w_k", "w_k"): S.Q[S.k, S.k],
             ("w_i", "w_k"): S.Q[S.i, S.k], ("w*_n", "w_i"): S.R[S.i, S.n],
             ("w*_n", "w_k"): S.R[S.k, S.n]}
    return table[pair]


def sgd_step_first_layer(unit: str, index) -> Vector:
    """w_unit after one SGD step: w + eta/sqrt(N) v g'(lambda) Delta x - kappa/N w."""
    w = Vector.basis(unit)
    x = Vector.basis("x")
    lam = S.u[index]
    return w + (S.eta * S.eps * S.v[index] * S.gp(lam) * S.Delta) * x \
        - (S.kappa * S.eps ** 2) * w


def sgd_step_readout(index):
    """v_i after one SGD step: v + train_v (eta_v/N g(lambda) Delta - kappa/N v)."""
    return S.v[index] + S.train_v * (S.eta_v * S.eps ** 2 * S.g(S.u[index]) * S.Delta
                                     - S.kappa * S.eps ** 2 * S.v[index])


def _rate(change):
    """Coefficient of dt = epsilon^2 in the expansion of a one-step change (step 2)."""
    change = sp.expand(change)
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

    dQ_raw = wi.dot(wk, _inner) - S.Q[S.i, S.k]
    dQ_rate = _rate(dQ_raw)
    dQ = gaussian_average(dQ_rate)
    Q_eq = Equation("Q", sp.Derivative(S.Q[S.i, S.k], sp.Symbol("t")), dQ, (S.i, S.k),
                    steps=[("one SGD step, Q_ik' - Q_ik (expanded in epsilon = 1/sqrt N)",
                            sp.expand(dQ_raw)),
                           ("coefficient of dt = epsilon^2", dQ_rate),
                           ("Gaussian average", dQ)])
    if sp.expand(canonicalize(_swap(dQ, S.i, S.k)) - canonicalize(dQ)) == 0:
        Q_eq.symmetric_in = (S.i, S.k)      # derived: the equation is symmetric in i <-> k

    dR_raw = wi.dot(w_star, _inner) - S.R[S.i, S.n]
    dR_rate = _rate(dR_raw)
    dR = gaussian_average(dR_rate)
    R_eq = Equation("R", sp.Derivative(S.R[S.i, S.n], sp.Symbol("t")), dR, (S.i, S.n),
                    steps=[("one SGD step, R_in' - R_in", sp.expand(dR_raw)),
                           ("coefficient of dt = epsilon^2", dR_rate),
                           ("Gaussian average", dR)])

    dv_raw = sgd_step_readout(S.i) - S.v[S.i]
    dv_rate = _rate(dv_raw)
    dv = gaussian_average(dv_rate)
    v_eq = Equation("v", sp.Derivative(S.v[S.i], sp.Symbol("t")), dv, (S.i,),
                    steps=[("one SGD step, v_i' - v_i", sp.expand(dv_raw)),
                           ("coefficient of dt = epsilon^2", dv_rate),
                           ("Gaussian average", dv)])

    # eps_g = 1/2 < (yhat - teacher output)^2 > is the noise-free part of Delta^2 / 2
    eg_raw = sp.Rational(1, 2) * S.Delta ** 2
    eg = gaussian_average(eg_raw).subs(S.sigma, 0)
    eg_eq = Equation("eps_g", sp.Symbol("epsilon_g"), eg, (),
                     steps=[("definition, noise-free part of Delta^2/2", eg_raw),
                            ("Gaussian average", eg)])
    return CommitteeEquations(Q_eq, R_eq, v_eq, eg_eq)
