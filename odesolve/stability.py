"""Plateaus, escape rates and learning-rate limits from the derived equations (issue 7).

For a soft committee machine with K = M, an orthonormal teacher (T = I, v* = 1) and erf or
linear units, in the symmetric ansatz of :mod:`odesolve.fixedpoint`:

- :func:`plateau`: the symmetric plateau (r = s) at finite eta, followed from small eta by
  continuation; its eps_g and its unstable eigenvalue, the *escape rate*: a perturbation of
  size delta along the unstable direction grows as delta e^{lambda t}, so the time to leave
  the plateau is ``(1/lambda) ln(1/delta) + const`` (Saad & Solla 1995; Biehl, Riegler &
  Woehler 1996);
- :func:`plateau_small_eta`: the eta -> 0 limit of the plateau, Richardson-extrapolated from
  three small learning rates (the eta -> 0 equations alone leave a neutral direction at the
  plateau, which the O(eta^2) terms fix);
- :func:`perfect_learning`: the perfect-learning fixed point (q = r = 1, c = s = 0; moved by
  output noise), whose leading eigenvalue gives the decay rate ``gamma = -Re lambda_max``.
  eps_g is quadratic in the modes that are linear in the weight error and linear in the
  others, so it decays as ``e^{-2 gamma t}`` when the slowest mode is of the first kind (small
  and moderate eta) and as ``e^{-gamma t}`` otherwise (docs/theory/stability.md#theory-stability-perfect);
- :func:`max_learning_rate`: the eta above which perfect learning is unstable (Re lambda_max
  crosses 0), bracketed on a grid and refined by bisection; noise-free only: with output
  noise the transcritical bifurcation there unfolds, and :func:`asymptotic_branch` follows
  the fixed point reached from near perfect learning (its eps_g and decay rate);
- :func:`optimal_learning_rate`: the eta in (0, eta_max) that maximises gamma;
- :func:`stability_curves`: all of these against eta, for ``odesolve stability`` and its
  figure.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize_scalar

from ._checks import check_bool, check_int, check_real
from .fixedpoint import (FixedPoint, NewtonError, check_setup, continuation, fixed_point,
                         full_spectrum)
from .model import TeacherStudent, real_array

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plateau", "plateau_small_eta", "escape_rate", "perfect_learning", "decay_rate",
           "max_learning_rate", "optimal_learning_rate", "asymptotic_branch",
           "stability_curves", "plot_stability_curves"]


def _check(setup: TeacherStudent) -> None:
    """``setup`` is a TeacherStudent the symmetric analysis applies to.

    Raises
    ------
    TypeError
        ``setup`` is not a :class:`~odesolve.TeacherStudent`.
    ValueError
        K != M, the activation is not erf, or eta = 0.
    """
    check_setup(setup)
    if setup.K != setup.M:
        raise ValueError(f"the symmetric analysis needs K = M, got K={setup.K}, M={setup.M}.")
    if setup.activation != "erf":
        raise ValueError(f"plateau and learning-rate analysis is for erf units, got "
                         f"{setup.activation!r}: with linear units any split of the teacher "
                         "among the students fits, so perfect learning is a continuum (zero "
                         "eigenvalues) and there is no plateau. odesolve.fixed_points works "
                         "for them in full coordinates.")
    if setup.eta <= 0:
        raise ValueError(f"`setup.eta` must be positive, got {setup.eta}.")


def _eta_grid(name: str, values: ArrayLike, min_size: int = 1) -> np.ndarray:
    """``values`` as a 1-D array of at least ``min_size`` positive, finite, strictly
    increasing learning rates.

    Raises
    ------
    TypeError
        ``values`` does not hold real numbers.
    ValueError
        naming ``name`` and the rule it breaks.
    """
    grid = real_array(name, values)
    if grid.ndim != 1 or grid.size < min_size:
        raise ValueError(f"`{name}` must be a 1-D array of at least {min_size} learning "
                         f"rate(s), got shape {grid.shape}.")
    if not np.all(np.isfinite(grid)) or not np.all(grid > 0):
        raise ValueError(f"`{name}` must hold positive, finite learning rates.")
    if np.any(np.diff(grid) <= 0):
        raise ValueError(f"`{name}` must be strictly increasing.")
    return grid


def _with(setup: TeacherStudent, **kw: Any) -> TeacherStudent:
    """The setup with some fields replaced (``eta_v=None`` keeps following eta)."""
    return dataclasses.replace(setup, **kw)


def plateau(setup: TeacherStudent, eta_start: float = 0.01, n_steps: int = 12,
            tol: float = 1e-14) -> FixedPoint:
    """The symmetric plateau at ``setup.eta``, followed by continuation from ``eta_start``
    (geometric ladder of ``n_steps``), starting from the eta -> 0 equations.

    The plateau has a soft direction whose eigenvalue is O(eta^2) (it is neutral in the
    eta -> 0 equations), so the residual tolerance must be tight: an error ``tol`` in
    dx/dt moves the point by about tol / eta^2 along it.

    Parameters
    ----------
    setup : TeacherStudent
        K = M, erf units, eta > 0.
    eta_start : float
        Positive learning rate where the continuation starts (``min(eta_start, eta)``).
    n_steps : int
        Points of the geometric ladder, at least 2.
    tol : float
        Positive residual tolerance of Newton's method.

    Returns
    -------
    FixedPoint

    Raises
    ------
    TypeError
        ``setup`` is not a TeacherStudent, or a number has the wrong type.
    ValueError
        The setup is outside the symmetric analysis, a number is out of range.
    NewtonError
        The branch is lost on the way to ``setup.eta``.
    """
    _check(setup)
    eta_start = check_real("eta_start", eta_start, positive=True)
    n_steps = check_int("n_steps", n_steps, minimum=2)
    tol = check_real("tol", tol, positive=True)
    small = _with(setup, eta=min(eta_start, setup.eta))
    start = fixed_point(small, "plateau", small_eta=True)
    start = fixed_point(small, start.state, ansatz="symmetric", tol=tol)
    if small.eta == setup.eta:
        return start
    etas = np.geomspace(small.eta, setup.eta, n_steps)[1:]
    branch = continuation(small, start, etas, "eta", tol=tol)
    if branch[-1] is None:
        raise NewtonError(f"lost the plateau branch on the way to eta = {setup.eta:g}")
    return branch[-1]


def escape_rate(fp: FixedPoint) -> float:
    """The eigenvalue of the specialisation direction on the plateau.

    In the symmetric ansatz: the eigenvalue whose eigenvector moves r - s most (students
    align with different teacher units); above eta ~ 1.6 (K = 2) another unstable direction,
    q - c (students split orthogonally to the teachers), has the larger eigenvalue, which is
    not the escape. In full coordinates: the largest real part.

    Raises
    ------
    TypeError
        ``fp`` is not a :class:`~odesolve.FixedPoint`.
    """
    if not isinstance(fp, FixedPoint):
        raise TypeError(f"`fp` must be an odesolve.FixedPoint, got {type(fp).__name__}.")
    if fp.ansatz != "symmetric":
        return float(fp.eigenvalues[0].real)
    names = list(fp.variables)
    split = np.abs(fp.eigenvectors[names.index("r")] - fp.eigenvectors[names.index("s")])
    split = split / np.linalg.norm(fp.eigenvectors, axis=0)
    return float(fp.eigenvalues[int(np.argmax(split))].real)


def plateau_small_eta(setup: TeacherStudent, eta: float = 0.02) -> dict[str, Any]:
    """The eta -> 0 plateau: fixed points at eta, eta/2 and eta/4, Richardson-extrapolated
    (removing the O(eta) and O(eta^2) shifts). Returns the coordinates, eps_g and the escape
    rate per unit eta.

    Raises
    ------
    TypeError, ValueError
        ``setup`` as :func:`plateau`; ``eta`` not a positive number.
    """
    _check(setup)
    eta = check_real("eta", eta, positive=True)
    fps = [plateau(_with(setup, eta=eta / m)) for m in (1, 2, 4)]

    def extrapolate(v):                        # v at eta, eta/2, eta/4 -> value at 0
        return (8 * v[2] - 6 * v[1] + v[0]) / 3

    return {"variables": list(fps[0].variables),
            "x": extrapolate([fp.x for fp in fps]).tolist(),
            "eps_g": float(extrapolate([fp.eps_g for fp in fps])),
            "escape_rate_per_eta": float(extrapolate(
                [escape_rate(fp) / (eta / m) for fp, m in zip(fps, (1, 2, 4))]))}


def perfect_learning(setup: TeacherStudent, guess: FixedPoint | None = None) -> FixedPoint:
    """The perfect-learning fixed point: exactly q = r = 1, c = s = 0 without noise; with
    output noise it moves, and ``guess`` (a nearby FixedPoint, e.g. at a smaller eta) helps
    Newton follow it.

    Raises
    ------
    TypeError
        ``setup`` is not a TeacherStudent, ``guess`` not None or a FixedPoint.
    ValueError
        The setup is outside the symmetric analysis (:func:`plateau`).
    NewtonError
        Newton's method does not converge.
    """
    _check(setup)
    if guess is not None and not isinstance(guess, FixedPoint):
        raise TypeError(f"`guess` must be None or an odesolve.FixedPoint, got "
                        f"{type(guess).__name__}.")
    return fixed_point(setup, "perfect" if guess is None else guess.state,
                       ansatz="symmetric")


def decay_rate(setup: TeacherStudent, full: bool = False,
               guess: FixedPoint | None = None) -> float:
    """gamma = -Re lambda_max at perfect learning (negative when it is unstable). ``full``:
    use the full Jacobian, not only the symmetric ansatz.

    Raises
    ------
    TypeError, ValueError, NewtonError
        As :func:`perfect_learning`; ``full`` not a boolean.
    """
    _check(setup)
    full = check_bool("full", full)
    fp = perfect_learning(setup, guess)
    lead = full_spectrum(fp)[0] if full else fp.leading
    return float(-lead.real)


def max_learning_rate(setup: TeacherStudent, eta_grid: ArrayLike | None = None,
                      full: bool = False) -> float:
    """Smallest eta at which perfect learning stops being a stable fixed point.

    The perfect-learning branch is followed along ``eta_grid`` (default 0.05 .. 50,
    geometric); the first grid interval where Re lambda_max changes sign, or where the
    branch is lost (with output noise the fixed point can also vanish or leave the
    admissible region), is refined by bisection to 1e-12 relative.

    Parameters
    ----------
    setup : TeacherStudent
        K = M, erf units, no output noise.
    eta_grid : array_like, shape (n,), optional
        At least 2 positive, strictly increasing learning rates.
    full : bool
        Stability against every perturbation (the full Jacobian), not only the symmetric ones.

    Raises
    ------
    TypeError
        ``setup`` is not a TeacherStudent, ``eta_grid`` does not hold real numbers, ``full``
        is not a boolean.
    ValueError
        The setup is outside the analysis (or noisy), ``eta_grid`` breaks its rules, or no
        threshold lies on the grid.
    """
    _check(setup)
    full = check_bool("full", full)
    if eta_grid is not None:
        eta_grid = _eta_grid("eta_grid", eta_grid, min_size=2)
    if setup.sigma > 0:
        raise ValueError("perfect learning is a fixed point only without output noise "
                         f"(sigma = {setup.sigma:g}). With noise the transcritical bifurcation "
                         "at eta_max unfolds: the noisy branch continues smoothly into a "
                         "large-weight state, so there is no sharp threshold; follow it with "
                         "asymptotic_branch() and take eta_max at sigma = 0.")
    grid = np.geomspace(0.05, 50.0, 60) if eta_grid is None else eta_grid

    def point(eta, guess):
        """(stable?, fixed point or None)."""
        try:
            fp = perfect_learning(_with(setup, eta=float(eta)), guess)
        except NewtonError:
            return False, None
        lead = full_spectrum(fp)[0] if full else fp.leading
        return bool(lead.real < 0), fp

    prev = None
    for k, eta in enumerate(grid):
        ok, fp = point(eta, prev)
        if not ok:
            if k == 0:
                raise ValueError(f"perfect learning is not a stable fixed point even at "
                                 f"eta = {grid[0]:g}.")
            lo, hi, good = grid[k - 1], eta, prev
            while hi - lo > 1e-12 * hi:
                mid = 0.5 * (lo + hi)
                ok, fp = point(mid, good)
                lo, hi, good = (mid, hi, fp) if ok else (lo, mid, good)
            return float(0.5 * (lo + hi))
        prev = fp
    raise ValueError(f"perfect learning is stable on the whole grid "
                     f"[{grid[0]:g}, {grid[-1]:g}]; no maximal learning rate found there.")


def optimal_learning_rate(setup: TeacherStudent,
                          eta_max: float | None = None) -> tuple[float, float]:
    """The eta maximising the asymptotic decay rate gamma; returns (eta_opt, gamma_opt).

    Parameters
    ----------
    setup : TeacherStudent
        As :func:`max_learning_rate`.
    eta_max : float, optional
        Positive upper end of the search (default :func:`max_learning_rate`).

    Raises
    ------
    TypeError, ValueError
        As :func:`max_learning_rate`; ``eta_max`` not a positive number.
    """
    _check(setup)
    if eta_max is not None:
        eta_max = check_real("eta_max", eta_max, positive=True)
    eta_max = max_learning_rate(setup) if eta_max is None else eta_max
    res = minimize_scalar(lambda e: -decay_rate(_with(setup, eta=float(e))),
                          bounds=(1e-3 * eta_max, eta_max), method="bounded",
                          options={"xatol": 1e-9 * eta_max})
    return float(res.x), float(-res.fun)


def asymptotic_branch(setup: TeacherStudent,
                      etas: Sequence[float] | np.ndarray) -> dict[str, Any]:
    """The fixed point reached from near perfect learning, followed along ``etas``
    (increasing) by continuation: its eps_g (0 without noise) and decay rate gamma; NaN once
    the branch is lost.

    Raises
    ------
    TypeError, ValueError
        ``setup`` as :func:`plateau`; ``etas`` not a non-empty, positive, strictly increasing
        1-D array of learning rates.
    """
    _check(setup)
    etas = _eta_grid("etas", etas)
    eps, gamma, prev = [], [], None
    for eta in etas:
        try:
            fp = perfect_learning(_with(setup, eta=float(eta)), prev)
        except NewtonError:
            fp = None
        prev = fp                           # None: restart from "perfect" next time
        eps.append(np.nan if fp is None else fp.eps_g)
        gamma.append(np.nan if fp is None else -fp.leading.real)
    return {"eta": list(map(float, etas)), "eps_g": eps, "decay_rate": gamma}


def stability_curves(setup: TeacherStudent, etas: ArrayLike | None = None,
                     n_eta: int = 40) -> dict[str, Any]:
    """Plateau eps_g, escape rate, asymptotic eps_g and decay rate against eta (default:
    ``n_eta`` points up to 1.1 eta_max), with eta_max and eta_opt of the noise-free
    problem, for ``odesolve stability``.

    Parameters
    ----------
    setup : TeacherStudent
        K = M, erf units.
    etas : array_like, shape (n,), optional
        Positive, strictly increasing learning rates.
    n_eta : int
        Number of default learning rates, at least 2.

    Raises
    ------
    TypeError, ValueError
        ``setup`` as :func:`plateau`; ``etas`` or ``n_eta`` breaks its rule.
    """
    _check(setup)
    if etas is not None:
        etas = _eta_grid("etas", etas)
    n_eta = check_int("n_eta", n_eta, minimum=2)
    clean = _with(setup, sigma=0.0)
    eta_max = max_learning_rate(clean)
    eta_opt, gamma_opt = optimal_learning_rate(clean, eta_max)
    etas = (np.linspace(0.02, 1.1, n_eta) * eta_max) if etas is None else etas
    small = plateau(_with(setup, eta=float(etas[0])))
    branch = [small] + continuation(_with(setup, eta=float(etas[0])), small, etas[1:], "eta")
    plateau_eps = [fp.eps_g if fp is not None else np.nan for fp in branch]
    escape = [escape_rate(fp) if fp is not None else np.nan for fp in branch]
    asym = asymptotic_branch(setup, etas)
    limit = plateau_small_eta(setup)
    return {"setup": setup.to_dict(), "eta": etas.tolist(), "plateau_eps_g": plateau_eps,
            "escape_rate": escape, "decay_rate": asym["decay_rate"],
            "asymptotic_eps_g": asym["eps_g"], "eta_max": eta_max, "eta_opt": eta_opt,
            "decay_rate_opt": gamma_opt, "plateau_eps_g_small_eta": limit["eps_g"],
            "escape_rate_per_eta_small_eta": limit["escape_rate_per_eta"]}


def plot_stability_curves(d: dict[str, Any], axes: Sequence[Axes]) -> None:
    """Three panels: plateau eps_g, escape rate, decay rate against eta."""
    eta = np.asarray(d["eta"])
    axes[0].plot(eta, d["plateau_eps_g"], "-", label="symmetric plateau")
    axes[0].axhline(d["plateau_eps_g_small_eta"], color="0.6", ls="--", lw=0.8,
                    label="plateau, eta -> 0")
    if d["setup"].get("sigma", 0.0) > 0:
        axes[0].plot(eta, d["asymptotic_eps_g"], "-", label="asymptotic (output noise)")
    axes[0].set(xlabel="eta", ylabel="eps_g at the fixed point", title="fixed points")
    axes[1].plot(eta, d["escape_rate"], "-", label="escape rate (r - s eigenvalue)")
    axes[1].plot(eta, eta * d["escape_rate_per_eta_small_eta"], ":", color="0.5",
                 label="small-eta slope")
    axes[1].set(xlabel="eta", ylabel="lambda", title="escape from the plateau")
    axes[2].plot(eta, d["decay_rate"], "-", label="branch from perfect learning")
    axes[2].axvline(d["eta_max"], color="C3", ls="--", lw=0.8,
                    label=f"eta_max = {d['eta_max']:.4g}")
    axes[2].axvline(d["eta_opt"], color="C2", ls=":", lw=0.8,
                    label=f"eta_opt = {d['eta_opt']:.4g}")
    axes[2].axhline(0.0, color="0.6", lw=0.8)
    axes[2].set(xlabel="eta", ylabel="gamma = -Re lambda_max at perfect learning",
                title="asymptotic convergence")
    for ax in axes:
        ax.legend(fontsize=8)
