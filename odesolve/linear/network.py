"""Two-layer linear networks: lambda-balanced initial weights and the reference integrator.

The reference integrates the gradient flow of W1 and W2 (odesolve.linear.exact, module
docstring) numerically with the package's compiled solvers, independently of the exact
solution it checks.
"""
from __future__ import annotations

import numba
import numpy as np

from ..solvers import Problem, solve
from ..kernels.views import matrix

__all__ = ["balanced_weights", "gradient_flow", "GRADIENT_FLOW"]


def balanced_weights(d_in: int, h: int, d_out: int, lam: float, scale: float = 1.0,
                     seed=None):
    """Random weights with ``W2^T W2 - W1 W1^T = lam I_h`` exactly (to rounding).

    The smaller-norm layer is drawn i.i.d. N(0, scale^2 / fan_in); the other is
    ``U (C)^{1/2}`` with C the Gram matrix the balance requires and U random with
    orthonormal columns. Needs h <= d_out for lam >= 0 and h <= d_in for lam < 0.

    Returns
    -------
    W1 : ndarray, shape (h, d_in); W2 : ndarray, shape (d_out, h)
    """
    rng = np.random.default_rng(seed)
    if lam >= 0:
        if h > d_out:
            raise ValueError(f"lambda >= 0 needs h <= d_out (h = {h}, d_out = {d_out}).")
        W1 = rng.standard_normal((h, d_in)) * scale / np.sqrt(d_in)
        C = W1 @ W1.T + lam * np.eye(h)
        U, _ = np.linalg.qr(rng.standard_normal((d_out, h)))
        W2 = U @ _sqrtm(C)
    else:
        if h > d_in:
            raise ValueError(f"lambda < 0 needs h <= d_in (h = {h}, d_in = {d_in}).")
        W2 = rng.standard_normal((d_out, h)) * scale / np.sqrt(h)
        C = W2.T @ W2 - lam * np.eye(h)
        U, _ = np.linalg.qr(rng.standard_normal((d_in, h)))
        W1 = (U @ _sqrtm(C)).T
    return W1, W2


def _sqrtm(C):
    w, V = np.linalg.eigh(0.5 * (C + C.T))
    return (V * np.sqrt(np.maximum(w, 0.0))) @ V.T


@numba.njit(cache=True, error_model="numpy")
def _gradient_flow_rhs(t, y, p, work, out):
    """tau dW1/dt = W2^T E, tau dW2/dt = E W1^T with E = Sigma - W2 W1 (whitened inputs).

    y = concat(W1.ravel(), W2.ravel()); p = [h, d_in, d_out, tau, Sigma.ravel()];
    work holds E (d_out * d_in).
    """
    h = int(p[0])
    d_in = int(p[1])
    d_out = int(p[2])
    inv_tau = 1.0 / p[3]
    S = matrix(p, 4, d_out, d_in)
    W1 = matrix(y, 0, h, d_in)
    W2 = matrix(y, h * d_in, d_out, h)
    E = matrix(work, 0, d_out, d_in)
    dW1 = matrix(out, 0, h, d_in)
    dW2 = matrix(out, h * d_in, d_out, h)
    for a in range(d_out):
        for b in range(d_in):
            acc = S[a, b]
            for k in range(h):
                acc -= W2[a, k] * W1[k, b]
            E[a, b] = acc
    for k in range(h):
        for b in range(d_in):
            acc = 0.0
            for a in range(d_out):
                acc += W2[a, k] * E[a, b]
            dW1[k, b] = acc * inv_tau
    for a in range(d_out):
        for k in range(h):
            acc = 0.0
            for b in range(d_in):
                acc += E[a, b] * W1[k, b]
            dW2[a, k] = acc * inv_tau


GRADIENT_FLOW = Problem(_gradient_flow_rhs, n_work=lambda p: int(p[0, 1] * p[0, 2]),
                        name="linear_gradient_flow")


def gradient_flow(Sigma, W1, W2, t, tau: float = 1.0, rtol: float = 1e-12,
                  atol: float = 1e-14):
    """Integrate the gradient flow numerically (Dormand-Prince); returns W1 (n, h, d_in) and
    W2 (n, d_out, h) at the times ``t`` (which must start at 0)."""
    Sigma = np.asarray(Sigma, dtype=np.float64)
    W1, W2 = np.asarray(W1, dtype=np.float64), np.asarray(W2, dtype=np.float64)
    h, d_in = W1.shape
    d_out = W2.shape[0]
    y0 = np.concatenate([W1.ravel(), W2.ravel()])
    p = np.concatenate([[h, d_in, d_out, tau], Sigma.ravel()])
    res = solve(GRADIENT_FLOW, y0, p, np.asarray(t, dtype=np.float64), method="dopri5",
                rtol=rtol, atol=atol)
    res.raise_on_failure()
    Y = res.y
    return (Y[:, :h * d_in].reshape(-1, h, d_in),
            Y[:, h * d_in:].reshape(-1, d_out, h))
