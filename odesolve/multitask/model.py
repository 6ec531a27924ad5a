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

from .._checks import check_bool, check_choice, check_int, check_real
from .._typing import Seed
from ..activations import Activation
from ..model import Overlaps, TeacherStudent, check_seed, real_array

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

    Raises
    ------
    TypeError
        An argument has the wrong type (``P=2.0``, ``heads=None``, ``eta="0.5"``, ...).
    ValueError
        ``K``, ``M`` or ``P`` < 1, ``heads`` not "multi" or "single", a rate negative or not
        finite, an unknown activation.
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
        # TeacherStudent checks K, M, activation and the rates; keep its normalised values
        # (Python ints and floats, the activation name in lower case)
        ts = TeacherStudent(self.K, self.M, self.activation, self.eta, self.eta_v, self.sigma,
                            self.weight_decay)
        for name in ("K", "M", "activation", "eta", "eta_v", "sigma", "weight_decay"):
            object.__setattr__(self, name, getattr(ts, name))
        object.__setattr__(self, "P", check_int("P", self.P, minimum=1))
        object.__setattr__(self, "heads", check_choice("heads", self.heads,
                                                       ("multi", "single")))

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
    check : bool
        Validate on construction (default): Q and T symmetric, the covariance of the local
        fields [[Q, R], [R^T, T]] positive semi-definite (:meth:`odesolve.Overlaps.validate`).

    Raises
    ------
    TypeError
        A field does not hold real numbers (e.g. strings, which are not converted),
        ``check`` is not a boolean.
    ValueError
        A field is not 2-D or not finite, the shapes do not agree (the message names the
        field), or (with ``check``) the covariance is not a covariance.
    """

    Q: np.ndarray
    R: np.ndarray
    T: np.ndarray
    V: np.ndarray
    V_star: np.ndarray
    check: bool = field(default=True, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_bool("check", self.check)
        for name in ("Q", "R", "T", "V", "V_star"):
            arr = real_array(name, getattr(self, name))
            if arr.ndim != 2:
                raise ValueError(f"`{name}` must be 2-D, got shape {arr.shape}.")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"`{name}` contains non-finite values.")
            object.__setattr__(self, name, arr)
        K, PM = self.R.shape
        P, M = self.V_star.shape
        if P * M != PM:
            raise ValueError(f"`R` has {PM} teacher columns but `V_star` of shape {(P, M)} "
                             f"describes {P} teachers of {M} units (P*M = {P * M}).")
        for name, shape in (("Q", (K, K)), ("T", (PM, PM)), ("V", (self.V.shape[0], K))):
            if getattr(self, name).shape != shape:
                raise ValueError(f"`{name}` has shape {getattr(self, name).shape}; expected "
                                 f"{shape} to match `R` of shape {self.R.shape} (K = {K}, "
                                 f"P*M = {PM}).")
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

        Parameters
        ----------
        setup : MultiTaskSetup
        T : array_like, shape (P*M, P*M)
            Teacher-teacher overlaps (e.g. :func:`teacher_overlaps`): symmetric, positive
            semi-definite.
        V_star : array_like, shape (P, M)
            Teacher readouts.
        N : int
            Input dimension whose fluctuations are imitated, at least 1.
        student_std, readout_std : float
            Non-negative standard deviations of the student's first-layer weights (per
            component) and heads.
        readout_mean : float
            Mean of the heads.
        seed : int, numpy.random.SeedSequence or numpy.random.Generator, optional

        Returns
        -------
        MultiTaskState

        Raises
        ------
        TypeError
            An argument has the wrong type (``setup`` not a MultiTaskSetup, ``N=1e4``,
            ``seed=0.5``, strings in ``T``, ...).
        ValueError
            ``N`` < 1, a negative standard deviation, a non-finite value, ``T`` or ``V_star``
            of the wrong shape, ``T`` not symmetric positive semi-definite.
        """
        if not isinstance(setup, MultiTaskSetup):
            raise TypeError(f"`setup` must be a MultiTaskSetup, got {type(setup).__name__}.")
        T = _teacher_array("T", T, (setup.P * setup.M, setup.P * setup.M))
        V_star = _teacher_array("V_star", V_star, (setup.P, setup.M))
        _check_gram("T", T)
        N = check_int("N", N, minimum=1)
        student_std = check_real("student_std", student_std, minimum=0.0)
        readout_std = check_real("readout_std", readout_std, minimum=0.0)
        readout_mean = check_real("readout_mean", readout_mean)
        rng = np.random.default_rng(check_seed("seed", seed))
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


