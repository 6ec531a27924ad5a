"""Two-layer linear networks: lambda-balanced initial weights and the reference integrator.

The reference integrates the gradient flow of W1 and W2 (odesolve.linear.exact, module
docstring) numerically with the package's compiled solvers, independently of the exact
solution it checks.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_int, check_real
from .._typing import Seed
from ..model import check_seed
from ._args import layer_list
from .deep import chain_gradient_flow

__all__ = ["balanced_weights", "gradient_flow"]


def balanced_weights(d_in: int, h: int, d_out: int, lam: float, scale: float = 1.0,
                     seed: Seed = None) -> tuple[np.ndarray, np.ndarray]:
    """Random weights with ``W2^T W2 - W1 W1^T = lam I_h`` exactly (to rounding).

    The smaller-norm layer is drawn i.i.d. N(0, scale^2 / fan_in); the other is
    ``U (C)^{1/2}`` with C the Gram matrix the balance requires and U random with
    orthonormal columns. Needs h <= d_out for lam >= 0 and h <= d_in for lam < 0.

    Parameters
    ----------
    d_in, h, d_out : int
        Layer widths, positive.
    lam : float
        The balance lambda, finite.
    scale : float
        Weight scale, positive.
    seed : int, sequence of int, Generator or None

    Returns
    -------
    W1 : ndarray, shape (h, d_in); W2 : ndarray, shape (d_out, h)

    Raises
    ------
    TypeError, ValueError
        naming the argument that is of the wrong type or out of range, or ``h`` when it
        exceeds ``d_out`` (lam >= 0) or ``d_in`` (lam < 0).
    """
    d_in, h, d_out = (check_int(n, v, minimum=1) for n, v in (("d_in", d_in), ("h", h),
                                                               ("d_out", d_out)))
    lam = check_real("lam", lam)
    scale = check_real("scale", scale, positive=True)
    rng = np.random.default_rng(check_seed("seed", seed))
    if lam >= 0:
        if h > d_out:
            raise ValueError(f"`h` must be <= `d_out` for `lam` >= 0 (the larger layer W2 "
                             f"needs h orthonormal columns), got h = {h}, d_out = {d_out}.")
        W1 = rng.standard_normal((h, d_in)) * scale / np.sqrt(d_in)
        C = W1 @ W1.T + lam * np.eye(h)
        U, _ = np.linalg.qr(rng.standard_normal((d_out, h)))
        W2 = U @ _sqrtm(C)
    else:
        if h > d_in:
            raise ValueError(f"`h` must be <= `d_in` for `lam` < 0 (the larger layer W1 "
                             f"needs h orthonormal rows), got h = {h}, d_in = {d_in}.")
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
    W2 (n, d_out, h) at the times ``t`` (strictly increasing, starting at 0).

    Raises
    ------
    TypeError, ValueError
        As :func:`~odesolve.linear.deep.chain_gradient_flow`, naming ``W1`` and ``W2``.
    """
    W1, W2 = layer_list("weights", [W1, W2], names=("W1", "W2"))
    W1, W2 = chain_gradient_flow(Sigma, [W1, W2], t, tau=tau, rtol=rtol, atol=atol)
    return W1, W2
