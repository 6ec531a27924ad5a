"""A deep linear beta-VAE on linearly mixed independent factors, with its closed-form expected
ELBO, hand-written gradients, gradient-descent training and disentanglement scores
(docs/theory/vae.md).

Data. ``x = A z + noise`` with k independent Gaussian factors ``z ~ N(0, diag(variances))`` of
distinct variances, a mixing ``A`` (d, k) with orthonormal columns and isotropic noise of
variance ``noise``: the data covariance is ``S = A diag(variances) A^T + noise I``
(:func:`factor_data`). A linear VAE sees the data only through S.

Model. Encoder mean ``mu(x) = E x`` with ``E = E_De .. E_1`` a deep linear chain (k, d); encoder
variance ``diag(exp(log_var))`` per latent, the same for every x (the optimum of a linear VAE
has a data-independent posterior covariance; Lucas et al. 2019); decoder mean ``W z`` with
``W = W_Dd .. W_1`` (d, k), Gaussian likelihood of *fixed* variance ``sigma2``; prior N(0, I).
The expected negative ELBO (over the data and the reparameterised noise) is::

    L = [tr((I - W E) S (I - W E)^T) + sum_j v_j |W_:j|^2] / (2 sigma2)
        + beta/2 [sum_j (v_j - log v_j - 1) + tr(E S E^T)] + d/2 log(2 pi sigma2),

``v = exp(log_var)`` (:func:`negative_elbo`); its gradients are :func:`negative_elbo_gradients`.
Every function takes parameters with optional leading batch axes (many networks at once).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_int, check_real
from .._typing import Seed
from ..model import check_seed

__all__ = ["factor_data", "vae_chain", "negative_elbo", "negative_elbo_gradients",
           "optimal_negative_elbo", "optimal_parameters", "train_vae", "factor_map",
           "latent_purity", "factor_completeness", "dci_disentanglement", "latent_imbalance"]

Params = tuple[list[np.ndarray], list[np.ndarray], np.ndarray]
_HUGE = 1e100          # a loss or gradient beyond this counts as diverged


def _T(A: np.ndarray) -> np.ndarray:
    return np.swapaxes(A, -1, -2)


def _product(layers: Sequence[np.ndarray]) -> np.ndarray:
    P = layers[0]
    for W in layers[1:]:
        P = W @ P
    return P


def _layers(name: str, layers: Any) -> list[np.ndarray]:
    if not isinstance(layers, (list, tuple)) or not layers:
        raise TypeError(f"`{name}` must be a non-empty list of arrays, got "
                        f"{type(layers).__name__}.")
    out = [np.asarray(W, dtype=float) for W in layers]
    for l, W in enumerate(out):
        if W.ndim < 2 or not np.all(np.isfinite(W)):
            raise ValueError(f"`{name}[{l}]` must be a finite array with at least 2 axes.")
        if l and W.shape[-1] != out[l - 1].shape[-2]:
            raise ValueError(f"`{name}` layers do not chain: layer {l} has {W.shape[-1]} "
                             f"inputs, layer {l - 1} has {out[l - 1].shape[-2]} outputs.")
    return out


def _covariance(S: ArrayLike) -> np.ndarray:
    S = np.asarray(S, dtype=float)
    if S.ndim != 2 or S.shape[0] != S.shape[1] or not np.all(np.isfinite(S)) or \
            not np.allclose(S, S.T):
        raise ValueError("`S` must be a finite symmetric square matrix (the data covariance).")
    return S


def _params(S: ArrayLike, enc: Any, dec: Any, log_var: ArrayLike):
    S = _covariance(S)
    enc, dec = _layers("enc", enc), _layers("dec", dec)
    d, k = S.shape[0], enc[-1].shape[-2]
    if enc[0].shape[-1] != d or dec[-1].shape[-2] != d:
        raise ValueError(f"`enc` must take and `dec` must return {d} = S.shape[0] entries.")
    if dec[0].shape[-1] != k:
        raise ValueError(f"`dec` must take the {k} latents that `enc` returns, got "
                         f"{dec[0].shape[-1]}.")
    log_var = np.asarray(log_var, dtype=float)
    if log_var.shape[-1:] != (k,) or not np.all(np.isfinite(log_var)):
        raise ValueError(f"`log_var` must be finite with last axis {k} (one per latent), got "
                         f"shape {log_var.shape}.")
    return S, enc, dec, log_var


def factor_data(d: int, variances: ArrayLike, noise: float,
                seed: Seed = None) -> tuple[np.ndarray, np.ndarray]:
    """Mixing matrix and data covariance of ``x = A z + noise``.

    Parameters
    ----------
    d : int
        Observed dimension, >= len(variances).
    variances : array_like, shape (k,)
        Factor variances: positive and pairwise distinct (equal variances make the factors of
        that block unidentifiable, see docs/theory/vae.md).
    noise : float
        Observation-noise variance, >= 0.
    seed : int, sequence of int, Generator or None
        Draws the mixing (Haar-random orthonormal columns).

    Returns
    -------
    A : ndarray, shape (d, k); S : ndarray, shape (d, d)

    Raises
    ------
    TypeError, ValueError
        naming the argument out of range (``d`` < k, variances not positive or not distinct,
        negative noise, a bad seed).
    """
    var = np.asarray(variances, dtype=float)
    if var.ndim != 1 or var.size < 1 or not np.all(np.isfinite(var)) or np.any(var <= 0):
        raise ValueError(f"`variances` must be a 1-d array of positive numbers, got {variances}.")
    if np.unique(var).size != var.size:
        raise ValueError(f"`variances` must be pairwise distinct, got {variances}.")
    d = check_int("d", d, minimum=var.size)
    noise = check_real("noise", noise, minimum=0.0)
    rng = np.random.default_rng(check_seed("seed", seed))
    A, R = np.linalg.qr(rng.standard_normal((d, var.size)))
    A = A * np.sign(np.diag(R))
    return A, (A * var) @ A.T + noise * np.eye(d)


def _haar_columns(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    Q, R = np.linalg.qr(rng.standard_normal((n, k)))
    return Q * np.sign(np.diag(R))


def _sqrtm(C: np.ndarray) -> np.ndarray:
    w, V = np.linalg.eigh(0.5 * (C + C.T))
    return (V * np.sqrt(np.maximum(w, 0.0))) @ V.T


def vae_chain(d: int, k: int, depth_enc: int, depth_dec: int, lam: float, scale: float,
              seed: Seed = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Encoder and decoder layers with latent imbalance ``lam``, zero-balanced inside each.

    All hidden widths equal k. With the encoder's last layer ``E_De`` (k, n) and the
    decoder's first layer ``W_1`` (n', k), the start satisfies exactly (to rounding)

        W_1^T W_1 - E_De E_De^T = lam I_k,
        E_{l+1}^T E_{l+1} = E_l E_l^T,   W_{l+1}^T W_{l+1} = W_l W_l^T,

    i.e. the lambda-balance of :func:`odesolve.linear.balanced_weights` at the latent layer,
    between the encoder and the decoder (lam > 0: decoder larger), and zero balance between
    consecutive layers of the encoder and of the decoder. For lam >= 0 the first layer is
    drawn i.i.d. N(0, scale^2 / d) and each next layer is ``O C^(1/2)`` with C the Gram
    matrix the balance requires and O Haar-random with orthonormal columns; for lam < 0 the
    same from the last layer (N(0, scale^2 / k)) downwards. Depth 1 + 1 is the construction of
    ``balanced_weights`` with h = k.

    Parameters
    ----------
    d, k : int
        Observed and latent dimension, 1 <= k <= d.
    depth_enc, depth_dec : int
        Numbers of layers, >= 1.
    lam : float
        Latent imbalance, finite.
    scale : float
        Scale of the drawn layer, positive.
    seed : int, sequence of int, Generator or None

    Returns
    -------
    enc : list of ndarray, shapes (k, d), (k, k), ...; dec : list of ndarray, shapes
    (k, k), ..., (d, k)

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    k = check_int("k", k, minimum=1)
    d = check_int("d", d, minimum=k)
    De = check_int("depth_enc", depth_enc, minimum=1)
    Dd = check_int("depth_dec", depth_dec, minimum=1)
    lam = check_real("lam", lam)
    scale = check_real("scale", scale, positive=True)
    rng = np.random.default_rng(check_seed("seed", seed))
    D = De + Dd
    widths = [d] + [k] * (D - 1) + [d]
    lams = [lam if l == De else 0.0 for l in range(1, D)]     # interface l: after layer l
    layers: list[np.ndarray] = [np.empty(0)] * D
    if lam >= 0:
        layers[0] = rng.standard_normal((k, d)) * scale / np.sqrt(d)
        for l in range(1, D):
            C = layers[l - 1] @ layers[l - 1].T + lams[l - 1] * np.eye(k)
            layers[l] = _haar_columns(widths[l + 1], k, rng) @ _sqrtm(C)
    else:
        layers[-1] = rng.standard_normal((d, k)) * scale / np.sqrt(k)
        for l in range(D - 2, -1, -1):
            C = layers[l + 1].T @ layers[l + 1] - lams[l] * np.eye(k)
            layers[l] = (_haar_columns(widths[l], k, rng) @ _sqrtm(C)).T
    return layers[:De], layers[De:]


def latent_imbalance(enc: Sequence[ArrayLike], dec: Sequence[ArrayLike]) -> np.ndarray:
    """``W_1^T W_1 - E_De E_De^T`` (..., k, k): the imbalance at the latent layer."""
    enc, dec = _layers("enc", enc), _layers("dec", dec)
    return _T(dec[0]) @ dec[0] - enc[-1] @ _T(enc[-1])


def negative_elbo(S: ArrayLike, enc: Sequence[ArrayLike], dec: Sequence[ArrayLike],
                  log_var: ArrayLike, beta: float = 1.0, sigma2: float = 1.0) -> np.ndarray:
    """Expected negative ELBO per data point, in closed form (module docstring).

    Parameters
    ----------
    S : array_like, shape (d, d)
        Data covariance (zero-mean data), symmetric.
    enc : list of arrays, shapes (..., n_1, d), ..., (..., k, n_{De-1})
    dec : list of arrays, shapes (..., m_1, k), ..., (..., d, m_{Dd-1})
    log_var : array_like, shape (..., k)
        Log of the encoder variances.
    beta : float
        Weight of the KL term, positive.
    sigma2 : float
        Decoder (likelihood) variance, positive, fixed.

    Returns
    -------
    ndarray, shape (...)

    Raises
    ------
    TypeError, ValueError
        naming the argument whose shape or values do not fit.
    """
    S, enc, dec, log_var = _params(S, enc, dec, log_var)
    beta = check_real("beta", beta, positive=True)
    sigma2 = check_real("sigma2", sigma2, positive=True)
    return _loss(S, enc, dec, log_var, beta, sigma2)


def _loss(S, enc, dec, log_var, beta, sigma2):
    E, W = _product(enc), _product(dec)
    d = S.shape[0]
    v = np.exp(log_var)
    R = np.eye(d) - W @ E
    rec = np.einsum("...ij,jk,...ik->...", R, S, R) + np.einsum("...j,...ij,...ij->...", v, W, W)
    kl = 0.5 * ((v - log_var - 1.0).sum(-1) + np.einsum("...ij,jk,...ik->...", E, S, E))
    return rec / (2 * sigma2) + beta * kl + 0.5 * d * np.log(2 * np.pi * sigma2)


def _chain_gradients(layers: list[np.ndarray], G: np.ndarray) -> list[np.ndarray]:
    """dL/dW_l = (W_D..W_{l+1})^T G (W_{l-1}..W_1)^T for G = dL/d(W_D..W_1)."""
    D = len(layers)
    pre = [None] * D                      # pre[l] = W_{l-1}..W_1 (None: identity)
    for l in range(1, D):
        pre[l] = layers[0] if l == 1 else layers[l - 1] @ pre[l - 1]
    out = [None] * D
    back = G                              # (W_D..W_{l+1})^T G
    for l in range(D - 1, -1, -1):
        out[l] = back if pre[l] is None else back @ _T(pre[l])
        if l:
            back = _T(layers[l]) @ back
    return out


def negative_elbo_gradients(S: ArrayLike, enc: Sequence[ArrayLike], dec: Sequence[ArrayLike],
                            log_var: ArrayLike, beta: float = 1.0,
                            sigma2: float = 1.0) -> Params:
    """Gradients of :func:`negative_elbo` with respect to every encoder and decoder layer and
    ``log_var`` (same arguments and shapes). With ``R = I - W E``::

        dL/dW = (-R S E^T + W diag(v)) / sigma2,   dL/dE = -W^T R S / sigma2 + beta E S,
        dL/dlog_var_j = v_j (|W_:j|^2 / (2 sigma2) + beta / 2) - beta / 2,

    and each layer's gradient follows from the end-to-end one by the chain rule.

    Returns
    -------
    (g_enc, g_dec, g_log_var) : shapes as ``enc``, ``dec`` and ``log_var``.

    Raises
    ------
    TypeError, ValueError
        As :func:`negative_elbo`.
    """
    S, enc, dec, log_var = _params(S, enc, dec, log_var)
    beta = check_real("beta", beta, positive=True)
    sigma2 = check_real("sigma2", sigma2, positive=True)
    return _gradients(S, enc, dec, log_var, beta, sigma2)


def _gradients(S, enc, dec, log_var, beta, sigma2):
    E, W = _product(enc), _product(dec)
    v = np.exp(log_var)
    RS = S - W @ (E @ S)
    gW = (-RS @ _T(E) + W * v[..., None, :]) / sigma2
    gE = -(_T(W) @ RS) / sigma2 + beta * (E @ S)
    gv = v * ((W * W).sum(-2) / (2 * sigma2) + 0.5 * beta) - 0.5 * beta
    return _chain_gradients(enc, gE), _chain_gradients(dec, gW), gv


def _modes(S, k, beta, sigma2):
    S = _covariance(S)
    lam, U = np.linalg.eigh(0.5 * (S + S.T))
    lam, U = lam[::-1], U[:, ::-1]
    if lam[-1] <= 0:
        raise ValueError(f"`S` must be positive definite, got smallest eigenvalue "
                         f"{lam[-1]:.3g}.")
    k = check_int("k", k, minimum=1, maximum=S.shape[0])
    beta = check_real("beta", beta, positive=True)
    sigma2 = check_real("sigma2", sigma2, positive=True)
    return lam, U, k, beta * sigma2


def optimal_negative_elbo(S: ArrayLike, k: int, beta: float = 1.0,
                          sigma2: float = 1.0) -> float:
    """The global minimum of :func:`negative_elbo` over all parameters, in closed form.

    With the eigenvalues l_1 >= l_2 >= ... of S and s = beta sigma2, each of the k latents
    takes one of the top k eigen-directions: one with l_i > s costs
    ``beta/2 (1 + log(l_i / s))``, one with l_i <= s collapses (posterior collapse) and costs
    ``l_i / (2 sigma2)``, as does every direction left over; plus ``d/2 log(2 pi sigma2)``
    (docs/theory/vae.md; Lucas et al. 2019 for beta = 1).

    Parameters
    ----------
    S : array_like, shape (d, d)
        Data covariance, symmetric positive definite.
    k : int
        Number of latents, 1 <= k <= d.
    beta, sigma2 : float
        Positive.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        naming the argument out of range.
    """
    lam, _, k, s = _modes(S, k, beta, sigma2)
    top = lam[:k]
    active = top > s
    cost = np.where(active, 0.5 * beta * (1 + np.log(np.maximum(top, s) / s)), top / (2 * sigma2))
    return float(cost.sum() + lam[k:].sum() / (2 * sigma2)
                 + 0.5 * lam.size * np.log(2 * np.pi * sigma2))


def optimal_parameters(S: ArrayLike, k: int, beta: float = 1.0,
                       sigma2: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """End-to-end encoder E (k, d), decoder W (d, k) and log-variances (k,) at the global
    optimum of depth 1 + 1: with the top-k eigenpairs (l_i, u_i) of S and s = beta sigma2,
    ``W = U diag(a^(1/2))``, ``E = diag(a^(1/2) / l) U^T``, ``v = min(s / l, 1)`` with
    ``a = max(l - s, 0)`` (latent i carries principal direction i; unique up to the signs and
    the order of the latents when the l_i are distinct).

    Raises
    ------
    TypeError, ValueError
        As :func:`optimal_negative_elbo`.
    """
    lam, U, k, s = _modes(S, k, beta, sigma2)
    l, U = lam[:k], U[:, :k]
    a = np.maximum(l - s, 0.0)
    return (np.sqrt(a) / l)[:, None] * U.T, U * np.sqrt(a), np.log(np.minimum(s / l, 1.0))


def train_vae(S: ArrayLike, enc: Sequence[ArrayLike], dec: Sequence[ArrayLike],
              log_var: ArrayLike, t: float, lr: float, beta: float = 1.0,
              sigma2: float = 1.0, n_record: int = 50) -> dict[str, Any]:
    """Full-batch gradient descent on :func:`negative_elbo` (an Euler discretisation of the
    gradient flow with time step ``lr``) up to time ``t``; batched over leading axes.

    Parameters
    ----------
    S, enc, dec, log_var, beta, sigma2
        As :func:`negative_elbo`.
    t : float
        Training time, positive: ``round(t / lr)`` steps.
    lr : float
        Step size, positive.
    n_record : int
        Number of recorded times (evenly spaced steps, including 0 and the last), >= 2.

    Returns
    -------
    dict
        ``enc``, ``dec``, ``log_var`` (the trained parameters), ``t`` (n_record,),
        ``loss`` (n_record, ...) the negative ELBO at those times, ``diverged`` (...) bool.
        Diverged members (non-finite loss) keep their last finite parameters.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    S, enc, dec, log_var = _params(S, enc, dec, log_var)
    beta = check_real("beta", beta, positive=True)
    sigma2 = check_real("sigma2", sigma2, positive=True)
    t = check_real("t", t, positive=True)
    lr = check_real("lr", lr, positive=True)
    n_record = check_int("n_record", n_record, minimum=2)
    n_steps = max(int(round(t / lr)), 1)
    rec_steps = np.unique(np.linspace(0, n_steps, n_record).round().astype(int))
    enc, dec, log_var = [W.copy() for W in enc], [W.copy() for W in dec], log_var.copy()
    losses = []
    alive = np.ones(log_var.shape[:-1], dtype=bool)
    ri = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(n_steps + 1):
            if step == rec_steps[ri]:
                loss = _loss(S, enc, dec, log_var, beta, sigma2)
                alive &= np.isfinite(loss) & (np.abs(loss) < _HUGE)
                losses.append(np.where(alive, loss, np.nan))
                ri += 1
            if step == n_steps:
                break
            g_enc, g_dec, g_v = _gradients(S, enc, dec, log_var, beta, sigma2)
            # a member whose gradient is not finite (or huge) stops, keeping its parameters
            size = np.abs(g_v).sum(-1) + sum(np.abs(g).sum((-2, -1)) for g in g_enc + g_dec)
            alive &= size < _HUGE
            m = np.where(alive, lr, 0.0)
            for W, g in zip(enc + dec, g_enc + g_dec):
                W -= m[..., None, None] * np.where(alive[..., None, None], g, 0.0)
            log_var -= m[..., None] * np.where(alive[..., None], g_v, 0.0)
    return {"enc": enc, "dec": dec, "log_var": log_var, "t": rec_steps * lr,
            "loss": np.array(losses), "diverged": ~alive}