def _teacher_array(name, value, shape) -> np.ndarray:
    """A finite real array of the given shape (the teachers' overlaps or readouts)."""
    arr = real_array(name, value)
    if arr.shape != shape:
        raise ValueError(f"`{name}` must have shape {shape} (P = number of teachers, M = units "
                         f"per teacher of `setup`), got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` contains non-finite values.")
    return arr


def _check_gram(name, C, tol=1e-9) -> None:
    """``C`` symmetric and positive semi-definite (with the tolerance of Overlaps.validate)."""
    scale = max(1.0, float(np.abs(C).max(initial=0.0)))
    if np.abs(C - C.T).max(initial=0.0) > tol * scale:
        raise ValueError(f"`{name}` must be symmetric.")
    eig = np.linalg.eigvalsh(C) if C.size else np.zeros(1)
    if eig[0] < -tol * max(abs(eig[-1]), 1e-300):
        raise ValueError(f"`{name}` must be positive semi-definite (a Gram matrix); its "
                         f"smallest eigenvalue is {eig[0]:.3g}.")


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
    M : int
        Hidden units per teacher, at least 1.
    P : int
        Number of teachers, at least 1.
    feature_similarity : float or sequence of float
        ``a`` in [-1, 1]; a sequence gives one value per teacher p >= 2 (length P - 1; a
        single value is used for all).
    teacher_std : float
        Positive standard deviation of the teachers' weights (per component).
    orthogonal_units : bool
        Only True is implemented.

    Returns
    -------
    ndarray, shape (P*M, P*M)

    Raises
    ------
    TypeError
        An argument has the wrong type.
    ValueError
        ``M`` or ``P`` < 1, a similarity outside [-1, 1] or a sequence of the wrong length,
        ``teacher_std`` not positive and finite.
    """
    M = check_int("M", M, minimum=1)
    P = check_int("P", P, minimum=1)
    a = real_array("feature_similarity", feature_similarity)
    if a.ndim > 1 or (a.ndim == 1 and a.shape not in ((1,), (P - 1,))):
        raise ValueError(f"`feature_similarity` must be a number or hold P - 1 = {P - 1} "
                         f"values (one per teacher after the first), got shape {a.shape}.")
    if not np.all(np.abs(a) <= 1):                   # also refuses NaN
        raise ValueError(f"`feature_similarity` must lie in [-1, 1], got {a}.")
    a = np.broadcast_to(a, (P - 1,))
    s2 = check_real("teacher_std", teacher_std, positive=True) ** 2
    if not check_bool("orthogonal_units", orthogonal_units):
        raise NotImplementedError("only orthogonal teacher units are implemented.")
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

    Raises
    ------
    TypeError
        An argument has the wrong type.
    ValueError
        ``v_star`` not finite (or zero for M >= 2), ``similarity`` outside [-1, 1] (or not +-1
        for M = 1).
    """
    v = real_array("v_star", v_star)
    if v.ndim > 1 or v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError(f"`v_star` must be a finite number or vector (M,), got {v!r}.")
    if v.size > 1 and not np.any(v):
        raise ValueError("`v_star` must not be zero: it has no direction to rotate.")
    c = check_real("similarity", similarity, minimum=-1.0, maximum=1.0)
    seed = check_seed("seed", seed)
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

