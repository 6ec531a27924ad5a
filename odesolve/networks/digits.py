"""Two tasks in sequence on the handwritten digits of scikit-learn: the committee machine of the
package trained by SGD on real images (Jarvis et al., ICLR 2025, forgetting profiles).

Data. :func:`load_digits_data` returns the 1797 8 x 8 digits of
:func:`sklearn.datasets.load_digits` (N = 64 pixels), split into training and test sets by a
seed and standardised pixel by pixel with the training set's mean and standard deviation
(constant pixels stay 0); optionally whitened with the training covariance (``whiten=True``).

Tasks with a controlled similarity (:func:`teacher_directions`). Each task is the output of a
one-unit teacher on the real images, ``y*_p(x) = g(nu_p)``, ``nu_p = w*_p . x / sqrt(N)``,
``g(u) = erf(u / sqrt 2)``. Teacher 1's direction is the difference of the class means of the
even and odd digits; teacher 2 mixes it with the direction "digits 0-4 against 5-9",
orthogonalised to it in the metric of the data,
``w*_2 = a w*_1 + sqrt(1 - a^2) w_perp``. Both are scaled so that ``<nu_p^2> = 1`` on the
training set, so the teachers' field covariance there is exactly ``T = [[1, a], [a, 1]]``: the
feature similarity ``a`` of the committee ODE (:mod:`odesolve.multitask`), now measured on the
data instead of on Gaussian inputs.

Network. ``K`` erf hidden units shared by the tasks and one readout head per task:
``y_h(x) = sum_i V[h, i] g(lambda_i)``, ``lambda = W x / sqrt(N)``. Loss per sample
``(y_h - y*)^2 / 2``; the gradients are written by hand (:func:`loss_and_gradients`).
SGD follows the committee convention of :mod:`odesolve.simulation`: ``W -= eta dL/dW``,
``V_h -= (eta / N) dL/dV_h``, one step per 1/N of time, each step on a mini-batch of ``batch``
training images drawn with replacement (``batch = 1``: online SGD on a finite training set).
Task 1 trains ``W`` and head 1, task 2 trains ``W`` and head 2 (multi-head, as the ``forgetting``
scenario). Initialisations: :data:`odesolve.scenarios.INITS` (``symmetric``: two identical
units, which receive identical updates and so stay identical -- see :func:`init_weights`).

Measures. Errors are ``eps_h = <(y_h - y*_h)^2> / 2`` on the test set (the
``eps_g`` of the theory); forgetting is :func:`odesolve.observables.forgetting`; the
specialisation index at the switch is :func:`odesolve.observables.teacher_specialisation` with
the overlaps replaced by their data analogue, the second moments of the fields over the training
set (:func:`field_overlaps`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from scipy.special import erf  # type: ignore[import-untyped]

from .._checks import check_bool, check_choice, check_int, check_real
from ..model import check_seed
from ..observables import forgetting, teacher_specialisation

__all__ = ["DigitsData", "load_digits_data", "teacher_directions", "teacher_fields",
           "init_weights", "forward", "loss_and_gradients", "sgd_steps", "TwoTaskRun",
           "train_two_tasks", "field_overlaps", "INIT_SCALES"]

#: The initialisations of :data:`odesolve.scenarios.INITS` (per weight component), repeated
#: here so that importing this module does not import every scenario.
INIT_SCALES = {"balanced": {"student_std": 1e-3, "readout_std": 1e-3},
               "imbalanced": {"student_std": 1e-3, "readout_std": 1.0},
               "symmetric": {"student_std": 1e-3, "readout_std": 1e-3}}

_SQRT2 = math.sqrt(2.0)
_DG0 = math.sqrt(2.0 / math.pi)


@dataclass(frozen=True)
class DigitsData:
    """Standardised digits split into training and test sets.

    Attributes
    ----------
    X_train : ndarray, shape (n_train, 64)
    X_test : ndarray, shape (n_test, 64)
    labels_train : ndarray of int, shape (n_train,)
    labels_test : ndarray of int, shape (n_test,)
    """

    X_train: np.ndarray
    X_test: np.ndarray
    labels_train: np.ndarray
    labels_test: np.ndarray

    @property
    def N(self) -> int:
        """Input dimension (64 pixels)."""
        return int(self.X_train.shape[1])


def load_digits_data(seed: int = 0, test_fraction: float = 0.25,
                     whiten: bool = False) -> DigitsData:
    """The 1797 scikit-learn digits, split by ``seed`` and standardised on the training set.

    Parameters
    ----------
    seed : int
        Seed of the split (:func:`odesolve.model.check_seed`).
    test_fraction : float
        Fraction of the images held out for the test set, in (0, 1).
    whiten : bool
        Also whiten the standardised pixels with the training covariance ``C``: project on the
        eigenvectors of ``C`` with eigenvalue above ``1e-10`` times the largest (the constant
        pixels give zero eigenvalues; 61 directions remain) and divide by the square roots of
        the eigenvalues, so that ``X_train^T X_train / n_train`` is the identity, the input
        statistics the committee ODE assumes (up to non-Gaussianity). ``N`` is then the rank.

    Returns
    -------
    DigitsData

    Raises
    ------
    ImportError
        scikit-learn is not installed (``pip install "odesolve[data]"``).
    TypeError, ValueError
        a bad ``seed`` or ``test_fraction``.
    """
    rng = np.random.default_rng(check_seed("seed", seed))
    test_fraction = check_real("test_fraction", test_fraction, minimum=0.0, maximum=1.0)
    whiten = check_bool("whiten", whiten)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"`test_fraction` must be strictly between 0 and 1, got "
                         f"{test_fraction:g}.")
    try:
        from sklearn.datasets import load_digits  # type: ignore[import-untyped]
    except ImportError as exc:           # pragma: no cover - exercised by monkeypatching
        raise ImportError('the digits need scikit-learn: pip install "odesolve[data]"') from exc
    digits = load_digits()
    X, labels = np.asarray(digits.data, dtype=np.float64), np.asarray(digits.target)
    order = rng.permutation(len(X))
    n_test = int(round(test_fraction * len(X)))
    if not 1 <= n_test <= len(X) - 2:
        raise ValueError(f"`test_fraction` must leave at least 1 test and 2 training images of "
                         f"{len(X)}, got {test_fraction:g} ({n_test} test images).")
    test, train = order[:n_test], order[n_test:]
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    std[std == 0.0] = 1.0
    Z = (X - mean) / std
    if whiten:
        ev, U = np.linalg.eigh(Z[train].T @ Z[train] / len(train))
        keep = ev > 1e-10 * ev[-1]
        Z = Z @ (U[:, keep] / np.sqrt(ev[keep]))
    return DigitsData(Z[train], Z[test], labels[train], labels[test])


def _class_direction(X, members):
    return X[members].mean(axis=0) - X[~members].mean(axis=0)


def teacher_directions(data: DigitsData, similarity: float) -> np.ndarray:
    """The two teachers' weight vectors, with field correlation ``similarity`` on the data.

    Parameters
    ----------
    data : DigitsData
    similarity : float
        Feature similarity ``a`` in [-1, 1]: the correlation of the teachers' fields over the
        training set.

    Returns
    -------
    ndarray, shape (2, N)
        ``w*_1`` (even against odd digits) and ``w*_2 = a w*_1 + sqrt(1 - a^2) w_perp``
        (``w_perp``: digits 0-4 against 5-9, orthogonalised to ``w*_1`` in the metric
        ``u . C w / N`` of the training covariance ``C``), each with ``<nu^2> = 1``.

    Raises
    ------
    TypeError, ValueError
        ``similarity`` is not a real number in [-1, 1].
    """
    if not isinstance(data, DigitsData):
        raise TypeError(f"`data` must be a DigitsData (load_digits_data), got "
                        f"{type(data).__name__}.")
    a = check_real("similarity", similarity, minimum=-1.0, maximum=1.0)
    X, lab = data.X_train, data.labels_train
    C = X.T @ X / len(X) / data.N

    def dot(u, w):
        return float(u @ C @ w)

    w1 = _class_direction(X, lab % 2 == 0)
    w1 /= math.sqrt(dot(w1, w1))
    wp = _class_direction(X, lab < 5)
    wp -= dot(wp, w1) * w1
    wp /= math.sqrt(dot(wp, wp))
    return np.stack([w1, a * w1 + math.sqrt(max(1.0 - a * a, 0.0)) * wp])


def teacher_fields(W_star: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Teacher fields ``nu = X W*^T / sqrt(N)``, shape (n, P) for ``X`` (n, N), ``W*`` (P, N)."""
    return X @ W_star.T / math.sqrt(X.shape[1])


