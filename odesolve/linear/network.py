"""Two-layer linear networks: lambda-balanced initial weights and the reference integrator.

The reference integrates the gradient flow of W1 and W2 (odesolve.linear.exact, module
docstring) numerically with the package's compiled solvers, independently of the exact
solution it checks.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._typing import Seed
from .deep import chain_gradient_flow

__all__ = ["balanced_weights", "gradient_flow"]


def balanced_weights(d_in: int, h: int, d_out: int, lam: float, scale: float = 1.0,
                     seed: Seed = None) -> tuple[np.ndarray, np.ndarray]:
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


def gradient_flow(Sigma: ArrayLike, W1: ArrayLike, W2: ArrayLike, t: ArrayLike,
                  tau: float = 1.0, rtol: float = 1e-12,
                  atol: float = 1e-14) -> tuple[np.ndarray, np.ndarray]:
    """Integrate the gradient flow numerically (Dormand-Prince; the depth-2 case of
    :func:`odesolve.linear.deep.chain_gradient_flow`); returns W1 (n, h, d_in) and
    W2 (n, d_out, h) at the times ``t`` (which must start at 0)."""
    W1, W2 = chain_gradient_flow(Sigma, [W1, W2], t, tau=tau, rtol=rtol, atol=atol)
    return W1, W2
