"""Gradient flow of deep linear chains, optionally on a subset of observed entries.

A depth-D chain ``P = W_D ... W_1`` with W_l of shape (n_l, n_{l-1}), n_0 = d_in and
n_D = d_out, trained by gradient flow with time constant tau on

    L = 1/2 || M o (Sigma - P) ||_F^2,      tau dW_l/dt = (W_D..W_{l+1})^T E (W_{l-1}..W_1)^T,

with ``E = M o (Sigma - P)`` (o: entrywise product). With the mask M all ones this is
regression on whitened inputs (Saxe et al. 2014; D = 2 is :mod:`odesolve.linear.exact`);
with a 0/1 mask it is matrix completion from the observed entries (Arora et al. 2019;
Kleinman, Achille & Soatto 2024). Integrated numerically with the package's compiled
Dormand-Prince solver; this is the reference the exact and mode solutions are checked against.

Balanced chains whose layers are aligned with the singular vectors of Sigma stay so, and each
singular value u of P obeys ``tau du/dt = D u^(2 - 2/D) (s - u)``
(:func:`odesolve.linear.depth_mode`): :func:`aligned_chain` builds such a start.
"""
from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_int, check_real
from .._typing import Seed
from ..kernels.views import matrix
from ..model import check_seed
from ..solvers import Problem, solve
from ._args import check_chain, check_times, layer_list, real_matrix

__all__ = ["chain_gradient_flow", "end_to_end", "aligned_chain", "random_chain",
           "CHAIN_GRADIENT_FLOW"]

_HEAD = 2          # p = [D, tau, n_0 .. n_D, Sigma (n_D n_0), mask (n_D n_0)]


@numba.njit(cache=True)
def _matmul(A, B, C, transpose_a, transpose_b):
    """C = op(A) op(B) into the view C (no allocation)."""
    n, m = C.shape
    inner = A.shape[0] if transpose_a else A.shape[1]
    for i in range(n):
        for j in range(m):
            acc = 0.0
            for k in range(inner):
                a = A[k, i] if transpose_a else A[i, k]
                b = B[j, k] if transpose_b else B[k, j]
                acc += a * b
            C[i, j] = acc


@numba.njit(cache=True)
def _copy(A, C):
    for i in range(C.shape[0]):
        for j in range(C.shape[1]):
            C[i, j] = A[i, j]


@numba.njit(cache=True, error_model="numpy")
def _chain_rhs(t, y, p, work, out):
    """Masked gradient flow of a depth-D chain; layout in the module docstring.

    work holds the prefixes Pre_l = W_l..W_1 (n_l, n_0) for l = 1..D, the suffixes
    Suf_l = W_D..W_{l+1} (n_D, n_l) for l = 0..D-1, E (n_D, n_0) and G (n_max, n_0).
    """
    D = int(p[0])
    inv_tau = 1.0 / p[1]
    n0 = int(p[_HEAD])
    nD = int(p[_HEAD + D])
    s_off = _HEAD + D + 1
    Sigma = matrix(p, s_off, nD, n0)
    Mask = matrix(p, s_off + nD * n0, nD, n0)
    # weight offsets
    w_off = 0
    pre_off = 0
    for l in range(1, D + 1):
        nl = int(p[_HEAD + l])
        nprev = int(p[_HEAD + l - 1])
        W = matrix(y, w_off, nl, nprev)
        Pre = matrix(work, pre_off, nl, n0)
        if l == 1:
            _copy(W, Pre)
        else:
            _matmul(W, matrix(work, pre_off - nprev * n0, nprev, n0), Pre, False, False)
        w_off += nl * nprev
        pre_off += nl * n0
    suf_start = pre_off
    # suffixes, stored for l = 0..D-1 at increasing offsets; build from l = D-1 downwards
    suf_offs = 0
    for l in range(D):
        suf_offs += nD * int(p[_HEAD + l])
    e_off = suf_start + suf_offs
    E = matrix(work, e_off, nD, n0)
    P = matrix(work, pre_off - nD * n0, nD, n0)
    for a in range(nD):
        for b in range(n0):
            E[a, b] = Mask[a, b] * (Sigma[a, b] - P[a, b])
    g_off = e_off + nD * n0
    # walk down from the top layer: Suf_{D-1} = W_D, Suf_{l-1} = Suf_l W_l
    off_l = suf_start + suf_offs           # end of the suffix block
    w_end = w_off
    for l in range(D, 0, -1):
        nl = int(p[_HEAD + l])
        nprev = int(p[_HEAD + l - 1])
        w_end -= nl * nprev
        W = matrix(y, w_end, nl, nprev)
        off_l -= nD * nprev
        Suf_prev = matrix(work, off_l, nD, nprev)          # Suf_{l-1} = W_D .. W_l
        if l == D:
            _copy(W, Suf_prev)
        else:
            Suf_l = matrix(work, off_l + nD * nprev, nD, nl)
            _matmul(Suf_l, W, Suf_prev, False, False)
        # dW_l = Suf_l^T E Pre_{l-1}^T  with Suf_D = I, Pre_0 = I
        G = matrix(work, g_off, nl, n0)
        if l == D:
            _copy(E, G)
        else:
            _matmul(matrix(work, off_l + nD * nprev, nD, nl), E, G, True, False)
        dW = matrix(out, w_end, nl, nprev)
        if l == 1:
            for i in range(nl):
                for j in range(n0):
                    dW[i, j] = G[i, j] * inv_tau
        else:
            pre_prev = 0
            for k in range(1, l - 1):
                pre_prev += int(p[_HEAD + k]) * n0
            _matmul(G, matrix(work, pre_prev, nprev, n0), dW, False, True)
            for i in range(nl):
                for j in range(nprev):
                    dW[i, j] *= inv_tau


