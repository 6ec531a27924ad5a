"""Fisher information of the weights of a deep linear chain, in closed form.

For the Gaussian output model ``y ~ N(f(x; theta), I)`` with ``f(x) = W_D .. W_1 x`` the
Fisher information of the weights is ``F = E_x[J^T J]``, J = d f / d theta the Jacobian of the
network output (this is the model's Fisher, not the empirical Fisher of the losses'
gradients: it does not depend on the targets). Writing ``Suf_l = W_D .. W_{l+1}`` (d_out, n_l;
the identity for l = D) and ``Pre_{l-1} = W_{l-1} .. W_1`` (n_{l-1}, d_in; the identity for
l = 1), the output depends on layer l through ``f = Suf_l W_l Pre_{l-1} x``, so

    d f_a / d (W_l)_ij = (Suf_l)_ai (Pre_{l-1} x)_j,

and the block of F between two entries of the same layer is a Kronecker product

    F_l = (Suf_l^T Suf_l) kron (Pre_{l-1} Sigma_xx Pre_{l-1}^T)

in the row-major order of ``W_l`` (entry (i, j) at index ``i * n_{l-1} + j``), with
``Sigma_xx = <x x^T>``. Its diagonal is ``||Suf_l[:, i]||^2 (Pre Sigma_xx Pre^T)_jj`` and its
trace ``||Suf_l||_F^2 tr(Pre Sigma_xx Pre^T)``. Summing the diagonal over a 0/1 mask gives the
trace of a pathway (parallel chains are one chain with block masks).
See docs/theory/fisher.md#theory-fisher-linear.

Every function accepts layers with leading axes (e.g. time), shapes (..., n_l, n_{l-1}), as
:class:`odesolve.linear.LinearTrajectory` stores them.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_bool, describe
from ._args import finite_array, input_covariance, layer_list
from .exact import ntk_blocks
from .trajectory import LinearTrajectory

__all__ = ["fisher_blocks", "fisher_diagonal", "fisher_trace", "pathway_fisher_trace",
           "fisher_matrix", "weight_jacobian", "trajectory_fisher_trace"]


def _layers_and_covariance(weights, Sigma_xx):
    """Checked layers (leading axes allowed) and the input covariance (identity for None)."""
    weights = layer_list("weights", weights, stacked=True)
    d_in = weights[0].shape[-1]
    Sxx = np.eye(d_in) if Sigma_xx is None else input_covariance("Sigma_xx", Sigma_xx, d_in)
    try:
        np.broadcast_shapes(*(W.shape[:-2] for W in weights))
    except ValueError:
        raise ValueError("the leading (time) axes of `weights` must broadcast together, got "
                         f"shapes {[W.shape for W in weights]}.") from None
    return weights, Sxx


def _prefixes_suffixes(weights):
    """``Pre_{l-1}`` (..., n_{l-1}, d_in) and ``Suf_l`` (..., d_out, n_l) for l = 1..D."""
    D = len(weights)
    pre = [None] * D
    suf = [None] * D
    P = np.eye(weights[0].shape[-1])
    for l in range(D):
        pre[l] = P
        P = weights[l] @ P
    S = np.eye(weights[-1].shape[-2])
    for l in range(D - 1, -1, -1):
        suf[l] = S
        S = S @ weights[l]
    return pre, suf


def _factors(weights, Sxx):
    pre, suf = _prefixes_suffixes(weights)
    out = []
    for P, S in zip(pre, suf):
        B = np.swapaxes(S, -1, -2) @ S
        A = P @ Sxx @ np.swapaxes(P, -1, -2)
        out.append((B, A))
    return out


def fisher_blocks(weights: Sequence[ArrayLike],
                  Sigma_xx: ArrayLike | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Kronecker factors of the per-layer blocks of the Fisher information.

    Parameters
    ----------
    weights : list of array_like, shapes (..., n_l, n_{l-1})
        Layers W_1 (..., n_1, d_in), ..., W_D (..., d_out, n_{D-1}); leading axes (time)
        broadcast together.
    Sigma_xx : array_like, shape (d_in, d_in), optional
        Input covariance ``<x x^T>``, symmetric positive semi-definite (identity, by default).

    Returns
    -------
    list of (B_l, A_l), one pair per layer
        ``B_l = Suf_l^T Suf_l`` of shape (..., n_l, n_l) and ``A_l = Pre_{l-1} Sigma_xx
        Pre_{l-1}^T`` of shape (..., n_{l-1}, n_{l-1}): the block of layer l is
        ``F_l = kron(B_l, A_l)`` in the row-major order of ``W_l`` (entry (i, j) at index
        ``i * n_{l-1} + j``).

    Raises
    ------
    TypeError, ValueError
        ``weights`` not a list of finite arrays whose last two axes chain and whose leading
        axes broadcast; ``Sigma_xx`` not a symmetric positive semi-definite (d_in, d_in)
        matrix.
    """
    layers, Sxx = _layers_and_covariance(weights, Sigma_xx)
    return _factors(layers, Sxx)


