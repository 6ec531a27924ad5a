"""Fixed points of the order-parameter ODEs and their stability, with exact Jacobians.

The equations are the derived ones written out for explicit K and M
(:func:`odesolve.derive.explicit.committee_system`); SymPy differentiates them, so Newton's
method and the stability analysis use the exact Jacobian. Two coordinate systems:

- the full order parameters (Q upper triangle, R, and v when the readouts are trained), with
  the teacher (T, v*) and fixed readouts taken from the guess;
- the *symmetric ansatz* of Saad & Solla (1995) for K = M, T = I, v* = 1:
  ``Q_ii = q, Q_ik = c, R_ii = r, R_in = s`` (and ``v_i = w`` when trained). It is an invariant
  subspace of the full dynamics (checked when it is derived) that holds the symmetric plateau
  (r = s) and perfect learning (q = r = 1, c = s = 0) and the direction of the escape from the
  plateau (r - s).

:func:`fixed_point` runs damped Newton from a guess; :func:`continuation` follows a fixed
point as a parameter changes. Derived quantities (plateau, escape rate, maximal and optimal
learning rate) are in :mod:`odesolve.stability`.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._checks import check_bool, check_choice, check_int, check_real
from .model import Overlaps, TeacherStudent, real_array

if TYPE_CHECKING:
    from .derive.explicit import ExplicitSystem

__all__ = ["FixedPoint", "fixed_point", "fixed_points", "continuation", "NewtonError",
           "system_for", "symmetric_state", "full_spectrum"]


class NewtonError(RuntimeError):
    """Newton's method did not converge; ``x`` and ``residual`` hold the last iterate."""

    def __init__(self, message: str, x: np.ndarray | None = None,
                 residual: float | None = None) -> None:
        super().__init__(message)
        self.x, self.residual = x, residual


