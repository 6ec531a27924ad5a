"""Figures of a sweep: heatmaps of an observable over two swept parameters, overlaid eps_g."""
from __future__ import annotations

import numpy as np

from ..plotting import save_figure
from ..observables import OBSERVABLES
from .result import SweepResult

__all__ = ["plot_heatmap", "plot_curves", "plot_sweep"]


def _axes_pair(result: SweepResult, x, y):
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


def plot_heatmap(result: SweepResult, observable: str = "eps_g_final", x=None, y=None,
                 how: str = "median", path=None, log_color=None):
    """Heatmap of an observable over two swept parameters.

    The observable is reduced (``how``: median, mean, min, max or fraction_finite) over the
    replicas and over every other swept axis. Axes with log-spaced values get log ticks.

    Parameters
    ----------
    result : SweepResult
    observable : str
        A key of ``result.data`` of shape ``grid + (replicas,)``.
    x, y : str, optional
        Axis names; default the last two axes with more than one value.
    how : str
    path : str or Path, optional
        Save there (atomically) and return the path; otherwise return the figure.
    log_color : bool, optional
        Log colour scale; default for positive data spanning more than two decades.
    """
    from matplotlib.colors import LogNorm

    from ..plotting import _pyplot

    if observable not in result.data or result.data[observable].ndim != len(result.dims):
        scalars = [k for k, v in result.data.items() if v.ndim == len(result.dims)]
        raise ValueError(f"unknown observable {observable!r}; choose from {scalars}.")
    x, y = _axes_pair(result, x, y)
    others = [d for d in result.dims if d not in (x, y)]
    z = result.reduce(observable, how, over=others)             # axes (.. x .. y ..) in order
    if result.dims.index(x) < result.dims.index(y):
        z = z.T                                                  # rows y, columns x
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.0), constrained_layout=True)
    xs, ys = np.arange(len(result.coords[x])), np.arange(len(result.coords[y]))
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
    if np.isnan(z).any():
        ax.text(0.01, 0.01, "blank: undefined (never reached, or diverged)", fontsize=7,
                transform=ax.transAxes)
    what = f"{observable}: {OBSERVABLES[observable]}\n" if observable in OBSERVABLES else ""
    ax.set_title(f"{what}{how} over {', '.join(others)}", fontsize=9)
    return save_figure(fig, path)


def plot_curves(result: SweepResult, colour_by=None, path=None, max_curves: int = 400):
    """eps_g(t) of the members, overlaid and coloured by one swept parameter (log-log).

    Parameters
    ----------
    result : SweepResult
        Must hold the curves (``keep="eps_g"``).
    colour_by : str, optional
        Axis whose value sets the colour; default the first axis with more than one value.
    max_curves : int
        At most this many curves (evenly thinned).
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
    eps = np.moveaxis(eps, ax_i, 0)                              # (n_c, ..., n_t)
    n_c = eps.shape[0]
    plt = _pyplot()
    cmap = plt.get_cmap("viridis")
    fig, ax = plt.subplots(figsize=(7.0, 4.6), constrained_layout=True)
    t = result.t
    pos = t > 0
    per = max(1, max_curves // n_c)
    for c in range(n_c):
        curves = eps[c].reshape(-1, t.size)
        step = max(1, curves.shape[0] // per)
        colour = cmap(c / max(n_c - 1, 1))
        for j, curve in enumerate(curves[::step]):
            ax.plot(t[pos], np.clip(curve[pos], 1e-16, None), color=colour, lw=0.7, alpha=0.6,
                    label=f"{colour_by} = {result.coords[colour_by][c]}" if j == 0 else None)
    ax.set(xscale="log", yscale="log", xlabel="t (examples / N)",
           ylabel=r"$\epsilon_g$" + task_note,
           title=f"{int(np.prod(eps.shape[:-1]))} members, coloured by {colour_by}")
    ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, path)


def plot_sweep(result: SweepResult, path, observable: str = "t_specialise", how="median"):
    """The default figures of ``odesolve sweep``/``odesolve plot``: a heatmap (when two axes
    vary) and the eps_g curves, saved as ``<path>-<observable>.png`` and ``<path>-eps_g.png``.

    Returns
    -------
    list of Path
    """
    from pathlib import Path

    base = Path(path).with_suffix("")
    out = []
    varying = [d for d in result.dims[:-1] if len(result.coords[d]) > 1]
    if len(varying) >= 2:
        out.append(plot_heatmap(result, observable, how=how,
                                path=base.with_name(f"{base.name}-{observable}.png")))
    if "eps_g" in result.data:
        out.append(plot_curves(result, path=base.with_name(f"{base.name}-eps_g.png")))
    return out

