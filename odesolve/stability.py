"""Plateaus, escape rates and learning-rate limits from the derived equations (issue 7).

For a soft committee machine with K = M, an orthonormal teacher (T = I, v* = 1) and erf or
linear units, in the symmetric ansatz of :mod:`odesolve.fixedpoint`:

- :func:`plateau`: the symmetric plateau (r = s) at finite eta, followed from small eta by
  continuation; its eps_g and its unstable eigenvalue, the *escape rate*: a perturbation of
  size delta along the unstable direction grows as delta e^{lambda t}, so the time to leave
  the plateau is ``(1/lambda) ln(1/delta) + const`` (Saad & Solla 1995; Biehl, Riegler &
  Woehler 1996);
- :func:`plateau_small_eta`: the eta -> 0 limit of the plateau, Richardson-extrapolated from
  two small learning rates (the eta -> 0 equations alone leave a neutral direction at the
  plateau, which the O(eta^2) terms fix);
- :func:`perfect_learning`: the perfect-learning fixed point (q = r = 1, c = s = 0; moved by
  output noise), whose leading eigenvalue sets the asymptotic decay ``eps_g ~ e^{-2 gamma t}``
  with decay rate ``gamma = -Re lambda_max``;
- :func:`max_learning_rate`: the eta above which perfect learning is unstable (Re lambda_max
  crosses 0), bracketed on a grid and refined by Brent's method;
- :func:`optimal_learning_rate`: the eta in (0, eta_max) that maximises gamma;
- :func:`stability_curves`: all of these against eta, for ``odesolve stability`` and its
  figure.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from .fixedpoint import FixedPoint, NewtonError, continuation, fixed_point, full_spectrum
from .model import TeacherStudent

__all__ = ["plateau", "plateau_small_eta", "escape_rate", "perfect_learning", "decay_rate",
           "max_learning_rate", "optimal_learning_rate", "stability_curves",
           "plot_stability_curves"]


def _check(setup: TeacherStudent):
    if setup.K != setup.M:
        raise ValueError(f"the symmetric analysis needs K = M, got K={setup.K}, M={setup.M}.")
    if setup.eta <= 0:
        raise ValueError(f"eta must be positive, got {setup.eta}.")


def _with(setup, **kw):
    """The setup with some fields replaced (``eta_v=None`` keeps following eta)."""
    return dataclasses.replace(setup, **kw)


def plateau(setup: TeacherStudent, eta_start: float = 0.01, n_steps: int = 12,
            tol: float = 1e-14) -> FixedPoint:
    """The symmetric plateau at ``setup.eta``, followed by continuation from ``eta_start``
    (geometric ladder of ``n_steps``), starting from the eta -> 0 equations.

    The plateau has a soft direction whose eigenvalue is O(eta^2) (it is neutral in the
    eta -> 0 equations), so the residual tolerance must be tight: an error ``tol`` in
    dx/dt moves the point by about tol / eta^2 along it.
    """
    _check(setup)
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
    """The largest real part of the Jacobian's eigenvalues (> 0 on the plateau)."""
    return float(fp.eigenvalues[0].real)


def plateau_small_eta(setup: TeacherStudent, eta: float = 0.02) -> dict:
    """The eta -> 0 plateau: fixed points at eta, eta/2 and eta/4, Richardson-extrapolated
    (removing the O(eta) and O(eta^2) shifts). Returns the coordinates, eps_g and the escape
    rate per unit eta."""
    _check(setup)
    fps = [plateau(_with(setup, eta=eta / m)) for m in (1, 2, 4)]

    def extrapolate(v):                        # v at eta, eta/2, eta/4 -> value at 0
        return (8 * v[2] - 6 * v[1] + v[0]) / 3

    return {"variables": list(fps[0].variables),
            "x": extrapolate([fp.x for fp in fps]).tolist(),
            "eps_g": float(extrapolate([fp.eps_g for fp in fps])),
            "escape_rate_per_eta": float(extrapolate(
                [escape_rate(fp) / (eta / m) for fp, m in zip(fps, (1, 2, 4))]))}


def perfect_learning(setup: TeacherStudent) -> FixedPoint:
    """The perfect-learning fixed point (exactly q = r = 1, c = s = 0 without noise)."""
    _check(setup)
    return fixed_point(setup, "perfect")


def decay_rate(setup: TeacherStudent, full: bool = False) -> float:
    """gamma = -Re lambda_max at perfect learning (negative when it is unstable). ``full``:
    use the full Jacobian, not only the symmetric ansatz."""
    fp = perfect_learning(setup)
    lead = full_spectrum(fp)[0] if full else fp.leading
    return float(-lead.real)