@dataclass
class FixedPoint:
    """A fixed point of the order-parameter ODEs with its linear stability.

    Attributes
    ----------
    x : ndarray, shape (n,)
        Coordinates (names in ``variables``).
    variables : tuple of str
    state : Overlaps
        The fixed point as full order parameters.
    eps_g : float
        Generalisation error there.
    eigenvalues : ndarray of complex, shape (n,)
        Of the exact Jacobian in these coordinates, sorted by decreasing real part.
    eigenvectors : ndarray of complex, shape (n, n)
        Columns, in the order of ``eigenvalues``.
    residual : float
        ``max |dx/dt|`` at ``x``.
    iterations : int
    setup : TeacherStudent
    ansatz : str or None
    small_eta : bool
        True for a fixed point of the eta -> 0 equations (only the O(eta) terms).
    """

    x: np.ndarray
    variables: tuple[str, ...]
    state: Overlaps
    eps_g: float
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    residual: float
    iterations: int
    setup: TeacherStudent
    ansatz: str | None = None
    small_eta: bool = False

    @property
    def leading(self) -> complex:
        """Eigenvalue with the largest real part."""
        return self.eigenvalues[0]

    @property
    def stable(self) -> bool:
        """True when every eigenvalue has a negative real part."""
        return bool(self.eigenvalues[0].real < 0)

    @property
    def n_unstable(self) -> int:
        """Number of eigenvalues with a positive real part."""
        return int(np.sum(self.eigenvalues.real > 0))

    def as_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready): coordinates, eps_g, spectrum, residual, setup."""
        return {"variables": list(self.variables), "x": self.x.tolist(), "eps_g": self.eps_g,
                "eigenvalues_real": self.eigenvalues.real.tolist(),
                "eigenvalues_imag": self.eigenvalues.imag.tolist(),
                "residual": self.residual, "ansatz": self.ansatz,
                "small_eta": self.small_eta, "setup": self.setup.to_dict()}


#: coordinates of the fixed-point analysis: full order parameters (None) or the ansatz
ANSATZES = ("symmetric",)
#: setup fields a continuation can follow
CONTINUATION_PARAMETERS = ("eta", "eta_v", "sigma", "weight_decay")


def check_setup(setup: object) -> None:
    """Raise TypeError naming ``setup`` unless it is a :class:`~odesolve.TeacherStudent`."""
    if not isinstance(setup, TeacherStudent):
        raise TypeError(f"`setup` must be an odesolve.TeacherStudent, got "
                        f"{type(setup).__name__}.")


def _check_ansatz(ansatz: object) -> str | None:
    return None if ansatz is None else check_choice("ansatz", ansatz, ANSATZES)


def system_for(setup: TeacherStudent,
               ansatz: str | None = None) -> ExplicitSystem:
    """The explicit derived system for a setup (cached per K, M, activation, readouts).

    Raises
    ------
    TypeError
        ``setup`` is not a TeacherStudent, ``ansatz`` not None or a string.
    ValueError
        An activation without closed-form kernels, an unknown ansatz.
    """
    from .derive.explicit import committee_system

    check_setup(setup)
    ansatz = _check_ansatz(ansatz)
    if not isinstance(setup.activation, str):
        raise ValueError("fixed points need a named activation with closed-form kernels "
                         "('erf' or 'linear').")
    return committee_system(setup.K, setup.M, setup.activation, setup.eta_readout > 0, ansatz)


def symmetric_state(K: int, q: float, c: float, r: float, s: float, w: float = 1.0,
                    ) -> Overlaps:
    """Full order parameters of the symmetric ansatz (T = I, v* = 1).

    Raises
    ------
    TypeError, ValueError
        ``K`` not an integer >= 1, a coordinate not a finite real number.
    """
    K = check_int("K", K, minimum=1)
    q, c, r, s, w = (check_real(name, value) for name, value in
                     (("q", q), ("c", c), ("r", r), ("s", s), ("w", w)))
    one = np.ones((K, K))
    eye = np.eye(K)
    return Overlaps(Q=(q - c) * eye + c * one, R=(r - s) * eye + s * one, T=eye,
                    v=np.full(K, float(w)), v_star=np.ones(K), check=False)


def _parameters(setup: TeacherStudent, system, state: Overlaps | None) -> np.ndarray:
    base = [setup.eta, setup.eta_readout, setup.sigma, setup.weight_decay, setup.batch_size]
    if not system.extra:
        return np.array(base, dtype=np.float64)
    if state is None:
        raise ValueError("the full system needs the teacher (T, v_star) and readouts: pass "
                         "the guess as Overlaps.")
    values = {}
    for n in range(setup.M):
        for m in range(setup.M):
            values[f"T_{min(n, m)}_{max(n, m)}"] = state.T[n, m]
        values[f"vstar_{n}"] = state.v_star[n]
    for i in range(setup.K):
        values[f"v_{i}"] = state.v[i]
    return np.array(base + [values[str(s)] for s in system.extra], dtype=np.float64)


def _coordinates(system, state: Overlaps) -> np.ndarray:
    K = state.K
    if system.ansatz == "symmetric":
        off = ~np.eye(K, dtype=bool)
        vals = {"q": np.mean(np.diag(state.Q)), "c": state.Q[off].mean() if K > 1 else 0.0,
                "r": np.mean(np.diag(state.R)), "s": state.R[off].mean() if K > 1 else 0.0,
                "w": np.mean(state.v)}
        return np.array([vals[str(v)] for v in system.variables])
    vals = {}
    for i in range(K):
        for k in range(K):
            vals[f"Q_{min(i, k)}_{max(i, k)}"] = state.Q[i, k]
        for n in range(state.M):
            vals[f"R_{i}_{n}"] = state.R[i, n]
        vals[f"v_{i}"] = state.v[i]
    return np.array([vals[str(v)] for v in system.variables])


def _state(system, x: np.ndarray, guess: Overlaps | None) -> Overlaps:
    vals = dict(zip(map(str, system.variables), x))
    K, M = system.K, system.M
    if system.ansatz == "symmetric":
        return symmetric_state(K, vals["q"], vals.get("c", 0.0), vals["r"], vals.get("s", 0.0),
                               vals.get("w", 1.0))
    Q = np.array([[vals[f"Q_{min(i, k)}_{max(i, k)}"] for k in range(K)] for i in range(K)])
    R = np.array([[vals[f"R_{i}_{n}"] for n in range(M)] for i in range(K)])
    v = np.array([vals.get(f"v_{i}", guess.v[i]) for i in range(K)])
    return Overlaps(Q=Q, R=R, T=guess.T, v=v, v_star=guess.v_star, check=False)


def _named_guess(name: str, K: int) -> Overlaps:
    if name == "perfect":
        return symmetric_state(K, 1.0, 0.0, 1.0, 0.0)
    if name == "plateau":
        # any point of the r = s manifold with q > c works as a start of Newton's method
        return symmetric_state(K, 0.5, 0.3, 0.4, 0.4)
    raise ValueError(f"unknown named guess {name!r}; use 'plateau', 'perfect' or Overlaps.")


def fixed_point(setup: TeacherStudent,
                guess: Overlaps | dict[str, float] | Literal["plateau", "perfect"],
                ansatz: str | None = None,
                small_eta: bool = False, tol: float = 1e-12, max_iter: int = 60
                ) -> FixedPoint:
    """Find a fixed point by damped Newton iteration with the exact (derived) Jacobian.

    Parameters
    ----------
    setup : TeacherStudent
        Activation ``"erf"`` or ``"linear"``; readouts trained when ``eta_v > 0``.
    guess : Overlaps, dict or {"plateau", "perfect"}
        Starting point: full order parameters (they also fix the teacher T, v* and, for fixed
        readouts, v), a dict of ansatz coordinates (``{"q":, "c":, "r":, "s":}``), or a named
        start of the symmetric ansatz.
    ansatz : None or "symmetric"
        Coordinates; named and dict guesses imply ``"symmetric"``.
    small_eta : bool
        Solve the eta -> 0 equations (the O(eta) part, i.e. gradient flow) instead.
    tol : float
        Convergence: ``max |dx/dt| <= tol``, positive.
    max_iter : int
        Newton steps at most, non-negative.

    Returns
    -------
    FixedPoint

    Raises
    ------
    TypeError
        ``setup`` is not a TeacherStudent, ``guess`` not Overlaps, a dict or a name, a number
        or flag has the wrong type.
    ValueError
        An activation without closed-form kernels, K != M for the ansatz, an unknown name or
        coordinate of the guess, a guess of the wrong size or batched, a number out of range.
    NewtonError
        When the iteration does not converge in ``max_iter`` steps.
    """
    check_setup(setup)
    ansatz = _check_ansatz(ansatz)
    small_eta = check_bool("small_eta", small_eta)
    tol = check_real("tol", tol, positive=True)
    max_iter = check_int("max_iter", max_iter, minimum=0)
    if not isinstance(guess, (str, dict, Overlaps)):
        raise TypeError(f"`guess` must be Overlaps, a dict of coordinates or 'plateau' or "
                        f"'perfect', got {type(guess).__name__}.")
    if isinstance(guess, (str, dict)):
        ansatz = ansatz or "symmetric"
    system = system_for(setup, ansatz)
    if isinstance(guess, str):
        guess = _named_guess(guess, setup.K)
    if isinstance(guess, dict):
        unknown = set(guess) - {str(v) for v in system.variables}
        if unknown:
            raise ValueError(f"`guess` has unknown coordinates {sorted(unknown)}; the ansatz "
                             f"has {[str(v) for v in system.variables]}.")
        defaults = {"q": 0.5, "c": 0.0, "r": 0.5, "s": 0.0, "w": 1.0}
        values = {k: check_real(f"guess[{k!r}]", guess[k]) if k in guess else defaults[k]
                  for k in ("q", "c", "r", "s", "w")}
        guess = symmetric_state(setup.K, **values)
    if guess.is_batched:
        raise ValueError("`guess` must be a single state, not a batch.")
    if (guess.K, guess.M) != (setup.K, setup.M):
        raise ValueError(f"`guess` has K = {guess.K}, M = {guess.M} but `setup` has "
                         f"K = {setup.K}, M = {setup.M}.")
    p = _parameters(setup, system, guess)
    which = "_small_eta" if small_eta else ""
    F = system.lambdify("rhs" + which)
    DF = system.lambdify("jacobian" + which)
    x = _coordinates(system, guess)
    f = F(x, p)
    res = np.max(np.abs(f))
    it = 0
    while not res <= tol:                             # also entered for NaN
        if it == max_iter or not np.isfinite(res):
            raise NewtonError(f"Newton did not converge in {it} iterations (max |dx/dt| = "
                              f"{res:.3g}); try another guess or a continuation.", x, res)
        J = DF(x, p)
        if not np.all(np.isfinite(J)):
            raise NewtonError(f"Newton left the region where the equations are defined "
                              f"(non-finite Jacobian after {it} iterations); start closer.",
                              x, res)
        try:
            dx = np.linalg.solve(J, -f)
        except np.linalg.LinAlgError:
            dx = np.linalg.lstsq(J, -f, rcond=None)[0]
        step = 1.0
        while True:                                   # backtracking on max |f|
            x_new = x + step * dx
            f_new = F(x_new, p)
            res_new = np.max(np.abs(f_new))
            if res_new < res or (step < 1e-6 and np.isfinite(res_new)):
                break
            if step < 1e-12:
                raise NewtonError("every Newton step leaves the region where the equations "
                                  f"are defined (after {it} iterations, max |dx/dt| = "
                                  f"{res:.3g}); start closer to the fixed point.", x, res)
            step *= 0.5
        it += 1
        if res_new >= res and res <= 1e3 * tol:
            break                                     # at the rounding floor
        x, f, res = x_new, f_new, res_new
    state = _state(system, x, guess)
    try:
        if not small_eta:               # its plateau sits on a neutral line; only a start
            state.validate(tol=1e-6)    # the solvers' PSD tolerance (plateaus are singular)
    except ValueError as err:
        raise NewtonError(f"Newton converged to a point outside the admissible region, not a "
                          f"state of any network ({err}); start closer to the fixed point.",
                          x, res) from None
    J = DF(x, p)
    lam, vec = np.linalg.eig(J)
    order = np.argsort(-lam.real, kind="stable")
    return FixedPoint(x=x, variables=tuple(map(str, system.variables)), state=state,
                      eps_g=system.lambdify("eps_g")(x, p), eigenvalues=lam[order],
                      eigenvectors=vec[:, order], residual=float(res), iterations=it,
                      setup=setup, ansatz=system.ansatz, small_eta=small_eta)


#: the name of the issue's API: ``odesolve.fixed_points(setup, guess_or_ansatz)``
fixed_points = fixed_point


def full_spectrum(fp: FixedPoint) -> np.ndarray:
    """Eigenvalues (sorted by real part) of the full Jacobian at a fixed point found in the
    ansatz: stability against every perturbation, not only the symmetric ones.

    Raises
    ------
    TypeError
        ``fp`` is not a FixedPoint.
    """
    if not isinstance(fp, FixedPoint):
        raise TypeError(f"`fp` must be an odesolve.FixedPoint, got {type(fp).__name__}.")
    system = system_for(fp.setup, None)
    x = _coordinates(system, fp.state)
    p = _parameters(fp.setup, system, fp.state)
    J = system.lambdify("jacobian_small_eta" if fp.small_eta else "jacobian")(x, p)
    lam = np.linalg.eigvals(J)
    return lam[np.argsort(-lam.real, kind="stable")]


def continuation(setup: TeacherStudent, start: FixedPoint, values: Iterable[float],
                 parameter: str = "eta", tol: float = 1e-12) -> list[FixedPoint | None]:
    """Follow a fixed point as ``parameter`` of the setup takes ``values`` in turn (natural
    continuation with a secant predictor). Returns a list of FixedPoint, None where Newton
    failed (the branch is lost there; later values restart from the last success).

    Parameters
    ----------
    setup : TeacherStudent
    start : FixedPoint
        The fixed point to follow (its ansatz and ``small_eta`` are kept).
    values : array_like, shape (n,)
        Finite, non-negative values of ``parameter`` (may be empty).
    parameter : {"eta", "eta_v", "sigma", "weight_decay"}
    tol : float
        Positive Newton tolerance (:func:`fixed_point`).

    Returns
    -------
    list of FixedPoint or None, length n

    Raises
    ------
    TypeError
        ``setup`` is not a TeacherStudent, ``start`` not a FixedPoint, ``values`` does not
        hold real numbers, ``parameter`` not a string.
    ValueError
        ``values`` not 1-D, not finite or negative, an unknown ``parameter``, ``tol`` not
        positive.
    """
    check_setup(setup)
    if not isinstance(start, FixedPoint):
        raise TypeError(f"`start` must be an odesolve.FixedPoint, got {type(start).__name__}.")
    values = real_array("values", values)
    if values.ndim != 1:
        raise ValueError(f"`values` must be a 1-D array, got shape {values.shape}.")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("`values` must be finite and non-negative (rates, noise, weight "
                         "decay).")
    parameter = check_choice("parameter", parameter, CONTINUATION_PARAMETERS)
    tol = check_real("tol", tol, positive=True)
    out, prev, prev2 = [], start, None
    for val in values:
        s = dataclasses.replace(setup, **{parameter: float(val)})
        guess = prev.state
        if prev2 is not None:
            p1 = getattr(prev.setup, parameter)
            p0 = getattr(prev2.setup, parameter)
            if p1 != p0:
                a = (float(val) - p1) / (p1 - p0)
                x = prev.x + a * (prev.x - prev2.x)
                guess = _state(system_for(s, prev.ansatz), x, prev.state)
        try:
            fp = fixed_point(s, guess, ansatz=prev.ansatz, small_eta=prev.small_eta, tol=tol)
        except NewtonError:
            out.append(None)
            continue
        out.append(fp)
        prev2, prev = prev, fp
    return out