def factor_map(enc: Sequence[ArrayLike], A: ArrayLike, variances: ArrayLike) -> np.ndarray:
    """``M = E A diag(variances)^(1/2)`` (..., k_latent, k_factor): how much of each factor
    (in standard deviations) reaches each inferred latent mean ``E x``.

    Raises
    ------
    TypeError, ValueError
        layers that do not chain, or shapes that do not fit ``A``.
    """
    E = _product(_layers("enc", enc))
    A = np.asarray(A, dtype=float)
    var = np.asarray(variances, dtype=float)
    if not np.all(np.isfinite(var)) or np.any(var <= 0):
        raise ValueError(f"`variances` must be positive, got {variances}.")
    sd = np.sqrt(var)
    if A.ndim != 2 or A.shape[0] != E.shape[-1] or sd.shape != (A.shape[1],):
        raise ValueError(f"`A` must be ({E.shape[-1]}, k) and `variances` (k,), got "
                         f"{A.shape} and {sd.shape}.")
    return E @ A * sd


def latent_purity(M: ArrayLike) -> np.ndarray:
    """The disentanglement score: the unit purity (:func:`odesolve.specialisation.unit_purity`)
    of ``|M|``, latents as units and factors as targets::

        sum_j w_j (max_i q_ji - 1/K) / (1 - 1/K),  q_ji = |M_ji| / sum_i |M_ji|,

    with w_j latent j's share of ``sum |M|``. 1 when every latent that carries anything carries
    one factor, 0 when every latent carries all K factors equally.

    Parameters
    ----------
    M : array_like, shape (..., k_latent, K)

    Returns
    -------
    ndarray, shape (...)
    """
    from ..specialisation import unit_purity
    return unit_purity(np.abs(np.asarray(M, dtype=float)))


