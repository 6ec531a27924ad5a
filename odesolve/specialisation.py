"""Both levers of specialisation, layer imbalance and readout entropy, in the committee ODE
(Jarvis et al., ICLR 2025; docs/theory/levers.md#theory-levers).

- :func:`readout_profile`, :func:`readouts_with_entropy`: readouts with a prescribed
  normalised entropy (:func:`odesolve.observables.readout_entropy`) at a prescribed norm.
- :func:`lever_states`: a batch of initial overlaps with first-layer scale ``student_std``,
  readout norm ``readout_std * sqrt(K)`` and readout entropy ``entropy``.
- :func:`unit_contributions`, :func:`unit_purity`: what each student unit carries of each
  teacher unit, and how concentrated each unit is on one teacher unit (the student-side
  complement of :func:`odesolve.observables.teacher_specialisation`).
- :func:`lever_scan`: the ODE for many (scale, imbalance, entropy) points and initialisations
  in one batch; the specialisation indices at several horizons.
- :data:`LEVER_SCENARIOS`: ``specialisation_levers`` (both levers, both frameworks; the deep
  linear half is :mod:`odesolve.linear.specialisation`).

Conventions (the paper's, as in :mod:`odesolve.scenarios`): erf units, eta = 1, both layers
trained, teacher of M orthonormal units (T = I) with readouts 1, the student's first-layer
components i.i.d. N(0, student_std^2) in dimension N = 10 000 (so Q_ii ~ student_std^2). The
*imbalance ratio* is r = readout_std / student_std, the ratio of the readouts' root mean
square to the first layer's per-component scale.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._checks import check_bool, check_int, check_real, real_array
from ._typing import Seed
from .integration import integrate
from .model import Overlaps, TeacherStudent, check_seed
from .multitask.model import MultiTaskSetup, MultiTaskState
from .observables import readout_entropy, teacher_specialisation

__all__ = ["readout_profile", "readouts_with_entropy", "lever_states", "unit_contributions",
           "unit_purity", "lever_scan", "committee_levers", "specialisation_levers",
           "LEVER_SCENARIOS"]

#: input dimension N of the networks whose initial overlap fluctuations are drawn
N_INIT = 10_000


# --- readouts with a prescribed entropy -------------------------------------------------------
def _profile(K: int, q: float) -> np.ndarray:
    p = q ** np.arange(K, dtype=np.float64) if q > 0 else np.eye(K)[0]
    return p / p.sum()


def _entropy(p: np.ndarray) -> float:
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum() / np.log(p.size))


def readout_profile(K: int, entropy: float) -> np.ndarray:
    """Shares ``p_i = v_i^2 / |v|^2`` with normalised entropy ``entropy``: the geometric
    profile ``p_i ~ q^i`` (i = 0 .. K-1, largest first), q in [0, 1] found by bisection.

    ``entropy = 1`` gives equal shares (q = 1), ``entropy = 0`` puts everything on one unit
    (q = 0). The entropy of the profile increases strictly with q, so q is unique.

    Parameters
    ----------
    K : int
        Number of units, at least 2.
    entropy : float
        Normalised Shannon entropy in [0, 1] (:func:`odesolve.observables.readout_entropy`).

    Returns
    -------
    ndarray, shape (K,)
        Non-negative, decreasing, summing to 1; its normalised entropy equals ``entropy``
        to 1e-12.

    Raises
    ------
    TypeError
        ``K`` not an integer, ``entropy`` not a real number.
    ValueError
        ``K`` < 2, ``entropy`` outside [0, 1] or not finite.
    """
    K = check_int("K", K, minimum=2)
    h = check_real("entropy", entropy, minimum=0.0, maximum=1.0)
    if h == 0.0:
        return _profile(K, 0.0)
    if h == 1.0:
        return _profile(K, 1.0)
    lo, hi = 0.0, 1.0                      # entropy(lo) = 0 < h < 1 = entropy(hi)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _entropy(_profile(K, mid)) < h:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    return _profile(K, 0.5 * (lo + hi))


def readouts_with_entropy(K: int, entropy: float, norm: float, n: int | None = None,
                          seed: Seed = None) -> np.ndarray:
    """Readout vectors of Euclidean norm ``norm`` whose squared magnitudes have normalised
    entropy ``entropy``: the magnitudes of :func:`readout_profile`, assigned to the units in a
    random order and with random signs (each draw independently).

    Parameters
    ----------
    K : int
        Number of student units, at least 2.
    entropy : float
        In [0, 1]; 1: equal magnitudes, 0: one unit holds the whole norm.
    norm : float
        ``|v|``, positive.
    n : int, optional
        Number of independent draws (a leading axis); default one vector.
    seed : int, SeedSequence or Generator, optional

    Returns
    -------
    ndarray, shape (K,) or (n, K)

    Raises
    ------
    TypeError
        An argument has the wrong type.
    ValueError
        ``K`` < 2, ``entropy`` outside [0, 1], ``norm`` not positive, ``n`` < 1.
    """
    p = readout_profile(K, entropy)
    norm = check_real("norm", norm, positive=True)
    n_draw = 1 if n is None else check_int("n", n, minimum=1)
    rng = np.random.default_rng(check_seed("seed", seed))
    mag = norm * np.sqrt(p)
    out = np.stack([rng.permutation(mag) * rng.choice([-1.0, 1.0], size=K)
                    for _ in range(n_draw)])
    return out[0] if n is None else out


def lever_states(K: int, M: int, student_std: float, readout_std: float, entropy: float,
                 n_init: int, N: int = N_INIT, seed: Seed = None) -> Overlaps:
    """A batch of initial states for the levers: first layer drawn as in a network of input
    dimension N (:meth:`odesolve.multitask.MultiTaskState.random`, conditioned on the teacher)
    against a teacher of M orthonormal units (T = I exactly) with readouts 1; readouts from
    :func:`readouts_with_entropy` with norm ``readout_std * sqrt(K)`` (root mean square
    ``readout_std``).

    Parameters
    ----------
    K, M : int
        Student units (at least 2) and teacher units (at least 1).
    student_std : float
        First-layer scale per component, positive (Q_ii ~ student_std^2).
    readout_std : float
        Root mean square of the readouts, positive; the imbalance ratio is
        ``readout_std / student_std``.
    entropy : float
        Readout entropy in [0, 1].
    n_init : int
        Number of initialisations, at least 1.
    N : int
        Input dimension whose overlap fluctuations are drawn, at least 1.
    seed : int, SeedSequence or Generator, optional

    Returns
    -------
    Overlaps
        Batched: Q (n_init, K, K), R (n_init, K, M), v (n_init, K); T = I_M, v_star = 1
        (unbatched).

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    K = check_int("K", K, minimum=2)
    M = check_int("M", M, minimum=1)
    student_std = check_real("student_std", student_std, positive=True)
    readout_std = check_real("readout_std", readout_std, positive=True)
    n_init = check_int("n_init", n_init, minimum=1)
    rng = np.random.default_rng(check_seed("seed", seed))
    setup = MultiTaskSetup(K, M, P=1, heads="single")
    T, v_star = np.eye(M), np.ones((1, M))
    drawn = [MultiTaskState.random(setup, T, v_star, N=N, student_std=student_std, seed=rng)
             for _ in range(n_init)]
    v = readouts_with_entropy(K, entropy, readout_std * np.sqrt(K), n=n_init, seed=rng)
    return Overlaps(np.stack([d.Q for d in drawn]), np.stack([d.R for d in drawn]), T, v,
                    v_star[0])


