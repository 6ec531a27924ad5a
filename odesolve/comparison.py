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

    ``|mean_sim - ode| <= k_S * sem + tolerance_c / sqrt(N)``

- ``k_S * sem`` covers the statistical scatter of the seed mean (sem = sample std over the S
  seeds, ddof = 1, / sqrt(S)). ``tolerance_k`` (default 4) is the allowance in *normal*
  standard errors; because sem is itself estimated from S seeds, the ratio
  (mean_sim - mean) / sem follows Student's t with S - 1 degrees of freedom, so the multiplier
  actually used is the t quantile of the same two-sided coverage,
  ``k_S = t_{S-1}.isf(norm.sf(tolerance_k))`` (for k = 4: 8.5 with 8 seeds, 5.5 with 16,
  4.6 with 32, -> 4 as S grows). Without this, few seeds make false alarms common: a sem
  estimated from 8 seeds is below 0.7 of the true one in 16 % of cases, and ``|t_7| > 4`` has
  probability 5e-3 per point against 6e-5 for the normal. Each seed's order parameters fluctuate
  by O(1/sqrt N) around their mean, so sem ~ 1/sqrt(N S) and this term scales as 1/sqrt(N).
- ``tolerance_c / sqrt(N)`` (default c = 0.05) allows for the systematic finite-N corrections
  to the *mean* trajectory, which the ODE (the N -> infinity limit) does not contain. These are
  O(1/sqrt N) or smaller (the next order of the expansion of the SGD step), so the whole
  tolerance shrinks like 1/sqrt(N): the check gets stricter as N grows, exactly as the ODE
  claims to become exact.

The ratio ``|mean_sim - ode| / (k_S sem + c/sqrt N)`` is reported as ``worst``; a quantity is
within tolerance <=> worst <= 1. NaN (a diverged or interrupted run) fails.

Power: a test that cannot fail must not pass. The tolerance band ``k_S sem + c/sqrt(N)`` is the
smallest deviation the test can detect; with 2 seeds ``k_S`` is about 10^4 and nothing is ever
detected. So, per quantity, the *detectable deviation* (the band, largest over components,
median over the record times after the start) is compared with the quantity's *change over the
run* (the range of the ODE solution over time, largest over components): a wrong ODE shows up as
a wrong change, and a test that can only see deviations comparable to the change sees nothing.
A quantity has power when

    detectable <= POWER_FRACTION * change        (POWER_FRACTION = 0.25)

Quantities the ODE keeps constant (change <= 1e-12 of their magnitude, e.g. fixed readouts v
with eta_v = 0) need no power: any motion of the simulation still fails them at the floor.

The verdict (``report.verdict``):

- ``"FAIL"``: some quantity deviates beyond its tolerance, or a run diverged or was
  interrupted (a detected deviation counts even when the test is weak);
- ``"INCONCLUSIVE"``: everything is within tolerance but fewer than ``MIN_SEEDS = 4`` seeds were
  run (the sem is then too uncertain: ``k_S`` > 30) or some changing quantity lacks power.
  ``report.passed`` is False, and a :class:`PowerWarning` names the quantities, their
  detectable deviation against their change, and about how many seeds would give power
  (:func:`seeds_needed`; or that the floor c/sqrt(N) alone is too wide, so N or t_max must grow);
- ``"PASS"``: within tolerance, at least ``MIN_SEEDS`` seeds, every changing quantity has
  power. Only then is ``report.passed`` True.
