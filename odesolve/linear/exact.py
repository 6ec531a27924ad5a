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

from .._checks import check_int, check_real
from ..model import real_array
from ._args import check_times, layer_list, real_matrix

__all__ = ["riccati_matrix", "exact_QQT", "network_function", "ntk_blocks", "saxe_mode",
           "balanced_mode"]


def riccati_matrix(Sigma: ArrayLike, lam: float) -> np.ndarray:
    """F = [[-lam/2 I_in, Sigma^T], [Sigma, lam/2 I_out]], shape (d_in + d_out,) * 2.

    Raises
    ------
    TypeError, ValueError
        ``Sigma`` is not a finite matrix, ``lam`` not a finite number.
    """
    Sigma = real_matrix("Sigma", Sigma)
    lam = check_real("lam", lam)
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
        Finite, non-negative, non-decreasing times.
    tau : float
        Time constant, positive.
    lam : float, optional
        The balance lambda; default read off the weights.

    Returns
    -------
    ndarray, shape (d_in + d_out, d_in + d_out), or (n, ...) for several times

    Raises
    ------
    TypeError
        An argument has the wrong type (e.g. strings in ``t``).
    ValueError
        naming the argument: a matrix with NaN or inf entries or of the wrong shape, weights
        that are not lambda-balanced, times that are negative, not finite or decreasing.
    """
    W1, W2 = layer_list("weights", [W1, W2], names=("W1", "W2"))
    Sigma = _task(Sigma, W1, W2)
    times = check_times("t", t, from_zero=False, allow_scalar=True)
    tau = check_real("tau", tau, positive=True)
    est = balance("W1`, `W2", W1, W2)
    lam = est if lam is None else check_real("lam", lam)
    Q = np.concatenate([W1.T, W2], axis=0)
    with np.errstate(over="ignore"):
        times = np.atleast_1d(times) / tau
    if not np.all(np.isfinite(times)):
        raise ValueError(f"`t` / `tau` must be finite, got t up to {np.max(t):g} with tau = "
                         f"{tau:g}.")
    _, out = riccati_flow(Q, Sigma, lam, times)
    return out[0] if np.ndim(t) == 0 else out


def balance(name: str, W1: np.ndarray, W2: np.ndarray) -> float:
    """lambda of lambda-balanced layers: ``W2^T W2 - W1 W1^T = lambda I`` to 1e-8 relative.

    Raises
    ------
    ValueError
        naming ``name`` when the layers are not lambda-balanced.
    """
    h = W1.shape[0]
    B = W2.T @ W2 - W1 @ W1.T
    est = float(np.trace(B) / h)
    if np.abs(B - est * np.eye(h)).max() > 1e-8 * max(1.0, np.abs(B).max()):
        raise ValueError(f"the weights `{name}` are not lambda-balanced: W2^T W2 - W1 W1^T "
                         f"is not a multiple of the identity (see "
                         f"odesolve.linear.balanced_weights).")
    return est


def riccati_flow(Q: np.ndarray, Sigma: np.ndarray, lam: float,
                 s_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """March ``Q = [W1^T; W2]`` exactly to the scaled times ``s_out = t / tau`` (finite,
    non-negative, non-decreasing) under the task ``Sigma`` (checked arguments).

    The flow map is a semigroup: it is applied in sub-steps with ``|mu| ds <= 1/2`` (mu the
    eigenvalues of F), so that no exponential exceeds e; the one-step formula loses all digits
    once e^{2 mu s} ~ 1e16. The Q returned is a factor of X, exact up to a rotation of the
    hidden layer, which is all the later flow depends on.

    Returns
    -------
    Q : ndarray, shape (d_in + d_out, h)
        A factor of X at the last time.
    X : ndarray, shape (len(s_out), d_in + d_out, d_in + d_out)
        ``Q Q^T`` at every time of ``s_out``.
    """
    mu, V = np.linalg.eigh(riccati_matrix(Sigma, lam))
    max_step = 0.5 / max(np.abs(mu).max(), 1e-300)
    out = np.empty((len(s_out), Q.shape[0], Q.shape[0]))
    s_now = 0.0
    for j, s_target in enumerate(s_out):
        while s_now < s_target:
            ds = min(max_step, s_target - s_now)
            Q = _riccati_step(mu, V, Q, ds)
            s_now = s_target if ds == s_target - s_now else s_now + ds
        out[j] = Q @ Q.T
    return Q, out


def _task(Sigma, W1, W2):
    """``Sigma`` checked against the shape (d_out, d_in) of the layers W1 (h, d_in) and W2
    (d_out, h)."""
    return real_matrix("Sigma", Sigma, (W2.shape[0], W1.shape[1]),
                       "(d_out, d_in) of the weights")


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
    """W2 W1 from X = Q Q^T: the lower-left block, shape (..., d_out, d_in).

    Raises
    ------
    TypeError, ValueError
        ``X`` is not a real array of square matrices (..., n, n), ``d_in`` not an integer in
        [1, n - 1].
    """
    X, d_in = _check_blocks(X, d_in)
    return X[..., d_in:, :d_in]


def ntk_blocks(X: np.ndarray, d_in: int) -> tuple[np.ndarray, np.ndarray]:
    """(W1^T W1, W2 W2^T) from X: the NTK on whitened inputs is
    ``W2 W2^T (x) I_in + I_out (x) W1^T W1``.

    Raises
    ------
    TypeError, ValueError
        As :func:`network_function`.
    """
    X, d_in = _check_blocks(X, d_in)
    return X[..., :d_in, :d_in], X[..., d_in:, d_in:]


def _check_blocks(X, d_in):
    X = real_array("X", X)
    if X.ndim < 2 or X.shape[-1] != X.shape[-2] or X.shape[-1] < 2:
        raise ValueError(f"`X` must hold square matrices Q Q^T of size d_in + d_out >= 2 "
                         f"(shape (..., n, n)), got shape {X.shape}.")
    return X, check_int("d_in", d_in, minimum=1, maximum=X.shape[-1] - 1)


def saxe_mode(t: ArrayLike, s: float, u0: float, tau: float = 1.0) -> np.ndarray:
    """Saxe et al. (2014) mode strength: tau du/dt = 2 u (s - u), from u(0) = u0,
    ``u(t) = s e^{2st/tau} / (e^{2st/tau} - 1 + s/u0)``, shape of ``t`` (a NumPy
    scalar for a scalar ``t``).

    Evaluated as ``s / (1 + (s/u0 - 1) e^{-2st/tau})``, which does not overflow at late
    times; ``s = 0`` (a mode the task lacks) decays as ``u0 / (1 + 2 u0 t/tau)``.

    Parameters
    ----------
    t : float or array_like
        Finite, non-negative times.
    s : float
        Singular value of the task, >= 0.
    u0 : float
        Initial mode strength, > 0 (0 is a fixed point).
    tau : float
        Time constant, positive.

    Raises
    ------
    TypeError, ValueError
        naming the argument that is of the wrong type or out of range.
    """
    t = real_array("t", t)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("`t` must be finite and non-negative.")
    s = check_real("s", s, minimum=0.0)
    u0 = check_real("u0", u0, positive=True)
    tau = check_real("tau", tau, positive=True)
    if s == 0.0:
        return u0 / (1.0 + 2.0 * u0 * t / tau)
    return s / (1.0 + (s / u0 - 1.0) * np.exp(-2.0 * s * t / tau))


def balanced_mode(t: ArrayLike, sigma: float, s0: float, lam: float,
                  tau: float = 1.0) -> np.ndarray:
    """Strength of one task-aligned mode of a lambda-balanced network, the solution of
    ``tau ds/dt = sqrt(lam^2 + 4 s^2) (sigma - s)``
    (docs/theory/linear.md#theory-linear-modes), from the exact
    solution with one hidden unit aligned with a one-dimensional task; shape of ``t`` (a
    NumPy scalar for a scalar ``t``).

    Raises
    ------
    TypeError, ValueError
        ``sigma``, ``s0``, ``lam`` not finite numbers, ``tau`` not positive, ``t`` as in
        :func:`exact_QQT`.
    """
    sigma, s0, lam = (check_real(n, v) for n, v in (("sigma", sigma), ("s0", s0), ("lam", lam)))
    a1 = np.sqrt((np.sqrt(lam ** 2 + 4 * s0 ** 2) - lam) / 2)     # w1 (>= 0)
    a2 = np.sqrt((np.sqrt(lam ** 2 + 4 * s0 ** 2) + lam) / 2)     # w2, w2^2 - w1^2 = lam
    X = exact_QQT(np.array([[sigma]]), np.array([[a1]]), np.array([[np.sign(s0) * a2]]), t,
                  tau=tau, lam=lam)
    return X[..., 1, 0]
