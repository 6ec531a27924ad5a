"""The symbolic layer: derived ODEs against their written form
(docs/theory/committee.md#theory-committee-odes), codegen, staleness."""
import subprocess
import sys

import pytest
import sympy as sp

from odesolve.derive import generate
from odesolve.derive import symbols as S
from odesolve.derive.averages import KernelNotAvailable, canonicalize, gaussian_average
from odesolve.derive.sgd import derive_committee

K_, M_ = 2, 3
vs = sp.IndexedBase("vstar", real=True)


def _explicit(expr, i=0, k=1, n=2):
    """Write out the sums over fields for K=2, M=3 with c = (-v, v*) and teacher fields K+m."""
    F = K_ + M_
    expr = expr.subs({S.K: K_, S.M: M_}).doit()
    expr = expr.xreplace({S.i: i, S.k: k, S.n: n, S.nt: K_ + n})
    cs = {S.c[a]: (-S.v[a] if a < K_ else vs[a - K_]) for a in range(F)}
    return sp.expand(canonicalize(expr.xreplace(cs)))


def _theory_kernel(name, *idx):
    from odesolve.derive.averages import canonical_kernel
    return canonical_kernel(name, idx)


def test_dR_matches_theory_md_written_form():
    i, n = 0, 2
    t = K_ + n          # field index of teacher unit n
    I3 = lambda *a: _theory_kernel("I3", *a)  # noqa: E731
    expected = (-S.kappa * S.R[i, n] + S.eta * S.v[i] * (
        sum(vs[m] * I3(i, t, K_ + m) for m in range(M_))
        - sum(S.v[j] * I3(i, t, j) for j in range(K_))))
    got = _explicit(derive_committee().R.rhs, i=i, n=n)
    assert sp.expand(got - expected) == 0


def test_dQ_matches_theory_md_written_form():
    i, k = 0, 1
    I3 = lambda *a: _theory_kernel("I3", *a)  # noqa: E731
    I4 = lambda *a: _theory_kernel("I4", *a)  # noqa: E731
    J2 = lambda *a: _theory_kernel("J2", *a)  # noqa: E731
    tm = [K_ + m for m in range(M_)]

    def first(i, k):
        return S.eta * S.v[i] * (sum(vs[m] * I3(i, k, tm[m]) for m in range(M_))
                                 - sum(S.v[j] * I3(i, k, j) for j in range(K_)))

    quad = (sum(vs[n] * vs[m] * I4(i, k, tm[n], tm[m]) for n in range(M_) for m in range(M_))
            - 2 * sum(S.v[j] * vs[n] * I4(i, k, j, tm[n]) for j in range(K_) for n in range(M_))
            + sum(S.v[j] * S.v[l] * I4(i, k, j, l) for j in range(K_) for l in range(K_))
            + S.sigma ** 2 * J2(i, k))
    expected = (-2 * S.kappa * S.Q[i, k] + first(i, k) + first(k, i)
                + S.eta ** 2 / S.b * S.v[i] * S.v[k] * quad)      # b: mini-batch size
    got = _explicit(derive_committee().Q.rhs, i=i, k=k)
    assert sp.expand(got - expected) == 0


def test_dv_and_eps_g_match_theory_md_written_form():
    i = 1
    I2 = lambda *a: _theory_kernel("I2", *a)  # noqa: E731
    tm = [K_ + m for m in range(M_)]
    expected_v = S.train_v * (-S.kappa * S.v[i] + S.eta_v * (
        sum(vs[n] * I2(i, tm[n]) for n in range(M_)) - sum(S.v[j] * I2(i, j) for j in range(K_))))
    eqs = derive_committee()
    assert sp.expand(_explicit(eqs.v.rhs, i=i) - expected_v) == 0
    expected_eg = sp.Rational(1, 2) * (
        sum(S.v[a] * S.v[b] * I2(a, b) for a in range(K_) for b in range(K_))
        + sum(vs[n] * vs[m] * I2(tm[n], tm[m]) for n in range(M_) for m in range(M_))
        - 2 * sum(S.v[a] * vs[n] * I2(a, tm[n]) for a in range(K_) for n in range(M_)))
    assert sp.expand(_explicit(eqs.eps_g.rhs) - expected_eg) == 0


def test_q_equation_is_found_symmetric():
    assert derive_committee().Q.symmetric_in == (S.i, S.k)


def test_gradient_flow_part_is_first_order_in_eta():
    """Dropping the |x|^2/N term (the eta^2 part) leaves gradient flow: linear in eta."""
    dQ = derive_committee().Q.rhs
    assert sp.expand(dQ).coeff(S.eta, 2) != 0
    assert sp.expand(dQ).coeff(S.eta, 3) == 0


def test_unknown_moment_raises():
    with pytest.raises(KernelNotAvailable, match="no kernel"):
        gaussian_average(S.gp(S.u[S.i]) ** 3 * S.Delta)


def test_generated_code_is_up_to_date():
    """`odesolve derive --check`: the checked-in generated files equal a fresh derivation."""
    stale = generate(check=True)
    assert not stale, "generated code is stale; run `odesolve derive`:\n" + "\n".join(stale)[:3000]


def test_derive_check_command_exits_zero():
    proc = subprocess.run([sys.executable, "-m", "odesolve", "derive", "--check"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