def _n_work(p):
    D = int(p[0, 0])
    n = p[0, _HEAD:_HEAD + D + 1].astype(int)
    return int(n[1:].sum() * n[0] + n[-1] * n[:-1].sum() + n[-1] * n[0] + n.max() * n[0])


CHAIN_GRADIENT_FLOW = Problem(_chain_rhs, n_work=_n_work, name="linear_chain_gradient_flow")


def end_to_end(weights: Sequence[np.ndarray]) -> np.ndarray:
    """End-to-end map of a list of layers: the product of W_D down to W_1 (leading time axes
    allowed).

    Parameters
    ----------
    weights : list of ndarray, shapes (..., n_l, n_{l-1})

    Returns
    -------
    ndarray, shape (..., d_out, d_in)

    Raises
    ------
    TypeError, ValueError
        ``weights`` is not a non-empty list of finite arrays whose last two axes chain.
    """
    weights = layer_list("weights", weights, stacked=True)
    P = weights[0]
    for W in weights[1:]:
        P = W @ P
    return P


def chain_gradient_flow(Sigma: ArrayLike, weights: Sequence[ArrayLike], t: ArrayLike,
                        mask: ArrayLike | None = None, tau: float = 1.0, rtol: float = 1e-10,
                        atol: float = 1e-12) -> list[np.ndarray]:
    """Integrate the (masked) gradient flow of a deep linear chain.

    Parameters
    ----------
    Sigma : array, shape (d_out, d_in)
        Target (input-output correlation on whitened inputs, or the matrix to complete).
    weights : list of arrays W_1 (n_1, d_in), ..., W_D (d_out, n_{D-1})
    t : array, shape (n_t,)
        Output times: finite, strictly increasing, starting at 0.
    mask : array of 0/1, shape (d_out, d_in), optional
        Observed entries (all, by default).
    tau : float
        Time constant, positive.
    rtol, atol : float
        Tolerances of the Dormand-Prince solver.

    Returns
    -------
    list of arrays, shapes (n_t, n_l, n_{l-1}): each layer at the times ``t``.

    Raises
    ------
    TypeError
        An argument has the wrong type (strings in an array, a list that is not one of
        arrays, ...).
    ValueError
        naming the argument: NaN or inf entries, shapes that do not fit, a mask with entries
        other than 0 and 1, times that do not start at 0 or do not increase.
    odesolve.solvers.SolverError
        If the integration fails (a solver status other than OK, e.g. ``max_steps``).
    """
    Sigma, weights, mask = check_chain(Sigma, weights, mask)
    t = check_times("t", t)
    tau = check_real("tau", tau, positive=True)
    dims = [weights[0].shape[1]] + [W.shape[0] for W in weights]
    p = np.concatenate([[len(weights), tau], dims, Sigma.ravel(), mask.ravel()])
    y0 = np.concatenate([W.ravel() for W in weights])
    res = solve(CHAIN_GRADIENT_FLOW, y0, p, t, method="dopri5", rtol=rtol, atol=atol)
    res.raise_on_failure()
    out, off = [], 0
    for W in weights:
        out.append(res.y[:, off:off + W.size].reshape(-1, *W.shape))
        off += W.size
    return out


def _orthogonal(n, rng):
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    return Q * np.sign(np.diag(R))


def aligned_chain(Sigma: ArrayLike, D: int, u0: float, width: int | None = None,
                  seed: Seed = None) -> list[np.ndarray]:
    """Balanced depth-D chain aligned with Sigma's singular vectors whose end-to-end map is
    ``u0 U V^T`` restricted to the top min(d_out, d_in, width) modes: each layer carries
    ``u0^(1/D)`` per mode, with random orthogonal hidden bases.

    Returns a list of D arrays W_1 (width, d_in), ..., W_D (d_out, width).

    Raises
    ------
    TypeError, ValueError
        ``Sigma`` not a finite matrix, ``D`` or ``width`` not a positive integer, ``u0`` not
        a finite number >= 0, a bad ``seed``.
    """
    Sigma = real_matrix("Sigma", Sigma)
    D = check_int("D", D, minimum=1)
    u0 = check_real("u0", u0, minimum=0.0)
    rng = np.random.default_rng(check_seed("seed", seed))
    d_out, d_in = Sigma.shape
    width = min(d_out, d_in) if width is None else check_int("width", width, minimum=1)
    r = min(d_out, d_in, width)
    U, _, Vt = np.linalg.svd(Sigma)
    a = u0 ** (1.0 / D)
    B = [Vt[:r].T] + [_orthogonal(width, rng)[:, :r] for _ in range(D - 1)] + [U[:, :r]]
    return [a * B[l + 1] @ B[l].T for l in range(D)]        # W_l maps basis l-1 to basis l


def random_chain(d_in: int, width: int, d_out: int, D: int, scale: float,
                 seed: Seed = None) -> list[np.ndarray]:
    """Layers drawn i.i.d. N(0, scale^2 / fan_in): W_1 (width, d_in) .. W_D (d_out, width).

    Raises
    ------
    TypeError, ValueError
        a width or ``D`` that is not a positive integer, ``scale`` not positive, a bad
        ``seed``.
    """
    d_in, width, d_out, D = (check_int(n, v, minimum=1) for n, v in (
        ("d_in", d_in), ("width", width), ("d_out", d_out), ("D", D)))
    scale = check_real("scale", scale, positive=True)
    rng = np.random.default_rng(check_seed("seed", seed))
    dims = [d_in] + [width] * (D - 1) + [d_out]
    return [rng.standard_normal((dims[l + 1], dims[l])) * scale / np.sqrt(dims[l])
            for l in range(D)]
