"""Rich versus lazy: weight change, kernel distance, representation alignment; low-rank starts.

All measures take the weights of a two-layer linear network (odesolve.linear.exact) at one
time or with leading time axes.

- Weight change: ``||W1(t) - W1(0)||_F^2 + ||W2(t) - W2(0)||_F^2``, square-rooted.
- NTK on whitened inputs: ``K = W2 W2^T (x) I_in + I_out (x) W1^T W1`` (d_out d_in square),
  never formed: Frobenius products of such Kronecker sums reduce to traces,
  ``<A (x) I + I (x) B, C (x) I + I (x) D> = d_in tr(AC) + tr(A) tr(D) + tr(B) tr(C) + d_out tr(BD)``.
- Kernel distance (Fort et al. 2020; Liu et al. 2024): ``1 - <K0, Kt> / (||K0|| ||Kt||)``.
- Representation alignment: kernel-target alignment of the hidden representation,
  ``<W1^T W1, Sigma^T Sigma> / (||W1^T W1|| ||Sigma^T Sigma||)`` (1 when the hidden layer spans
  exactly the task's input directions with matching weights).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["weight_change", "ntk_inner", "kernel_distance", "representation_alignment",
           "low_rank_weights", "task_aligned_low_rank"]


def weight_change(W1: ArrayLike, W2: ArrayLike, W1_0: ArrayLike, W2_0: ArrayLike) -> np.ndarray:
    """``sqrt(||W1 - W1_0||^2 + ||W2 - W2_0||^2)``, shape of the leading axes."""
    d1 = np.asarray(W1) - np.asarray(W1_0)
    d2 = np.asarray(W2) - np.asarray(W2_0)
    return np.sqrt((d1 ** 2).sum(axis=(-2, -1)) + (d2 ** 2).sum(axis=(-2, -1)))


def _tr(A):
    return np.trace(A, axis1=-2, axis2=-1)


def ntk_inner(A: np.ndarray, B: np.ndarray, C: np.ndarray, D: np.ndarray) -> np.ndarray:
    """Frobenius product of the Kronecker sums ``A (x) I + I (x) B`` and ``C (x) I + I (x) D``
    (A, C: (d_out, d_out); B, D: (d_in, d_in))."""
    d_out, d_in = A.shape[-1], B.shape[-1]
    return (d_in * _tr(A @ C) + _tr(A) * _tr(D) + _tr(B) * _tr(C) + d_out * _tr(B @ D))


def kernel_distance(W1: np.ndarray, W2: np.ndarray, W1_0: np.ndarray,
                    W2_0: np.ndarray) -> np.ndarray:
    """``1 - <K0, Kt> / (||K0|| ||Kt||)`` for the NTKs of the two weight sets."""
    A, B = W2 @ np.swapaxes(W2, -1, -2), np.swapaxes(W1, -1, -2) @ W1
    C, D = W2_0 @ np.swapaxes(W2_0, -1, -2), np.swapaxes(W1_0, -1, -2) @ W1_0
    cross = ntk_inner(A, B, C, D)
    return 1.0 - cross / np.sqrt(ntk_inner(A, B, A, B) * ntk_inner(C, D, C, D))


def representation_alignment(W1: np.ndarray, Sigma: ArrayLike) -> np.ndarray:
    """``<W1^T W1, Sigma^T Sigma> / (||W1^T W1|| ||Sigma^T Sigma||)``."""
    H = np.swapaxes(W1, -1, -2) @ W1
    S = np.asarray(Sigma).T @ np.asarray(Sigma)
    return (H * S).sum(axis=(-2, -1)) / (np.linalg.norm(H, axis=(-2, -1)) * np.linalg.norm(S))


def low_rank_weights(W: ArrayLike, rank: int) -> np.ndarray:
    """Truncated SVD of W at ``rank``, rescaled to W's Frobenius norm (Liu et al. 2024)."""
    U, s, Vt = np.linalg.svd(np.asarray(W, dtype=np.float64), full_matrices=False)
    s_low = np.where(np.arange(s.size) < rank, s, 0.0)
    return (U * s_low) @ Vt * (np.linalg.norm(s) / np.linalg.norm(s_low))


def task_aligned_low_rank(W1: ArrayLike, W2: ArrayLike, Sigma: ArrayLike,
                          rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Low-rank weights of the same Frobenius norms as W1, W2 whose singular vectors are the
    task's top ``rank`` singular vectors: ``W1 = c1 R V_r^T``, ``W2 = c2 U_r R^T`` with R
    (h, rank) orthonormal columns (from W1's left singular vectors)."""
    U, _, Vt = np.linalg.svd(np.asarray(Sigma, dtype=np.float64))
    R = np.linalg.svd(np.asarray(W1), full_matrices=False)[0][:, :rank]
    A1 = R @ Vt[:rank]
    A2 = U[:, :rank] @ R.T
    return (A1 * np.linalg.norm(W1) / np.linalg.norm(A1),
            A2 * np.linalg.norm(W2) / np.linalg.norm(A2))