def factor_completeness(M: ArrayLike) -> np.ndarray:
    """The same index from the factors' side: 1 when each factor reaches a single latent
    (shape (..., k_latent, K) -> (...))."""
    from ..specialisation import unit_purity
    return unit_purity(np.abs(_T(np.asarray(M, dtype=float))))


def dci_disentanglement(M: ArrayLike) -> np.ndarray:
    """DCI disentanglement (Eastwood & Williams, ICLR 2018) with importances ``|M_ji|``:
    ``sum_j w_j (1 - H_K(p_j))``, ``p_ji = |M_ji| / sum_i |M_ji|``, H_K the entropy in base K
    and w_j latent j's share of ``sum |M|``.

    Parameters
    ----------
    M : array_like, shape (..., k_latent, K), K >= 2

    Returns
    -------
    ndarray, shape (...)
    """
    R = np.abs(np.asarray(M, dtype=float))
    K = R.shape[-1]
    if R.ndim < 2 or K < 2:
        raise ValueError(f"`M` must have at least 2 axes and 2 factors, got shape {R.shape}.")
    row = R.sum(-1)
    p = R / np.where(row > 0, row, 1.0)[..., None]
    H = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(-1) / np.log(K)
    return ((1.0 - H) * row).sum(-1) / row.sum(-1)
