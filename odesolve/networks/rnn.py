"""Continuous-time rate RNN trained by backpropagation through time (hand-written, NumPy).

Model (Euler discretisation of ``tau dh/dt = -h + W tanh(h) + U x`` with ``alpha = dt / tau``)::

    h_0 = 0,   h_{t+1} = (1 - alpha) h_t + alpha (W tanh(h_t) + U x_t),   t = 0 .. T-1,
    y_t = V tanh(h_t),   t = 1 .. T,

with N units, W (N, N), U (N, n_in), V (n_out, N); inputs x (B, T, n_in), readout y (B, T, n_out)
(``y[:, t-1]`` is the readout of h_t, the state after input ``x[:, t-1]``). The loss is the
masked squared error ``L = sum_{b,t} m_bt ||y_bt - z_bt||^2 / (2 sum_{b,t} m_bt)``.

Gradients (:func:`rnn_gradients`) come from a hand-written backward pass, vectorised over the
batch: with ``g_t = dL/dh_t`` and ``e_t = dL/dy_t``,
``g_t = (1 - alpha) g_{t+1} + (V^T e_t + alpha W^T g_{t+1}) * (1 - tanh(h_t)^2)`` (g_{T+1} = 0),
``dL/dW = alpha sum_t g_{t+1} tanh(h_t)^T``, ``dL/dU = alpha sum_t g_{t+1} x_t^T``,
``dL/dV = sum_t e_t tanh(h_t)^T``. tests/test_rnn.py checks them against central finite
differences.

Measures of rich versus lazy learning (Liu et al., ICLR 2024):

- :func:`effective_rank`: ``exp`` of the Shannon entropy of the normalised singular values
  ``p_i = s_i / sum_j s_j`` (Roy & Vetterli 2007), or the participation ratio
  ``(sum s_i^2)^2 / sum s_i^4``.
- :func:`relative_weight_change`: ``||W - W0||_F / ||W0||_F``.
- :func:`kernel_alignment`: ``<K0, K1>_F / (||K0|| ||K1||)`` of the empirical tangent kernels
  ``K = J J^T``, J the Jacobian (:func:`readout_jacobian`) of the decision readout (readout
  averaged over each trial's response epoch, one row per trial and output) with respect to the
  trained parameters on a fixed probe batch; the kernel distance is ``1 - alignment``.
- :func:`linear_cka`: linear centred kernel alignment of two representations (Kornblith et al.
  2019); the representation change is ``1 - CKA`` of the hidden rates on the probe batch before
  and after training.

Initial connectivity at a fixed Frobenius norm (:func:`initial_connectivity`): full-rank Gaussian,
random low rank (truncated SVD of the Gaussian matrix, rescaled), task-aligned low rank
(truncated SVD of a given task-derived matrix, rescaled) and a *synthetic* cell-type block
connectivity obeying Dale's law (:func:`dale_connectivity`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_choice, check_int, check_real
from .._typing import Seed
from ..linear._args import finite_array, real_matrix
from ..linear.measures import low_rank_weights
from ..model import check_seed
from .rnn_tasks import TaskBatch, choice_accuracy, task_batch

__all__ = ["rnn_forward", "rnn_loss", "rnn_gradients", "readout_jacobian", "train_rnn",
           "effective_rank", "relative_weight_change", "kernel_alignment", "linear_cka",
           "random_connectivity", "dale_connectivity", "initial_connectivity",
           "rnn_readin_readout", "train_and_measure", "RNN_PARAMETERS"]

#: names of the parameters a network can train
RNN_PARAMETERS = ("W", "U", "V")


# ----------------------------------------------------------------------------- checks
def _params(W, U, V):
    W = real_matrix("W", W)
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"`W` must be square (N, N), got shape {W.shape}.")
    U = real_matrix("U", U)
    if U.shape[0] != W.shape[0]:
        raise ValueError(f"`U` must have N = {W.shape[0]} rows (those of `W`), got shape "
                         f"{U.shape}.")
    V = real_matrix("V", V)
    if V.shape[1] != W.shape[0]:
        raise ValueError(f"`V` must have N = {W.shape[0]} columns (those of `W`), got shape "
                         f"{V.shape}.")
    return W, U, V


def _inputs(x, U):
    x = finite_array("x", x)
    if x.ndim != 3 or x.shape[2] != U.shape[1]:
        raise ValueError(f"`x` must have shape (B, T, n_in) with n_in = {U.shape[1]} (columns "
                         f"of `U`), got {x.shape}.")
    return x


def _targets(z, mask, x, V):
    z = finite_array("z", z)
    if z.shape != x.shape[:2] + (V.shape[0],):
        raise ValueError(f"`z` must have shape {x.shape[:2] + (V.shape[0],)} (B, T, n_out), "
                         f"got {z.shape}.")
    mask = finite_array("mask", mask)
    if mask.shape != x.shape[:2] or np.any(mask < 0) or not mask.sum() > 0:
        raise ValueError(f"`mask` must be non-negative of shape {x.shape[:2]} (B, T) with a "
                         f"positive sum, got shape {mask.shape}.")
    return z, mask


def _alpha(alpha):
    return check_real("alpha", alpha, maximum=1.0, positive=True)


def _trained(train, name="train"):
    if isinstance(train, str):
        train = (train,)
    if not isinstance(train, (Sequence, np.ndarray)):
        raise TypeError(f"`{name}` must be a name or a sequence of names of {RNN_PARAMETERS}, "
                        f"got {type(train).__name__}.")
    train = tuple(check_choice(name, p, RNN_PARAMETERS) for p in train)
    if not train or len(set(train)) != len(train):
        raise ValueError(f"`{name}` must name distinct parameters of {RNN_PARAMETERS}, got "
                         f"{train}.")
    return train


# ----------------------------------------------------------------------------- model
def _forward(W, U, V, x, alpha):
    """Rates r (T+1, B, N) (r[0] = 0) and readout y (B, T, n_out)."""
    B, T, _ = x.shape
    drive = np.einsum("bti,ni->tbn", x, U)
    r = np.empty((T + 1, B, W.shape[0]))
    r[0] = 0.0
    h = np.zeros((B, W.shape[0]))
    for t in range(T):
        h *= 1.0 - alpha
        h += alpha * (r[t] @ W.T + drive[t])
        np.tanh(h, out=r[t + 1])
    return r, np.einsum("tbn,on->bto", r[1:], V)


def _backward(W, V, x, r, e, alpha, per_trial=False):
    """Gradients for dL/dy = e (B, T, n_out): dict W, U, V (summed, or per trial (B, ...))."""
    T = x.shape[1]
    et = np.swapaxes(e, 0, 1)                                   # (T, B, n_out)
    out = et @ V                                                # dL/dr_t through the readout
    G = np.empty_like(r[1:])                                    # alpha g_{t}, t = 1 .. T
    g = np.zeros_like(r[0])
    for t in range(T, 0, -1):
        g = (1.0 - alpha) * g + (out[t - 1] + alpha * (g @ W)) * (1.0 - r[t] ** 2)
        G[t - 1] = alpha * g
    if per_trial:
        return {"W": np.einsum("tbn,tbm->bnm", G, r[:-1]),
                "U": np.einsum("tbn,bti->bni", G, x),
                "V": np.einsum("tbo,tbn->bon", et, r[1:])}
    return {"W": np.einsum("tbn,tbm->nm", G, r[:-1]), "U": np.einsum("tbn,bti->ni", G, x),
            "V": np.einsum("tbo,tbn->on", et, r[1:])}


def rnn_forward(W: ArrayLike, U: ArrayLike, V: ArrayLike, x: ArrayLike,
                alpha: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Run the network (module docstring) on a batch of input sequences.

    Parameters
    ----------
    W : array_like, shape (N, N)
        Recurrent weights.
    U : array_like, shape (N, n_in)
        Input weights.
    V : array_like, shape (n_out, N)
        Readout weights.
    x : array_like, shape (B, T, n_in)
        Inputs.
    alpha : float
        ``dt / tau`` in (0, 1].

    Returns
    -------
    rates : ndarray, shape (B, T + 1, N)
        ``tanh(h_t)``, t = 0 .. T (``rates[:, 0] = 0``).
    y : ndarray, shape (B, T, n_out)
        Readout ``y[:, t-1] = V tanh(h_t)``.

    Raises
    ------
    TypeError, ValueError
        naming an array that is not real and finite or whose shape does not fit.
    """
    W, U, V = _params(W, U, V)
    x = _inputs(x, U)
    r, y = _forward(W, U, V, x, _alpha(alpha))
    return np.swapaxes(r, 0, 1), y


