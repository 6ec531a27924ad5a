"""ODE versus finite-N simulation: :func:`compare` and :class:`ComparisonReport`.

The harness simulates the N-dimensional network (:func:`odesolve.simulate`) from a state,
integrates the order-parameter ODEs from *each seed's realised initial overlaps* (one batched
:func:`odesolve.integrate`, then averaged over seeds, so both sides start identically) and
reports, per quantity (Q, R, v, eps_g), the largest deviation over time between the seed-mean
simulation and the seed-mean ODE, in absolute terms and in units of the simulation's standard
error.

Tolerance rule
--------------
The comparison passes when, for every quantity, component and record time,

    |mean_sim - ode| <= k_S * sem + tolerance_c / sqrt(N)

- ``k_S * sem`` covers the statistical scatter of the seed mean (sem = sample std over the S
  seeds, ddof = 1, / sqrt(S)). ``tolerance_k`` (default 4) is the allowance in *normal*
  standard errors; because sem is itself estimated from S seeds, the ratio
  (mean_sim - mean) / sem follows Student's t with S - 1 degrees of freedom, so the multiplier
  actually used is the t quantile of the same two-sided coverage,
  ``k_S = t_{S-1}.isf(norm.sf(tolerance_k))`` (for k = 4: 8.5 with 8 seeds, 5.5 with 16,
  4.6 with 32, -> 4 as S grows). Without this, few seeds make the verdict a lottery: a
  sem estimated from 8 seeds is often half the true one. Each seed's order parameters fluctuate
  by O(1/sqrt N) around their mean, so sem ~ 1/sqrt(N S) and this term scales as 1/sqrt(N).
- ``tolerance_c / sqrt(N)`` (default c = 0.05) allows for the systematic finite-N corrections
  to the *mean* trajectory, which the ODE (the N -> infinity limit) does not contain. These are
  O(1/sqrt N) or smaller (the next order of the expansion of the SGD step), so the whole
  tolerance shrinks like 1/sqrt(N): the check gets stricter as N grows, exactly as the ODE
  claims to become exact.

The ratio ``|mean_sim - ode| / (k_S sem + c/sqrt N)`` is reported as ``worst``; pass <=>
worst <= 1 for every quantity. NaN (a diverged or interrupted run) fails.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .model import Overlaps, TeacherStudent

__all__ = ["compare", "ComparisonReport", "QUANTITIES", "seed_multiplier"]

#: the quantities entering the verdict
QUANTITIES = ("Q", "R", "v", "eps_g")


@dataclass
class ComparisonReport:
    """Result of :func:`compare`.

    Attributes
    ----------
    setup : TeacherStudent
    N : int
    seeds : list of int
    t : ndarray, shape (n,)
        Record times (whole SGD steps / N).
    sim_mean, sim_sem, ode_mean : dict
        Per quantity name ("Q", "R", "v", "eps_g" and, with a test set, "eps_g_test"):
        seed mean and standard error of the simulation, and the seed-mean ODE solution
        (shapes (n,), (n, K, K), (n, K, M), (n, K)).
    stats : dict
        Per quantity: ``max_abs_dev`` (largest |mean_sim - ode| over time and components),
        ``max_dev_sem`` (largest |mean_sim - ode| / sem; 0 where both vanish, inf where only
        sem does), ``worst`` (largest |mean_sim - ode| / tolerance), ``t_worst`` (its time),
        ``passed`` and ``in_verdict``.
    tolerance_k, tolerance_c : float
        The tolerance is ``k_S * sem + tolerance_c / sqrt(N)`` (module docstring).
    k_seeds : float
        ``k_S``: ``tolerance_k`` converted to the Student-t quantile for ``len(seeds) - 1``
        degrees of freedom.
    passed : bool
        Every quantity in the verdict within tolerance at every time.
    info : dict
        Wall times, ODE method and tolerances, simulation rate.
    """

    setup: TeacherStudent
    N: int
    seeds: list
    t: np.ndarray
    sim_mean: dict
    sim_sem: dict
    ode_mean: dict
    stats: dict
    tolerance_k: float
    tolerance_c: float
    k_seeds: float
    passed: bool
    info: dict = field(default_factory=dict)

    @property
    def tolerance_floor(self) -> float:
        """The systematic part tolerance_c / sqrt(N)."""
        return self.tolerance_c / math.sqrt(self.N)

    def to_dict(self) -> dict:
        """Plain data (JSON-ready): the verdict, per-quantity numbers and the curves."""
        return {
            "passed": bool(self.passed),
            "setup": self.setup.to_dict(),
            "N": int(self.N),
            "seeds": [int(s) for s in self.seeds],
            "tolerance": {"k": self.tolerance_k, "k_seeds": self.k_seeds,
                          "c": self.tolerance_c,
                          "floor_c_over_sqrtN": self.tolerance_floor,
                          "rule": "|mean_sim - ode| <= k_seeds * sem + c / sqrt(N) at every time; "
                                  "k_seeds = Student-t(S-1) quantile of the two-sided "
                                  "normal coverage of k"},
            "stats": {q: {k: _finite_json(v) for k, v in s.items()}
                      for q, s in self.stats.items()},
            "t": self.t.tolist(),
            "sim_mean": {q: np.asarray(a).tolist() for q, a in self.sim_mean.items()},
            "sim_sem": {q: np.asarray(a).tolist() for q, a in self.sim_sem.items()},
            "ode_mean": {q: np.asarray(a).tolist() for q, a in self.ode_mean.items()},
            "info": self.info,
        }

    def summary(self) -> str:
        """A text table: one row per quantity, and the verdict."""
        s = self.setup
        head = (f"ODE vs simulation: {s.activation_name} K={s.K} M={s.M} eta={s.eta:g} "
                f"eta_v={s.eta_readout:g} sigma={s.sigma:g} kappa={s.weight_decay:g}; "
                f"N={self.N}, {len(self.seeds)} seeds, t <= {self.t[-1]:g}\n"
                f"tolerance: |mean_sim - ode| <= {self.k_seeds:.3g} sem (t quantile, {len(self.seeds)} "
                f"seeds, for {self.tolerance_k:g} normal sem) + "
                f"{self.tolerance_c:g}/sqrt(N) (= {self.tolerance_floor:.3g})\n")
        rows = [f"{'quantity':<11}{'max |dev|':>12}{'max dev/sem':>13}{'dev/tol':>10}"
                f"{'at t':>9}  verdict"]
        for q, st in self.stats.items():
            verdict = ("pass" if st["passed"] else "FAIL") + ("" if st["in_verdict"]
                                                             else " (info)")
            rows.append(f"{q:<11}{st['max_abs_dev']:>12.3e}{st['max_dev_sem']:>13.2f}"
                        f"{st['worst']:>10.2f}{st['t_worst']:>9.3g}  {verdict}")
        tail = f"\noverall: {'PASS' if self.passed else 'FAIL'}"
        if "wall_s" in self.info:
            tail += f" (wall time {self.info['wall_s']:.1f} s)"
        return head + "\n".join(rows) + tail

    def save(self, path) -> tuple[Path, Path]:
        """Write the JSON report to ``path`` and the figure beside it (``.png``), atomically.

        Returns
        -------
        (json_path, png_path)
        """
        from .io import _jsonable, atomic_path

        path = Path(path)
        if path.suffix != ".json":
            path = path.with_suffix(".json")
        text = json.dumps(self.to_dict(), indent=1, default=_jsonable, allow_nan=True)
        with atomic_path(path) as tmp:
            tmp.write_text(text)
        png = path.with_suffix(".png")
        plot_comparison(self, png)
        return path, png


def _finite_json(x):
    """Strict JSON has no inf/NaN: write them as strings."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


