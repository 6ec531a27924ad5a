"""Model specification and order-parameter state of a teacher-student soft committee machine.

Notation (Saad & Solla 1995; Goldt et al. 2019; THEORY.md section 1): a student with K hidden
units (first-layer weights w_i, readouts v_i) learns from a teacher with M hidden units (w*_n,
readouts v*_n) by online SGD in input dimension N. The order parameters are

    Q_ik = w_i . w_k / N,   R_in = w_i . w*_n / N,   T_nm = w*_n . w*_m / N,

plus the readouts v and v_star. Other papers' names: h (Saad & Solla's readouts) = v,
A (teacher readouts) = v_star, alpha (time, examples/N) = t.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["TeacherStudent", "Overlaps", "ACTIVATIONS"]

#: Activations with derived closed-form kernels; any other activation works by quadrature.
ACTIVATIONS = ("erf", "linear", "relu", "tanh")


def _nonneg(name, value):
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"`{name}` must be a finite non-negative number, got {value!r}.")
    return value


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

    Notes
    -----
    The update rules are THEORY.md section 1: w_i += eta/sqrt(N) v_i g'(lambda_i) Delta x -
    kappa/N w_i and v_i += eta_v/N g(lambda_i) Delta - kappa/N v_i with Delta = y - yhat.
    """

    K: int
    M: int
    activation: object = "erf"
    eta: float = 1.0
    eta_v: float | None = None
    sigma: float = 0.0
    weight_decay: float = 0.0

    def __post_init__(self):
        for name in ("K", "M"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
            object.__setattr__(self, name, int(value))
        if isinstance(self.activation, str):
            act = self.activation.lower()
            if act not in ACTIVATIONS:
                raise ValueError(f"`activation` must be one of {ACTIVATIONS} or an "
                                 f"odesolve.Activation; got {self.activation!r}.")
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

    def to_dict(self) -> dict:
        """Plain-data description (for configs and result files)."""
        return {"K": self.K, "M": self.M, "activation": self.activation_name, "eta": self.eta,
                "eta_v": self.eta_v, "sigma": self.sigma, "weight_decay": self.weight_decay}


def _as_array(name, value, ndim_core):
    arr = np.asarray(value, dtype=np.float64)
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
        batch = [a.shape[:-2] for a in (Q, R, T)] + [a.shape[:-1] for a in (v, v_star)]
        if any(len(b) > 1 for b in batch):
            raise ValueError("Overlaps allow at most one leading batch axis.")
        try:
            shape = np.broadcast_shapes(*batch)
        except ValueError:
            raise ValueError(f"Batch axes of the overlaps do not agree: {batch}.") from None
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
    def batch_shape(self) -> tuple:
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
    def from_weights(cls, W, W_star, v, v_star) -> "Overlaps":
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
        W = np.asarray(W, dtype=np.float64)
        W_star = np.asarray(W_star, dtype=np.float64)
        if W.ndim != 2 or W_star.ndim != 2:
            raise ValueError(f"`W` and `W_star` must be 2-D (units x N); got shapes {W.shape} "
                             f"and {W_star.shape}.")
        if W.shape[1] != W_star.shape[1]:
            raise ValueError(f"`W` and `W_star` must have the same input dimension N; got "
                             f"{W.shape[1]} and {W_star.shape[1]}.")
        N = W.shape[1]
        return cls(W @ W.T / N, W @ W_star.T / N, W_star @ W_star.T / N,
                   np.asarray(v, dtype=np.float64), np.asarray(v_star, dtype=np.float64))

    @classmethod
    def random(cls, K, M, N=10_000, student_std=1e-3, readout_std=1e-3, teacher_std=1.0,
               v_star=1.0, batch=None, seed=None, readout_mean=0.0) -> "Overlaps":
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
            Number of independent states (leading batch axis).
        seed : int or numpy.random.Generator, optional

        Returns
        -------
        Overlaps
        """
        for name, val in (("student_std", student_std), ("readout_std", readout_std),
                          ("teacher_std", teacher_std)):
            _nonneg(name, val)
        if teacher_std == 0:
            raise ValueError("`teacher_std` must be positive.")
        if isinstance(N, bool) or int(N) != N or N < 1:
            raise ValueError(f"`N` must be a positive integer, got {N!r}.")
        N = int(N)
        rng = np.random.default_rng(seed)
        B = 1 if batch is None else int(batch)
        P = K + M
        scales = np.concatenate([np.full(K, student_std), np.full(M, teacher_std)])
        # Gram matrix of P Gaussian vectors in dimension N: Wishart(N, I_P), via Bartlett.
        G = _wishart_identity(rng, P, N, B) / N
        C = G * scales[None, :, None] * scales[None, None, :]
        Q, R, T = C[:, :K, :K], C[:, :K, K:], C[:, K:, K:]
        v = readout_mean + readout_std * rng.standard_normal((B, K))
        vs = np.broadcast_to(np.asarray(v_star, dtype=np.float64), (M,)).copy()
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