# --- what each unit carries --------------------------------------------------------------------
def unit_contributions(R: ArrayLike, T: ArrayLike, v: ArrayLike) -> np.ndarray:
    """``c_in = |v_i R_in| / sqrt(T_nn)``: the part of teacher unit n's direction that student
    unit i passes to the output (the weights of
    :func:`odesolve.observables.teacher_specialisation`).

    Parameters
    ----------
    R : array_like, shape (..., K, M)
    T : array_like, shape (M, M) or (..., M, M)
    v : array_like, shape (..., K)

    Returns
    -------
    ndarray, shape (..., K, M)

    Raises
    ------
    TypeError
        An argument does not hold real numbers.
    ValueError
        ``R`` not of shape (..., K, M), ``v`` not (..., K), ``T`` not (..., M, M).
    """
    Ra, va, Ta = real_array("R", R), real_array("v", v), real_array("T", T)
    if Ra.ndim < 2 or va.ndim < 1 or va.shape[-1] != Ra.shape[-2]:
        raise ValueError(f"`R` (..., K, M) and `v` (..., K) must agree on K, got shapes "
                         f"{Ra.shape} and {va.shape}.")
    if Ta.ndim < 2 or Ta.shape[-2:] != (Ra.shape[-1],) * 2:
        raise ValueError(f"`T` must have shape (..., M, M) with M = {Ra.shape[-1]} (the "
                         f"columns of `R`), got {Ta.shape}.")
    t = np.sqrt(np.diagonal(Ta, axis1=-2, axis2=-1))
    return np.abs(va[..., :, None] * Ra) / t[..., None, :]


