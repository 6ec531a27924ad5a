"""Critical periods, completed: ``odesolve scenario information_plasticity|deficit_kinds``
(docs/theory/plasticity.md).

Both use two depth-D linear pathways of width h sharing the output
(:mod:`odesolve.linear.pathways`), trained by gradient flow on the default
:func:`~odesolve.linear.pathways.two_pathway_task` (d = 8 correlated pixels, 4 outputs), random
starts at per-layer scale 0.3 unless stated; a deficit acts on pathway b.

- ``information_plasticity``: the trace of the Fisher information of the weights (total and
  pathway b, on the inputs the network is trained on) next to the relative loss, over time,
  without a deficit and with a removal (``"remove"``) or a flip (``"flip"``) over [0, 20),
  per depth (width 8) and per width (depth 3), median over random starts; and, without a
  deficit, whether the trace rises then falls: ``F_max / F(0)`` (rise) and
  ``F(t_end) / F_max`` (fall) against the scale of the start, per depth and width.
- ``deficit_kinds``: the lasting effect of removal-type deficits (``remove``; ``blur`` and
  ``drop`` in the kinds panel) and of the statistics-preserving ``flip``: pathway b's final
  share (against the same starts without a deficit), against the onset of a window of length
  20, against the length of a window from t = 0 and against the length of a window that
  starts after learning, per depth (width 8) and per width (depth 3), mean and standard error
  over random starts; the time lost, the time to learn after the window and the loss of
  pathway b alone.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_bool
from .pathways import deficit_run, two_pathway_start, two_pathway_task, window_scan

__all__ = ["information_plasticity", "deficit_kinds", "PLASTICITY_SCENARIOS"]

_WINDOW = (0.0, 20.0)
_KINDS = ("none", "remove", "flip")


def _curves(task, D, h, seeds, t_total, n_out, scale=0.3):
    """Fisher trace (total, b) and relative loss over time per deficit kind: arrays of shape
    (seeds, n) in a dict per kind."""
    out = {}
    for kind in _KINDS:
        F, Fb, L = [], [], []
        for seed in seeds:
            wa, wb = two_pathway_start(8, h, 4, D, scale, seed=seed)
            on, ln = _WINDOW if kind != "none" else (0.0, 0.0)
            r = deficit_run(task, wa, wb, kind, on, ln, t_total, n_out)
            f = r.fisher()
            F.append(f[:, 0])
            Fb.append(f[:, 2])
            L.append(r.relative_loss())
        out[kind] = {"fisher": np.array(F).tolist(), "fisher_b": np.array(Fb).tolist(),
                     "loss": np.array(L).tolist()}
    return r.t.tolist(), out


def _rise_fall(task, D, h, scales, seeds, t_total):
    """F_max / F(0) and F(t_end) / F_max without a deficit, shape (scales, seeds) each."""
    rise = np.empty((len(scales), len(seeds)))
    fall = np.empty_like(rise)
    for i, sc in enumerate(scales):
        for s, seed in enumerate(seeds):
            wa, wb = two_pathway_start(8, h, 4, D, sc, seed=seed)
            F = deficit_run(task, wa, wb, "none", t_total=t_total, n_out=201).fisher()[:, 0]
            rise[i, s] = F.max() / F[0]
            fall[i, s] = F[-1] / F.max()
    return rise.tolist(), fall.tolist()


def information_plasticity(quick: bool = False) -> dict[str, Any]:
    """Fisher trace and loss over time with and without deficits, per depth and width; the
    rise and fall of the Fisher trace against the initial scale (module docstring);
    ``quick``: fewer random starts, widths and scales."""
    quick = check_bool("quick", quick)
    task = two_pathway_task()
    seeds = range(1) if quick else range(8)
    t_total, n_out = 200.0, 101 if quick else 401
    depths = (2, 3, 4)
    widths = (2, 8) if quick else (2, 4, 8, 16)
    scales = (0.3, 1.5) if quick else (0.2, 0.3, 0.5, 0.7, 0.85, 1.0, 1.25, 1.5)
    by_depth, by_width, rf_depth, rf_width = {}, {}, {}, {}
    for D in depths:
        t, by_depth[str(D)] = _curves(task, D, 8, seeds, t_total, n_out)
        rf_depth[str(D)] = dict(zip(("rise", "fall"),
                                    _rise_fall(task, D, 8, scales, seeds, t_total)))
    for h in widths:
        _, by_width[str(h)] = _curves(task, 3, h, seeds, t_total, n_out)
        rf_width[str(h)] = dict(zip(("rise", "fall"),
                                    _rise_fall(task, 3, h, scales, seeds, t_total)))
    return {"scenario": "information_plasticity", "t": t, "depths": list(depths),
            "widths": list(widths), "width": 8, "depth": 3, "window": list(_WINDOW),
            "seeds": list(seeds), "scale": 0.3, "scales": list(scales), "kinds": list(_KINDS),
            "by_depth": by_depth, "by_width": by_width,
            "rise_fall_by_depth": rf_depth, "rise_fall_by_width": rf_width}


_STYLE = {"none": ("k", "-"), "remove": ("C3", "-"), "flip": ("C0", "-")}


def _median_curves(ax, t, runs, key, label_fmt, **kw):
    for kind in _KINDS:
        color, _ = _STYLE[kind]
        y = np.median(np.asarray(runs[kind][key]), axis=0)
        ax.plot(t, np.maximum(y, 1e-16), color=color, label=label_fmt.format(kind=kind), **kw)


def _plot_information_plasticity(d, axes):
    t = np.asarray(d["t"])
    win = d["window"]
    for k, D in enumerate(d["depths"]):
        runs = d["by_depth"][str(D)]
        ax = axes[k]
        _median_curves(ax, t, runs, "fisher", "{kind}: total")
        _median_curves(ax, t, runs, "fisher_b", "{kind}: pathway b", ls="--", lw=1)
        ax.axvspan(*[win[0], win[0] + win[1]], color="0.9")
        ax.set(xlabel="t", ylabel="Fisher trace (training inputs)",
               title=f"depth {D}, width {d['width']}: Fisher trace (median)")
        ax.legend(fontsize=7, ncol=2)
        ax = axes[3 + k]
        _median_curves(ax, t, runs, "loss", "{kind}")
        ax.axvspan(*[win[0], win[0] + win[1]], color="0.9")
        ax.set(yscale="log", ylim=(1e-8, 5), xlabel="t",
               ylabel="relative loss (normal inputs)", title=f"depth {D}: loss (median)")
        ax.legend(fontsize=7)
    ax = axes[6]
    for j, h in enumerate(d["widths"]):
        runs = d["by_width"][str(h)]
        for kind, ls in (("none", "-"), ("remove", "--")):
            y = np.median(np.asarray(runs[kind]["fisher"]), axis=0)
            ax.plot(t, y / y[-1], color=f"C{j}", ls=ls, label=f"width {h}, {kind}")
    ax.axvspan(*[win[0], win[0] + win[1]], color="0.9")
    ax.set(xlabel="t", ylabel="Fisher trace / final value",
           title=f"depth {d['depth']}: Fisher trace per width (median)")
    ax.legend(fontsize=7, ncol=2)
    for ax, key, label in ((axes[7], "rise", "rise F_max / F(0)"),
                           (axes[8], "fall", "fall F(end) / F_max")):
        for group, marker, ls in (("rise_fall_by_depth", "o", "-"),
                                  ("rise_fall_by_width", "s", ":")):
            for j, (name, v) in enumerate(d[group].items()):
                y = np.asarray(v[key])
                what = "depth" if group.endswith("depth") else "width"
                ax.plot(d["scales"], np.median(y, axis=1), marker=marker, ls=ls, ms=3,
                        label=f"{what} {name}")
        ax.set(xscale="log", xlabel="per-layer scale of the random start", ylabel=label,
               title=f"no deficit: Fisher trace {key} (median over starts)")
        if key == "rise":
            ax.set(yscale="log")
        ax.legend(fontsize=7, ncol=2)


#: the three window families of ``deficit_kinds``: against the onset (length 20), against the
#: length from t = 0, against the length from a late onset (after learning)
_PARTS = ("onset", "length", "late_length")


def _scan(task, depths, widths, seeds, kinds, windows, t_total):
    """window_scan over the windows of every family in ``windows`` (a dict part -> list of
    (onset, length)), in the order of :data:`_PARTS`."""
    flat = [w for part in _PARTS for w in windows.get(part, ())]
    return window_scan(task, kinds, flat, depths, widths, seeds, t_total=t_total)


def _split(d, scan, kind, measure, part):
    """One window family of a measure, shape (rows, seeds, windows), rows the depths or the
    widths of the scan (one of the two has length 1)."""
    v = np.asarray(scan["effect"][kind][measure], dtype=float)
    v = v.reshape(-1, v.shape[2], v.shape[3])
    sizes = [len(d[p]) if p in scan.get("parts", ()) else 0 for p in _PARTS]
    k = _PARTS.index(part)
    lo = sum(sizes[:k])
    return v[..., lo:lo + sizes[k]]


def deficit_kinds(quick: bool = False) -> dict[str, Any]:
    """Lasting effect of removal and flip deficits against onset and length, per depth and
    width (module docstring); ``quick``: fewer starts, onsets and lengths."""
    quick = check_bool("quick", quick)
    task = two_pathway_task()
    seeds = range(2) if quick else range(16)
    onsets = (0.0, 40.0) if quick else (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0)
    lengths = (5.0, 40.0) if quick else (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
    late_lengths = (1.0, 20.0) if quick else (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
    late = 100.0 if quick else 200.0
    t_total = 200.0 if quick else 400.0
    kinds = ("remove", "flip")
    depths = (2, 3) if quick else (2, 3, 4)
    widths = (2, 8) if quick else (2, 4, 8, 16)
    windows = {"onset": [(on, 20.0) for on in onsets],
               "length": [(0.0, ln) for ln in lengths],
               "late_length": [(late, ln) for ln in late_lengths]}
    out: dict[str, Any] = {"scenario": "deficit_kinds", "onset": list(onsets),
                           "length": list(lengths), "late_length": list(late_lengths),
                           "onset_length": 20.0, "late_onset": late}
    for key, parts, ds, ws, kk in (("by_depth", _PARTS, depths, (8,), kinds),
                                   ("by_width", _PARTS[:2], (3,), widths, kinds),
                                   ("all_kinds", _PARTS[:1], (3,), (8,),
                                    ("remove", "drop", "blur", "flip"))):
        out[key] = _scan(task, ds, ws, seeds, kk, {p: windows[p] for p in parts}, t_total)
        out[key]["parts"] = list(parts)
    return out


def _mean_sem(v):
    """Mean and standard error over the seeds axis (-2); zero error for one seed."""
    n = v.shape[-2]
    mean = np.nanmean(v, axis=-2)
    if n < 2:
        return mean, np.zeros_like(mean)
    return mean, np.nanstd(v, axis=-2, ddof=1) / np.sqrt(n)


_XLABEL = {"onset": "onset + 0.5 (window of {onset_length:g})",
           "length": "length of a window from t = 0",
           "late_length": "length of a window from t = {late_onset:g} (after learning)"}


def _plot_part(ax, d, key, measure, part):
    """Mean and standard error over starts of ``measure`` against one window family, a line
    per depth or width and kind (solid: removal types, dashed: flip); for the share, the
    control's mean as a dotted line."""
    scan = d[key]
    what = "width" if key == "by_width" else "depth"
    rows = scan[f"{what}s"]
    x = np.asarray(d[part]) + (0.5 if part == "onset" else 0.0)
    for k, kind in enumerate(scan["deficits"]):
        mean, sem = _mean_sem(_split(d, scan, kind, measure, part))
        for i, row in enumerate(rows):
            color = f"C{i}" if len(rows) > 1 else f"C{k}"
            label = f"{what} {row}, {kind}" if len(rows) > 1 else kind
            ax.errorbar(x, mean[i], sem[i], color=color, ls="--" if kind == "flip" else "-",
                        marker="o", ms=3, capsize=2, label=label)
    if measure == "share_b":
        ctrl = np.asarray(scan["control"]["share_b"]).reshape(len(rows), -1)
        for i in range(len(rows)):
            ax.axhline(ctrl[i].mean(), color=f"C{i}" if len(rows) > 1 else "0.4", ls=":",
                       lw=1)
        ax.set_ylabel("final share of pathway b (dotted: no deficit)")
    fixed = f"width {scan['widths'][0]}" if what == "depth" else f"depth {scan['depths'][0]}"
    ax.set(xscale="log", xlabel=_XLABEL[part].format(**d),
           title=f"per {what} ({fixed})" if len(rows) > 1 else f"depth 3, {fixed}")
    ax.legend(fontsize=7, ncol=2)