def init_weights(init: str, K: int, N: int, n_heads: int = 2,
                 seed: int | np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """First layer and heads drawn as in :data:`odesolve.scenarios.INITS`.

    ``W`` components i.i.d. N(0, student_std^2), head entries N(0, readout_std^2);
    ``symmetric`` draws one unit and copies it into all ``K`` (weights and every head's readout),
    so all units start identical. Identical units get identical SGD updates (same field, same
    readout, same gradient), so they stay identical bit for bit: unlike the finite-N simulator of
    the ODE, whose symmetric start shares only the overlaps, SGD noise does not break this
    symmetry.

    Parameters
    ----------
    init : {"balanced", "imbalanced", "symmetric"}
    K, N, n_heads : int
        Hidden units (>= 1), input dimension (>= 1), heads (>= 1).
    seed : int, Generator or None

    Returns
    -------
    W : ndarray, shape (K, N)
    V : ndarray, shape (n_heads, K)

    Raises
    ------
    TypeError, ValueError
        an unknown ``init``, non-integer or non-positive sizes, a bad ``seed``.
    """
    init = check_choice("init", init, INIT_SCALES)
    K, N = check_int("K", K, minimum=1), check_int("N", N, minimum=1)
    n_heads = check_int("n_heads", n_heads, minimum=1)
    rng = np.random.default_rng(check_seed("seed", seed))
    sw, sv = INIT_SCALES[init]["student_std"], INIT_SCALES[init]["readout_std"]
    W, V = sw * rng.standard_normal((K, N)), sv * rng.standard_normal((n_heads, K))
    if init == "symmetric":
        W[:] = W[0]
        V[:] = V[:, :1]
    return W, V


def forward(W: np.ndarray, v: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fields and output of one head.

    Parameters
    ----------
    W : ndarray, shape (K, N)
    v : ndarray, shape (K,)
        The head's readouts.
    X : ndarray, shape (n, N)

    Returns
    -------
    lam : ndarray, shape (n, K)
        ``X W^T / sqrt(N)``.
    y : ndarray, shape (n,)
        ``g(lam) v``.
    """
    lam = X @ W.T / math.sqrt(X.shape[1])
    return lam, erf(lam / _SQRT2) @ v


def _check_network(W: np.ndarray, V: np.ndarray, X: np.ndarray, y_star: np.ndarray,
                   in_place: bool = False) -> None:
    """Shapes (K, N), (H, K), (n, N), (n,); float64 arrays when updated in place."""
    for name, A, nd in (("W", W, 2), ("V", V, 2), ("X", X, 2), ("y_star", y_star, 1)):
        if not isinstance(A, np.ndarray) or A.ndim != nd:
            raise TypeError(f"`{name}` must be a {nd}-d NumPy array, got "
                            f"{type(A).__name__} of {np.ndim(A)} axes.")
    if in_place and not all(A.dtype == np.float64 and A.flags.writeable and A.flags.c_contiguous
                            for A in (W, V)):
        raise TypeError("`W` and `V` must be writable C-contiguous float64 arrays (updated in "
                        f"place), got {W.dtype} and {V.dtype}.")
    if W.shape[1] != X.shape[1] or V.shape[1] != W.shape[0] or y_star.shape[0] != X.shape[0]:
        raise ValueError(f"shapes do not fit: `W` (K, N), `V` (H, K), `X` (n, N) and `y_star` "
                         f"(n,), got {W.shape}, {V.shape}, {X.shape} and {y_star.shape}.")


def loss_and_gradients(W: np.ndarray, V: np.ndarray, X: np.ndarray, y_star: np.ndarray,
                       head: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Mean loss ``L = sum_mu (y_head(x_mu) - y*_mu)^2 / (2 n)`` and its hand-written gradients.

    With ``Delta = y* - y``: ``dL/dW_i = -<Delta V[head, i] g'(lam_i) x> / sqrt(N)``,
    ``dL/dV[head, i] = -<Delta g(lam_i)>``, zero for the other heads;
    ``g'(u) = sqrt(2/pi) exp(-u^2/2)``.

    Parameters
    ----------
    W : ndarray, shape (K, N)
    V : ndarray, shape (H, K)
    X : ndarray, shape (n, N)
    y_star : ndarray, shape (n,)
    head : int
        Head in ``0 .. H-1``.

    Returns
    -------
    L : float
    dW : ndarray, shape (K, N)
    dV : ndarray, shape (H, K)

    Raises
    ------
    TypeError, ValueError
        arrays of the wrong number of axes or of shapes that do not fit, ``head`` out of range.
    """
    _check_network(W, V, X, y_star)
    head = check_int("head", head, minimum=0, maximum=V.shape[0] - 1)
    n, N = X.shape
    lam, y = forward(W, V[head], X)
    delta = y_star - y
    dV = np.zeros_like(V)
    dV[head] = -erf(lam / _SQRT2).T @ delta / n
    back = delta[:, None] * V[head][None, :] * _DG0 * np.exp(-0.5 * lam * lam)   # (n, K)
    dW = -back.T @ X / (n * math.sqrt(N))
    return float(0.5 * np.mean(delta * delta)), dW, dV


@numba.njit(cache=True)
def _sgd_steps(W, V, X, y_star, head, idx, eta_w, eta_v):     # pragma: no cover - compiled
    K, N = W.shape
    B = idx.shape[1]
    sq = math.sqrt(N)
    lam = np.empty(K)
    gW = np.zeros((K, N))
    gV = np.zeros(K)
    for s in range(idx.shape[0]):
        gW[:] = 0.0
        gV[:] = 0.0
        for b in range(B):
            mu = idx[s, b]
            y = 0.0
            for i in range(K):
                acc = 0.0
                for j in range(N):
                    acc += W[i, j] * X[mu, j]
                lam[i] = acc / sq
                y += V[head, i] * math.erf(lam[i] / _SQRT2)
            d = y_star[mu] - y
            for i in range(K):
                gV[i] += d * math.erf(lam[i] / _SQRT2)
                c = d * V[head, i] * _DG0 * math.exp(-0.5 * lam[i] * lam[i]) / sq
                for j in range(N):
                    gW[i, j] += c * X[mu, j]
        for i in range(K):
            V[head, i] += eta_v * gV[i] / B
            for j in range(N):
                W[i, j] += eta_w * gW[i, j] / B


def sgd_steps(W: np.ndarray, V: np.ndarray, X: np.ndarray, y_star: np.ndarray, head: int,
              idx: np.ndarray, eta: float, train_first_layer: bool = True) -> None:
    """SGD steps in place: ``W -= eta dL/dW``, ``V[head] -= (eta / N) dL/dV[head]`` per step.

    Parameters
    ----------
    W : ndarray, shape (K, N)
        Updated in place.
    V : ndarray, shape (H, K)
        Updated in place (row ``head`` only).
    X : ndarray, shape (n, N)
    y_star : ndarray, shape (n,)
    head : int
    idx : ndarray of int, shape (steps, batch)
        The training images of each step's mini-batch (rows of ``X``).
    eta : float
        Learning rate (> 0).
    train_first_layer : bool
        False freezes ``W``.

    Raises
    ------
    TypeError, ValueError
        a non-positive ``eta``, a ``head`` out of range, ``idx`` not a 2-d array of row
        indices of ``X``, ``W`` or ``V`` not float64 (they are updated in place), shapes that
        do not fit (the compiled loop does not check bounds).
    """
    _check_network(W, V, X, y_star, in_place=True)
    X = np.ascontiguousarray(X, dtype=np.float64)
    y_star = np.ascontiguousarray(y_star, dtype=np.float64)
    eta = check_real("eta", eta, positive=True)
    head = check_int("head", head, minimum=0, maximum=V.shape[0] - 1)
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    if idx.ndim != 2 or (idx.size and (idx.min() < 0 or idx.max() >= len(X))):
        raise ValueError(f"`idx` must be a (steps, batch) array of row indices of X in "
                         f"0..{len(X) - 1}.")
    _sgd_steps(W, V, X, y_star, head, idx, eta if train_first_layer else 0.0,
               eta / X.shape[1])


def field_overlaps(W: np.ndarray, W_star: np.ndarray,
                   X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Data analogue of the order parameters: second moments of the fields over ``X``.

    ``Q = <lam lam^T>``, ``R = <lam nu^T>``, ``T = <nu nu^T>`` with ``lam = W x / sqrt(N)``,
    ``nu = W* x / sqrt(N)``; for i.i.d. standard Gaussian inputs they are the weight overlaps
    ``W W^T / N`` etc. of the theory.

    Returns
    -------
    Q : ndarray, shape (K, K)
    R : ndarray, shape (K, P)
    T : ndarray, shape (P, P)
    """
    lam, nu = teacher_fields(W, X), teacher_fields(W_star, X)
    n = len(X)
    return lam.T @ lam / n, lam.T @ nu / n, nu.T @ nu / n


@dataclass(frozen=True)
class TwoTaskRun:
    """Result of :func:`train_two_tasks`.

    Attributes
    ----------
    t : ndarray, shape (n_out,)
        Times (steps / N); the switch is at ``t_task``.
    eps : ndarray, shape (n_out, 2)
        Test errors of task 1 (head 1) and task 2 (head 2).
    forgetting : float
        ``eps_1(end) - eps_1(switch)`` (:func:`odesolve.observables.forgetting`).
    specialisation : float
        Specialisation index at the switch for teacher 1 and head 1, from the field overlaps.
    W_switch, V_switch : ndarray
        Weights at the switch, shapes (K, N) and (2, K).
    W, V : ndarray
        Final weights.
    """

    t: np.ndarray
    eps: np.ndarray
    forgetting: float
    specialisation: float
    W_switch: np.ndarray
    V_switch: np.ndarray
    W: np.ndarray
    V: np.ndarray


def _test_errors(W, V, X, Y):
    return [0.5 * float(np.mean((forward(W, V[h], X)[1] - Y[:, h]) ** 2)) for h in range(2)]


def train_two_tasks(data: DigitsData, similarity: float, init: str, seed: int = 0, K: int = 2,
                    eta: float = 1.0, t_task: float = 50.0, batch: int = 1,
                    n_out: int = 21) -> TwoTaskRun:
    """Train on task 1 (head 1) for ``t_task``, then on task 2 (head 2) for ``t_task``.

    Parameters
    ----------
    data : DigitsData
    similarity : float
        Feature similarity ``a`` of the teachers (:func:`teacher_directions`).
    init : {"balanced", "imbalanced", "symmetric"}
    seed : int
        Seed of the initial weights and of the SGD samples.
    K : int
        Hidden units.
    eta : float
        Learning rate.
    t_task : float
        Duration of each task in units of N steps (> 0).
    batch : int
        Mini-batch size (1: online SGD).
    n_out : int
        Error evaluations per task (>= 2).

    Returns
    -------
    TwoTaskRun

    Raises
    ------
    TypeError, ValueError
        any argument of the wrong type or out of range (named in the message).
    """
    t_task = check_real("t_task", t_task, positive=True)
    batch, n_out = check_int("batch", batch, minimum=1), check_int("n_out", n_out, minimum=2)
    W_star = teacher_directions(data, similarity)
    rng = np.random.default_rng(check_seed("seed", seed))
    N = data.N
    if t_task * N < 1.0:
        raise ValueError(f"`t_task` must allow at least one SGD step per task (t_task * N >= "
                         f"1 with N = {N}), got {t_task:g}.")
    W, V = init_weights(init, K, N, 2, rng)
    Y_train = erf(teacher_fields(W_star, data.X_train) / _SQRT2)
    Y_test = erf(teacher_fields(W_star, data.X_test) / _SQRT2)
    marks = np.unique(np.round(np.linspace(0, t_task * N, n_out)).astype(np.int64))
    times, errors = [0.0], [_test_errors(W, V, data.X_test, Y_test)]
    switch: list[np.ndarray] = []
    for task in range(2):
        for a, b in zip(marks[:-1], marks[1:]):
            idx = rng.integers(0, len(data.X_train), size=(b - a, batch))
            sgd_steps(W, V, data.X_train, Y_train[:, task], task, idx, eta)
            times.append((task * marks[-1] + b) / N)
            errors.append(_test_errors(W, V, data.X_test, Y_test))
        if task == 0:
            switch = [W.copy(), V.copy()]
    t, eps = np.array(times), np.array(errors)
    f = float(forgetting(t, eps[:, 0], marks[-1] / N)[-1])
    _, R, T = field_overlaps(switch[0], W_star[:1], data.X_train)
    s = float(teacher_specialisation(R, T, switch[1][0]))
    return TwoTaskRun(t, eps, f, s, switch[0], switch[1], W, V)
