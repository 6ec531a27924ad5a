"""Figures of trajectories: eps_g(t) and the order parameters.

Failed members, blown-up values and round-off
---------------------------------------------
Every figure of odesolve (trajectories here, sweeps in :mod:`odesolve.sweeps.plots`, the
ODE-versus-simulation figure in :mod:`odesolve.comparison`) treats diverged members with the
helpers of this module, by one rule:

- A member with ``status != 0`` is drawn up to its last finite value in the failure style
  (:data:`FAILED_STYLE`, dashed) and its failure time ``t_fail`` is marked with a cross at its
  last drawn value (held inside the frame); the title or legend says how many members failed.
- The value axis is set by the finite values of the *successful* members. A failed member's
  values count for the axis only while their magnitude stays within :data:`FAILED_SPAN` times
  the largest magnitude of the successful ones (2 on a linear axis, 10 on a log axis), so
  values that blew up before the failure (1e304 and the like) never set the scale: the curve
  leaves the frame. When no member succeeded, the reference magnitude is that of the values at
  the first time and the allowance :data:`FAILED_SPAN_START` (100 on a linear axis, 1e12 on a
  log axis: the blow-up stays visible over twelve decades) (:func:`view_limits`).
- On a logarithmic value axis, values below :data:`LOG_FLOOR` times the largest magnitude at
  the first time (the scale of the start, which sets the round-off of eps_g) are drawn at that
  floor: eps_g >= 0 by definition, and what lies below is round-off around zero (eps_g = -5e-13
  at perfect learning), which must not empty a log axis.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, TypeVar, overload

import numpy as np
from numpy.typing import ArrayLike

from .io import atomic_path

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.typing import ColorType

    from .trajectory import Trajectory

#: a path given to a figure function, returned unchanged once the figure is written
PathT = TypeVar("PathT", bound="os.PathLike[str] | str")

__all__ = ["plot_trajectory", "save_figure", "view_limits", "clip_to_view", "set_view",
           "draw_member", "mark_failure", "failure_handle", "LOG_FLOOR", "FAILED_SPAN",
           "FAILED_SPAN_START"]

#: on log value axes, values below LOG_FLOOR * (largest |value| at the first time) are drawn at
#: that floor (relative round-off of float64)
LOG_FLOOR = 1e-16
#: failed members' values count for the axis limits while |value| <= FAILED_SPAN[scale] *
#: (largest |value| of the successful members), scale "linear" or "log"
FAILED_SPAN = {"linear": 2.0, "log": 10.0}
#: ... or, when no member succeeded, while |value| <= FAILED_SPAN_START[scale] * (largest
#: |value| at the first time)
FAILED_SPAN_START = {"linear": 100.0, "log": 1e12}
#: line style of failed members (colour kept)
FAILED_STYLE = {"ls": "--", "lw": 0.9}
#: marker of a failure time
FAIL_MARKER = {"marker": "x", "ms": 7, "mew": 1.6, "ls": "none"}
#: beyond the frame, drawn values are clipped this many frame heights (or decades) away, so that
#: no transform overflows and lines still leave the frame at the right angle
_OUTSIDE = 1e3
#: nothing larger in magnitude is drawn (matplotlib's autoscaling overflows near 1e308)
_DRAWABLE = 1e200


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def view_limits(values: ArrayLike, ok: ArrayLike, log: bool = False) -> tuple[float, float] | None:
    """Limits of a value axis by the rule of the module docstring.

    Parameters
    ----------
    values : array_like, shape (B, n, ...)
        Member, time, then any components; NaN after a failure.
    ok : array_like of bool, shape (B,)
        The member succeeded (``status == 0``).
    log : bool
        Logarithmic axis: values are clipped at the floor ``LOG_FLOOR`` times the largest
        magnitude at the first time (the top of the view when that is 0), so the lower limit
        is at least that floor.

    Returns
    -------
    (lo, hi) : tuple of float, or None
        None when no finite value is in view.

    Examples
    --------
    >>> import numpy as np
    >>> good = [[1.0, 0.5, 0.2]]
    >>> blown = [[1.0, 3.0, 1e304]]
    >>> view_limits(np.array(good + blown), [True, False])
    (0.2, 1.0)
    """
    v = np.asarray(values, dtype=np.float64)
    ok = np.asarray(ok, dtype=bool).reshape(-1)
    if v.ndim < 2 or ok.shape != v.shape[:1]:
        raise ValueError(f"`values` must have shape (B, n, ...) and `ok` shape (B,); got "
                         f"{v.shape} and {ok.shape}.")
    flat = v.reshape(v.shape[0], -1)
    scale = "log" if log else "linear"
    good = flat[ok]
    good = good[np.isfinite(good)]
    if good.size:
        ref, span = np.max(np.abs(good)), FAILED_SPAN[scale]
    else:
        start = v[:, 0].ravel()
        start = start[np.isfinite(start)]
        ref = np.max(np.abs(start)) if start.size else 0.0
        span = FAILED_SPAN_START[scale]
    ref = ref if ref > 0 else 1.0
    bad = flat[~ok]
    bad = bad[np.isfinite(bad) & (np.abs(bad) <= span * ref)]
    x = np.concatenate([good, bad])
    if not x.size:
        return None
    if log:
        start = np.abs(v[:, 0])
        start = start[np.isfinite(start)]
        scale = float(start.max()) if start.size and start.max() > 0 else float(np.abs(x).max())
        x = np.maximum(x, LOG_FLOOR * (scale if scale > 0 else 1.0))
    return (float(np.clip(x.min(), -_DRAWABLE, _DRAWABLE)),
            float(np.clip(x.max(), -_DRAWABLE, _DRAWABLE)))


def clip_to_view(y: ArrayLike, lim: tuple[float, float] | None, log: bool = False) -> np.ndarray:
    """Values as drawn: on a log axis raised to the bottom of the view (the round-off floor,
    when values reach it); far above or below the view (beyond ``_OUTSIDE`` frame heights, or
    that factor on a log axis) clipped; NaN kept.

    Parameters
    ----------
    y : array_like
    lim : (lo, hi) or None
        From :func:`view_limits`; None: only non-positive values are dropped on a log axis.
    log : bool
    """
    y = np.clip(np.asarray(y, dtype=np.float64), -_DRAWABLE, _DRAWABLE)
    if lim is None:
        return np.where(y > 0, y, np.nan) if log else y
    lo, hi = lim
    if log:
        return np.clip(y, lo, min(hi * _OUTSIDE, _DRAWABLE))
    height = hi - lo if hi > lo else max(abs(hi), 1.0)
    return np.clip(y, max(lo - _OUTSIDE * height, -_DRAWABLE),
                   min(hi + _OUTSIDE * height, _DRAWABLE))


def set_view(ax: Axes, lim: tuple[float, float] | None, log: bool = False) -> None:
    """Set the y scale and the limits ``lim`` (with a 5 % margin; nothing when None)."""
    ax.set_yscale("log" if log else "linear")
    if lim is None:
        return
    lo, hi = lim
    if log:
        a, b = np.log10(lo), np.log10(hi)
        pad = 0.05 * (b - a) if b > a else 0.5
        top = np.log10(_DRAWABLE) + 10.0
        ax.set_ylim(10.0 ** max(a - pad, -top), 10.0 ** min(b + pad, top))
    else:
        pad = 0.05 * (hi - lo) if hi > lo else 0.05 * (abs(hi) or 1.0)
        ax.set_ylim(lo - pad, hi + pad)


def draw_member(ax: Axes, t: np.ndarray, y: ArrayLike, failed: bool = False,
                t_fail: float = np.nan, lim: tuple[float, float] | None = None,
                log: bool = False, **style: Any) -> Line2D:
    """Draw one curve; a failed member in the failure style, its failure time marked.

    Parameters
    ----------
    ax : matplotlib Axes
    t : ndarray, shape (n,)
    y : array_like, shape (n,)
    failed : bool
        The member's status is not 0.
    t_fail : float
        Its failure time (NaN: the time of its last finite value).
    lim : (lo, hi), optional
        The view (:func:`view_limits`): values are clipped to it for drawing
        (:func:`clip_to_view`) and the failure cross is held inside it.
    log : bool
        The value axis is logarithmic.
    **style
        Passed to ``ax.plot``.

    Returns
    -------
    matplotlib.lines.Line2D
    """
    y = clip_to_view(y, lim, log)
    if not failed:
        return ax.plot(t, y, **style)[0]
    line = ax.plot(t, y, **{**style, **FAILED_STYLE})[0]
    mark_failure(ax, t, y, t_fail, lim, line.get_color())
    return line


def mark_failure(ax: Axes, t: np.ndarray, y: np.ndarray, t_fail: float,
                 lim: tuple[float, float] | None, color: ColorType) -> None:
    """A cross at the failure time ``t_fail`` (NaN: the time of the last finite value of
    ``y``), at the last finite value of ``y`` held inside the view ``lim``; at the top of the
    view when the member failed before its first drawn value (a blow-up leaves the frame)."""
    finite = np.flatnonzero(np.isfinite(y))
    if not finite.size and lim is None:
        return
    tf = t_fail if np.isfinite(t_fail) else t[finite[-1]] if finite.size else t[0]
    yf = y[finite[-1]] if finite.size else lim[1]
    if lim is not None:
        yf = min(max(yf, lim[0]), lim[1])
    ax.plot([tf], [yf], color=color, **FAIL_MARKER)


def failure_handle(n_failed: int, n_total: int, colour: ColorType = "0.3") -> Line2D:
    """A legend entry for failed members: "k of n diverged (dashed; x: failure time)"."""
    from matplotlib.lines import Line2D

    return Line2D([], [], color=colour, marker="x", **{**FAILED_STYLE, "ls": "--"},
                  label=f"{n_failed} of {n_total} diverged (dashed; x: failure time)")


@overload
def plot_trajectory(traj: Trajectory, path: None = None, title: str | None = None,
                    member: int = 0) -> Figure: ...


@overload
def plot_trajectory(traj: Trajectory, path: PathT, title: str | None = None,
                    member: int = 0) -> PathT: ...


def plot_trajectory(traj: Trajectory, path: os.PathLike[str] | str | None = None,
                    title: str | None = None, member: int = 0) -> Figure | os.PathLike[str] | str:
    """Plot eps_g(t) (log-log) and the overlaps R, Q and readouts v against t.

    Diverged members are drawn up to their failure, dashed, with the failure time marked; the
    axes are scaled by the successful members (module docstring).

    Parameters
    ----------
    traj : Trajectory
        For a batched trajectory, ``member`` is plotted (eps_g of up to 50 members in grey,
        failed ones dashed red).
    path : str or Path, optional
        Where to save the figure (written atomically); otherwise the figure is returned.
    title : str, optional
        Figure title; default the setup.
    member : int
        Member shown in the overlap panels of a batched trajectory.

    Returns
    -------
    str or Path or matplotlib.figure.Figure
        ``path`` as given once the figure is written there; without a path the figure.
    """
    plt = _pyplot()
    one = traj.member(member) if traj.is_batched else traj
    t = one.t
    K, M = one.R.shape[-2:]
    failed, t_fail = not bool(one.success), float(one.t_fail)
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8), constrained_layout=True)
    _eps_panel(axes[0], traj, one, failed, t_fail)
    panels = [("R", [(i, n) for i in range(K) for n in range(M)], "R_{%d%d}",
               "student-teacher overlaps R"),
              ("Q", [(i, k) for i in range(K) for k in range(i, K)], "Q_{%d%d}",
               "student-student overlaps Q"),
              ("v", [(i,) for i in range(K)], "v_{%d}", "readouts v")]
    for ax, (name, index, fmt, panel_title) in zip(axes[1:], panels):
        values = getattr(one, name)
        lim = view_limits(values[None], [not failed])
        for ij in index:
            draw_member(ax, t, values[(slice(None),) + ij], failed, t_fail, lim,
                        label="$" + fmt % tuple(x + 1 for x in ij) + "$")
        ax.set(xscale="log", xlabel="t", title=panel_title)
        set_view(ax, lim)
    for ax in axes[1:]:
        handles = ax.get_legend_handles_labels()[0]
        if handles and len(handles) <= 12:
            ax.legend(fontsize=7, ncol=2)
    s = traj.setup
    text = title or (f"{s.activation_name}, K={s.K}, M={s.M}, eta={s.eta:g}, "
                     f"eta_v={s.eta_readout:g}, sigma={s.sigma:g}, kappa={s.weight_decay:g}")
    if failed:
        text += f" -- diverged at t = {t_fail:.4g} (status {int(one.status)})"
    fig.suptitle(text)
    return save_figure(fig, path)


def _eps_panel(ax, traj, one, failed, t_fail):
    """eps_g of every member (grey; failed ones dashed red) and of the shown one (black)."""
    t = one.t
    if traj.is_batched:
        eps, ok, tf = traj.eps_g, np.atleast_1d(traj.success), np.atleast_1d(traj.t_fail)
    else:
        eps, ok, tf = one.eps_g[None], np.array([not failed]), np.array([t_fail])
    lim = view_limits(eps, ok, log=True)           # t = 0 included: the start scale
    if traj.is_batched:
        for b in range(min(eps.shape[0], 50)):
            draw_member(ax, t[1:], eps[b, 1:], not ok[b], tf[b], lim, log=True,
                        color="0.8" if ok[b] else "tab:red", lw=0.7)
    draw_member(ax, t[1:], one.eps_g[1:], failed, t_fail, lim, log=True, color="k")
    ax.set(xscale="log", xlabel="t (examples / N)", ylabel=r"$\epsilon_g$",
           title="generalisation error")
    set_view(ax, lim, log=True)
    n_bad = int((~ok).sum())
    if n_bad:
        ax.legend(handles=[failure_handle(n_bad, ok.size)], fontsize=7, loc="best")


@overload
def save_figure(fig: Figure, path: None = None, dpi: int = 120) -> Figure: ...


@overload
def save_figure(fig: Figure, path: PathT, dpi: int = 120) -> PathT: ...


def save_figure(fig: Figure, path: os.PathLike[str] | str | None = None,
                dpi: int = 120) -> Figure | os.PathLike[str] | str:
    """Write ``fig`` atomically to ``path`` (format from the suffix), close it and return the
    path; without a path return the figure unchanged."""
    if path is None:
        return fig
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=str(path).rsplit(".", 1)[-1])
    _pyplot().close(fig)
    return path
