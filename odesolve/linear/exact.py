"""Exact learning dynamics of two-layer linear networks
(docs/theory/linear.md#theory-linear-riccati).

Network ``y = W2 W1 x`` with W1 (h, d_in), W2 (d_out, h), trained by gradient flow with time
constant tau on whitened inputs (<x x^T> = I) and input-output correlation
``Sigma = <y x^T>`` (d_out, d_in), i.e. on the loss ``1/2 ||Sigma - W2 W1||_F^2``:

    tau dW1/dt = W2^T (Sigma - W2 W1),     tau dW2/dt = (Sigma - W2 W1) W1^T.

lambda-balanced weights (Domine et al. 2024, arXiv 2409.14623) satisfy
``W2^T W2 - W1 W1^T = lambda I_h``, which gradient flow conserves. With
``Q = [W1^T; W2]`` ((d_in + d_out), h) the dynamics then close on ``X = Q Q^T``:

    tau dQ/dt = F Q - 1/2 Q Q^T Q,     tau dX/dt = F X + X F - X^2,
    F = [[-lambda/2 I_in, Sigma^T], [Sigma, lambda/2 I_out]]

(substitute W1^T W2^T W2 = W1^T W1 W1^T + lambda W1^T and W2 W1 W1^T = W2 W2^T W2 - lambda W2
into the gradient flow). This matrix Riccati equation has the exact solution

    X(t) = e^{F s} Q0 [I_h + Q0^T G(s) Q0]^{-1} Q0^T e^{F s},   G(s) = int_0^s e^{2 F u} du,

with s = t / tau (differentiate: X' = F X + X F - X^2), evaluated through the
eigendecomposition of the symmetric F, so that singular F (lambda = 0 with a rectangular or
rank-deficient Sigma) needs no special case. The flow map is applied in sub-steps with
``|mu| ds <= 1/2`` (a semigroup, so this is still exact): in one step the formula divides numbers
of size e^{2 mu s} and loses every digit for mu s of order 20. Blocks of X give the network
function ``W2 W1 = X[in:, :in]`` and the neural tangent kernel on whitened inputs,
``K = W2 W2^T (x) I + I (x) W1^T W1`` from ``X[in:, in:]`` and ``X[:in, :in]``.

For lambda -> 0, small weights aligned with the singular vectors of Sigma reduce to the mode
dynamics of Saxe, McClelland & Ganguli (2014), :func:`saxe_mode`.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["riccati_matrix", "exact_QQT", "network_function", "ntk_blocks", "saxe_mode",
           "balanced_mode"]


def riccati_matrix(Sigma: ArrayLike, lam: float) -> np.ndarray:
    """F = [[-lam/2 I_in, Sigma^T], [Sigma, lam/2 I_out]], shape (d_in + d_out,) * 2."""
    Sigma = np.asarray(Sigma, dtype=np.float64)
    d_out, d_in = Sigma.shape
    return np.block([[-0.5 * lam * np.eye(d_in), Sigma.T],
                     [Sigma, 0.5 * lam * np.eye(d_out)]])


def exact_QQT(Sigma: ArrayLike, W1: ArrayLike, W2: ArrayLike, t: ArrayLike, tau: float = 1.0,
              lam: float | None = None) -> np.ndarray:
    """The exact X(t) = Q Q^T(t) of a lambda-balanced two-layer linear network.

    Parameters
    ----------
    Sigma : array_like, shape (d_out, d_in)
    W1 : array_like, shape (h, d_in)
    W2 : array_like, shape (d_out, h)
        Initial weights, lambda-balanced (checked to 1e-8 relative).
    t : float or array_like, shape (n,)
    tau : float
    lam : float, optional
        The balance lambda; default read off the weights.

    Returns
    -------
    ndarray, shape (d_in + d_out, d_in + d_out), or (n, ...) for several times
    """
    W1, W2 = np.asarray(W1, dtype=np.float64), np.asarray(W2, dtype=np.float64)
    h = W1.shape[0]
    B = W2.T @ W2 - W1 @ W1.T
    est = float(np.trace(B) / h)
    scale = max(1.0, np.abs(B).max())
    if np.abs(B - est * np.eye(h)).max() > 1e-8 * scale:
        raise ValueError("the weights are not lambda-balanced: W2^T W2 - W1 W1^T is not a "
                         "multiple of the identity (see odesolve.linear.balanced_weights).")
    lam = est if lam is None else float(lam)
    F = riccati_matrix(Sigma, lam)
    mu, V = np.linalg.eigh(F)
    Q = np.concatenate([W1.T, W2], axis=0)
    times = np.atleast_1d(np.asarray(t, dtype=np.float64)) / tau
    if np.any(np.diff(times) < 0) or times[0] < 0:
        raise ValueError("`t` must be non-negative and non-decreasing.")
    # the flow map is a semigroup: march in sub-steps with |mu| ds <= 1/2, so that no
    # exponential exceeds e (the one-step formula loses all digits once e^{2 mu s} ~ 1e16)
    max_step = 0.5 / max(np.abs(mu).max(), 1e-300)
    out = np.empty((times.size,) + F.shape)
    s_now = 0.0
    for j, s_target in enumerate(times):
        while s_now < s_target:
            ds = min(max_step, s_target - s_now)
            Q = _riccati_step(mu, V, Q, ds)
            s_now = s_target if ds == s_target - s_now else s_now + ds
        out[j] = Q @ Q.T
    return out[0] if np.ndim(t) == 0 else out


def _riccati_step(mu, V, Q, ds):
    """Q(s + ds) from Q(s), exactly: a factor of e^{F ds} Q [I + Q^T G(ds) Q]^{-1} Q^T e^{F ds}."""
    e = np.exp(mu * ds)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(np.abs(mu) * ds > 1e-12, np.expm1(2 * mu * ds) / (2 * mu), ds)
    VQ = V.T @ Q
    M = np.eye(Q.shape[1]) + VQ.T @ (g[:, None] * VQ)
    L = np.linalg.cholesky(M)
    A = V @ (e[:, None] * VQ)                               # e^{F ds} Q
    return np.linalg.solve(L, A.T).T                          # A L^{-T}: (A L^-T)(A L^-T)^T = A M^-1 A^T


def network_function(X: np.ndarray, d_in: int) -> np.ndarray:
    """W2 W1 from X = Q Q^T: the lower-left block, shape (..., d_out, d_in)."""
    return X[..., d_in:, :d_in]


def ntk_blocks(X: np.ndarray, d_in: int) -> tuple[np.ndarray, np.ndarray]:
    """(W1^T W1, W2 W2^T) from X: the NTK on whitened inputs is
    ``W2 W2^T (x) I_in + I_out (x) W1^T W1``."""
    return X[..., :d_in, :d_in], X[..., d_in:, d_in:]


def saxe_mode(t: ArrayLike, s: float, u0: float, tau: float = 1.0) -> np.ndarray:
    """Saxe et al. (2014) mode strength: tau du/dt = 2 u (s - u), from u(0) = u0,
    ``u(t) = s e^{2st/tau} / (e^{2st/tau} - 1 + s/u0)``, shape of ``t`` (a NumPy
    scalar for a scalar ``t``)."""
    e = np.exp(2 * s * np.asarray(t, dtype=np.float64) / tau)
    return s * e / (e - 1 + s / u0)


def balanced_mode(t: ArrayLike, sigma: float, s0: float, lam: float,
                  tau: float = 1.0) -> np.ndarray:
    """Strength of one task-aligned mode of a lambda-balanced network, the solution of
    ``tau ds/dt = sqrt(lam^2 + 4 s^2) (sigma - s)``
    (docs/theory/linear.md#theory-linear-modes), from the exact
    solution with one hidden unit aligned with a one-dimensional task; shape of ``t`` (a
    NumPy scalar for a scalar ``t``)."""
    a1 = np.sqrt((np.sqrt(lam ** 2 + 4 * s0 ** 2) - lam) / 2)     # w1 (>= 0)
    a2 = np.sqrt((np.sqrt(lam ** 2 + 4 * s0 ** 2) + lam) / 2)     # w2, w2^2 - w1^2 = lam
    X = exact_QQT(np.array([[sigma]]), np.array([[a1]]), np.array([[np.sign(s0) * a2]]), t,
                  tau=tau, lam=lam)
    return X[..., 1, 0]