"""
from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np
from numpy.typing import ArrayLike

from .model import Overlaps, TeacherStudent

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .plotting import PathT

__all__ = ["compare", "ComparisonReport", "QUANTITIES", "seed_multiplier", "seeds_needed",
           "power", "estimate_duration", "PowerWarning", "MIN_SEEDS", "POWER_FRACTION"]

#: the quantities entering the verdict
QUANTITIES = ("Q", "R", "v", "eps_g")
#: fewest seeds for a verdict other than FAIL or INCONCLUSIVE
MIN_SEEDS = 4
#: a quantity has power when its detectable deviation is at most this fraction of its change
POWER_FRACTION = 0.25
#: a quantity whose ODE range is at most this fraction of its magnitude is constant (static)
STATIC_RTOL = 1e-12


class PowerWarning(UserWarning):
    """The comparison cannot detect deviations of the size that matters (verdict
    INCONCLUSIVE); the message says how many seeds (or what N) would."""


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
        Per quantity: ``max_abs_dev`` (largest ``|mean_sim - ode|`` over time and components),
        ``max_dev_sem`` (largest ``|mean_sim - ode| / sem``; 0 where both vanish, inf where only
        sem does), ``worst`` (largest ``|mean_sim - ode| / tolerance``), ``t_worst`` (its time),
        ``passed`` (within tolerance) and ``in_verdict``; and the power of the test
        (:func:`power`): ``detectable`` (the tolerance band), ``change`` (range of the ODE
        solution over the run), ``relative_band`` (their ratio), ``static``, ``powered``,
        ``seeds_needed``.
    tolerance_k, tolerance_c : float
        The tolerance is ``k_S * sem + tolerance_c / sqrt(N)`` (module docstring).
    k_seeds : float
        ``k_S``: ``tolerance_k`` converted to the Student-t quantile for ``len(seeds) - 1``
        degrees of freedom.
    passed : bool
        ``verdict == "PASS"``.
    info : dict
        Wall times, ODE method and tolerances, simulation rate, per-seed ``sim_status``,
        ``sim_t_fail``, ``ode_status``, ``ode_t_fail`` (None where a seed did not fail).
    verdict : {"PASS", "FAIL", "INCONCLUSIVE"}
        See the module docstring: INCONCLUSIVE when everything is within tolerance but the test
        had too little power to detect a deviation that matters.
    warnings : list of str
        Why the verdict is INCONCLUSIVE, and what would fix it.
    """

    setup: TeacherStudent
    N: int
    seeds: list[int]
    t: np.ndarray
    sim_mean: dict[str, np.ndarray]
    sim_sem: dict[str, np.ndarray]
    ode_mean: dict[str, np.ndarray]
    stats: dict[str, dict[str, Any]]
    tolerance_k: float
    tolerance_c: float
    k_seeds: float
    passed: bool
    info: dict[str, Any] = field(default_factory=dict)
    verdict: str = ""
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.verdict:
            self.verdict = "PASS" if self.passed else "FAIL"

    @property
    def tolerance_floor(self) -> float:
        """The systematic part tolerance_c / sqrt(N)."""
        return self.tolerance_c / math.sqrt(self.N)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready): the verdict, per-quantity numbers and the curves."""
        return {
            "passed": bool(self.passed),
            "verdict": self.verdict,
            "warnings": list(self.warnings),
            "setup": self.setup.to_dict(),
            "N": int(self.N),
            "seeds": [int(s) for s in self.seeds],
            "tolerance": {"k": self.tolerance_k, "k_seeds": self.k_seeds,
                          "c": self.tolerance_c,
                          "floor_c_over_sqrtN": self.tolerance_floor,
                          "rule": "|mean_sim - ode| <= k_seeds * sem + c / sqrt(N) at every time; "
                                  "k_seeds = Student-t(S-1) quantile of the two-sided "
                                  "normal coverage of k",
                          "min_seeds": MIN_SEEDS, "power_fraction": POWER_FRACTION,
                          "power_rule": "PASS needs >= min_seeds seeds and, for every "
                                        "quantity the ODE changes, detectable <= "
                                        "power_fraction * change; otherwise INCONCLUSIVE"},
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
                f"{'at t':>9}{'detectable':>12}{'/change':>9}  verdict"]
        for q, st in self.stats.items():
            verdict = ("pass" if st["passed"] else "FAIL")
            if st["passed"] and not st.get("powered", True):
                verdict = "no power"
            verdict += "" if st["in_verdict"] else " (info)"
            relative = ("static" if st.get("static")
                        else format(st.get("relative_band", math.nan), ".3g"))
            rows.append(f"{q:<11}{st['max_abs_dev']:>12.3e}{st['max_dev_sem']:>13.2f}"
                        f"{st['worst']:>10.2f}{st['t_worst']:>9.3g}"
                        f"{st.get('detectable', math.nan):>12.3g}{relative:>9}  {verdict}")
        tail = f"\noverall: {self.verdict}"
        if "wall_s" in self.info:
            tail += f" (wall time {self.info['wall_s']:.1f} s)"
        tail += "".join(f"\nwarning: {w}" for w in self.warnings)
        return head + "\n".join(rows) + tail

    def save(self, path: os.PathLike[str] | str) -> tuple[Path, Path]:
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


def compare(setup: TeacherStudent,
            state: Overlaps | tuple[ArrayLike, ArrayLike, ArrayLike, ArrayLike],
            N: int = 10_000, t_max: float | None = None, times: ArrayLike | None = None,
            seeds: Sequence[int] = range(8), n_out: int = 51, method: str = "dopri5",
            rtol: float = 1e-8, atol: float = 1e-10, dt: float | None = None,
            tolerance_k: float = 4.0, tolerance_c: float = 0.05, test_set: int = 0,
            out: os.PathLike[str] | str | None = None,
            progress: bool = True) -> ComparisonReport:
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
    t_max : float, optional
        Final time (examples / N); default ``times[-1]``.
    times : array_like, optional
        Record times; default ``n_out`` equally spaced in [0, t_max].
    seeds : sequence of int
        At least 2 seeds (the standard error needs them); a verdict other than INCONCLUSIVE
        or FAIL needs at least ``MIN_SEEDS`` = 4, and usually more (module docstring, "Power").
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
        ``verdict`` PASS, FAIL or INCONCLUSIVE; ``passed`` only for PASS.

    Warns
    -----
    PowerWarning
        The verdict is INCONCLUSIVE: the test could not have detected a deviation that
        matters (the message names the quantities and about how many seeds are needed).

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
    S = len(sim.info["seeds"])
    k_seeds = seed_multiplier(tolerance_k, S)
    stats = {}
    for q in sim_mean:
        st = _deviation(sim.t, sim_mean[q], sim_sem[q], ode_mean[q], k_seeds, floor)
        st.update(power(sim_sem[q], ode_mean[q], S, tolerance_k, floor))
        st["in_verdict"] = q in QUANTITIES
        stats[q] = st
    failed_run = (sim.info.get("interrupted") or not np.all(sim.success)
                  or not np.all(ode.success))
    verdict, notes = judge({q: st for q, st in stats.items() if st["in_verdict"]}, S,
                           failed_run)
    info = {"method": method, "rtol": rtol, "atol": atol, "dt": dt,
            "sim_wall_s": t_sim, "ode_wall_s": t_ode, "wall_s": t_sim + t_ode,
            "steps_per_s_per_seed": float(sim.info["steps_per_s"]),
            "interrupted": bool(sim.info["interrupted"]),
            "sim_failures": {str(k): v for k, v in sim.info.get("messages", {}).items()},
            "ode_failures": {str(k): v for k, v in ode.info.get("messages", {}).items()},
            **_statuses("sim", sim), **_statuses("ode", ode)}
    report = ComparisonReport(setup, N, list(sim.info["seeds"]), np.asarray(sim.t), sim_mean,
                              sim_sem, ode_mean, stats, float(tolerance_k),
                              float(tolerance_c), k_seeds, verdict == "PASS", info,
                              verdict, notes)
    if notes:
        warnings.warn(" ".join(notes), PowerWarning, stacklevel=2)
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


def estimate_duration(setup: TeacherStudent, N: int, n_seeds: int, t_max: float,
                      calibration_s: float = 0.2) -> float:
    """Expected wall time (seconds) of simulating ``n_seeds`` seeds to ``t_max`` at input
    dimension ``N``: the bulk of :func:`compare` (the ODE takes a small fraction of it).

    The simulator's rate is measured on this machine by a short calibration run of the same
    setup and N (after a tiny run that compiles the simulator or loads it from the cache, which
    is not timed): as many seeds as run in parallel, ``min(n_seeds, cores)``, for about
    ``calibration_s`` seconds. The estimate extrapolates it over the cores: seeds run in
    waves of ``cores`` (``numba.get_num_threads()``), each of ``t_max * N`` steps, plus the
    per-seed set-up (weights, records) seen in the calibration.

    Parameters
    ----------
    setup : TeacherStudent
    N : int
        Input dimension (>= 1).
    n_seeds : int
        Seeds of the run (>= 1).
    t_max : float
        Final time (examples / N, > 0).
    calibration_s : float
        Target length of the timed calibration run.

    Returns
    -------
    float
        Seconds.

    Raises
    ------
    TypeError, ValueError
        An argument of the wrong type or value.
    """
    import numba

    from ._checks import check_int, check_real
    from .simulation import simulate

    if not isinstance(setup, TeacherStudent):
        raise TypeError(f"`setup` must be an odesolve.TeacherStudent, got {type(setup).__name__}.")
    N = check_int("N", N, minimum=1)
    n_seeds = check_int("n_seeds", n_seeds, minimum=1)
    t_max = check_real("t_max", t_max, positive=True)
    calibration_s = check_real("calibration_s", calibration_s, positive=True)
    parallel = min(n_seeds, max(1, numba.get_num_threads()))
    state = Overlaps.random(setup.K, setup.M, N=N, student_std=0.5, readout_std=0.5, seed=0)
    total = max(1, round(t_max * N))

    def timed(steps):
        tic = time.perf_counter()
        sim = simulate(setup, state, N=N, times=[steps / N], seeds=range(parallel),
                       progress=False)
        return time.perf_counter() - tic, sim.info["steps_per_s"]

    timed(min(16, total))                          # compile, or load the compiled code
    steps = min(256, total)
    while True:
        wall, rate = timed(steps)
        if wall >= calibration_s / 4 or steps >= total:
            break
        steps = min(total, int(steps * min(64.0, max(2.0, calibration_s / max(wall, 1e-4)))))
    setup_per_seed = max(wall - steps / rate, 0.0) / parallel
    return math.ceil(n_seeds / parallel) * total / rate + n_seeds * setup_per_seed


def _statuses(side: str, traj) -> dict:
    """Per-seed status and failure time of a batched trajectory (None: did not fail)."""
    t_fail = np.atleast_1d(np.asarray(traj.t_fail, dtype=np.float64))
    return {f"{side}_status": [int(x) for x in np.atleast_1d(traj.status)],
            f"{side}_t_fail": [float(x) if np.isfinite(x) else None for x in t_fail]}


def power(sem: ArrayLike, ode: ArrayLike, n_seeds: int, k: float, floor: float) -> dict[str, Any]:
    """How large a deviation of one quantity the comparison can detect (module docstring).

    Parameters
    ----------
    sem : array_like, shape (n, ...)
        Standard error of the seed mean at each record time (first: the start).
    ode : array_like, shape (n, ...)
        The ODE solution (seed mean) at the same times.
    n_seeds : int
        Seeds behind ``sem``.
    k : float
        ``tolerance_k`` (normal standard errors).
    floor : float
        ``tolerance_c / sqrt(N)``.

    Returns
    -------
    dict
        ``detectable``: ``k_S * sem + floor``, largest over components, median over the times
        after the start; ``change``: largest range of the ODE solution over time among the
        components; ``relative_band`` = detectable / change (inf when the change is 0);
        ``static``: the ODE keeps the quantity constant; ``powered``: static, or at least
        ``MIN_SEEDS`` seeds and ``relative_band <= POWER_FRACTION``; ``seeds_needed``: about
        how many seeds give power (:func:`seeds_needed`, from the spread these seeds show;
        None when no number does at this N, or when static).
    """
    n = np.shape(ode)[0]
    sem = np.asarray(sem, dtype=np.float64).reshape(n, -1)[1:]
    ode = np.asarray(ode, dtype=np.float64).reshape(n, -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)        # all-NaN (failed) runs
        sem_typ = float(np.nanmedian(np.nanmax(sem, axis=1))) if sem.size else math.nan
        change = float(np.nanmax(np.nanmax(ode, axis=0) - np.nanmin(ode, axis=0)))
        size = float(np.nanmax(np.abs(ode)))
    k_s = seed_multiplier(k, n_seeds)
    detectable = k_s * sem_typ + floor if math.isfinite(sem_typ) else math.inf
    static = math.isfinite(change) and change <= STATIC_RTOL * max(size, 1e-300)
    relative = detectable / change if change > 0 else math.inf
    powered = static or (n_seeds >= MIN_SEEDS and relative <= POWER_FRACTION)
    needed = None
    if not static and math.isfinite(sem_typ) and math.isfinite(change):
        needed = seeds_needed(sem_typ * math.sqrt(n_seeds), POWER_FRACTION * change, k, floor)
    return {"detectable": detectable, "change": change, "relative_band": relative,
            "static": bool(static), "powered": bool(powered), "seeds_needed": needed}


def seeds_needed(sd: float, target: float, k: float, floor: float,
                 most: int = 1 << 20) -> int | None:
    """Fewest seeds S >= MIN_SEEDS with ``k_S sd / sqrt(S) + floor <= target``.

    Parameters
    ----------
    sd : float
        Spread of one seed's value (sem times sqrt of the seeds behind it).
    target : float
        The largest acceptable detectable deviation.
    k, floor : float
        ``tolerance_k`` and ``tolerance_c / sqrt(N)``.
    most : int
        Give up beyond this many seeds.

    Returns
    -------
    int or None
        None when even ``most`` seeds do not suffice (the floor is too wide: raise N).

    Examples
    --------
    >>> seeds_needed(1.0, 1.0, 4.0, 0.0)          # fewest S with k_S / sqrt(S) <= 1
    24
    """
    def ok(S):
        return seed_multiplier(k, S) * sd / math.sqrt(S) + floor <= target

    if not ok(most):
        return None
    lo, hi = MIN_SEEDS, most                      # ok(hi); find the first ok in [lo, hi]
    if ok(lo):
        return lo
    while hi - lo > 1:                            # invariant: not ok(lo), ok(hi)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def judge(stats: dict, n_seeds: int, failed_run: bool = False) -> tuple[str, list]:
    """The verdict of the module docstring from the per-quantity ``stats`` of the quantities
    in the verdict (each with ``passed`` and the keys of :func:`power`).

    Returns
    -------
    verdict : {"PASS", "FAIL", "INCONCLUSIVE"}
    notes : list of str
        Why the verdict is INCONCLUSIVE and what would give power (empty otherwise).
    """
    if failed_run or not all(st["passed"] for st in stats.values()):
        return "FAIL", []
    weak = {q: st for q, st in stats.items() if not st["powered"]}
    if n_seeds >= MIN_SEEDS and not weak:
        return "PASS", []
    notes = []
    if n_seeds < MIN_SEEDS:
        notes.append(f"{n_seeds} seed(s) are too few for a verdict (at least {MIN_SEEDS}: "
                     f"with fewer the standard error is too uncertain).")
    if weak:
        parts = ", ".join(f"{q}: detectable {st['detectable']:.3g}, change {st['change']:.3g}"
                          for q, st in weak.items())
        needed = [st["seeds_needed"] for st in weak.values()]
        if any(x is None for x in needed):
            fix = ("no number of seeds suffices: the finite-N allowance c/sqrt(N) alone is too "
                   "wide for these changes; raise N or t_max")
        else:
            fix = f"about {max(needed)} seeds are needed"
        notes.append(f"with {n_seeds} seeds the smallest deviation the test can detect exceeds "
                     f"{POWER_FRACTION:.0%} of how much these quantities change over the run "
                     f"({parts}); {fix}. Verdict: INCONCLUSIVE.")
    elif n_seeds < MIN_SEEDS:
        notes[-1] += f" Run at least {MIN_SEEDS} seeds. Verdict: INCONCLUSIVE."
    return "INCONCLUSIVE", notes


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


@overload
def plot_comparison(report: ComparisonReport, path: None = None) -> Figure: ...


@overload
def plot_comparison(report: ComparisonReport, path: PathT) -> PathT: ...


def plot_comparison(report: ComparisonReport,
                    path: os.PathLike[str] | str | None = None) -> Figure | os.PathLike[str] | str:
    """eps_g and the overlaps R, Q and readouts v over time: ODE (seed mean) as lines, the
    simulation's seed mean as points with standard-error bars. Saved atomically to ``path``.

    A side (ODE or simulation) with a diverged seed is drawn in the failure style of
    :mod:`odesolve.plotting` (dashed up to where its mean is defined, a cross at the first
    failure time); the axes are scaled by the sides that did not fail, and eps_g (log axis) is
    clipped at ``LOG_FLOOR`` times its largest value (round-off around zero).
    """
    from .plotting import _pyplot, save_figure

    plt = _pyplot()
    t, s = report.t, report.setup
    K, M = s.K, s.M
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.0), constrained_layout=True)
    panels = [("eps_g", [()], r"\epsilon_g", "generalisation error"),
              ("R", [(i, n) for i in range(K) for n in range(M)], "R_{%d%d}",
               "student-teacher overlaps R"),
              ("Q", [(i, k) for i in range(K) for k in range(i, K)], "Q_{%d%d}",
               "student-student overlaps Q"),
              ("v", [(i,) for i in range(K)], "v_{%d}", "readouts v")]
    for ax, panel in zip(axes, panels):
        _comparison_panel(ax, report, *panel)
    for ax in axes:
        if len(ax.get_legend_handles_labels()[0]) <= 12:
            ax.legend(fontsize=7, ncol=2)
    failed = [side for side in ("ode", "sim") if _side_failure(report, side)[0]]
    note = f"; diverged: {' and '.join(failed)} (dashed, x: first failure)" if failed else ""
    fig.suptitle(f"ODE (lines) vs simulation (points, seed mean +- sem): {s.activation_name}, "
                 f"K={K}, M={M}, eta={s.eta:g}, eta_v={s.eta_readout:g}, sigma={s.sigma:g}; "
                 f"N={report.N}, {len(report.seeds)} seeds: {report.verdict}{note}")
    return save_figure(fig, path, dpi=110)


def _error_bars(mean, sem, lim, log):
    """Points and bar ends as drawn: points outside the view are left out (NaN), bar ends are
    held inside it (on a log axis at or above its bottom)."""
    if lim is None:
        return mean, mean - sem, mean + sem
    inside = (mean >= lim[0]) & (mean <= lim[1])
    m = np.where(inside, mean, np.nan)
    lo = np.clip(np.where(inside, mean - sem, np.nan), lim[0], lim[1])
    hi = np.clip(np.where(inside, mean + sem, np.nan), lim[0], lim[1])
    return m, lo, hi


def _side_failure(report: ComparisonReport, side: str) -> tuple[bool, float]:
    """(some seed of ``side`` failed, the earliest failure time or NaN)."""
    status = report.info.get(f"{side}_status", [])
    t_fail = [x for x in report.info.get(f"{side}_t_fail", []) if x is not None]
    return any(x != 0 for x in status), (min(t_fail) if t_fail else math.nan)


def _comparison_panel(ax, report, name, index, fmt, title):
    """One quantity: the ODE and the simulation per component, scaled by the sides that did
    not fail (:func:`odesolve.plotting.view_limits`)."""
    import matplotlib

    from .plotting import clip_to_view, draw_member, mark_failure, set_view, view_limits

    t = report.t
    log = name == "eps_g"
    ode_failed, ode_tf = _side_failure(report, "ode")
    sim_failed, sim_tf = _side_failure(report, "sim")
    ode, mean, sem = (np.asarray(d[name], dtype=np.float64)
                      for d in (report.ode_mean, report.sim_mean, report.sim_sem))
    lim = view_limits(np.stack([ode, mean]), [not ode_failed, not sim_failed], log=log)
    step = max(1, t.size // 40)            # thin the points on dense grids
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, ij in enumerate(index):
        sl = (slice(None),) + ij
        c = cycle[j % len(cycle)]
        draw_member(ax, t, ode[sl], ode_failed, ode_tf, lim, log, color=c, lw=1.3,
                    label="$" + fmt % tuple(x + 1 for x in ij) + "$")
        m, lo, hi = _error_bars(mean[sl][::step], sem[sl][::step], lim, log)
        ax.errorbar(t[::step], m, yerr=[m - lo, hi - m], fmt="o", ms=3, color=c,
                    elinewidth=0.9, capsize=2, mfc="none" if sim_failed else c)
        if sim_failed:
            mark_failure(ax, t, clip_to_view(mean[sl], lim, log), sim_tf, lim, c)
    if log and "eps_g_test" in report.sim_mean:
        m, lo, hi = _error_bars(np.asarray(report.sim_mean["eps_g_test"])[::step],
                                np.asarray(report.sim_sem["eps_g_test"])[::step], lim, log)
        ax.errorbar(t[::step], m, yerr=[m - lo, hi - m], fmt="x", ms=4, color="0.4",
                    label="test-set estimate")
    ax.set(xlabel="t (examples / N)" if log else "t", title=title)
    set_view(ax, lim, log)
