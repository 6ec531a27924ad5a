"""Derive the elastic-weight-consolidation terms of the order-parameter ODEs.

EWC (Kirkpatrick et al. 2017) adds to the per-sample loss the penalty
``(lam/2) [sum_il F_il (w_il - a_il)^2 + sum_i Fv_i (v_i - va_i)^2]`` around anchor weights
a_i (first layer) and va_i (head), taken at the end of an earlier phase, with the diagonal
Fisher information of the network output there. For the first layer
``F_il = <(d yhat / d w_il)^2> = va_i^2 <g'(lambda~_i)^2 x_l^2> / N = va_i^2 J2(i~, i~) / N``
(the same for every component l in the N -> infinity limit), written ``F_i / N``; for the head
``Fv_i = <g(lambda~_i)^2> = I2(i~, i~)``. SGD with the scalings of
docs/theory/committee.md#theory-committee-sgd then takes the steps

    w_i -> w_i - (eta lam F_i / N) (w_i - a_i),      v_i -> v_i - (eta_v lam Fv_i / N) (v_i - va_i),

which are O(1/N): they add linearly to the drift of the plain SGD step (cross terms with the
O(1/sqrt N) gradient step are O(N^-3/2) and vanish). With mini-batches of b samples the
penalty's gradient is the same for every sample of the batch, so its batch mean
(1/b) sum_mu is the same step: the batch size does not enter these terms (the expansion
below carries the batch mean and the algebra removes b). The anchors are fixed vectors, so they
enter the ODE like extra teacher units with zero readout: their overlaps with the student,
S_ik = w_i.a_k / N, are extra order parameters (extra columns of R), and their overlaps with
each other (Qa_ik = a_i.a_k / N) and with the teachers (Ra_in = a_i.w*_n / N) are constants (an
extra block of T). This module expands those steps with the vector algebra of
:mod:`odesolve.derive.sgd` and emits the terms as Numba code.
"""
from __future__ import annotations

import sympy as sp

from . import symbols as S
from .sgd import Vector, _rate

__all__ = ["derive_ewc", "emit_ewc_module", "render_ewc", "EWC_SYMBOLS"]

lam = sp.Symbol("lambda", nonnegative=True)
Fw = sp.IndexedBase("F", real=True)          # first-layer Fisher per unit (times N)
Fv = sp.IndexedBase("Fv", real=True)         # head Fisher per unit
va = sp.IndexedBase("va", real=True)         # anchored head
Sa = sp.IndexedBase("S", real=True)          # w_i . a_k / N (evolving)
Qa = sp.IndexedBase("Qa", real=True)         # a_i . a_k / N (constant)
Ra = sp.IndexedBase("Ra", real=True)         # a_i . w*_n / N (constant)
EWC_SYMBOLS = (lam, Fw, Fv, va, Sa, Qa, Ra)


def _inner(a, b):
    """Inner products / N of students w, anchors a and the teacher w*."""
    i, k, n = S.i, S.k, S.n
    table = {("w_i", "w_i"): S.Q[i, i], ("w_i", "w_k"): S.Q[i, k], ("w_k", "w_k"): S.Q[k, k],
             ("w_i", "a_i"): Sa[i, i], ("w_i", "a_k"): Sa[i, k], ("w_k", "a_i"): Sa[k, i],
             ("w_k", "a_k"): Sa[k, k], ("a_i", "a_i"): Qa[i, i], ("a_i", "a_k"): Qa[i, k],
             ("a_k", "a_k"): Qa[k, k], ("w*_n", "w_i"): S.R[i, n], ("w*_n", "w_k"): S.R[k, n],
             ("a_i", "w*_n"): Ra[i, n], ("a_k", "w*_n"): Ra[k, n]}
    key = (a, b) if (a, b) in table else (b, a)
    return table[key]


def _batch_mean_of_constant():
    """(1/b) sum_{mu=1}^{b} 1: the batch mean of a term that does not depend on the sample."""
    return sp.Sum(sp.Integer(1), (S.mu, 1, S.b)).doit() / S.b


def _ewc_step(unit, anchor, index):
    """w after the EWC step: w - eps^2 eta lam F (w - a), averaged over the batch."""
    w, a = Vector.basis(unit), Vector.basis(anchor)
    return w - (_batch_mean_of_constant() * S.eps ** 2 * S.eta * lam * Fw[index]) * (w - a)


