"""Several teachers and student heads (Lee, Goldt & Saxe 2021;
docs/theory/multitask.md#theory-multitask-teachers).

P teachers, each with M hidden units and readouts ``v_star[p]`` (M,), and a student with a
shared first layer (K units) and H heads: one head shared by all tasks (``heads="single"``) or
one per task (``heads="multi"``). In order parameters:

- ``Q`` (K, K): student-student overlaps;
- ``R`` (K, P*M): overlaps with *every* teacher's units, teacher p in columns
  ``p*M:(p+1)*M``; all of them evolve while any task is trained;
- ``T`` (P*M, P*M): teacher-teacher overlaps, including those *between* teachers (the feature
  similarity);
- ``V`` (H, K): the heads; ``V_star`` (P, M): the teachers' readouts.

The ODE of a phase in which teacher p and head h are active is the committee ODE of
:mod:`odesolve.derive` with all P*M teacher fields in the covariance and the error
coefficients c = (-V[h], v*_ext), where v*_ext is ``V_star[p]`` on teacher p's units and zero
on the others: inactive teachers do not enter Delta, but the overlaps with them evolve
(derivations/committee.md, section "Several teachers and heads").
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from .._typing import Seed
from ..activations import Activation
from ..model import ACTIVATIONS, Overlaps, TeacherStudent

__all__ = ["MultiTaskSetup", "MultiTaskState", "teacher_overlaps", "readout_with_similarity"]


@dataclass(frozen=True)
class MultiTaskSetup:
    """A student with a shared first layer learning P teachers.

    Parameters
    ----------
    K : int
        Student hidden units.
    M : int
        Hidden units per teacher.
    P : int
        Number of teachers (tasks).
    heads : {"multi", "single"}
        One readout head per task, or one shared head.
    activation, eta, eta_v, sigma, weight_decay :
        As :class:`odesolve.TeacherStudent` (defaults of every phase of a protocol).
    """

    K: int
    M: int
    P: int = 2
    heads: Literal["multi", "single"] = "multi"
    activation: str | Activation = "erf"
    eta: float = 1.0
    eta_v: float | None = None
    sigma: float = 0.0
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        # TeacherStudent validates K, M, activation, rates
        TeacherStudent(self.K, self.M, self.activation, self.eta, self.eta_v, self.sigma,
                       self.weight_decay)
        if isinstance(self.P, bool) or not isinstance(self.P, (int, np.integer)) or self.P < 1:
            raise ValueError(f"`P` (number of teachers) must be a positive integer, got "
                             f"{self.P!r}.")
        if self.heads not in ("multi", "single"):
            raise ValueError(f"`heads` must be 'multi' or 'single', got {self.heads!r}.")
        if isinstance(self.activation, str):
            object.__setattr__(self, "activation", self.activation.lower())
            if self.activation not in ACTIVATIONS:
                raise ValueError(f"`activation` must be one of {ACTIVATIONS}.")

    @property
    def H(self) -> int:
        """Number of student heads."""
        return self.P if self.heads == "multi" else 1

    def head_of(self, task: int) -> int:
        """The head that serves ``task``."""
        return task if self.heads == "multi" else 0

    def phase_setup(self, M_total: int, eta: float | None = None, eta_v: float | None = None,
                    weight_decay: float | None = None) -> TeacherStudent:
        """The :class:`TeacherStudent` of one phase, with ``M_total`` teacher fields."""
        eta = self.eta if eta is None else eta
        if eta_v is None:
            eta_v = self.eta_v if self.eta_v is not None else eta
        kappa = self.weight_decay if weight_decay is None else weight_decay
        return TeacherStudent(self.K, M_total, self.activation, eta=eta, eta_v=eta_v,
                              sigma=self.sigma, weight_decay=kappa)


@dataclass(frozen=True)
class MultiTaskState:
    """Order parameters of a multi-teacher, multi-head student (module docstring).

    Parameters
    ----------
    Q : ndarray, shape (K, K)
    R : ndarray, shape (K, P*M)
    T : ndarray, shape (P*M, P*M)
    V : ndarray, shape (H, K)
    V_star : ndarray, shape (P, M)
    """

    Q: np.ndarray
    R: np.ndarray
    T: np.ndarray
    V: np.ndarray
    V_star: np.ndarray
    check: bool = field(default=True, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("Q", "R", "T", "V", "V_star"):
            arr = np.array(getattr(self, name), dtype=np.float64)
            if arr.ndim != 2:
                raise ValueError(f"`{name}` must be 2-D, got shape {arr.shape}.")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"`{name}` contains non-finite values.")
            object.__setattr__(self, name, arr)
        K, PM = self.R.shape
        P, M = self.V_star.shape
        if P * M != PM:
            raise ValueError(f"`R` has {PM} teacher columns but `V_star` describes {P} "
                             f"teachers of {M} units.")
        if self.Q.shape != (K, K) or self.T.shape != (PM, PM) or self.V.shape[1] != K:
            raise ValueError(f"shapes do not agree: Q {self.Q.shape}, R {self.R.shape}, "
                             f"T {self.T.shape}, V {self.V.shape}.")
        if self.check:
            self.as_overlaps(0, 0).validate()

    @property
    def K(self) -> int:
        """Student hidden units."""
        return self.R.shape[0]

    @property
    def M(self) -> int:
        """Hidden units per teacher."""
        return self.V_star.shape[1]

    @property
    def P(self) -> int:
        """Number of teachers."""
        return self.V_star.shape[0]

    def v_star_ext(self, task: int) -> np.ndarray:
        """Teacher readouts seen by the error of ``task``: ``V_star[task]`` on its units, 0
        elsewhere; shape (P*M,)."""
        out = np.zeros(self.P * self.M)
        out[task * self.M:(task + 1) * self.M] = self.V_star[task]
        return out

    def as_overlaps(self, task: int, head: int) -> Overlaps:
        """The single-teacher :class:`~odesolve.Overlaps` seen by ``task`` through ``head``
        (all teacher fields, inactive readouts zero)."""
        return Overlaps(self.Q, self.R, self.T, self.V[head], self.v_star_ext(task),
                        check=False)

    def task_overlaps(self, task: int, head: int) -> Overlaps:
        """Only teacher ``task``'s fields: the state of the single-teacher problem."""
        sl = slice(task * self.M, (task + 1) * self.M)
        return Overlaps(self.Q, self.R[:, sl], self.T[sl, sl], self.V[head], self.V_star[task],
                        check=False)

    @classmethod
    def random(cls, setup: MultiTaskSetup, T: ArrayLike, V_star: ArrayLike, N: int = 10_000,
               student_std: float = 1e-3, readout_std: float = 1e-3, readout_mean: float = 0.0,
               seed: Seed = None) -> MultiTaskState:
        """Student drawn at input dimension N (i.i.d. Gaussian first layer and heads) against
        teachers with overlaps ``T`` (P*M, P*M) and readouts ``V_star`` (P, M).

        The student-student and student-teacher overlaps are those of vectors drawn in
        dimension N (with their O(1/sqrt N) fluctuations): the joint Gram matrix is sampled
        conditionally on the teachers' Gram matrix T.
        """
        T = np.asarray(T, dtype=np.float64)
        V_star = np.asarray(V_star, dtype=np.float64)
        rng = np.random.default_rng(seed)
        K = setup.K
        # teacher vectors with Gram matrix T in a (P*M)-dimensional frame, students isotropic:
        # only overlaps matter, so draw the student's components along the teacher frame and
        # the N - PM orthogonal ones separately
        L = _psd_factor(T)                                    # T = L L^T, (PM, r)
        r = L.shape[1]
        A = rng.standard_normal((K, r)) * student_std          # along the teachers' span
        n_perp = max(N - r, 0)
        G = _wishart(rng, K, n_perp) * student_std ** 2        # orthogonal part, sum of squares
        Q = (A @ A.T + G) / N
        R = (A @ L.T) * np.sqrt(N) / N                         # w . w*/N with w* = sqrt(N) L e
        Q = 0.5 * (Q + Q.T)
        V = rng.normal(readout_mean, readout_std, size=(setup.H, K))
        return cls(Q, R, T, V, V_star)