def _loss_and_error(y, z, mask):
    total = mask.sum()
    diff = y - z
    loss = 0.5 * float((mask[:, :, None] * diff ** 2).sum()) / total
    return loss, mask[:, :, None] * diff / total


def rnn_loss(W: ArrayLike, U: ArrayLike, V: ArrayLike, x: ArrayLike, z: ArrayLike,
             mask: ArrayLike, alpha: float = 0.2) -> float:
    """Masked squared error ``sum m ||y - z||^2 / (2 sum m)`` of the network on a batch.

    Parameters
    ----------
    W, U, V, x, alpha
        As :func:`rnn_forward`.
    z : array_like, shape (B, T, n_out)
        Targets.
    mask : array_like, shape (B, T)
        Non-negative loss weights with a positive sum.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        naming an array that is not real and finite or whose shape does not fit.
    """
    W, U, V = _params(W, U, V)
    x = _inputs(x, U)
    z, mask = _targets(z, mask, x, V)
    return _loss_and_error(_forward(W, U, V, x, _alpha(alpha))[1], z, mask)[0]


def rnn_gradients(W: ArrayLike, U: ArrayLike, V: ArrayLike, x: ArrayLike, z: ArrayLike,
                  mask: ArrayLike, alpha: float = 0.2) -> tuple[float, dict[str, np.ndarray]]:
    """Loss (:func:`rnn_loss`) and its gradients by backpropagation through time.

    Parameters
    ----------
    W, U, V, x, z, mask, alpha
        As :func:`rnn_loss`.

    Returns
    -------
    loss : float
    grads : dict
        ``"W"`` (N, N), ``"U"`` (N, n_in), ``"V"`` (n_out, N).

    Raises
    ------
    TypeError, ValueError
        as :func:`rnn_loss`.
    """
    W, U, V = _params(W, U, V)
    x = _inputs(x, U)
    z, mask = _targets(z, mask, x, V)
    alpha = _alpha(alpha)
    r, y = _forward(W, U, V, x, alpha)
    loss, e = _loss_and_error(y, z, mask)
    return loss, _backward(W, V, x, r, e, alpha)


