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

from .._checks import check_int
from ._args import finite_array, layer_list, real_matrix

__all__ = ["weight_change", "ntk_inner", "kernel_distance", "representation_alignment",
           "low_rank_weights", "task_aligned_low_rank"]


def weight_change(W1: ArrayLike, W2: ArrayLike, W1_0: ArrayLike, W2_0: ArrayLike) -> np.ndarray:
    """``sqrt(||W1 - W1_0||^2 + ||W2 - W2_0||^2)``, shape of the leading axes.

    Parameters
    ----------
    W1, W1_0 : array_like, shape (..., h, d_in)
    W2, W2_0 : array_like, shape (..., d_out, h)
        Weights and the weights to compare with (leading axes broadcast).

    Raises
    ------
    TypeError, ValueError
        naming a weight array that is not real and finite or whose shape does not fit.
    """
    W1, W2, W1_0, W2_0 = _weight_pairs(W1, W2, W1_0, W2_0)
    d1 = W1 - W1_0
    d2 = W2 - W2_0
    return np.sqrt((d1 ** 2).sum(axis=(-2, -1)) + (d2 ** 2).sum(axis=(-2, -1)))


def _weight_pairs(W1, W2, W1_0, W2_0):
    """Two two-layer networks of the same shape: W1 (..., h, d_in), W2 (..., d_out, h)."""
    W1, W2 = layer_list("weights", [W1, W2], stacked=True, names=("W1", "W2"))
    W1_0, W2_0 = layer_list("weights", [W1_0, W2_0], stacked=True, names=("W1_0", "W2_0"))
    _same_matrices("W1_0", W1_0, "W1", W1)
    _same_matrices("W2_0", W2_0, "W2", W2)
    return W1, W2, W1_0, W2_0


def _same_matrices(name, A, ref_name, ref):
    """``A`` holds matrices of the shape of those of ``ref`` with broadcasting leading axes."""
    if A.shape[-2:] != ref.shape[-2:]:
        raise ValueError(f"`{name}` must hold matrices of the shape of `{ref_name}`'s "
                         f"{ref.shape[-2:]}, got {A.shape[-2:]}.")
    try:
        np.broadcast_shapes(A.shape, ref.shape)
    except ValueError:
        raise ValueError(f"the leading axes of `{name}` {A.shape[:-2]} do not broadcast with "
                         f"those of `{ref_name}` {ref.shape[:-2]}.") from None


def _square(name, value):
    arr = finite_array(name, value, min_ndim=2)
    if arr.shape[-1] != arr.shape[-2]:
        raise ValueError(f"`{name}` must hold square matrices, got shape {arr.shape}.")
    return arr


def _tr(A):
    return np.trace(A, axis1=-2, axis2=-1)


def ntk_inner(A: np.ndarray, B: np.ndarray, C: np.ndarray, D: np.ndarray) -> np.ndarray:
    """Frobenius product of the Kronecker sums ``A (x) I + I (x) B`` and ``C (x) I + I (x) D``
    (A, C: (..., d_out, d_out); B, D: (..., d_in, d_in)).

    Raises
    ------
    TypeError, ValueError
        naming an argument that is not a finite array of square matrices, or C (D) whose
        matrices differ in size from A's (B's).
    """
    A, B, C, D = (_square(n, v) for n, v in (("A", A), ("B", B), ("C", C), ("D", D)))
    _same_matrices("C", C, "A", A)
    _same_matrices("D", D, "B", B)
    d_out, d_in = A.shape[-1], B.shape[-1]
    return (d_in * _tr(A @ C) + _tr(A) * _tr(D) + _tr(B) * _tr(C) + d_out * _tr(B @ D))