def derive_ewc() -> dict:
    """The EWC terms of dQ_ik/dt, dR_in/dt, dS_ik/dt and dv_i/dt.

    Returns
    -------
    dict of name -> sympy expression
        ``"Q"``, ``"R"``, ``"S"``, ``"v"``: the O(1/N) change of Q_ik = w_i.w_k/N,
        R_in = w_i.w*_n/N, S_ik = w_i.a_k/N and v_i per step, divided by dt = 1/N.
    """
    wi, wk = _ewc_step("w_i", "a_i", S.i), _ewc_step("w_k", "a_k", S.k)
    old_i, old_k = Vector.basis("w_i"), Vector.basis("w_k")
    teacher, anchor_k = Vector.basis("w*_n"), Vector.basis("a_k")
    dQ = wi.dot(wk, _inner) - old_i.dot(old_k, _inner)
    dR = wi.dot(teacher, _inner) - old_i.dot(teacher, _inner)
    dS = wi.dot(anchor_k, _inner) - old_i.dot(anchor_k, _inner)
    dv = -(_batch_mean_of_constant() * S.train_v * S.eta_v * S.eps ** 2 * lam * Fv[S.i]
           * (S.v[S.i] - va[S.i]))
    return {name: sp.factor_terms(sp.expand(_rate(change)))
            for name, change in (("Q", dQ), ("R", dR), ("S", dS), ("v", dv))}


def emit_ewc_module() -> str:
    """Numba source adding the derived EWC terms to a committee right-hand side.

    Layout: the last K of the M teacher fields are the anchors (so S_ik = R[i, L + k] with
    L = M - K teacher units, Qa and Ra are blocks of T), and the parameters after the PSD
    tolerance are ``lam, F (K), Fv (K), va (K)``.
    """
    from .codegen import (_PARAMS, HEADER, N_FIXED, VIEWS_IMPORT, _output_views, _state_views,
                          _StructPrinter)

    terms = derive_ewc()

    class Printer(_StructPrinter):
        def _print_Indexed(self, expr):
            base, idx = str(expr.base), [self._print(j) for j in expr.indices]
            if base == "S":
                return f"R[{idx[0]}, L + {idx[1]}]"
            if base == "Qa":
                return f"T[L + {idx[0]}, L + {idx[1]}]"
            if base == "Ra":
                return f"T[L + {idx[0]}, {idx[1]}]"
            return super()._print_Indexed(expr)

    pr = Printer()
    lines = [HEADER.format(title="Elastic weight consolidation terms of the committee ODEs "
                                 "(derived in odesolve/derive/ewc.py)."),
             "import numba", "", VIEWS_IMPORT, "", "",
             "@numba.njit(cache=True, error_model=\"numpy\")",
             "def add_ewc_terms(y, p, out):",
             '    """Add the EWC drift to dy/dt in ``out`` (layout: odesolve/derive/ewc.py)."""',
             "    K = int(p[0])",
             "    M = int(p[1])",
             "    eta = p[%d]" % (2 + _PARAMS.index("eta")),
             "    eta_v = p[%d]" % (2 + _PARAMS.index("eta_v")),
             "    train_v = p[%d]" % (2 + _PARAMS.index("train_v")),
             "    L = M - K",
             "    o = %d + M * M + M + 1" % N_FIXED,
             "    lambda_ = p[o]",
             "    F = p[o + 1:o + 1 + K]",
             "    Fv = p[o + 1 + K:o + 1 + 2 * K]",
             "    va = p[o + 1 + 2 * K:o + 1 + 3 * K]",
             "    T = matrix(p, %d, M, M)" % N_FIXED,
             *_state_views(),
             *_output_views(),
             "    for i in range(K):",
             "        for k in range(K):",
             f"            dQ[i, k] += {pr.doprint(terms['Q'])}",
             f"            dR[i, L + k] += {pr.doprint(terms['S'])}",
             "        for n in range(L):",
             f"            dR[i, n] += {pr.doprint(terms['R'])}",
             f"        dv[i] += {pr.doprint(terms['v'])}",
             ""]
    return "\n".join(lines)


def render_ewc() -> str:
    """Markdown with the derived EWC terms."""
    terms = derive_ewc()
    out = ["# Elastic weight consolidation in the ODE limit", "",
           "Generated by `odesolve derive` from `odesolve/derive/ewc.py`; do not edit.", "",
           (__doc__ or "").split("\n\n", 1)[1].replace("\n", " ").strip(), "",
           "Symbols: $S_{ik} = w_i \\cdot a_k / N$ (evolving), $Q^a_{ik} = a_i \\cdot a_k / N$ "
           "and $R^a_{in} = a_i \\cdot w^*_n / N$ (constants), $F_i = \\tilde v_i^2 "
           "J_2(\\tilde i, \\tilde i)$, $F^v_i = I_2(\\tilde i, \\tilde i)$ at the anchor.", ""]
    for name, lhs in (("Q", "Q_{ik}"), ("R", "R_{in}"), ("S", "S_{ik}"), ("v", "v_i")):
        out += [f"$$\\frac{{d{lhs}}}{{dt}}\\Big|_{{\\rm EWC}}$$",
                f"$$ = {sp.latex(terms[name])}$$", ""]
    return "\n".join(out)
