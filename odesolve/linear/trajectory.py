"""One result type for linear-network runs, like :class:`odesolve.Trajectory` for committees.

:func:`train` runs a network from given initial weights either with the exact
lambda-balanced solution (two layers; :func:`odesolve.linear.exact_QQT`) or with the
numerical gradient flow (any depth, optionally masked; :func:`chain_gradient_flow`), and
returns a :class:`LinearTrajectory` whose measures (loss, network function, NTK kernel
distance, weight change) work the same way for both. A run through a sequence of tasks
(:func:`odesolve.linear.sequence.train_sequence`) returns the same type, with the phases and
the index of the active phase at each time: a one-phase :func:`train` is the case without them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_choice, check_real
from ._args import check_chain, check_times
from .deep import chain_gradient_flow, end_to_end
from .exact import exact_QQT, network_function, ntk_blocks
from .measures import ntk_inner

if TYPE_CHECKING:                                   # pragma: no cover
    from .sequence import TaskPhase

__all__ = ["LinearTrajectory", "train"]


@dataclass
class LinearTrajectory:
    """A linear network over time.

    Attributes
    ----------
    t : ndarray, shape (n,)
    Sigma : ndarray, shape (d_out, d_in)
        The target (for a sequence: the input-output correlation of the first phase; each
        phase's is in ``phases``).
    method : {"exact", "gradient_flow"}
    weights : list of ndarray, shapes (n, n_l, n_{l-1}), or None
        Every layer at every time (numerical runs).
    X : ndarray, shape (n, d_in + d_out, d_in + d_out), or None
        ``Q Q^T`` with ``Q = [W1^T; W2]`` (exact runs: the weights themselves are determined
        only up to a rotation of the hidden layer, X is not).
    mask : ndarray, shape (d_out, d_in), or None
        Observed entries (matrix completion).
    phases : tuple of TaskPhase, or None
        The tasks of a sequence run, in training order (None: one task, ``Sigma``, on
        whitened inputs).
    phase : ndarray of int, shape (n,), or None
        Index into ``phases`` of the phase active at each time: phase k covers
        (end_{k-1}, end_k], and t = 0 belongs to phase 0.
    """

    t: np.ndarray
    Sigma: np.ndarray
    method: Literal["exact", "gradient_flow"]
    weights: list[np.ndarray] | None = None
    X: np.ndarray | None = None
    mask: np.ndarray | None = None
    phases: tuple[TaskPhase, ...] | None = None
    phase: np.ndarray | None = None

    @property
    def network(self) -> np.ndarray:
        """End-to-end map ``W_D .. W_1``, shape (n, d_out, d_in)."""
        if self.X is not None:
            return network_function(self.X, self.Sigma.shape[1])
        return end_to_end(self.weights)

    @property
    def loss(self) -> np.ndarray:
        """``1/2 ||M o (Sigma - W_D..W_1)||_F^2``, shape (n,); for a sequence, the loss of the
        task active at each time (its column of :meth:`task_losses`)."""
        if self.phases is not None:
            return self.task_losses()[np.arange(self.t.size), self.phase]
        E = self.Sigma - self.network
        if self.mask is not None:
            E = E * self.mask
        return 0.5 * (E ** 2).sum(axis=(-2, -1))

    def task_losses(self) -> np.ndarray:
        """The loss of every task of the run at every time, shape (n, n_phases): column k is
        the excess loss of phase k's task over its best linear predictor,
        ``1/2 tr((P - P*_k) Sigma_xx,k (P - P*_k)^T)`` with ``P*_k = Sigma_yx,k Sigma_xx,k^+``
        (``1/2 ||Sigma_yx,k - P||_F^2`` on whitened inputs); one column (:attr:`loss`) for a
        run without phases."""
        if self.phases is None:
            return self.loss[:, None]
        P = self.network
        return np.stack([ph.excess_loss(P) for ph in self.phases], axis=-1)

    @property
    def phase_ends(self) -> np.ndarray:
        """The times at which the phases end (cumulative durations), shape (n_phases,);
        ``[t[-1]]`` for a run without phases."""
        if self.phases is None:
            return self.t[-1:].copy()
        return np.cumsum([ph.duration for ph in self.phases])

    def _ntk_parts(self) -> tuple[np.ndarray, np.ndarray]:
        if self.X is not None:
            B, A = ntk_blocks(self.X, self.Sigma.shape[1])       # W1^T W1, W2 W2^T
            return A, B
        if len(self.weights) != 2:
            raise ValueError("the NTK measures are implemented for two-layer networks.")
        W1, W2 = self.weights
        return W2 @ np.swapaxes(W2, -1, -2), np.swapaxes(W1, -1, -2) @ W1

    def kernel_distance(self) -> np.ndarray:
        """``1 - <K0, Kt> / (||K0|| ||Kt||)`` for the NTK on whitened inputs, shape (n,)
        (K0 at t = 0, the start of the whole run)."""
        A, B = self._ntk_parts()
        cross = ntk_inner(A, B, A[0], B[0])
        return 1.0 - cross / np.sqrt(ntk_inner(A, B, A, B) * ntk_inner(A[0], B[0], A[0], B[0]))

    def weight_change(self) -> np.ndarray:
        """``sqrt(sum_l ||W_l(t) - W_l(0)||_F^2)``, shape (n,) (numerical runs only)."""
        if self.weights is None:
            raise ValueError("an exact run determines the weights only up to a hidden-layer "
                             "rotation; run train(..., method='gradient_flow') for the weight "
                             "change.")
        return np.sqrt(sum(((W - W[0]) ** 2).sum(axis=(-2, -1)) for W in self.weights))


def train(Sigma: ArrayLike, weights: Sequence[ArrayLike], t: ArrayLike,
          method: Literal["gradient_flow", "exact"] = "gradient_flow",
          mask: ArrayLike | None = None, tau: float = 1.0, **solver_kw: float) -> LinearTrajectory:
    """Train a linear network from ``weights`` (list W_1 .. W_D) and record it at ``t``.

    Parameters
    ----------
    Sigma : array_like, shape (d_out, d_in)
        Target (input-output correlation on whitened inputs, or the matrix to complete),
        finite.
    weights : sequence of array_like
        Initial layers W_1 (n_1, d_in), ..., W_D (d_out, n_{D-1}), finite.
    t : array_like, shape (n,)
        Output times: finite, strictly increasing, starting at 0.
    method : {"gradient_flow", "exact"}
        ``"exact"`` needs two lambda-balanced layers and no mask.
    mask : array_like of 0/1, shape (d_out, d_in), optional
        Observed entries (all, by default).
    tau : float
        Time constant of the gradient flow, positive.
    **solver_kw
        ``rtol``, ``atol`` of :func:`chain_gradient_flow` (method "gradient_flow" only).

    Returns
    -------
    LinearTrajectory

    Raises
    ------
    TypeError
        An argument has the wrong type, or an unknown solver option is given.
    ValueError
        naming the argument: NaN or inf entries, shapes that do not fit, times that do not
        start at 0 or do not increase, ``tau`` <= 0, an unknown ``method``, or an option
        ``method="exact"`` does not take.
    """
    method = check_choice("method", method, ("gradient_flow", "exact"))
    tau = check_real("tau", tau, positive=True)
    unknown = sorted(set(solver_kw) - {"rtol", "atol"})
    if unknown:
        raise TypeError(f"`{unknown[0]}` is not an option of train (solver options: `rtol`, "
                        f"`atol`).")
    Sigma, layers, _ = check_chain(Sigma, weights)
    t = check_times("t", t)
    if method == "exact":
        if len(layers) != 2:
            raise ValueError(f"`weights` must be two layers [W1, W2] for method='exact' (the "
                             f"two-layer lambda-balanced solution), got {len(layers)}.")
        if mask is not None:
            raise ValueError("`mask` needs method='gradient_flow': method='exact' fits every "
                             "entry.")
        if solver_kw:
            raise ValueError(f"`{sorted(solver_kw)[0]}` applies to method='gradient_flow' "
                             f"only: method='exact' has no solver.")
        X = exact_QQT(Sigma, layers[0], layers[1], t, tau=tau)
        return LinearTrajectory(t=t, Sigma=Sigma, method="exact", X=X)
    W = chain_gradient_flow(Sigma, layers, t, mask=mask, tau=tau, **solver_kw)
    return LinearTrajectory(t=t, Sigma=Sigma, method=method, weights=W,
                            mask=None if mask is None else np.asarray(mask, dtype=float))