def _plot_deficit_kinds(d, axes):
    for ax, key, part in ((axes[0], "by_depth", "onset"), (axes[1], "by_width", "onset"),
                          (axes[2], "all_kinds", "onset"), (axes[3], "by_depth", "length"),
                          (axes[4], "by_width", "length"),
                          (axes[5], "by_depth", "late_length")):
        _plot_part(ax, d, key, "share_b", part)
    axes[2].set_title("every kind of deficit (depth 3, width 8)")
    for ax, measure, label in (
            (axes[6], "time_lost", "time lost: t_learned minus control's (loss 1e-2)"),
            (axes[7], "relearn_time", "time to learn after the window"),
            (axes[8], "loss_b_alone", "relative loss of pathway b alone")):
        _plot_part(ax, d, "by_depth", measure, "onset")
        ax.set_ylabel(label)
    axes[6].set_yscale("symlog")


#: name -> (run, plot, number of axes or (rows, columns), title), for odesolve.scenarios.SCENARIOS
PLASTICITY_SCENARIOS = {
    "information_plasticity": (
        information_plasticity, _plot_information_plasticity, (3, 3),
        "deep linear pathways: Fisher trace and loss over time, with and without deficits"),
    "deficit_kinds": (
        deficit_kinds, _plot_deficit_kinds, (3, 3),
        "deep linear pathways: lasting effect of removal and flip deficits, onset and length"),
}