def compare(setup: TeacherStudent, state, N: int = 10_000, t_max: float | None = None,
            times=None, seeds=range(8), n_out: int = 51, method: str = "dopri5",
            rtol: float = 1e-8, atol: float = 1e-10, dt: float | None = None,
            tolerance_k: float = 4.0, tolerance_c: float = 0.05, test_set: int = 0,
            out=None, progress: bool = True) -> ComparisonReport:
    """Simulate the finite-N network and integrate the ODEs from the same start; compare.

    Parameters
    ----------
    setup : TeacherStudent
    state : Overlaps or tuple (W, W_star, v, v_star)
        Start of the simulation (see :func:`odesolve.simulate`): an Overlaps state (or one per
        seed) is realised exactly by constructed weights for each seed; explicit weights are
        used by every seed. The ODE starts from each seed's realised overlaps.
    N : int
        Input dimension (ignored for explicit weights, which carry their own N).
    t_max : float
        Final time (examples / N); default ``times[-1]``.
    times : array_like, optional
        Record times; default ``n_out`` equally spaced in [0, t_max].
    seeds : sequence of int
        At least 2 seeds (the standard error needs them).
    method, rtol, atol, dt :
        ODE solver options (:func:`odesolve.integrate`).
    tolerance_k, tolerance_c : float
        Pass when ``|mean_sim - ode| <= k_S * sem + tolerance_c / sqrt(N)`` for every
        quantity and time, ``k_S`` being ``tolerance_k`` normal standard errors converted to
        Student's t for the number of seeds (module docstring explains both terms).
    test_set : int
        When positive, the simulator's test-set estimate of eps_g is reported too
        (informational, not part of the verdict).
    out : str or Path, optional
        When given, :meth:`ComparisonReport.save` is called with it (JSON + PNG).
    progress : bool
        Simulator progress line on stderr.

    Returns
    -------
    ComparisonReport

    Examples
    --------
    >>> import odesolve                                                  # doctest: +SKIP
    >>> setup = odesolve.TeacherStudent(2, 2, "erf", eta=1.0)            # doctest: +SKIP
    >>> state = odesolve.Overlaps.random(2, 2, N=1000, student_std=0.5, readout_std=0.5,
    ...                                  seed=0)                         # doctest: +SKIP
    >>> rep = odesolve.compare(setup, state, N=1000, t_max=5, seeds=range(8))  # doctest: +SKIP
    >>> print(rep.summary()); rep.passed                                 # doctest: +SKIP
    """
    from .integration import integrate as _integrate
    from .simulation import seed_statistics, simulate

    if not isinstance(setup, TeacherStudent):
        raise TypeError(f"`setup` must be an odesolve.TeacherStudent, got {type(setup).__name__}.")
    for name, val in (("tolerance_k", tolerance_k), ("tolerance_c", tolerance_c)):
        if not (isinstance(val, (int, float, np.floating)) and math.isfinite(val) and val >= 0):
            raise ValueError(f"`{name}` must be a non-negative number, got {val!r}.")
    seeds = list(seeds) if not isinstance(seeds, (int, np.integer)) else seeds
    if isinstance(seeds, list) and len(seeds) < 2:
        raise ValueError("`seeds` must hold at least 2 seeds (the standard error needs them).")
    if not isinstance(state, Overlaps):
        N = None

    tic = time.perf_counter()
    sim = simulate(setup, state, N=N, t_max=t_max, times=times, seeds=seeds, n_out=n_out,
                   test_set=test_set, progress=progress)
    t_sim = time.perf_counter() - tic
    N = int(sim.info["N"])
    tic = time.perf_counter()
    ode = _integrate(setup, sim.state(0), t_max=float(sim.t[-1]), times=sim.t, method=method,
                     rtol=rtol, atol=atol, dt=dt, on_failure="flag")
    t_ode = time.perf_counter() - tic

    stats_sim = seed_statistics(sim)
    sim_mean = {q: m for q, (m, _) in stats_sim.items()}
    sim_sem = {q: e for q, (_, e) in stats_sim.items()}
    ode_mean = {q: getattr(ode, q).mean(axis=0) for q in QUANTITIES}
    if "eps_g_test" in sim_mean:
        ode_mean["eps_g_test"] = ode_mean["eps_g"]

    floor = tolerance_c / math.sqrt(N)
    k_seeds = seed_multiplier(tolerance_k, len(sim.info["seeds"]))
    stats, passed = {}, True
    for q in sim_mean:
        st = _deviation(sim.t, sim_mean[q], sim_sem[q], ode_mean[q], k_seeds, floor)
        st["in_verdict"] = q in QUANTITIES
        stats[q] = st
        if st["in_verdict"]:
            passed = passed and st["passed"]
    if sim.info.get("interrupted") or not np.all(sim.success) or not np.all(ode.success):
        passed = False
    info = {"method": method, "rtol": rtol, "atol": atol, "dt": dt,
            "sim_wall_s": t_sim, "ode_wall_s": t_ode, "wall_s": t_sim + t_ode,
            "steps_per_s_per_seed": float(sim.info["steps_per_s"]),
            "interrupted": bool(sim.info["interrupted"]),
            "sim_failures": {str(k): v for k, v in sim.info.get("messages", {}).items()},
            "ode_failures": {str(k): v for k, v in ode.info.get("messages", {}).items()}}
    report = ComparisonReport(setup, N, list(sim.info["seeds"]), np.asarray(sim.t), sim_mean,
                              sim_sem, ode_mean, stats, float(tolerance_k),
                              float(tolerance_c), k_seeds, bool(passed), info)
    if out is not None:
        report.info["paths"] = [str(p) for p in report.save(out)]
    return report