def max_learning_rate(setup: TeacherStudent, eta_grid=None, full: bool = False) -> float:
    """Smallest eta at which perfect learning loses stability (Re lambda_max = 0)."""
    _check(setup)
    grid = np.geomspace(0.05, 50.0, 60) if eta_grid is None else np.asarray(eta_grid)

    def growth(eta):
        return -decay_rate(_with(setup, eta=float(eta)), full=full)

    g = [growth(e) for e in grid]
    for k in range(1, len(grid)):
        if g[k - 1] < 0 <= g[k]:
            return float(brentq(growth, grid[k - 1], grid[k], xtol=1e-12, rtol=1e-12))
    raise ValueError(f"perfect learning is stable on the whole grid "
                     f"[{grid[0]:g}, {grid[-1]:g}]; no maximal learning rate found there.")


def optimal_learning_rate(setup: TeacherStudent, eta_max: float | None = None) -> tuple:
    """The eta maximising the asymptotic decay rate gamma; returns (eta_opt, gamma_opt)."""
    eta_max = max_learning_rate(setup) if eta_max is None else eta_max
    res = minimize_scalar(lambda e: -decay_rate(_with(setup, eta=float(e))),
                          bounds=(1e-3 * eta_max, eta_max), method="bounded",
                          options={"xatol": 1e-9 * eta_max})
    return float(res.x), float(-res.fun)


def stability_curves(setup: TeacherStudent, etas=None, n_eta: int = 40) -> dict:
    """Plateau eps_g, escape rate and asymptotic decay rate against eta (default: ``n_eta``
    points up to 1.1 eta_max), with eta_max and eta_opt, for ``odesolve stability``."""
    _check(setup)
    eta_max = max_learning_rate(setup)
    eta_opt, gamma_opt = optimal_learning_rate(setup, eta_max)
    etas = (np.linspace(0.02, 1.1, n_eta) * eta_max) if etas is None else np.asarray(etas)
    small = plateau(_with(setup, eta=float(etas[0])))
    branch = [small] + continuation(_with(setup, eta=float(etas[0])), small, etas[1:], "eta")
    plateau_eps = [fp.eps_g if fp is not None else np.nan for fp in branch]
    escape = [escape_rate(fp) if fp is not None else np.nan for fp in branch]
    decay = [decay_rate(_with(setup, eta=float(e))) for e in etas]
    limit = plateau_small_eta(setup)
    return {"setup": setup.to_dict(), "eta": etas.tolist(), "plateau_eps_g": plateau_eps,
            "escape_rate": escape, "decay_rate": decay, "eta_max": eta_max,
            "eta_opt": eta_opt, "decay_rate_opt": gamma_opt,
            "plateau_eps_g_small_eta": limit["eps_g"],
            "escape_rate_per_eta_small_eta": limit["escape_rate_per_eta"]}


def plot_stability_curves(d: dict, axes):
    """Three panels: plateau eps_g, escape rate, decay rate against eta."""
    eta = np.asarray(d["eta"])
    axes[0].plot(eta, d["plateau_eps_g"], "-")
    axes[0].axhline(d["plateau_eps_g_small_eta"], color="0.6", ls="--", lw=0.8,
                    label="eta -> 0")
    axes[0].set(xlabel="eta", ylabel="plateau eps_g", title="symmetric plateau")
    axes[1].plot(eta, d["escape_rate"], "-", label="escape rate (unstable eigenvalue)")
    axes[1].plot(eta, eta * d["escape_rate_per_eta_small_eta"], ":", color="0.5",
                 label="small-eta slope")
    axes[1].set(xlabel="eta", ylabel="lambda", title="escape from the plateau")
    axes[2].plot(eta, d["decay_rate"], "-")
    axes[2].axvline(d["eta_max"], color="C3", ls="--", lw=0.8,
                    label=f"eta_max = {d['eta_max']:.4g}")
    axes[2].axvline(d["eta_opt"], color="C2", ls=":", lw=0.8,
                    label=f"eta_opt = {d['eta_opt']:.4g}")
    axes[2].axhline(0.0, color="0.6", lw=0.8)
    axes[2].set(xlabel="eta", ylabel="gamma = -Re lambda_max at perfect learning",
                title="asymptotic convergence")
    for ax in axes:
        ax.legend(fontsize=8)