def readout_jacobian(W: ArrayLike, U: ArrayLike, V: ArrayLike, x: ArrayLike, mask: ArrayLike,
                     alpha: float = 0.2, params: Sequence[str] | str = ("W",)) -> np.ndarray:
    """Jacobian of the decision readout ``f_bo = sum_t m_bt y_bto / sum_t m_bt`` with respect
    to the parameters ``params``.

    Parameters
    ----------
    W, U, V, x, alpha
        As :func:`rnn_forward`.
    mask : array_like, shape (B, T)
        Non-negative weights of the response epoch, positive sum in every trial.
    params : sequence of {"W", "U", "V"}
        Parameters to differentiate with respect to (flattened and concatenated in this order).

    Returns
    -------
    J : ndarray, shape (B * n_out, n_params)
        Row ``b * n_out + o`` is the gradient of ``f_bo``.

    Raises
    ------
    TypeError, ValueError
        naming an array that is not real and finite or whose shape does not fit, or a
        parameter name not in :data:`RNN_PARAMETERS`.
    """
    W, U, V = _params(W, U, V)
    x = _inputs(x, U)
    params = _trained(params, "params")
    mask = finite_array("mask", mask)
    if mask.shape != x.shape[:2] or np.any(mask < 0) or not np.all(mask.sum(axis=1) > 0):
        raise ValueError(f"`mask` must be non-negative of shape {x.shape[:2]} (B, T) with a "
                         f"positive sum in every trial, got shape {mask.shape}.")
    alpha = _alpha(alpha)
    r, _ = _forward(W, U, V, x, alpha)
    B, n_out = x.shape[0], V.shape[0]
    weights = mask / mask.sum(axis=1, keepdims=True)
    rows = []
    for o in range(n_out):
        e = np.zeros(x.shape[:2] + (n_out,))
        e[:, :, o] = weights
        grads = _backward(W, V, x, r, e, alpha, per_trial=True)
        rows.append(np.concatenate([grads[p].reshape(B, -1) for p in params], axis=1))
    return np.stack(rows, axis=1).reshape(B * n_out, -1)