def seed_multiplier(k: float, n_seeds: int) -> float:
    """``k`` normal standard errors as a Student-t multiplier for ``n_seeds - 1`` degrees of
    freedom: ``t_{S-1}.isf(norm.sf(k))`` (same two-sided coverage).

    >>> round(seed_multiplier(4.0, 8), 2), round(seed_multiplier(4.0, 10**6), 2)
    (8.47, 4.0)
    """
    from scipy import stats

    if k == 0:
        return 0.0
    return float(stats.t.isf(stats.norm.sf(k), df=n_seeds - 1))


def _deviation(t, mean, sem, ode, k, floor) -> dict:
    """Largest deviation of ``mean`` from ``ode`` over time and components."""
    n = t.shape[0]
    dev = np.abs(np.asarray(mean) - np.asarray(ode)).reshape(n, -1)
    sem = np.asarray(sem).reshape(n, -1)
    tol = k * sem + floor
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sem > 0, dev / sem, np.where(dev == 0, 0.0, np.inf))
        r = np.where(tol > 0, dev / tol, np.where(dev == 0, 0.0, np.inf))
    z[np.isnan(z)], r[np.isnan(r)] = np.inf, np.inf      # NaN (failed run) counts as worst
    ok = bool(np.all(dev <= tol)) and bool(np.isfinite(dev).all() and np.isfinite(sem).all())
    i = np.unravel_index(np.argmax(r), r.shape)
    return {"max_abs_dev": float(np.max(np.where(np.isnan(dev), np.inf, dev))),
            "max_dev_sem": float(np.max(z)), "worst": float(r[i]), "t_worst": float(t[i[0]]),
            "passed": ok}


