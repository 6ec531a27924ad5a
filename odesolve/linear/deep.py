"""Gradient flow of deep linear chains, optionally on a subset of observed entries.

A depth-D chain ``P = W_D ... W_1`` with W_l of shape (n_l, n_{l-1}), n_0 = d_in and
n_D = d_out, trained by gradient flow with time constant tau on

    tau dW_l/dt = C_l o [(W_D..W_{l+1})^T E (W_{l-1}..W_1)^T],    E = M o (Sigma - P Sigma_xx),

(o: entrywise product). With the mask M all ones, this is gradient flow on the regression
loss ``1/2 E||y - P x||^2`` with input covariance ``Sigma_xx = <x x^T>`` and input-output
correlation ``Sigma = <y x^T>`` (whitened inputs, Sigma_xx = I, are Saxe et al. 2014; D = 2
is :mod:`odesolve.linear.exact`); with Sigma_xx = I and a 0/1 mask it is matrix completion
from the observed entries (Arora et al. 2019; Kleinman, Achille & Soatto 2024). The 0/1
*connectivity masks* C_l (all ones by default) fix some weights at their initial values:
block-diagonal masks with block-diagonal starts keep parallel pathways separate (a network
of several chains that share the output). Integrated numerically with the package's compiled
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
from ._args import (check_chain, check_times, connectivity_masks, input_covariance, layer_list,
                    real_matrix)

__all__ = ["chain_gradient_flow", "end_to_end", "aligned_chain", "random_chain",
           "CHAIN_GRADIENT_FLOW"]

_HEAD = 2          # p = [D, tau, n_0 .. n_D, Sigma (n_D n_0), mask (n_D n_0),
                   #      Sigma_xx (n_0 n_0), connectivity masks C_1 .. C_D (as y)]


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
    Sxx = matrix(p, s_off + 2 * nD * n0, n0, n0)
    c_off = s_off + 2 * nD * n0 + n0 * n0
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
    g_off = e_off + nD * n0
    PS = matrix(work, g_off, nD, n0)                     # P Sigma_xx, in G's space
    _matmul(P, Sxx, PS, False, False)
    for a in range(nD):
        for b in range(n0):
            E[a, b] = Mask[a, b] * (Sigma[a, b] - PS[a, b])
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
        C = matrix(p, c_off + w_end, nl, nprev)
        if l == 1:
            for i in range(nl):
                for j in range(n0):
                    dW[i, j] = C[i, j] * G[i, j] * inv_tau
        else:
            pre_prev = 0
            for k in range(1, l - 1):
                pre_prev += int(p[_HEAD + k]) * n0
            _matmul(G, matrix(work, pre_prev, nprev, n0), dW, False, True)
            for i in range(nl):
                for j in range(nprev):
                    dW[i, j] *= C[i, j] * inv_tau


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
                        atol: float = 1e-12, Sigma_xx: ArrayLike | None = None,
                        connectivity: Sequence[ArrayLike] | None = None) -> list[np.ndarray]:
    """Integrate the (masked) gradient flow of a deep linear chain.

    Parameters
    ----------
    Sigma : array, shape (d_out, d_in)
        Target: the input-output correlation ``<y x^T>``, or the matrix to complete.
    weights : list of arrays W_1 (n_1, d_in), ..., W_D (d_out, n_{D-1})
    t : array, shape (n_t,)
        Output times: finite, strictly increasing, starting at 0.
    mask : array of 0/1, shape (d_out, d_in), optional
        Observed entries (all, by default); only with whitened inputs (``Sigma_xx`` None).
    tau : float
        Time constant, positive.
    rtol, atol : float
        Tolerances of the Dormand-Prince solver.
    Sigma_xx : array, shape (d_in, d_in), optional
        Input covariance ``<x x^T>``: symmetric positive semi-definite (identity, by default).
    connectivity : list of 0/1 arrays, shapes as ``weights``, optional
        Connectivity masks C_l: weights where C_l = 0 keep their initial values.

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
        other than 0 and 1, a ``Sigma_xx`` that is not symmetric positive semi-definite, both
        ``mask`` and ``Sigma_xx``, times that do not start at 0 or do not increase.
    odesolve.solvers.SolverError
        If the integration fails (a solver status other than OK, e.g. ``max_steps``).
    """
    if mask is not None and Sigma_xx is not None:
        raise ValueError("`mask` (matrix completion) and `Sigma_xx` (regression on "
                         "correlated inputs) cannot be combined: give one of them.")
    Sigma, weights, mask = check_chain(Sigma, weights, mask)
    t = check_times("t", t)
    tau = check_real("tau", tau, positive=True)
    d_in = weights[0].shape[1]
    Sxx = np.eye(d_in) if Sigma_xx is None else input_covariance("Sigma_xx", Sigma_xx, d_in)
    C = connectivity_masks(connectivity, weights)
    dims = [d_in] + [W.shape[0] for W in weights]
    p = np.concatenate([[len(weights), tau], dims, Sigma.ravel(), mask.ravel(), Sxx.ravel(),
                        *(c.ravel() for c in C)])
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