# ----------------------------------------------------------------------------- measures
def effective_rank(W: ArrayLike, method: Literal["entropy", "participation"] = "entropy"
                   ) -> float:
    """Effective rank of a matrix from its singular values s.

    Parameters
    ----------
    W : array_like, shape (m, n)
        Not all zero.
    method : {"entropy", "participation"}
        ``"entropy"``: ``exp(-sum p_i log p_i)`` with ``p_i = s_i / sum s`` (Roy & Vetterli
        2007); ``"participation"``: ``(sum s_i^2)^2 / sum s_i^4``.

    Returns
    -------
    float in [1, min(m, n)]

    Raises
    ------
    TypeError, ValueError
        ``W`` not a finite matrix or zero; ``method`` not one of the names.
    """
    W = real_matrix("W", W)
    method = check_choice("method", method, ("entropy", "participation"))
    s = np.linalg.svd(W, compute_uv=False)
    if not s[0] > 0:
        raise ValueError("`W` must not be zero (its effective rank is undefined).")
    if method == "participation":
        return float((s ** 2).sum() ** 2 / (s ** 4).sum())
    p = s[s > 0] / s.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def relative_weight_change(W: ArrayLike, W0: ArrayLike) -> float:
    """``||W - W0||_F / ||W0||_F``.

    Parameters
    ----------
    W, W0 : array_like, same shape (m, n); W0 not zero.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        naming a matrix that is not finite, of another shape, or a zero ``W0``.
    """
    W0 = real_matrix("W0", W0)
    W = real_matrix("W", W, W0.shape, "that of `W0`")
    norm = np.linalg.norm(W0)
    if not norm > 0:
        raise ValueError("`W0` must not be zero.")
    return float(np.linalg.norm(W - W0) / norm)


def kernel_alignment(J0: ArrayLike, J1: ArrayLike) -> float:
    """``<K0, K1>_F / (||K0||_F ||K1||_F)`` of the tangent kernels ``K = J J^T``.

    Parameters
    ----------
    J0, J1 : array_like, same shape (n_outputs, n_params)
        Jacobians on the same probe outputs (e.g. from :func:`readout_jacobian`), not zero.

    Returns
    -------
    float in [0, 1] (1: same kernel up to scale; the kernel distance is 1 - alignment)

    Raises
    ------
    TypeError, ValueError
        naming a Jacobian that is not a finite matrix, is zero, or has another shape.
    """
    J0 = real_matrix("J0", J0)
    J1 = real_matrix("J1", J1, J0.shape, "that of `J0`")
    K0, K1 = J0 @ J0.T, J1 @ J1.T
    n0, n1 = np.linalg.norm(K0), np.linalg.norm(K1)
    if not (n0 > 0 and n1 > 0):
        raise ValueError("`J0` and `J1` must not be zero.")
    return float((K0 * K1).sum() / (n0 * n1))


def linear_cka(X: ArrayLike, Y: ArrayLike) -> float:
    """Linear centred kernel alignment ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)``
    (Kornblith et al. 2019), Xc, Yc the column-centred representations.

    Parameters
    ----------
    X : array_like, shape (n_samples, p)
    Y : array_like, shape (n_samples, q)

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    TypeError, ValueError
        naming a representation that is not a finite matrix, constant, or with another
        number of samples.
    """
    X = real_matrix("X", X)
    Y = real_matrix("Y", Y)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"`Y` must have the {X.shape[0]} samples (rows) of `X`, got "
                         f"{Y.shape[0]}.")
    Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    nx, ny = np.linalg.norm(Xc.T @ Xc), np.linalg.norm(Yc.T @ Yc)
    if not (nx > 0 and ny > 0):
        raise ValueError("`X` and `Y` must not be constant across samples.")
    return float(np.linalg.norm(Yc.T @ Xc) ** 2 / (nx * ny))