def unit_purity(c: ArrayLike) -> np.ndarray:
    """How concentrated each unit is on one target (teacher unit, or singular mode), averaged
    over units weighted by what they carry.

    With ``c`` (..., K, M) non-negative (unit i's part of target n), unit shares
    ``q_in = c_in / sum_m c_im`` and unit weights ``w_i = sum_m c_im / sum_jm c_jm``,

        purity = sum_i w_i (max_n q_in - 1/M) / (1 - 1/M),

    1 when every unit that carries anything carries a single target, 0 when every unit
    carries all targets equally; 1 by definition for M = 1 (a unit cannot mix one target);
    NaN when nothing is carried.

    Parameters
    ----------
    c : array_like, shape (..., K, M)
        Non-negative contributions.

    Returns
    -------
    ndarray, shape c.shape[:-2]

    Raises
    ------
    TypeError
        ``c`` does not hold real numbers.
    ValueError
        ``c`` has fewer than 2 axes or negative entries. (NaN entries, from a failed run,
        give NaN.)
    """
    arr = real_array("c", c)
    if arr.ndim < 2:
        raise ValueError(f"`c` must have shape (..., K, M), got shape {arr.shape}.")
    if np.any(arr < 0):
        raise ValueError("`c` must be non-negative (contributions are magnitudes).")
    M = arr.shape[-1]
    if M == 1:
        return np.where(arr.sum(axis=(-2, -1)) > 0, 1.0, np.nan)
    tot_i = arr.sum(axis=-1)
    tot = tot_i.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        pur = (arr / tot_i[..., None]).max(axis=-1)
        pur = (pur - 1.0 / M) / (1.0 - 1.0 / M)
        w = tot_i / tot[..., None]
        out = np.where(tot_i > 0, w * pur, 0.0).sum(axis=-1)
    return np.where(tot > 0, out, np.nan)


# --- scans -------------------------------------------------------------------------------------
def _points(points: Any) -> list[tuple[float, float, float]]:
    if isinstance(points, (str, bytes)) or not isinstance(points, (Sequence, np.ndarray)):
        raise TypeError("`points` must be a non-empty sequence of (student_std, readout_std, "
                        f"entropy) triples, got {type(points).__name__}.")
    if len(points) == 0:
        raise ValueError("`points` must hold at least one (student_std, readout_std, "
                         "entropy) triple.")
    out = []
    for j, pt in enumerate(points):
        if isinstance(pt, (str, bytes)) or not isinstance(pt, (Sequence, np.ndarray)) \
                or len(pt) != 3:
            raise TypeError(f"`points[{j}]` must be a (student_std, readout_std, entropy) "
                            f"triple, got {pt!r}.")
        out.append((check_real(f"points[{j}][0] (student_std)", pt[0], positive=True),
                    check_real(f"points[{j}][1] (readout_std)", pt[1], positive=True),
                    check_real(f"points[{j}][2] (entropy)", pt[2], minimum=0.0,
                               maximum=1.0)))
    return out