def fisher_diagonal(weights: Sequence[ArrayLike],
                    Sigma_xx: ArrayLike | None = None) -> list[np.ndarray]:
    """Diagonal of the Fisher information, one array per layer with the layer's shape.

    For ``(W_l)_ij`` the entry is ``||Suf_l[:, i]||^2 (Pre_{l-1} Sigma_xx Pre_{l-1}^T)_jj``.
    Summing a layer's array gives its trace; summing over a 0/1 mask the trace of a pathway.

    Parameters
    ----------
    weights : list of array_like, shapes (..., n_l, n_{l-1})
        Layers W_1 .. W_D; leading axes (time) broadcast together.
    Sigma_xx : array_like, shape (d_in, d_in), optional
        Input covariance (identity, by default).

    Returns
    -------
    list of ndarray, shapes (..., n_l, n_{l-1})
        Leading axes: the broadcast leading axes of the layers that enter each factor.

    Raises
    ------
    TypeError, ValueError
        As :func:`fisher_blocks`.
    """
    layers, Sxx = _layers_and_covariance(weights, Sigma_xx)
    out = []
    for B, A in _factors(layers, Sxx):
        b = np.diagonal(B, axis1=-2, axis2=-1)
        a = np.diagonal(A, axis1=-2, axis2=-1)
        out.append(b[..., :, None] * a[..., None, :])
    return out


def fisher_trace(weights: Sequence[ArrayLike], Sigma_xx: ArrayLike | None = None,
                 per_layer: bool = False) -> np.ndarray:
    """Trace of the Fisher information, ``sum_l ||Suf_l||_F^2 tr(Pre_{l-1} Sigma_xx
    Pre_{l-1}^T)``, in closed form.

    Parameters
    ----------
    weights : list of array_like, shapes (..., n_l, n_{l-1})
        Layers W_1 .. W_D; leading axes (time) broadcast together.
    Sigma_xx : array_like, shape (d_in, d_in), optional
        Input covariance (identity, by default).
    per_layer : bool
        Return the trace of every layer's block instead of the total.

    Returns
    -------
    ndarray, shape (...,) or (..., D) with ``per_layer``
        ``...``: the broadcast leading axes of the layers.

    Raises
    ------
    TypeError, ValueError
        As :func:`fisher_blocks`; TypeError for a ``per_layer`` that is not a boolean.
    """
    per_layer = check_bool("per_layer", per_layer)
    layers, Sxx = _layers_and_covariance(weights, Sigma_xx)
    batch = np.broadcast_shapes(*(W.shape[:-2] for W in layers))
    traces = [np.broadcast_to(np.trace(B, axis1=-2, axis2=-1) * np.trace(A, axis1=-2, axis2=-1),
                              batch)
              for B, A in _factors(layers, Sxx)]
    per = np.stack(traces, axis=-1)
    return per if per_layer else per.sum(axis=-1)


def pathway_fisher_trace(weights: Sequence[ArrayLike], masks: Sequence[ArrayLike],
                         Sigma_xx: ArrayLike | None = None) -> np.ndarray:
    """Trace of the Fisher information restricted to the weights of a pathway.

    Parameters
    ----------
    weights : list of array_like, shapes (..., n_l, n_{l-1})
        Layers W_1 .. W_D of the whole network (parallel chains written as one chain with
        block-diagonal layers); leading axes broadcast together.
    masks : list of 0/1 array_like, shapes (n_l, n_{l-1})
        One mask per layer: 1 on the weights of the pathway.
    Sigma_xx : array_like, shape (d_in, d_in), optional
        Input covariance (identity, by default).

    Returns
    -------
    ndarray, shape (...,)

    Raises
    ------
    TypeError, ValueError
        As :func:`fisher_blocks`; for ``masks``: not a list of one 0/1 matrix per layer of the
        layer's shape.
    """
    diag = fisher_diagonal(weights, Sigma_xx)
    if isinstance(masks, (str, bytes)) or not isinstance(masks, (list, tuple)):
        raise TypeError(f"`masks` must be a list of 0/1 matrices, one per layer, got "
                        f"{describe(masks)}.")
    if len(masks) != len(diag):
        raise ValueError(f"`masks` must have one mask per layer ({len(diag)}), got "
                         f"{len(masks)}.")
    total = 0.0
    for l, (m, d) in enumerate(zip(masks, diag)):
        m = finite_array(f"masks[{l}]", m)
        if m.shape != d.shape[-2:]:
            raise ValueError(f"`masks[{l}]` must have shape {d.shape[-2:]} (that of layer "
                             f"{l}), got {m.shape}.")
        if not np.all((m == 0.0) | (m == 1.0)):
            raise ValueError(f"`masks[{l}]` must hold only 0 and 1.")
        total = total + (d * m).sum(axis=(-2, -1))
    return np.asarray(total)