def _psd_factor(C):
    w, U = np.linalg.eigh(0.5 * (C + C.T))
    keep = w > 1e-12 * max(w.max(), 1e-300)
    return U[:, keep] * np.sqrt(w[keep])


def _wishart(rng, K, dof):
    """Sum over ``dof`` i.i.d. standard normal K-vectors of z z^T (Bartlett decomposition)."""
    if dof <= 0:
        return np.zeros((K, K))
    A = np.zeros((K, K))
    for i in range(K):
        A[i, i] = np.sqrt(rng.chisquare(dof - i))
        A[i, :i] = rng.standard_normal(i)
    return A @ A.T


def teacher_overlaps(M: int, P: int = 2, feature_similarity: float | Sequence[float] = 0.0,
                     teacher_std: float = 1.0, orthogonal_units: bool = True) -> np.ndarray:
    """Teacher-teacher overlaps T (P*M, P*M) with a given feature similarity.

    Teacher 1's units are orthogonal with squared norm ``teacher_std**2`` (per component
    variance, as T = W* W*^T / N of i.i.d. weights in the N -> infinity limit). Teacher p >= 2
    has unit m built as ``a w*_1m + sqrt(1 - a^2) w_rand`` with a fresh direction w_rand
    orthogonal to everything else, so each of its units has the same norm and overlap
    ``a * teacher_std**2`` with the corresponding unit of teacher 1 (and ``a^2`` times it
    with the other teachers p' >= 2), exactly (Lee et al. 2021;
    docs/theory/multitask.md#theory-multitask-similarity).

    Parameters
    ----------
    feature_similarity : float or sequence of float
        ``a`` in [-1, 1]; a sequence gives one value per teacher p >= 2 (length P - 1).
    """
    a = np.broadcast_to(np.asarray(feature_similarity, dtype=np.float64), (P - 1,)) \
        if P > 1 else np.zeros(0)
    if np.any(np.abs(a) > 1):
        raise ValueError(f"`feature_similarity` must lie in [-1, 1], got {a}.")
    if not orthogonal_units:
        raise NotImplementedError("only orthogonal teacher units are implemented.")
    s2 = float(teacher_std) ** 2
    coef = np.concatenate([[1.0], a])                # overlap with teacher 1's direction
    T = np.zeros((P * M, P * M))
    for p in range(P):
        for q in range(P):
            same = 1.0 if p == q else coef[p] * coef[q]
            for m in range(M):
                T[p * M + m, q * M + m] = s2 * same
    return T


def readout_with_similarity(v_star: ArrayLike, similarity: float, seed: Seed = None) -> np.ndarray:
    """A readout vector at angle ``arccos(similarity)`` to ``v_star`` with the same norm.

    For M = 1 only similarity +1 (the same readout) and -1 (reversal) exist. For M >= 2 the
    rotation is in the plane of ``v_star`` and a random direction orthogonal to it (drawn with
    ``seed``).
    """
    v = np.asarray(v_star, dtype=np.float64)
    c = float(similarity)
    if not -1 <= c <= 1:
        raise ValueError(f"`similarity` must lie in [-1, 1], got {similarity!r}.")
    if v.size == 1:
        if c not in (-1.0, 1.0):
            raise ValueError("with M = 1 readout similarity can only be +1 or -1 (reversal).")
        return c * v
    norm = np.linalg.norm(v)
    u = v / norm
    z = np.random.default_rng(seed).standard_normal(v.size)
    z -= (z @ u) * u
    z /= np.linalg.norm(z)
    return norm * (c * u + np.sqrt(max(1 - c * c, 0.0)) * z)