# ----------------------------------------------------------------------------- connectivity
def random_connectivity(n: int, norm: float, seed: Seed = None) -> np.ndarray:
    """Full-rank Gaussian recurrent matrix rescaled to Frobenius norm ``norm``
    (``norm = g sqrt(n)`` gives the usual gain g).

    Parameters
    ----------
    n : int
        Number of units, at least 2.
    norm : float
        Frobenius norm, positive.
    seed : int, sequence of int, Generator or None

    Returns
    -------
    ndarray, shape (n, n)

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    n = check_int("n", n, minimum=2)
    norm = check_real("norm", norm, positive=True)
    W = np.random.default_rng(check_seed("seed", seed)).standard_normal((n, n))
    return W * norm / np.linalg.norm(W)


def dale_connectivity(n: int, norm: float, seed: Seed = None,
                      fractions: Sequence[float] = (0.4, 0.4, 0.2),
                      p_connect: ArrayLike = ((0.5, 0.1, 0.5), (0.1, 0.5, 0.5),
                                              (0.4, 0.4, 0.5))) -> np.ndarray:
    """Synthetic cell-type block connectivity obeying Dale's law, at Frobenius norm ``norm``.

    Three cell types by default (two excitatory assemblies and one inhibitory population, in
    ``fractions`` of the units); unit j is excitatory or inhibitory (the last type is
    inhibitory), so column j of W has one sign. Connection i <- j exists with probability
    ``p_connect[type(i), type(j)]``, with an exponentially distributed strength; inhibitory
    strengths are scaled so that the expected inhibitory input of a unit equals its expected
    excitatory input (balance). This is a stand-in for a measured connectome, not data.

    Parameters
    ----------
    n : int
        Number of units, at least 2 per type.
    norm : float
        Frobenius norm, positive.
    seed : int, sequence of int, Generator or None
    fractions : sequence of float
        Positive fractions of the cell types (summing to 1); the last type is inhibitory.
    p_connect : array_like, shape (n_types, n_types)
        Connection probabilities in [0, 1], post-synaptic type by pre-synaptic type.

    Returns
    -------
    ndarray, shape (n, n)

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    n = check_int("n", n, minimum=2)
    norm = check_real("norm", norm, positive=True)
    fractions = finite_array("fractions", fractions)
    if (fractions.ndim != 1 or fractions.size < 2 or np.any(fractions <= 0)
            or abs(fractions.sum() - 1) > 1e-9):
        raise ValueError(f"`fractions` must be at least two positive numbers summing to 1, "
                         f"got {fractions.tolist()}.")
    k = fractions.size
    P = real_matrix("p_connect", p_connect, (k, k), "(n_types, n_types) of `fractions`")
    if np.any((P < 0) | (P > 1)):
        raise ValueError("`p_connect` must hold probabilities in [0, 1].")
    sizes = np.floor(fractions * n).astype(int)
    sizes[0] += n - sizes.sum()
    if np.any(sizes < 2):
        raise ValueError(f"`n` = {n} gives fewer than 2 units to a cell type ({sizes.tolist()}).")
    types = np.repeat(np.arange(k), sizes)
    rng = np.random.default_rng(check_seed("seed", seed))
    W = (rng.random((n, n)) < P[types][:, types]) * rng.exponential(1.0, (n, n))
    np.fill_diagonal(W, 0.0)
    inh = types == k - 1
    exc_in = (P[:, :k - 1] * sizes[:k - 1]).sum(axis=1)     # expected excitatory input by type
    inh_in = P[:, k - 1] * sizes[k - 1]
    scale = np.where(inh_in > 0, exc_in / np.maximum(inh_in, 1e-300), 1.0)
    W[:, inh] *= -scale[types][:, None]
    if not np.linalg.norm(W) > 0:
        raise ValueError("`p_connect` gave no connection (all-zero matrix); it needs positive "
                         "probabilities.")
    return W * norm / np.linalg.norm(W)


