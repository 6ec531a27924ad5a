"""Hand-written NumPy right-hand side for erf units, from the closed forms of
docs/theory/kernels.md#theory-kernels-erf.

This is deliberately *not* derived: it transcribes docs/theory/committee.md#theory-committee-odes
(Saad & Solla 1995) the
way peer codes do, vectorised with NumPy. It serves two purposes:

* the baseline of the benchmarks (``scipy.integrate.solve_ivp`` on this right-hand side), and
* an independent check of the derived, generated, compiled right-hand side in the tests.
"""
from __future__ import annotations

import numpy as np

__all__ = ["erf_rhs_numpy", "erf_eps_g_numpy", "erf_rhs_vector"]


def _fields(Q, R, T, v, v_star):
    C = np.block([[Q, R], [R.T, T]])
    c = np.concatenate([-v, v_star])
    return C, c


def _I2(C):
    d = 1.0 + np.diag(C)
    return (2 / np.pi) * np.arcsin(C / np.sqrt(np.outer(d, d)))


def erf_eps_g_numpy(Q, R, T, v, v_star):
    """eps_g = 1/2 sum_ab c_a c_b I2(a, b) for g = erf(x/sqrt 2)."""
    C, c = _fields(Q, R, T, v, v_star)
    return 0.5 * c @ _I2(C) @ c


def erf_rhs_numpy(Q, R, T, v, v_star, eta, eta_v, sigma=0.0, kappa=0.0, batch_size=1):
    """dQ/dt, dR/dt, dv/dt of the erf committee machine
    (docs/theory/committee.md#theory-committee-odes).

    Parameters
    ----------
    Q : ndarray, shape (K, K)
    R : ndarray, shape (K, M)
    T : ndarray, shape (M, M)
    v : ndarray, shape (K,)
    v_star : ndarray, shape (M,)
    eta, eta_v, sigma, kappa : float
        eta_v = 0 keeps the readouts fixed (no decay on them either).
    batch_size : int
        Mini-batch size b: the eta^2 term is divided by b
        (docs/theory/committee.md#theory-committee-minibatch).

    Returns
    -------
    dQ (K, K), dR (K, M), dv (K,)
    """
    K = Q.shape[0]
    C, c = _fields(Q, R, T, v, v_star)
    d = 1.0 + np.diag(C)                                   # 1 + C_aa, shape (F,)
    # I3(i, b, a) = 2/pi (C_ba (1+C_ii) - C_ib C_ia) / ((1+C_ii) sqrt((1+C_ii)(1+C_aa) - C_ia^2))
    Ci = C[:K]                                             # rows i: (K, F)
    L3 = d[:K, None] * d[None, :] - Ci ** 2                # (i, a)
    num = C[None, :, :] * d[:K, None, None] - Ci[:, :, None] * Ci[:, None, :]   # (i, b, a)
    I3 = (2 / np.pi) * num / (d[:K, None, None] * np.sqrt(L3)[:, None, :])
    first = eta * v[:, None] * (I3 @ c)                    # (i, b): eta v_i sum_a c_a I3(i,b,a)
    dR = first[:, K:] - kappa * R
    dQ = first[:, :K] + first[:, :K].T - 2 * kappa * Q
    # I4(i, k, a, b) for all i, k (K, K, F, F)
    dk = d[:K]
    Cik = C[:K, :K]
    L4 = dk[:, None] * dk[None, :] - Cik ** 2              # (i, k)
    Cia = Ci[:, None, :, None]                             # (i, 1, a, 1)
    Cib = Ci[:, None, None, :]
    Cka = Ci[None, :, :, None]
    Ckb = Ci[None, :, None, :]
    Cik4 = Cik[:, :, None, None]
    di = dk[:, None, None, None]
    dkk = dk[None, :, None, None]
    L4_ = L4[:, :, None, None]
    L0 = (L4_ * C[None, None] - Cka * Ckb * di - Cia * Cib * dkk
          + Cik4 * Cia * Ckb + Cik4 * Cib * Cka)
    L1 = L4[:, :, None] * d[None, None, :] - Ci[None, :, :] ** 2 * dk[:, None, None] \
        - Ci[:, None, :] ** 2 * dk[None, :, None] + 2 * Cik[:, :, None] * Ci[:, None, :] \
        * Ci[None, :, :]                                   # (i, k, a)
    I4 = (4 / np.pi ** 2) * np.arcsin(L0 / np.sqrt(L1[:, :, :, None] * L1[:, :, None, :])) \
        / np.sqrt(L4_)
    J2 = (2 / np.pi) / np.sqrt(L4)
    quad = np.einsum("ikab,a,b->ik", I4, c, c) + sigma ** 2 * J2
    dQ = dQ + eta ** 2 / batch_size * np.outer(v, v) * quad
    if eta_v > 0:
        dv = eta_v * (_I2(C)[:K] @ c) - kappa * v
    else:
        dv = np.zeros_like(v)
    return dQ, dR, dv


def erf_rhs_vector(setup, T, v_star):
    """``fun(t, y)`` for ``scipy.integrate.solve_ivp``: :func:`erf_rhs_numpy` on the packed
    state vector ``y = concat(Q.ravel(), R.ravel(), v)`` of ``setup`` (erf units), with the
    teacher's ``T`` (M, M) and ``v_star`` (M,). The benchmarks' baseline."""
    K, M = setup.K, setup.M

    def fun(t, y):
        Q = y[:K * K].reshape(K, K)
        R = y[K * K:K * K + K * M].reshape(K, M)
        v = y[K * K + K * M:]
        dQ, dR, dv = erf_rhs_numpy(Q, R, T, v, v_star, setup.eta, setup.eta_readout,
                                   setup.sigma, setup.weight_decay, setup.batch_size)
        return np.concatenate([dQ.ravel(), dR.ravel(), dv])
    return fun
