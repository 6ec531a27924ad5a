"""Model specification and order-parameter state of a teacher-student soft committee machine.

Notation (Saad & Solla 1995; Goldt et al. 2019; docs/theory/committee.md#theory-committee-model):
a student with K hidden
units (first-layer weights w_i, readouts v_i) learns from a teacher with M hidden units (w*_n,
readouts v*_n) by online SGD in input dimension N. The order parameters are

    Q_ik = w_i . w_k / N,   R_in = w_i . w*_n / N,   T_nm = w*_n . w*_m / N,

plus the readouts v and v_star. Other papers' names: h (Saad & Solla's readouts) = v,
A (teacher readouts) = v_star, alpha (time, examples/N) = t.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ._checks import check_bool, check_int, check_real, describe, real_array

if TYPE_CHECKING:
    from ._typing import Seed
    from .activations import Activation

__all__ = ["TeacherStudent", "Overlaps", "ACTIVATIONS"]

#: Activations with derived closed-form kernels; any other activation works by quadrature.
ACTIVATIONS = ("erf", "linear", "relu", "tanh")


def _nonneg(name, value):
    return check_real(name, value, minimum=0.0)


def check_seed(name, seed):
    """``seed`` for :func:`numpy.random.default_rng`: None, a non-negative integer, a sequence
    of them, a :class:`~numpy.random.SeedSequence`, a bit generator or a
    :class:`~numpy.random.Generator`.

    Raises
    ------
    TypeError
        for anything else (a float or a string is not silently used as a seed).
    ValueError
        for a negative integer.
    """
    if seed is None or isinstance(seed, (np.random.SeedSequence, np.random.BitGenerator,
                                         np.random.Generator)):
        return seed
    if isinstance(seed, (list, tuple, np.ndarray)):
        arr = np.asarray(seed)
        if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
            raise TypeError(f"`{name}` must be None, a non-negative integer (or a sequence of "
                            f"them) or a numpy.random.Generator, got {describe(seed)}.")
        if np.any(arr < 0):
            raise ValueError(f"`{name}` must be non-negative, got {describe(seed)}.")
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"`{name}` must be None, a non-negative integer (or a sequence of "
                        f"them) or a numpy.random.Generator, got {describe(seed)}.")
    return check_int(name, seed, minimum=0)



def check_readouts(name, value, M) -> np.ndarray:
    """Teacher readouts: a finite number (the same for all M units) or an array of shape (M,).

    Returns
    -------
    ndarray, shape (M,)
    """
    arr = real_array(name, value)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape != (M,)):
        raise ValueError(f"`{name}` must be a number or have shape ({M},), got shape "
                         f"{arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite.")
    return np.broadcast_to(arr, (M,)).copy()


def check_init_scales(student_std, readout_std, teacher_std, readout_mean):
    """Scales of a random initialisation: non-negative standard deviations (the teacher's
    positive) and a finite readout mean; returned as floats."""
    return (check_real("student_std", student_std, minimum=0.0),
            check_real("readout_std", readout_std, minimum=0.0),
            check_real("teacher_std", teacher_std, positive=True),
            check_real("readout_mean", readout_mean))


@dataclass(frozen=True)
class TeacherStudent:
    """Teacher-student soft committee machine trained by online SGD.

    Parameters
    ----------
    K : int
        Number of student hidden units.
    M : int
        Number of teacher hidden units.
    activation : str or Activation
        ``"erf"`` (g(x) = erf(x/sqrt 2)), ``"linear"``, ``"relu"``, ``"tanh"``, or an
        :class:`odesolve.Activation` wrapping user-supplied Numba functions g and g'.
    eta : float
        Learning rate of the first layer (the update is eta/sqrt(N) * ...).
    eta_v : float or None
        Learning rate of the readouts (update eta_v/N * ...). ``None`` means ``eta``;
        ``0`` keeps the second layer fixed (the classic soft committee machine).
    sigma : float
        Standard deviation of the teacher's output noise.
    weight_decay : float
        kappa: each step subtracts kappa/N times the weights (both layers).
    batch_size : int
        b, the mini-batch size: each SGD update averages the gradient over b fresh samples
        and the time t counts updates / N, so t = 1 uses b N samples
        (docs/theory/committee.md#theory-committee-minibatch). 1 is plain online SGD.

    Raises
    ------
    TypeError
        ``K``, ``M`` or ``batch_size`` is not an integer, a rate is not a real number
        (strings such as ``"0.5"`` are refused, not converted), ``activation`` is neither a
        name nor an Activation.
    ValueError
        ``K``, ``M`` or ``batch_size`` < 1, a rate negative or not finite, an unknown
        activation name.

    Notes
    -----
    The update rules are those of docs/theory/committee.md#theory-committee-sgd:
    w_i += eta/sqrt(N) v_i g'(lambda_i) Delta x -
    kappa/N w_i and v_i += eta_v/N g(lambda_i) Delta - kappa/N v_i with Delta = y - yhat.
    """

    K: int
    M: int
    activation: str | Activation = "erf"
    eta: float = 1.0
    eta_v: float | None = None
    sigma: float = 0.0
    weight_decay: float = 0.0
    batch_size: int = 1

    def __post_init__(self):
        for name in ("K", "M", "batch_size"):
            object.__setattr__(self, name, check_int(name, getattr(self, name), minimum=1))
        if isinstance(self.activation, str):
            act = self.activation.lower()
            if act not in ACTIVATIONS:
                listed = ", ".join(repr(a) for a in ACTIVATIONS)
                raise ValueError(f"`activation` must be one of {listed} or an "
                                 f"odesolve.Activation, got {self.activation!r}.")
            object.__setattr__(self, "activation", act)
        elif not hasattr(self.activation, "g") or not hasattr(self.activation, "dg"):
            raise TypeError("`activation` must be a name or an odesolve.Activation with "
                            f"Numba-compiled `g` and `dg`; got {self.activation!r}.")
        object.__setattr__(self, "eta", _nonneg("eta", self.eta))
        if self.eta_v is not None:
            object.__setattr__(self, "eta_v", _nonneg("eta_v", self.eta_v))
        object.__setattr__(self, "sigma", _nonneg("sigma", self.sigma))
        object.__setattr__(self, "weight_decay", _nonneg("weight_decay", self.weight_decay))

    @property
    def eta_readout(self) -> float:
        """Effective readout learning rate (``eta`` when ``eta_v`` is None)."""
        return self.eta if self.eta_v is None else self.eta_v

    @property
    def activation_name(self) -> str:
        a = self.activation
        return a if isinstance(a, str) else getattr(a, "name", "custom")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data description (for configs and result files); ``batch_size`` only when
        it is not 1 (plain online SGD), so descriptions of online SGD stay as they were."""
        out = {"K": self.K, "M": self.M, "activation": self.activation_name, "eta": self.eta,
               "eta_v": self.eta_v, "sigma": self.sigma, "weight_decay": self.weight_decay}
        if self.batch_size != 1:
            out["batch_size"] = self.batch_size
        return out


def _as_array(name, value, ndim_core):
    arr = real_array(name, value)
    if arr.ndim < ndim_core:
        raise ValueError(f"`{name}` must have at least {ndim_core} dimension(s), got shape "
                         f"{arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` contains non-finite values.")
    return arr


@dataclass(frozen=True)
class Overlaps:
    """Order parameters of one state, or of a batch of states (leading batch axis).

    Parameters
    ----------
    Q : ndarray, shape (K, K) or (B, K, K)
        Student-student overlaps w_i.w_k/N; symmetric.
    R : ndarray, shape (K, M) or (B, K, M)
        Student-teacher overlaps w_i.w*_n/N.
    T : ndarray, shape (M, M) or (B, M, M)
        Teacher-teacher overlaps w*_n.w*_m/N; symmetric.
    v : ndarray, shape (K,) or (B, K)
        Student readouts.
    v_star : ndarray, shape (M,) or (B, M)
        Teacher readouts.
    check : bool
        Validate on construction (default). The joint covariance [[Q, R], [R^T, T]] of the local
        fields must be a covariance (positive semi-definite, see :meth:`validate`).

    Raises
    ------
    TypeError
        A field does not hold real numbers (e.g. strings), ``check`` is not a boolean.
    ValueError
        A field is not finite, the shapes do not agree, or (with ``check``) Q or T is not
        symmetric or the covariance is not positive semi-definite.

    Notes
    -----
    A batch may mix batched and unbatched fields: unbatched ones are broadcast (e.g. one
    teacher T, v_star shared by B student states).
    """

    Q: np.ndarray
    R: np.ndarray
    T: np.ndarray
    v: np.ndarray
    v_star: np.ndarray
    check: bool = field(default=True, repr=False, compare=False)

    def __post_init__(self):
        check_bool("check", self.check)
        Q = _as_array("Q", self.Q, 2)
        R = _as_array("R", self.R, 2)
        T = _as_array("T", self.T, 2)
        v = _as_array("v", self.v, 1)
        v_star = _as_array("v_star", self.v_star, 1)
        K, M = R.shape[-2], R.shape[-1]
        if Q.shape[-2:] != (K, K):
            raise ValueError(f"`Q` has shape {Q.shape}; expected (..., {K}, {K}) to match "
                             f"`R` of shape {R.shape}.")
        if T.shape[-2:] != (M, M):
            raise ValueError(f"`T` has shape {T.shape}; expected (..., {M}, {M}) to match "
                             f"`R` of shape {R.shape}.")
        if v.shape[-1] != K:
            raise ValueError(f"`v` has shape {v.shape}; expected (..., {K}).")
        if v_star.shape[-1] != M:
            raise ValueError(f"`v_star` has shape {v_star.shape}; expected (..., {M}).")
        names = ("Q", "R", "T", "v", "v_star")
        batch = dict(zip(names, [a.shape[:-2] for a in (Q, R, T)]
                         + [a.shape[:-1] for a in (v, v_star)]))
        for name, b in batch.items():
            if len(b) > 1:
                raise ValueError(f"`{name}` has the leading axes {b}; Overlaps allow at most "
                                 "one leading batch axis.")
        try:
            shape = np.broadcast_shapes(*batch.values())
        except ValueError:
            sizes = ", ".join(f"`{n}` {b[0]}" for n, b in batch.items() if b)
            raise ValueError(f"The batch sizes of the fields do not agree ({sizes}); give "
                             "every batched field the same leading size B.") from None
        for name, arr in (("Q", Q), ("R", R), ("T", T), ("v", v), ("v_star", v_star)):
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "_batch_shape", shape)
        if self.check:
            self.validate()

    # -- shape information -------------------------------------------------------------
    @property
    def K(self) -> int:
        return self.R.shape[-2]

    @property
    def M(self) -> int:
        return self.R.shape[-1]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """``()`` for a single state, ``(B,)`` for a batch."""
        return self._batch_shape

    @property
    def is_batched(self) -> bool:
        return len(self._batch_shape) == 1

    def __len__(self):
        if not self.is_batched:
            raise TypeError("a single Overlaps state has no length; it is not batched.")
        return self._batch_shape[0]

    def __getitem__(self, index):
        """Member ``index`` of a batch (a single state)."""
        if not self.is_batched:
            raise TypeError("a single Overlaps state cannot be indexed.")
        b = self.broadcast()
        return Overlaps(b.Q[index], b.R[index], b.T[index], b.v[index], b.v_star[index],
                        check=False)

    def broadcast(self) -> "Overlaps":
        """All fields with the full batch axis: ``self`` when they already have it, otherwise
        a new state with copies (treat the arrays as read-only either way)."""
        s = self._batch_shape
        K, M = self.K, self.M
        if (self.Q.shape[:-2] == self.R.shape[:-2] == self.T.shape[:-2] == self.v.shape[:-1]
                == self.v_star.shape[:-1] == s):
            return self
        return Overlaps(np.broadcast_to(self.Q, s + (K, K)).copy(),
                        np.broadcast_to(self.R, s + (K, M)).copy(),
                        np.broadcast_to(self.T, s + (M, M)).copy(),
                        np.broadcast_to(self.v, s + (K,)).copy(),
                        np.broadcast_to(self.v_star, s + (M,)).copy(), check=False)

    @property
    def covariance(self) -> np.ndarray:
        """Joint covariance of the local fields, shape (..., K+M, K+M): [[Q, R], [R^T, T]]."""
        b = self.broadcast()
        top = np.concatenate([b.Q, b.R], axis=-1)
        bottom = np.concatenate([np.swapaxes(b.R, -1, -2), b.T], axis=-1)
        return np.concatenate([top, bottom], axis=-2)

    # -- validation --------------------------------------------------------------------
    def validate(self, tol: float = 1e-9) -> "Overlaps":
        """Check symmetry of Q and T and that the field covariance is a covariance.

        The covariance [[Q, R], [R^T, T]] must be positive semi-definite: its smallest
        eigenvalue may not fall below ``-tol`` times its largest. Singular covariances are
        allowed because they are physical: at perfect learning the student's fields equal the
        teacher's (Q = R = T).

        Raises
        ------
        ValueError
            naming the field and, for a batch, the first offending member.
        """
        tol = check_real("tol", tol, minimum=0.0)
        for name in ("Q", "T"):
            a = getattr(self, name)
            asym = np.abs(a - np.swapaxes(a, -1, -2)).max(initial=0.0)
            if asym > tol * max(1.0, np.abs(a).max(initial=0.0)):
                raise ValueError(f"`{name}` must be symmetric (max |{name} - {name}^T| = "
                                 f"{asym:.3g}).")
        C = self.covariance
        eig = np.linalg.eigvalsh(C)
        lowest = eig[..., 0]
        scale = np.maximum(np.abs(eig[..., -1]), 1e-300)
        bad = lowest < -tol * scale
        if np.any(bad):
            where = "" if not self.is_batched else f" (batch member {int(np.argmax(bad))})"
            raise ValueError("The covariance [[Q, R], [R^T, T]] of the local fields must be "
                             f"positive semi-definite{where}; its smallest eigenvalue is "
                             f"{float(np.min(lowest)):.3g}.")
        return self

    # -- constructors ------------------------------------------------------------------
    @classmethod
    def from_weights(cls, W: np.ndarray, W_star: np.ndarray, v: np.ndarray,
                     v_star: np.ndarray) -> Overlaps:
        """Order parameters of explicit weights.

        Parameters
        ----------
        W : ndarray, shape (K, N)
            Student first-layer weights (rows w_i).
        W_star : ndarray, shape (M, N)
            Teacher first-layer weights.
        v : ndarray, shape (K,)
        v_star : ndarray, shape (M,)

        Returns
        -------
        Overlaps
            Q = W W^T / N, R = W W*^T / N, T = W* W*^T / N.
        """
        W = real_array("W", W)
        W_star = real_array("W_star", W_star)
        if W.ndim != 2 or W_star.ndim != 2:
            raise ValueError(f"`W` and `W_star` must be 2-D (units x N); got shapes {W.shape} "
                             f"and {W_star.shape}.")
        if W.shape[1] != W_star.shape[1]:
            raise ValueError(f"`W` and `W_star` must have the same input dimension N; got "
                             f"{W.shape[1]} and {W_star.shape[1]}.")
        N = W.shape[1]
        if N == 0:
            raise ValueError("`W` and `W_star` must have at least one column (N >= 1).")
        return cls(W @ W.T / N, W @ W_star.T / N, W_star @ W_star.T / N, v, v_star)

    @classmethod
    def random(cls, K: int, M: int, N: int = 10_000, student_std: float = 1e-3,
               readout_std: float = 1e-3, teacher_std: float = 1.0, v_star: ArrayLike = 1.0,
               batch: int | None = None, seed: Seed = None,
               readout_mean: float = 0.0) -> Overlaps:
        """Random initial state drawn the way a network of input dimension N would be.

        Student first-layer weights are i.i.d. N(0, student_std^2), teacher weights
        N(0, teacher_std^2), student readouts N(readout_mean, readout_std^2). The overlaps are
        those of the drawn vectors, so they carry the O(1/sqrt(N)) fluctuations of a real
        finite-N initialisation (sampled exactly from the Wishart law of the Gram matrix, without
        drawing N-dimensional vectors).

        Parameters
        ----------
        K, M : int
            Student and teacher widths.
        N : int
            Input dimension whose fluctuations are imitated.
        student_std, readout_std, teacher_std : float
            Standard deviations of student first-layer weights, student readouts, teacher
            first-layer weights (per component).
        v_star : float or array_like, shape (M,)
            Teacher readouts (default all ones).
        batch : int, optional
            Number of independent states (leading batch axis), at least 1.
        seed : int, numpy.random.SeedSequence or numpy.random.Generator, optional
        readout_mean : float
            Mean of the student readouts.

        Returns
        -------
        Overlaps

        Raises
        ------
        TypeError
            An argument has the wrong type (e.g. ``N=1e4`` or ``seed=0.5``).
        ValueError
            ``K``, ``M``, ``N`` or ``batch`` < 1, a negative standard deviation (the teacher's
            must be positive), a non-finite value, ``v_star`` of the wrong shape.
        """
        K = check_int("K", K, minimum=1)
        M = check_int("M", M, minimum=1)
        N = check_int("N", N, minimum=1)
        student_std, readout_std, teacher_std, readout_mean = check_init_scales(
            student_std, readout_std, teacher_std, readout_mean)
        vs = check_readouts("v_star", v_star, M)
        if batch is not None:
            batch = check_int("batch", batch, minimum=1)
        rng = np.random.default_rng(check_seed("seed", seed))
        B = 1 if batch is None else batch
        P = K + M
        scales = np.concatenate([np.full(K, student_std), np.full(M, teacher_std)])
        # Gram matrix of P Gaussian vectors in dimension N: Wishart(N, I_P), via Bartlett.
        G = _wishart_identity(rng, P, N, B) / N
        C = G * scales[None, :, None] * scales[None, None, :]
        Q, R, T = C[:, :K, :K], C[:, :K, K:], C[:, K:, K:]
        v = readout_mean + readout_std * rng.standard_normal((B, K))
        if batch is None:
            return cls(Q[0], R[0], T[0], v[0], vs)
        return cls(Q, R, T, v, vs)


def _wishart_identity(rng, P, N, B):
    """B samples of X X^T with X a (P, N) matrix of standard normals (Bartlett decomposition)."""
    if N < P:
        X = rng.standard_normal((B, P, N))
        return X @ np.swapaxes(X, -1, -2)
    L = np.zeros((B, P, P))
    idx = np.arange(P)
    L[:, idx, idx] = np.sqrt(rng.chisquare(N - idx, size=(B, P)))
    rows, cols = np.tril_indices(P, -1)
    L[:, rows, cols] = rng.standard_normal((B, rows.size))
    return L @ np.swapaxes(L, -1, -2)