def initial_connectivity(kind: Literal["full", "random_low_rank", "aligned", "dale"], n: int,
                         norm: float, rank: int | None = None, seed: Seed = None,
                         structure: ArrayLike | None = None) -> np.ndarray:
    """Initial recurrent matrix of Frobenius norm ``norm``.

    Parameters
    ----------
    kind : {"full", "random_low_rank", "aligned", "dale"}
        ``"full"``: :func:`random_connectivity`; ``"random_low_rank"``: its truncated SVD at
        ``rank``, rescaled (:func:`odesolve.linear.low_rank_weights`); ``"aligned"``: the
        truncated SVD of ``structure`` at ``rank``, rescaled (task-aligned when ``structure``
        comes from the task, e.g. the weight change of a network trained once);
        ``"dale"``: :func:`dale_connectivity`.
    n : int
        Number of units, at least 2.
    norm : float
        Frobenius norm, positive.
    rank : int, optional
        In 1 .. n; needed for the two low-rank kinds.
    seed : int, sequence of int, Generator or None
        For ``"full"``, ``"random_low_rank"`` and ``"dale"``.
    structure : array_like, shape (n, n), optional
        Needed for ``"aligned"``; not zero.

    Returns
    -------
    ndarray, shape (n, n)

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range, or a missing ``rank`` or
        ``structure``.
    """
    kind = check_choice("kind", kind, ("full", "random_low_rank", "aligned", "dale"))
    n = check_int("n", n, minimum=2)
    norm = check_real("norm", norm, positive=True)
    if kind == "full":
        return random_connectivity(n, norm, seed)
    if kind == "dale":
        return dale_connectivity(n, norm, seed)
    if rank is None:
        raise ValueError(f"`rank` is needed for kind {kind!r}.")
    rank = check_int("rank", rank, minimum=1, maximum=n)
    if kind == "random_low_rank":
        M = random_connectivity(n, norm, seed)
    else:
        if structure is None:
            raise ValueError("`structure` is needed for kind 'aligned'.")
        M = real_matrix("structure", structure, (n, n), "(n, n)")
        if not np.linalg.norm(M) > 0:
            raise ValueError("`structure` must not be zero.")
    M = low_rank_weights(M, rank)
    return M * norm / np.linalg.norm(M)


def rnn_readin_readout(n: int, n_in: int, n_out: int,
                       seed: Seed = None) -> tuple[np.ndarray, np.ndarray]:
    """Input and readout weights: U ~ N(0, 1), V ~ N(0, 1 / n).

    Parameters
    ----------
    n, n_in, n_out : int
        Numbers of units, inputs and outputs, positive.
    seed : int, sequence of int, Generator or None

    Returns
    -------
    U : ndarray, shape (n, n_in); V : ndarray, shape (n_out, n)

    Raises
    ------
    TypeError, ValueError
        naming a size that is not a positive integer.
    """
    n, n_in, n_out = (check_int(a, v, minimum=1) for a, v in (("n", n), ("n_in", n_in),
                                                              ("n_out", n_out)))
    rng = np.random.default_rng(check_seed("seed", seed))
    return rng.standard_normal((n, n_in)), rng.standard_normal((n_out, n)) / np.sqrt(n)