def kernel_distance(W1: np.ndarray, W2: np.ndarray, W1_0: np.ndarray,
                    W2_0: np.ndarray) -> np.ndarray:
    """``1 - <K0, Kt> / (||K0|| ||Kt||)`` for the NTKs of the two weight sets.

    Parameters and errors as :func:`weight_change`.
    """
    W1, W2, W1_0, W2_0 = _weight_pairs(W1, W2, W1_0, W2_0)
    A, B = W2 @ np.swapaxes(W2, -1, -2), np.swapaxes(W1, -1, -2) @ W1
    C, D = W2_0 @ np.swapaxes(W2_0, -1, -2), np.swapaxes(W1_0, -1, -2) @ W1_0
    cross = ntk_inner(A, B, C, D)
    return 1.0 - cross / np.sqrt(ntk_inner(A, B, A, B) * ntk_inner(C, D, C, D))


def representation_alignment(W1: np.ndarray, Sigma: ArrayLike) -> np.ndarray:
    """``<W1^T W1, Sigma^T Sigma> / (||W1^T W1|| ||Sigma^T Sigma||)``.

    Parameters
    ----------
    W1 : array_like, shape (..., h, d_in)
    Sigma : array_like, shape (d_out, d_in)

    Raises
    ------
    TypeError, ValueError
        ``W1`` or ``Sigma`` not real and finite, or with different d_in.
    """
    W1 = finite_array("W1", W1, min_ndim=2)
    Sigma = real_matrix("Sigma", Sigma)
    if Sigma.shape[1] != W1.shape[-1]:
        raise ValueError(f"`Sigma` must have d_in = {W1.shape[-1]} columns (those of `W1`), "
                         f"got shape {Sigma.shape}.")
    H = np.swapaxes(W1, -1, -2) @ W1
    S = Sigma.T @ Sigma
    return (H * S).sum(axis=(-2, -1)) / (np.linalg.norm(H, axis=(-2, -1)) * np.linalg.norm(S))


def low_rank_weights(W: ArrayLike, rank: int) -> np.ndarray:
    """Truncated SVD of W at ``rank``, rescaled to W's Frobenius norm (Liu et al. 2024).

    Parameters
    ----------
    W : array_like, shape (m, n)
    rank : int
        At least 1 (a rank >= min(m, n) keeps W).

    Returns
    -------
    ndarray, shape (m, n) (zero for a zero ``W``)

    Raises
    ------
    TypeError, ValueError
        ``W`` not a finite matrix, ``rank`` not an integer in range.
    """
    W = real_matrix("W", W)
    rank = check_int("rank", rank, minimum=1)
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    s_low = np.where(np.arange(s.size) < rank, s, 0.0)
    if s[0] == 0.0:
        return np.zeros_like(W)
    return (U * s_low) @ Vt * (np.linalg.norm(s) / np.linalg.norm(s_low))


def task_aligned_low_rank(W1: ArrayLike, W2: ArrayLike, Sigma: ArrayLike,
                          rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Low-rank weights of the same Frobenius norms as W1, W2 whose singular vectors are the
    task's top ``rank`` singular vectors: ``W1 = c1 R V_r^T``, ``W2 = c2 U_r R^T`` with R
    (h, rank) orthonormal columns (from W1's left singular vectors).

    Parameters
    ----------
    W1 : array_like, shape (h, d_in)
    W2 : array_like, shape (d_out, h)
    Sigma : array_like, shape (d_out, d_in)
    rank : int
        In [1, min(h, d_in, d_out)].

    Returns
    -------
    W1, W2 : ndarray, shapes (h, d_in) and (d_out, h)

    Raises
    ------
    TypeError, ValueError
        naming the argument that is not a finite matrix, does not fit the others' shapes, or
        is out of range.
    """
    W1, W2 = layer_list("weights", [W1, W2], names=("W1", "W2"))
    Sigma = real_matrix("Sigma", Sigma, (W2.shape[0], W1.shape[1]),
                        "(d_out, d_in) of the weights")
    rank = check_int("rank", rank, minimum=1, maximum=min(W1.shape + W2.shape))
    U, _, Vt = np.linalg.svd(Sigma)
    R = np.linalg.svd(W1, full_matrices=False)[0][:, :rank]
    A1 = R @ Vt[:rank]
    A2 = U[:, :rank] @ R.T
    return (A1 * np.linalg.norm(W1) / np.linalg.norm(A1),
            A2 * np.linalg.norm(W2) / np.linalg.norm(A2))
