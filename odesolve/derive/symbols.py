"""SymPy symbols shared by the derivations.

Local fields are collected in one vector u of length F = K + M: u[i] = lambda_i for a student
unit i (0 <= i < K) and u[K + n] = nu_n for a teacher unit n. The error of the network is then
Delta = sum_a c[a] g(u[a]) + sigma * zeta with c[a] = -v_a (students) and c[K+n] = v*_n
(teachers), which lets a single sum over ``a`` stand for the student and the teacher parts of
every equation (Saad & Solla 1995 write them as two sums).
"""
from __future__ import annotations

import sympy as sp

# parameters
eta, eta_v, sigma, kappa, train_v = sp.symbols("eta eta_v sigma kappa train_v", real=True)
#: 1/sqrt(N); the ODE time step is 1/N = eps**2
eps = sp.Symbol("epsilon", positive=True)
#: the error Delta = y - yhat and the output noise zeta ~ N(0, 1)
Delta, zeta = sp.symbols("Delta zeta", real=True)

# mini-batches (docs/theory/committee.md#theory-committee-minibatch)
#: mini-batch size: one SGD update averages the gradient over b fresh samples
b = sp.Symbol("b", integer=True, positive=True)
#: sample indices mu, nu = 1..b within one batch
mu, nu = sp.symbols("mu nu", integer=True, positive=True)
#: error of sample mu, Delta_s[mu] (becomes Delta in the single-sample average)
Delta_s = sp.IndexedBase("Delta")
#: off-diagonal input overlap x^mu.x^nu/N = epsilon * Z[mu, nu] (mu != nu): O(1/sqrt N),
#: zero mean, independent of the local fields at the order kept
Z = sp.IndexedBase("Z", real=True)

# unit indices: i, k students; n teacher; a, b (and further dummies) run over all F fields
i, k, n = sp.symbols("i k n", integer=True, nonnegative=True)
K, M = sp.symbols("K M", integer=True, positive=True)
F = K + M
#: combined field index of teacher unit n (= K + n in generated code)
nt = sp.Symbol("n_t", integer=True, nonnegative=True)

# arrays
u = sp.IndexedBase("u", real=True)        # local fields (lambda, nu)
c = sp.IndexedBase("c", real=True)        # error coefficients (-v, v_star)
v = sp.IndexedBase("v", real=True)        # student readouts
Q = sp.IndexedBase("Q", real=True)        # student-student overlaps
R = sp.IndexedBase("R", real=True)        # student-teacher overlaps

# the activation and its derivative, as undefined functions of one field
g = sp.Function("g", real=True)
gp = sp.Function("g'", real=True)

# Gaussian kernels of field indices (ARCHITECTURE.md: I2, J2, I3, I4)
I2, J2, I3, I4 = (sp.Function(name, real=True) for name in ("I2", "J2", "I3", "I4"))
KERNELS = {"I2": I2, "J2": J2, "I3": I3, "I4": I4}

#: symmetries of each kernel in its index arguments: groups of positions that may be permuted
KERNEL_SYMMETRY = {"I2": ((0, 1),), "J2": ((0, 1),), "I3": (), "I4": ((0, 1), (2, 3))}


def dummy_index(number: int) -> sp.Symbol:
    """The ``number``-th summation index over all F fields: a, b, c2, d2, ..."""
    names = "abde"
    name = names[number] if number < len(names) else f"a{number}"
    return sp.Symbol(name, integer=True, nonnegative=True)