def _jacobian_operator(weights):
    """L (..., d_out, P, d_in) with J(x) = L x: the Jacobian is linear in the input."""
    pre, suf = _prefixes_suffixes(weights)
    parts = []
    for W, P, S in zip(weights, pre, suf):
        L = S[..., :, :, None, None] * P[..., None, None, :, :]   # (..., a, i, j, k)
        batch = L.shape[:-4]
        parts.append(L.reshape(*batch, S.shape[-2], W.shape[-2] * W.shape[-1], P.shape[-1]))
    batch = np.broadcast_shapes(*(p.shape[:-3] for p in parts))
    parts = [np.broadcast_to(p, batch + p.shape[-3:]) for p in parts]
    return np.concatenate(parts, axis=-2)


def fisher_matrix(weights: Sequence[ArrayLike],
                  Sigma_xx: ArrayLike | None = None) -> np.ndarray:
    """The full Fisher information ``E_x[J^T J]`` over all weights (small networks).

    Parameters
    ----------
    weights : list of array_like, shapes (..., n_l, n_{l-1})
        Layers W_1 .. W_D; leading axes broadcast together.
    Sigma_xx : array_like, shape (d_in, d_in), optional
        Input covariance (identity, by default).

    Returns
    -------
    ndarray, shape (..., P, P)
        P = sum_l n_l n_{l-1}; the weights in the order W_1, ..., W_D, each row-major (the
        order of ``np.concatenate([W.ravel() for W in weights])``).

    Raises
    ------
    TypeError, ValueError
        As :func:`fisher_blocks`.
    """
    layers, Sxx = _layers_and_covariance(weights, Sigma_xx)
    L = _jacobian_operator(layers)                         # (..., a, P, k)
    LS = L @ Sxx                                            # (..., a, P, k)
    return np.einsum("...apk,...aqk->...pq", LS, L)


def weight_jacobian(weights: Sequence[ArrayLike], x: ArrayLike) -> np.ndarray:
    """Jacobian of the network output with respect to all weights, at the inputs ``x``.

    Parameters
    ----------
    weights : list of array_like, shapes (..., n_l, n_{l-1})
        Layers W_1 .. W_D; leading axes broadcast together.
    x : array_like, shape (n, d_in)
        Inputs (rows).

    Returns
    -------
    ndarray, shape (..., n, d_out, P)
        ``d f_a(x_n) / d theta_p``, weights ordered as in :func:`fisher_matrix`.

    Raises
    ------
    TypeError, ValueError
        As :func:`fisher_blocks`; for ``x``: not a finite (n, d_in) matrix.
    """
    layers = layer_list("weights", weights, stacked=True)
    d_in = layers[0].shape[-1]
    inputs = finite_array("x", x)
    if inputs.ndim != 2 or inputs.shape[1] != d_in:
        raise ValueError(f"`x` must have shape (n, {d_in}) (d_in of the first layer), got "
                         f"{inputs.shape}.")
    L = _jacobian_operator(layers)                          # (..., a, P, k)
    return np.einsum("...apk,nk->...nap", L, inputs)


def trajectory_fisher_trace(traj: LinearTrajectory, Sigma_xx: ArrayLike | None = None,
                            per_layer: bool = False) -> np.ndarray:
    """Fisher trace along a :class:`~odesolve.linear.LinearTrajectory`, exact or numerical.

    Numerical runs use their weights (:func:`fisher_trace`). Exact two-layer runs know the
    weights only up to a rotation of the hidden layer, but the per-layer traces are invariant
    under it: ``tr F_1 = tr(W2^T W2) tr(Sigma_xx)`` and ``tr F_2 = d_out tr(Sigma_xx W1^T W1)``,
    read off the blocks of ``X = Q Q^T``.

    Parameters
    ----------
    traj : LinearTrajectory
    Sigma_xx : array_like, shape (d_in, d_in), optional
        Input covariance under which the Fisher information is taken (identity, by default):
        e.g. the normal one or that of a deficit.
    per_layer : bool
        Return every layer's trace instead of the total.

    Returns
    -------
    ndarray, shape (n,) or (n, D) with ``per_layer``

    Raises
    ------
    TypeError
        ``traj`` not a LinearTrajectory, ``per_layer`` not a boolean.
    ValueError
        ``Sigma_xx`` not a symmetric positive semi-definite (d_in, d_in) matrix.
    """
    if not isinstance(traj, LinearTrajectory):
        raise TypeError(f"`traj` must be a LinearTrajectory, got {type(traj).__name__}.")
    per_layer = check_bool("per_layer", per_layer)
    if traj.weights is not None:
        return fisher_trace(traj.weights, Sigma_xx, per_layer)
    d_out, d_in = traj.Sigma.shape
    Sxx = np.eye(d_in) if Sigma_xx is None else input_covariance("Sigma_xx", Sigma_xx, d_in)
    W1tW1, W2W2t = ntk_blocks(traj.X, d_in)
    per = np.stack([np.trace(W2W2t, axis1=-2, axis2=-1) * np.trace(Sxx),
                    d_out * np.einsum("ij,...ji->...", Sxx, W1tW1)], axis=-1)
    return per if per_layer else per.sum(axis=-1)