def plot_comparison(report: ComparisonReport, path=None):
    """eps_g and the overlaps R, Q and readouts v over time: ODE (seed mean) as lines, the
    simulation's seed mean as points with standard-error bars. Saved atomically to ``path``."""
    from .plotting import _pyplot, save_figure

    plt = _pyplot()
    t, s = report.t, report.setup
    K, M = s.K, s.M
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.0), constrained_layout=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    step = max(1, t.size // 40)            # thin the points on dense grids

    def draw(ax, i, ode, mean, sem, label):
        c = colours[i % len(colours)]
        ax.plot(t, ode, color=c, lw=1.3, label=label)
        ax.errorbar(t[::step], mean[::step], yerr=sem[::step], fmt="o", ms=3, color=c,
                    elinewidth=0.9, capsize=2)

    ax = axes[0]
    draw(ax, 0, report.ode_mean["eps_g"], report.sim_mean["eps_g"], report.sim_sem["eps_g"],
         r"$\epsilon_g$")
    if "eps_g_test" in report.sim_mean:
        ax.errorbar(t[::step], report.sim_mean["eps_g_test"][::step],
                    yerr=report.sim_sem["eps_g_test"][::step], fmt="x", ms=4, color="0.4",
                    label="test-set estimate")
    if np.all(report.sim_mean["eps_g"] > 0) and np.all(report.ode_mean["eps_g"] > 0):
        ax.set_yscale("log")
    ax.set(xlabel="t (examples / N)", title="generalisation error")
    panels = [("R", [(i, n) for i in range(K) for n in range(M)], "R_{%d%d}",
               "student-teacher overlaps R"),
              ("Q", [(i, k) for i in range(K) for k in range(i, K)], "Q_{%d%d}",
               "student-student overlaps Q"),
              ("v", [(i,) for i in range(K)], "v_{%d}", "readouts v")]
    for ax, (q, idx, fmt, title) in zip(axes[1:], panels):
        for j, ij in enumerate(idx):
            sl = (slice(None),) + ij
            draw(ax, j, report.ode_mean[q][sl], report.sim_mean[q][sl], report.sim_sem[q][sl],
                 "$" + fmt % tuple(x + 1 for x in ij) + "$")
        ax.set(xlabel="t", title=title)
    for ax in axes:
        if len(ax.get_legend_handles_labels()[0]) <= 12:
            ax.legend(fontsize=7, ncol=2)
    fig.suptitle(f"ODE (lines) vs simulation (points, seed mean +- sem): {s.activation_name}, "
                 f"K={K}, M={M}, eta={s.eta:g}, eta_v={s.eta_readout:g}, sigma={s.sigma:g}; "
                 f"N={report.N}, {len(report.seeds)} seeds: "
                 f"{'PASS' if report.passed else 'FAIL'}")
    return save_figure(fig, path, dpi=110)