# ----------------------------------------------------------------------------- training
def train_rnn(W: ArrayLike, U: ArrayLike, V: ArrayLike, task: str, n_iter: int = 300,
              lr: float = 3e-3, batch_size: int = 32, seed: Seed = None,
              optimizer: Literal["adam", "sgd"] = "adam",
              train: Sequence[str] | str = ("W",), alpha: float = 0.2, n_steps: int = 40,
              noise: float = 0.3, probe: TaskBatch | None = None,
              target_accuracy: float | None = None, check_every: int = 10,
              max_grad_norm: float | None = None) -> dict[str, Any]:
    """Train the network on fresh batches of a task by BPTT (:func:`rnn_gradients`), for
    ``n_iter`` updates or, with ``target_accuracy``, until the accuracy on ``probe`` reaches it.

    With a criterion, the probe accuracy (:func:`~odesolve.networks.rnn_tasks.choice_accuracy`)
    is checked before the first update and after every ``check_every`` updates; training stops
    at the first check that reaches ``target_accuracy`` (so the returned parameters are those
    at the criterion), or after ``n_iter`` updates (the maximum budget) if none does.

    Parameters
    ----------
    W, U, V : array_like
        Initial parameters, shapes as :func:`rnn_forward` (n_in and n_out of the task).
    task : str
        One of :data:`~odesolve.networks.rnn_tasks.RNN_TASKS`.
    n_iter : int
        Number of updates, positive.
    lr : float
        Learning rate, positive.
    batch_size : int
        Trials per update, positive.
    seed : int, sequence of int, Generator or None
        Seeds the stream of training batches.
    optimizer : {"adam", "sgd"}
        Adam (beta1 = 0.9, beta2 = 0.999, eps = 1e-8) or plain gradient descent.
    train : sequence of {"W", "U", "V"}
        Trained parameters; the others stay fixed.
    alpha : float
        ``dt / tau`` in (0, 1].
    n_steps, noise
        Trial length and input noise of the task.
    probe : TaskBatch, optional
        Fixed trials of the task on which the criterion is checked; needed with
        ``target_accuracy``.
    target_accuracy : float, optional
        Probe accuracy in (0, 1] at which training stops; None trains for ``n_iter`` updates.
    check_every : int
        Updates between two checks of the criterion, positive.
    max_grad_norm : float, optional
        Gradient-norm clipping (Pascanu et al. 2013): a gradient whose Frobenius norm over
        all trained parameters exceeds this is rescaled to it before the update; None (the
        default) does not clip.

    Returns
    -------
    dict
        ``W``, ``U``, ``V`` (trained copies), ``loss`` (n_updates,), the batch losses,
        ``n_updates`` (int, updates made), ``reached`` (bool: the criterion was met; True
        without a criterion) and ``accuracy`` (probe accuracy at the last check; None without
        a probe).

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range (before any training).
    """
    W, U, V = (a.copy() for a in _params(W, U, V))
    n_iter = check_int("n_iter", n_iter, minimum=1)
    lr = check_real("lr", lr, positive=True)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    optimizer = check_choice("optimizer", optimizer, ("adam", "sgd"))
    train = _trained(train)
    alpha = _alpha(alpha)
    check_every = check_int("check_every", check_every, minimum=1)
    if max_grad_norm is not None:
        max_grad_norm = check_real("max_grad_norm", max_grad_norm, positive=True)
    rng = np.random.default_rng(check_seed("seed", seed))
    first = task_batch(task, 1, 0, n_steps, noise)
    if first.x.shape[2] != U.shape[1] or first.z.shape[2] != V.shape[0]:
        raise ValueError(f"task {task!r} has n_in = {first.x.shape[2]}, n_out = "
                         f"{first.z.shape[2]}; `U` and `V` have {U.shape[1]} and {V.shape[0]}.")
    if target_accuracy is not None:
        target_accuracy = check_real("target_accuracy", target_accuracy, maximum=1.0,
                                     positive=True)
        if probe is None:
            raise ValueError("`probe` is needed with `target_accuracy`.")
    if probe is not None and (not isinstance(probe, TaskBatch)
                              or probe.x.shape[1:] != (first.x.shape[1], U.shape[1])
                              or probe.z.shape[2] != V.shape[0]):
        raise ValueError(f"`probe` must be a TaskBatch of task {task!r} with {n_steps} steps.")

    def probe_accuracy():
        return None if probe is None else choice_accuracy(_forward(W, U, V, probe.x,
                                                                   alpha)[1], probe)

    params = {"W": W, "U": U, "V": V}
    m = {p: np.zeros_like(params[p]) for p in train}
    v = {p: np.zeros_like(params[p]) for p in train}
    losses = np.empty(n_iter)
    accuracy = probe_accuracy()
    reached = target_accuracy is not None and accuracy >= target_accuracy
    i = 0
    while i < n_iter and not reached:
        b = task_batch(task, batch_size, rng, n_steps, noise)
        r, y = _forward(W, U, V, b.x, alpha)
        losses[i], e = _loss_and_error(y, b.z, b.mask)
        grads = _backward(W, V, b.x, r, e, alpha)
        if max_grad_norm is not None:
            norm = np.sqrt(sum(float(np.sum(grads[p] ** 2)) for p in train))
            if norm > max_grad_norm:
                grads = {p: grads[p] * (max_grad_norm / norm) for p in train}
        for p in train:
            g = grads[p]
            if optimizer == "sgd":
                params[p] -= lr * g
                continue
            m[p] = 0.9 * m[p] + 0.1 * g
            v[p] = 0.999 * v[p] + 0.001 * g * g
            params[p] -= lr * (m[p] / (1 - 0.9 ** (i + 1))) / (
                np.sqrt(v[p] / (1 - 0.999 ** (i + 1))) + 1e-8)
        i += 1
        if target_accuracy is not None and (i % check_every == 0 or i == n_iter):
            accuracy = probe_accuracy()
            reached = accuracy >= target_accuracy
    if target_accuracy is None:
        reached, accuracy = True, probe_accuracy()
    return {"W": W, "U": U, "V": V, "loss": losses[:i], "n_updates": i, "reached": bool(reached),
            "accuracy": accuracy}


