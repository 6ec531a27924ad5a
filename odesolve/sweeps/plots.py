"""Figures of a sweep: heatmaps of an observable over two swept parameters, overlaid eps_g.

Diverged members (``status != 0``) follow the rule of :mod:`odesolve.plotting`: in the eps_g
curves they are dashed up to their failure, whose time is marked with a cross, and the axes are
scaled by the successful members; a heatmap reduces the successful members only and marks the
cells where members failed (hatched: all of them; a red triangle and the failed fraction: some),
with a note in the title and legend. The eps_g observables (>= 0 by definition) are clipped at
``LOG_FLOOR`` times the largest eps_g at t = 0 (round-off around zero), so that a value of
-5e-13 at perfect learning does not prevent a logarithmic colour scale.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, overload

import numpy as np

from ..observables import OBSERVABLES
from ..plotting import (LOG_FLOOR, draw_member, failure_handle, save_figure, set_view,
                        view_limits)
from .result import Reduction, SweepResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..plotting import PathT

__all__ = ["plot_heatmap", "plot_curves", "plot_sweep"]


def _axes_pair(result: SweepResult, x: str | None, y: str | None) -> tuple[str, str]:
    grid = list(result.dims[:-1])
    if x is None or y is None:
        free = [d for d in grid if len(result.coords[d]) > 1] or grid
        if len(free) < 2:
            raise ValueError(f"a heatmap needs two swept axes; this sweep has {grid}.")
        x, y = x or free[-1], y or [d for d in free if d != (x or free[-1])][0]
    for name in (x, y):
        if name not in grid:
            raise ValueError(f"unknown axis {name!r}; the sweep's axes are {grid}.")
    return x, y


@overload
def plot_heatmap(result: SweepResult, observable: str = "eps_g_final", x: str | None = None,
                 y: str | None = None, how: Reduction = "median", path: None = None,
                 log_color: bool | None = None) -> Figure: ...


@overload
def plot_heatmap(result: SweepResult, observable: str = "eps_g_final", x: str | None = None,
                 y: str | None = None, how: Reduction = "median", *, path: PathT,
                 log_color: bool | None = None) -> PathT: ...


@overload
def plot_heatmap(result: SweepResult, observable: str, x: str | None, y: str | None,
                 how: Reduction, path: PathT, log_color: bool | None = None) -> PathT: ...


def plot_heatmap(result: SweepResult, observable: str = "eps_g_final", x: str | None = None,
                 y: str | None = None, how: Reduction = "median",
                 path: os.PathLike[str] | str | None = None,
                 log_color: bool | None = None) -> Figure | os.PathLike[str] | str:
    """Heatmap of an observable over two swept parameters.

    The observable of the *successful* members is reduced (``how``: median, mean, min, max or
    fraction_finite) over the replicas and over every other swept axis; cells where every
    member diverged are hatched, cells where some did get a red triangle and the failed
    fraction (module docstring).

    Parameters
    ----------
    result : SweepResult
    observable : str
        A key of ``result.data`` of shape ``grid + (replicas,)``.
    x, y : str, optional
        Axis names; default the last two axes with more than one value.
    how : {"median", "mean", "min", "max", "fraction_finite"}
        Reduction over the replicas and the other axes (:meth:`SweepResult.reduce`).
    path : str or Path, optional
        Save there (atomically) and return the path as given; otherwise return the figure.
    log_color : bool, optional
        Log colour scale; default for positive data spanning more than two decades (for the
        eps_g observables after clipping at the round-off floor, module docstring).

    Returns
    -------
    str or Path or matplotlib.figure.Figure
    """
    from matplotlib.colors import LogNorm

    from ..plotting import _pyplot

    if observable not in result.data or result.data[observable].ndim != len(result.dims):
        scalars = [k for k, v in result.data.items() if v.ndim == len(result.dims)]
        raise ValueError(f"unknown observable {observable!r}; choose from {scalars}.")
    x, y = _axes_pair(result, x, y)
    others = [d for d in result.dims if d not in (x, y)]
    z = result.reduce(observable, how, over=others, successful_only=True)
    failed = result.reduce_failed(over=others)                   # fraction of members failed
    if result.dims.index(x) < result.dims.index(y):
        z, failed = z.T, failed.T                                # rows y, columns x
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.0), constrained_layout=True)
    xs, ys = np.arange(len(result.coords[x])), np.arange(len(result.coords[y]))
    if observable.startswith("eps_g"):
        z = np.maximum(z, LOG_FLOOR * _start_scale(result))     # round-off around zero
    finite = z[np.isfinite(z)]
    if log_color is None:
        log_color = finite.size > 0 and finite.min() > 0 and finite.max() > 100 * finite.min()
    norm = LogNorm(finite.min(), finite.max()) if log_color and finite.size else None
    im = ax.pcolormesh(xs, ys, np.ma.masked_invalid(z), shading="nearest", norm=norm,
                       cmap="viridis")
    ax.set_xticks(xs, [f"{v:g}" if isinstance(v, (int, float, np.number)) else str(v)
                       for v in result.coords[x]], rotation=45 if len(xs) > 8 else 0)
    ax.set_yticks(ys, [f"{v:g}" if isinstance(v, (int, float, np.number)) else str(v)
                       for v in result.coords[y]])
    ax.set(xlabel=x, ylabel=y)
    fig.colorbar(im, ax=ax, label=f"{how} {observable}")
    if np.isnan(z[failed < 1]).any():
        ax.text(0.01, 0.01, "blank: undefined (never reached)", fontsize=7,
                transform=ax.transAxes)
    note = _mark_failed_cells(ax, failed)
    what = f"{observable}: {OBSERVABLES[observable]}\n" if observable in OBSERVABLES else ""
    ax.set_title(f"{what}{how} over {', '.join(others)} (successful members){note}",
                 fontsize=9)
    return save_figure(fig, path)


def _start_scale(result: SweepResult) -> float:
    """Largest |eps_g| at t = 0 over the members (the scale that sets eps_g's round-off);
    from the curves when kept, else from eps_g_min (at most eps_g(0)); 1 when unknown."""
    if "eps_g" in result.data:
        start = np.take(result.data["eps_g"], 0, axis=len(result.dims))
    else:
        start = result.data.get("eps_g_min", np.array([]))
    start = np.abs(start[np.isfinite(start)])
    return float(start.max()) if start.size and start.max() > 0 else 1.0


def _mark_failed_cells(ax: Axes, failed: np.ndarray) -> str:
    """Hatch the cells where every member failed; a red triangle and the failed fraction where
    some did. Returns a note for the title ("" when nothing failed)."""
    from matplotlib.patches import Rectangle

    rows, cols = np.nonzero(failed >= 1)
    for i, j in zip(rows, cols):
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="xx",
                               edgecolor="tab:red", lw=0.0, label="all diverged"
                               if i == rows[0] and j == cols[0] else None))
    rows_p, cols_p = np.nonzero((failed > 0) & (failed < 1))
    if rows_p.size:
        ax.plot(cols_p - 0.35, rows_p + 0.3, "^", color="tab:red", ms=6, ls="none",
                label="some diverged (fraction)")
        for i, j in zip(rows_p, cols_p):
            ax.text(j - 0.25, i + 0.3, f"{failed[i, j]:.0%}", color="tab:red", fontsize=7,
                    va="center")
    if not rows.size and not rows_p.size:
        return ""
    ax.legend(fontsize=7, loc="upper right", framealpha=0.8)
    return (f"\ndiverged: all members in {rows.size} cell(s) (hatched), some in "
            f"{rows_p.size} (triangle)")


@overload
def plot_curves(result: SweepResult, colour_by: str | None = None, path: None = None,
                max_curves: int = 400) -> Figure: ...


@overload
def plot_curves(result: SweepResult, colour_by: str | None = None, *, path: PathT,
                max_curves: int = 400) -> PathT: ...


@overload
def plot_curves(result: SweepResult, colour_by: str | None, path: PathT,
                max_curves: int = 400) -> PathT: ...


def plot_curves(result: SweepResult, colour_by: str | None = None,
                path: os.PathLike[str] | str | None = None,
                max_curves: int = 400) -> Figure | os.PathLike[str] | str:
    """eps_g(t) of the members, overlaid and coloured by one swept parameter (log-log).

    Diverged members are dashed up to their failure, marked with a cross at the failure time,
    and do not set the axis limits (module docstring).

    Parameters
    ----------
    result : SweepResult
        Must hold the curves (``keep="eps_g"``).
    colour_by : str, optional
        Axis whose value sets the colour; default the first axis with more than one value.
    path : str or Path, optional
        Save there (atomically) and return the path as given; otherwise return the figure.
    max_curves : int
        At most this many curves of successful members and this many of failed ones (evenly
        thinned).

    Returns
    -------
    str or Path or matplotlib.figure.Figure
    """
    from ..plotting import _pyplot

    if "eps_g" not in result.data:
        raise ValueError("this sweep kept no eps_g curves (keep='summary').")
    grid = list(result.dims[:-1])
    colour_by = colour_by or next((d for d in grid if len(result.coords[d]) > 1), grid[0])
    if colour_by not in grid:
        raise ValueError(f"unknown axis {colour_by!r}; the sweep's axes are {grid}.")
    ax_i = result.dims.index(colour_by)
    eps = result.data["eps_g"]
    task_note = ""
    if eps.ndim == len(result.dims) + 2:                         # protocol sweeps: (..., n_t, P)
        eps, task_note = eps[..., 0], " (task 1)"
    t = result.t
    n_c = len(result.coords[colour_by])
    eps = np.moveaxis(eps, ax_i, 0).reshape(n_c, -1, t.size)    # (n_c, members, n_t)
    ok = np.moveaxis(result.success, ax_i, 0).reshape(n_c, -1)
    t_fail = np.moveaxis(result.data["t_fail"], ax_i, 0).reshape(n_c, -1)
    lim = view_limits(eps.reshape(-1, t.size), ok.ravel(), log=True)
    plt = _pyplot()
    cmap = plt.get_cmap("viridis")
    fig, ax = plt.subplots(figsize=(7.0, 4.6), constrained_layout=True)
    pos = t > 0
    per = max(1, max_curves // n_c)
    for c in range(n_c):
        colour = cmap(c / max(n_c - 1, 1))
        label = f"{colour_by} = {result.coords[colour_by][c]}"
        for members in (np.flatnonzero(ok[c]), np.flatnonzero(~ok[c])):
            for m in members[::max(1, members.size // per)]:
                draw_member(ax, t[pos], eps[c, m, pos], not ok[c, m], t_fail[c, m], lim,
                            log=True, color=colour, lw=0.7, alpha=0.6, label=label)
                label = None
    ax.set(xscale="log", xlabel="t (examples / N)", ylabel=r"$\epsilon_g$" + task_note)
    set_view(ax, lim, log=True)
    n_bad = int((~ok).sum())
    title = f"{ok.size} members, coloured by {colour_by}"
    if n_bad:
        title += f"; {n_bad} diverged (dashed, x: failure time)"
    ax.set_title(title)
    handles = ax.get_legend_handles_labels()[0]
    if n_bad:
        handles.append(failure_handle(n_bad, ok.size))
    ax.legend(handles=handles, fontsize=7, ncol=2)
    return save_figure(fig, path)


def plot_sweep(result: SweepResult, path: os.PathLike[str] | str,
               observable: str = "t_specialise", how: Reduction = "median") -> list[Path]:
    """The default figures of ``odesolve sweep``/``odesolve plot``: a heatmap (when two axes
    vary) and the eps_g curves, saved as ``<path>-<observable>.png`` and ``<path>-eps_g.png``.

    Diverged members are handled as in :func:`plot_heatmap` and :func:`plot_curves`.

    Parameters
    ----------
    result : SweepResult
    path : str or Path
        Base name of the figures (a suffix is dropped).
    observable : str
        Observable of the heatmap (:func:`plot_heatmap`).
    how : {"median", "mean", "min", "max", "fraction_finite"}
        Its reduction.

    Returns
    -------
    list of Path
    """
    base = Path(path).with_suffix("")
    out = []
    varying = [d for d in result.dims[:-1] if len(result.coords[d]) > 1]
    if len(varying) >= 2:
        out.append(plot_heatmap(result, observable, how=how,
                                path=base.with_name(f"{base.name}-{observable}.png")))
    if "eps_g" in result.data:
        out.append(plot_curves(result, path=base.with_name(f"{base.name}-eps_g.png")))
    return out