def lever_scan(K: int, M: int, points: Sequence[tuple[float, float, float]], n_init: int = 32,
               horizons: ArrayLike = (100.0, 1000.0), N: int = N_INIT, seed: int = 0,
               rtol: float = 1e-8, atol: float = 1e-10) -> dict[str, Any]:
    """Integrate the committee ODE (erf, eta = 1) from ``n_init`` initialisations at each
    point and measure the specialisation indices at each horizon (one batched solver call).

    Parameters
    ----------
    K, M : int
        Student units (at least 2) and teacher units (at least 1).
    points : sequence of (student_std, readout_std, entropy)
        The initialisations (:func:`lever_states`).
    n_init : int
        Initialisations per point, at least 1; point j uses seed ``[seed, j]``.
    horizons : array_like, shape (n_h,)
        Strictly increasing positive times at which the indices are read.
    N : int
        Input dimension of the initial overlap fluctuations.
    seed : int
        Non-negative base seed.
    rtol, atol : float
        Tolerances of the adaptive solver (dopri5).

    Returns
    -------
    dict
        ``t`` (n_h + 1,) starting at 0; arrays of shape (P, n_init, n_h + 1):
        ``teacher_specialisation`` (:func:`odesolve.observables.teacher_specialisation`),
        ``unit_purity`` (:func:`unit_purity` of :func:`unit_contributions`), ``eps_g``;
        ``readout_entropy`` (P, n_init) at t = 0 (the requested value, as a check);
        ``status`` (P, n_init) (0: the run reached the last horizon).

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    K = check_int("K", K, minimum=2)
    M = check_int("M", M, minimum=1)
    pts = _points(points)
    n_init = check_int("n_init", n_init, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    h = real_array("horizons", horizons)
    if h.ndim != 1 or h.size == 0 or not np.all(np.isfinite(h)) or np.any(h <= 0) \
            or np.any(np.diff(h) <= 0):
        raise ValueError("`horizons` must be a non-empty, strictly increasing 1-D array of "
                         f"positive finite times, got {h!r}.")
    states = [lever_states(K, M, sw, sv, H, n_init, N=N, seed=[seed, j])
              for j, (sw, sv, H) in enumerate(pts)]
    batch = Overlaps(np.concatenate([s.Q for s in states]),
                     np.concatenate([s.R for s in states]), np.eye(M),
                     np.concatenate([s.v for s in states]), np.ones(M), check=False)
    setup = TeacherStudent(K, M, "erf", eta=1.0)
    tr = integrate(setup, batch, t_max=float(h[-1]), method="dopri5",
                   times=np.concatenate([[0.0], h]), rtol=rtol, atol=atol,
                   on_failure="flag", progress=False)
    P = len(pts)
    shape = (P, n_init, h.size + 1)
    T = np.eye(M)
    return {
        "t": tr.t.tolist(),
        "teacher_specialisation": teacher_specialisation(tr.R, T, tr.v).reshape(shape),
        "unit_purity": unit_purity(unit_contributions(tr.R, T, tr.v)).reshape(shape),
        "eps_g": tr.eps_g.reshape(shape),
        "readout_entropy": readout_entropy(tr.v[:, 0]).reshape(P, n_init),
        "status": np.asarray(tr.status).reshape(P, n_init),
    }


# --- the scenario ------------------------------------------------------------------------------
def _json_ready(x: Any) -> Any:
    """``x`` with tuples turned into lists and NumPy values into Python ones (what a JSON
    round trip returns), so that a result compares equal to its reloaded file."""
    if isinstance(x, dict):
        return {k: _json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_ready(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


def _quartiles(x: np.ndarray) -> dict[str, list]:
    q = np.nanpercentile(x, [25, 50, 75], axis=-1)
    return {"q25": q[0].tolist(), "median": q[1].tolist(), "q75": q[2].tolist()}


def _summary(res: dict[str, Any]) -> dict[str, Any]:
    """Quartiles over the initialisations of every index at every horizon."""
    out: dict[str, Any] = {"t": res["t"]}
    for key in ("teacher_specialisation", "unit_purity", "eps_g"):
        x = np.moveaxis(res[key], 1, -1)                  # (P, n_t, n_init)
        out[key] = _quartiles(x)
    out["n_failed"] = int(np.count_nonzero(res["status"]))
    return out


#: entropies and imbalance ratios of the full scenario (``--quick`` uses a few of them)
ENTROPIES = [0.0, 0.25, 0.5, 0.75, 0.9, 0.97, 1.0]
RATIOS = [0.1, 1.0, 10.0, 100.0, 1000.0]


def _committee_grid(quick: bool) -> dict[str, Any]:
    if quick:
        return {"sizes": [(2, 1)], "entropy_scales": [(1e-3, 1.0)], "entropies": [0.0, 0.5,
                                                                                  0.9, 1.0],
                "ratio_scales": [1e-3], "ratios": [1.0, 100.0, 1000.0],
                "ratio_entropies": [0.9], "horizons": [30.0, 300.0], "n_init": 16}
    return {"sizes": [(2, 1), (4, 1), (8, 1), (4, 2), (8, 2)],
            "entropy_scales": [(1e-3, 1e-3), (1e-3, 1.0), (1e-1, 1e-1), (1e-1, 1.0)],
            "entropies": ENTROPIES, "ratio_scales": [1e-3, 1e-2, 1e-1], "ratios": RATIOS,
            "ratio_entropies": [0.9], "horizons": [30.0, 100.0, 300.0, 1000.0, 3000.0],
            "n_init": 24}


def committee_levers(quick: bool = False) -> dict[str, Any]:
    """The committee-machine half of ``specialisation_levers``: for each (K, M), (a) readout
    entropy at fixed scales (imbalance), (b) imbalance ratio at fixed entropy; quartiles over
    the initialisations at every horizon.

    Parameters
    ----------
    quick : bool
        A small grid (K = 2, M = 1, 16 initialisations, horizon 300).

    Returns
    -------
    dict
        JSON-serialisable; per size ``"K{K}M{M}"``: ``entropy_scan`` and ``ratio_scan``
        (summaries over the points of :func:`lever_scan`).
    """
    quick = check_bool("quick", quick)
    g = _committee_grid(quick)
    out: dict[str, Any] = {"grid": _json_ready(g), "sizes": {}}
    for K, M in g["sizes"]:
        ent_pts = [(sw, sv, H) for sw, sv in g["entropy_scales"] for H in g["entropies"]]
        rat_pts = [(sw, r * sw, H) for H in g["ratio_entropies"] for sw in g["ratio_scales"]
                   for r in g["ratios"]]
        ent = lever_scan(K, M, ent_pts, n_init=g["n_init"], horizons=g["horizons"])
        rat = lever_scan(K, M, rat_pts, n_init=g["n_init"], horizons=g["horizons"], seed=1)
        out["sizes"][f"K{K}M{M}"] = {
            "K": K, "M": M,
            "entropy_scan": {"points": _json_ready(ent_pts), **_summary(ent),
                             "initial_entropy_max_error": float(np.max(np.abs(
                                 ent["readout_entropy"]
                                 - np.array([p[2] for p in ent_pts])[:, None])))},
            "ratio_scan": {"points": _json_ready(rat_pts), **_summary(rat)}}
    return out


def specialisation_levers(quick: bool = False) -> dict[str, Any]:
    """Scenario ``specialisation_levers``: both levers (layer imbalance, readout entropy) in
    the committee ODE (:func:`committee_levers`) and in deep linear networks
    (:func:`odesolve.linear.specialisation.linear_levers`).

    Parameters
    ----------
    quick : bool
        Small grids (seconds).

    Returns
    -------
    dict
        JSON-serialisable, key ``"scenario"``.
    """
    from .linear.specialisation import linear_levers

    quick = check_bool("quick", quick)
    return {"scenario": "specialisation_levers", "committee": committee_levers(quick),
            "linear": linear_levers(quick)}


def _plot_lever_panel(ax, x, stats, j_t, label, color, xscale="linear"):
    med = np.asarray(stats["median"])[:, j_t]
    ax.plot(x, med, "o-", color=color, ms=3, label=label)
    ax.fill_between(x, np.asarray(stats["q25"])[:, j_t], np.asarray(stats["q75"])[:, j_t],
                    color=color, alpha=0.15)
    ax.set_xscale(xscale)


def _plot_levers(d: dict[str, Any], axes: Sequence[Any]) -> None:
    """Four panels: committee (entropy, imbalance), linear (entropy, lambda)."""
    com = d["committee"]
    g = com["grid"]
    n_e = len(g["entropies"])
    sizes = list(com["sizes"].values())
    colors = [f"C{i}" for i in range(len(sizes))]
    # (a) entropy scan at the imbalanced scale (student_std 1e-3, readout_std 1) if present
    scales = [list(s) for s in g["entropy_scales"]]
    k_scale = scales.index([1e-3, 1.0]) if [1e-3, 1.0] in scales else 0
    for c, s in zip(colors, sizes):
        st = s["entropy_scan"]["teacher_specialisation"]
        sl = slice(k_scale * n_e, (k_scale + 1) * n_e)
        sub = {k: np.asarray(v)[sl] for k, v in st.items()}
        _plot_lever_panel(axes[0], g["entropies"], sub, -1, f"K = {s['K']}, M = {s['M']}", c)
        sub0 = {k: np.asarray(v)[sl] for k, v in st.items()}
        axes[0].plot(g["entropies"], sub0["median"][:, 0], ":", color=c, lw=0.8)
    sw, sv = g["entropy_scales"][k_scale]
    axes[0].set(xlabel="initial readout entropy H (1: equal magnitudes; dotted: s_T at t = 0)",
                ylabel=f"teacher specialisation s_T at t = {g['horizons'][-1]:g}",
                ylim=(-0.05, 1.05),
                title=f"committee ODE: entropy lever (sigma_w = {sw:g}, sigma_v = {sv:g})")
    axes[0].legend(fontsize=7)
    # (b) imbalance scan at the smallest first-layer scale, first fixed entropy
    n_r = len(g["ratios"])
    for c, s in zip(colors, sizes):
        st = s["ratio_scan"]["teacher_specialisation"]
        sub = {k: np.asarray(v)[:n_r] for k, v in st.items()}
        _plot_lever_panel(axes[1], g["ratios"], sub, -1, f"K = {s['K']}, M = {s['M']}", c,
                          "log")
    first = sizes[0]["ratio_scan"]["teacher_specialisation"]["median"]
    for k, (sw, ls) in enumerate(zip(g["ratio_scales"][1:], ("--", ":")), start=1):
        axes[1].plot(g["ratios"], np.asarray(first)[k * n_r:(k + 1) * n_r, -1], ls,
                     color=colors[0], lw=1,
                     label=f"K = {sizes[0]['K']}, M = {sizes[0]['M']}, sigma_w = {sw:g}")
    axes[1].set(xlabel="imbalance ratio r = sigma_v / sigma_w",
                ylabel=f"teacher specialisation s_T at t = {g['horizons'][-1]:g}",
                ylim=(-0.05, 1.05),
                title=f"committee ODE: imbalance lever (H = {g['ratio_entropies'][0]:g}; "
                      f"solid: sigma_w = {g['ratio_scales'][0]:g})")
    axes[1].legend(fontsize=7)
    from .linear.specialisation import _plot_linear_levers
    _plot_linear_levers(d["linear"], axes[2], axes[3])


#: name -> (run, plot, number of axes or (rows, columns), title), for odesolve.scenarios
LEVER_SCENARIOS = {
    "specialisation_levers": (specialisation_levers, _plot_levers, (2, 2),
                              "both levers of specialisation (imbalance, readout entropy), "
                              "committee ODE and deep linear networks"),
}
