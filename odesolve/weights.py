"""Network weights for the finite-N simulator: prescribed overlaps, or a random initialisation.

Two ways to start a simulation of the soft committee machine
(docs/theory/simulation.md#theory-simulation-weights):

* :func:`weights_from_overlaps` builds student and teacher weights whose order parameters are
  *exactly* (to rounding) the requested ``Q = W W^T/N``, ``R = W W*^T/N``, ``T = W* W*^T/N``, so
  simulation and ODE start from the same point.
* :func:`random_weights` draws i.i.d. Gaussian weights the way a network is initialised; the ODE
  is then started from the realised overlaps, ``Overlaps.from_weights(*random_weights(...))``,
  which carry the O(1/sqrt(N)) fluctuations of the draw.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._checks import check_int
from ._typing import Seed
from .model import Overlaps, check_init_scales, check_readouts, check_seed

__all__ = ["weights_from_overlaps", "random_weights", "check_N"]


def check_N(N: int) -> int:
    """``N`` as an int: TypeError unless it is an integer (``1e4`` or ``100.0`` are refused),
    ValueError unless it is at least 1."""
    return check_int("N", N, minimum=1)


def _gram_factor(C: np.ndarray) -> np.ndarray:
    """A factor L with L L^T = C for a symmetric positive semi-definite C (P, P).

    From the eigen-decomposition C = U diag(lam) U^T, L = U diag(sqrt(lam)); eigenvalues at the
    rounding level below zero are set to zero, so singular covariances (perfect learning,
    Q = R = T) work where a Cholesky factorisation would fail.
    """
    lam, U = np.linalg.eigh(0.5 * (C + C.T))
    return U * np.sqrt(np.clip(lam, 0.0, None))[None, :]


def weights_from_overlaps(state: Overlaps, N: int, seed: Seed = None
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Student and teacher weights in dimension N whose overlaps are exactly those of ``state``.

    The P = K + M weight vectors are ``sqrt(N) L O^T``: O (N, P) has Haar-random orthonormal
    columns (QR decomposition of an N x P Gaussian matrix) and L (P, P) is a factor of the joint
    Gram matrix C = [[Q, R], [R^T, T]] = L L^T (eigen-decomposition, so a singular C is fine).
    Then [W; W*] [W; W*]^T / N = L O^T O L^T = C to rounding (``|error| ~ 1e-15 |C|``).

    Parameters
    ----------
    state : Overlaps
        An unbatched state (Q (K, K), R (K, M), T (M, M), v (K,), v_star (M,)). Only its
        covariance must be positive semi-definite, as :class:`Overlaps` checks.
    N : int
        Input dimension, at least K + M.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Randomness of the orientation O.

    Raises
    ------
    TypeError
        ``state`` is not an Overlaps, ``N`` not an integer, ``seed`` of the wrong type.
    ValueError
        ``state`` is batched, or ``N`` < K + M.

    Returns
    -------
    W : ndarray, shape (K, N)
        Student first-layer weights (rows w_i), with W W^T / N = Q.
    W_star : ndarray, shape (M, N)
        Teacher first-layer weights, W W*^T / N = R and W* W*^T / N = T.
    v : ndarray, shape (K,)
        Student readouts (a copy of ``state.v``).
    v_star : ndarray, shape (M,)
        Teacher readouts (a copy of ``state.v_star``).

    Examples
    --------
    >>> import numpy as np, odesolve
    >>> state = odesolve.Overlaps(np.eye(2), np.eye(2), np.eye(2), np.ones(2), np.ones(2))
    >>> W, W_star, v, v_star = weights_from_overlaps(state, N=1000, seed=0)
    >>> bool(np.allclose(W @ W_star.T / 1000, np.eye(2), atol=1e-12))
    True
    """
    if not isinstance(state, Overlaps):
        raise TypeError(f"`state` must be an odesolve.Overlaps, got {type(state).__name__}.")
    if state.is_batched:
        raise ValueError("`state` must be a single (unbatched) Overlaps state; construct the "
                         "weights of a batch member by member (state[b]).")
    N = check_N(N)
    K, M = state.K, state.M
    P = K + M
    if N < P:
        raise ValueError(f"`N` must be at least K + M = {P} to hold {P} weight vectors, got {N}.")
    rng = np.random.default_rng(check_seed("seed", seed))
    O, upper = np.linalg.qr(rng.standard_normal((N, P)))
    O *= np.sign(np.diag(upper))[None, :]          # Haar-distributed orientation
    L = _gram_factor(state.covariance)
    weights = np.sqrt(N) * (L @ O.T)               # (P, N)
    W = np.ascontiguousarray(weights[:K])
    W_star = np.ascontiguousarray(weights[K:])
    return W, W_star, state.v.copy(), state.v_star.copy()


def random_weights(K: int, M: int, N: int, student_std: float = 1e-3,
                   readout_std: float = 1e-3, teacher_std: float = 1.0, v_star: ArrayLike = 1.0,
                   seed: Seed = None, readout_mean: float = 0.0
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weights drawn i.i.d. Gaussian, as a network of input dimension N is initialised.

    The same law as :meth:`Overlaps.random` (which samples only the overlaps); here the
    N-dimensional vectors themselves are drawn, for the simulator. Start the ODE from
    ``Overlaps.from_weights(W, W_star, v, v_star)``, the realised overlaps.

    Parameters
    ----------
    K, M : int
        Student and teacher widths.
    N : int
        Input dimension.
    student_std : float
        Standard deviation of each component of the student vectors w_i (Q_ii ~ student_std^2).
    readout_std : float
        Standard deviation of the student readouts v_i.
    teacher_std : float
        Standard deviation of each component of the teacher vectors w*_n (T_nn ~ teacher_std^2).
    v_star : float or array_like, shape (M,)
        Teacher readouts (default all ones).
    seed : int, numpy.random.SeedSequence or numpy.random.Generator, optional
    readout_mean : float
        Mean of the student readouts.

    Returns
    -------
    W : ndarray, shape (K, N)
    W_star : ndarray, shape (M, N)
    v : ndarray, shape (K,)
    v_star : ndarray, shape (M,)

    Raises
    ------
    TypeError
        An argument has the wrong type (e.g. ``N=1e4``, ``student_std="0.1"``).
    ValueError
        ``K``, ``M`` or ``N`` < 1, a negative standard deviation (the teacher's must be
        positive, as in :meth:`Overlaps.random`), a non-finite value, ``v_star`` of the wrong
        shape.
    """
    K = check_int("K", K, minimum=1)
    M = check_int("M", M, minimum=1)
    N = check_N(N)
    student_std, readout_std, teacher_std, readout_mean = check_init_scales(
        student_std, readout_std, teacher_std, readout_mean)
    vs = check_readouts("v_star", v_star, M)
    rng = np.random.default_rng(check_seed("seed", seed))
    W = student_std * rng.standard_normal((K, N))
    W_star = teacher_std * rng.standard_normal((M, N))
    v = readout_mean + readout_std * rng.standard_normal(K)
    return W, W_star, v, vs