def train_and_measure(W0: ArrayLike, U: ArrayLike, V: ArrayLike, task: str,
                      probe: TaskBatch, alpha: float = 0.2, **train_kw: Any) -> dict[str, Any]:
    """Train from W0 (:func:`train_rnn`) and measure rich versus lazy on a probe batch.

    With ``target_accuracy`` in ``train_kw`` the network trains until its accuracy on ``probe``
    reaches it (or the budget ``n_iter`` runs out), and every measure is taken at that point:
    networks are compared at equal performance.

    Parameters
    ----------
    W0, U, V : array_like
        Initial parameters.
    task : str
        Task name.
    probe : TaskBatch
        Fixed trials for the accuracy, the tangent kernel and the representation.
    alpha : float
    **train_kw
        Further arguments of :func:`train_rnn` (``probe`` is this one).

    Returns
    -------
    dict
        ``effective_rank`` (of W0, entropy), ``participation_ratio`` (of W0),
        ``weight_change`` (relative, recurrent matrix), ``kernel_distance``
        (1 - kernel alignment of the decision readout's tangent kernel w.r.t. the trained
        parameters), ``representation_change`` (1 - linear CKA of the rates over all probe
        trials and steps), ``accuracy`` and ``accuracy_initial`` (on the probe batch),
        ``final_loss`` (mean of the last 20 batch losses; NaN without updates),
        ``n_updates`` and ``reached`` (as :func:`train_rnn`) and ``W`` (trained, ndarray).

    Raises
    ------
    TypeError, ValueError
        as :func:`train_rnn`.
    """
    W0, U, V = _params(W0, U, V)
    train = _trained(train_kw.get("train", ("W",)))
    out = train_rnn(W0, U, V, task, alpha=alpha, probe=probe, **train_kw)
    before, after = (W0, U, V), (out["W"], out["U"], out["V"])
    r0, y0 = rnn_forward(*before, probe.x, alpha)
    r1, y1 = rnn_forward(*after, probe.x, alpha)
    J0 = readout_jacobian(*before, probe.x, probe.mask, alpha, train)
    J1 = readout_jacobian(*after, probe.x, probe.mask, alpha, train)
    N = W0.shape[0]
    return {"effective_rank": effective_rank(W0),
            "participation_ratio": effective_rank(W0, "participation"),
            "weight_change": relative_weight_change(out["W"], W0),
            "kernel_distance": 1.0 - kernel_alignment(J0, J1),
            "representation_change": 1.0 - linear_cka(r0[:, 1:].reshape(-1, N),
                                                      r1[:, 1:].reshape(-1, N)),
            "accuracy": choice_accuracy(y1, probe), "accuracy_initial": choice_accuracy(y0, probe),
            "final_loss": float(out["loss"][-20:].mean()) if out["n_updates"] else float("nan"),
            "n_updates": out["n_updates"], "reached": out["reached"], "W": out["W"]}
