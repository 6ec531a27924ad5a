"""odesolve benchmarks: one command, a table, and a JSON file.

    python benchmarks/run.py [--quick] [--json benchmarks/results/latest.json]

Every figure is reported next to a baseline measured in the same run (machines are shared and
noisy, so ratios are what we claim). Sections:

* ``integrate``: erf, K = M = 2, both layers trained, t in [0, 1000]. RK4 (dt = 0.01) and
  Dormand-Prince (rtol 1e-8) against ``scipy.integrate.solve_ivp`` (RK45, rtol 1e-8) on the
  vectorised NumPy right-hand side of ``odesolve.reference``; accuracy against a tight
  reference (solve_ivp DOP853, rtol 1e-13, on the NumPy right-hand side: independent of our code).
* ``rhs``: one right-hand-side evaluation at K = M = 2, 5, 10 (compiled fast path, compiled
  template path, NumPy reference).
* ``batch``: 10 000 initial states as one parallel batch (erf K = M = 2, t in [0, 100], rtol
  1e-6) against solve_ivp looped over members; scaling with batch size, K and t_max; the cost
  of a few stiff members (``benchmarks/bench_batch.py``).
* ``sweep``: ``odesolve.sweep`` throughput against the raw batch and solve_ivp.
* ``simulate``: finite-N SGD steps/s on one core against a plain Numba loop
  (``benchmarks/bench_simulate.py``).
* ``control``: the adjoint gradient of a 100-piece schedule against one forward solve,
  K = M = 2 .. 6 (``benchmarks/bench_control.py``).
* ``startup``: cold start (empty Numba cache, first call) and warm start (cache filled), each in
  a fresh process.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

import odesolve
from odesolve import committee
from odesolve.reference import erf_rhs_vector

ROOT = Path(__file__).resolve().parent


def _state(K, M, seed=0):
    return odesolve.Overlaps.random(K, M, N=10_000, student_std=0.1, readout_std=0.1,
                                    teacher_std=1.0, seed=seed)


def _numpy_fun(setup, state):
    return erf_rhs_vector(setup, state.T, state.v_star)


def _best_of(fn, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_integrate(quick=False):
    setup = odesolve.TeacherStudent(2, 2, "erf", eta=1.0)
    state = _state(2, 2)
    t_max = 200.0 if quick else 1000.0
    times = np.linspace(0, t_max, 101)
    y0 = committee.pack_state(state)[0]
    fun = _numpy_fun(setup, state)
    t0 = time.perf_counter()
    ref = solve_ivp(fun, (0, t_max), y0, method="DOP853", rtol=1e-13, atol=1e-14, t_eval=times)
    t_ref = time.perf_counter() - t0

    def err(Y):
        return float(np.abs(Y - ref.y.T).max())

    rows = []
    base_time, base = _best_of(lambda: solve_ivp(fun, (0, t_max), y0, method="RK45", rtol=1e-8,
                                                 atol=1e-10, t_eval=times), 1)
    rows.append({"name": "solve_ivp RK45 rtol 1e-8 (NumPy rhs) [baseline]", "time_s": base_time,
                 "max_abs_error": err(base.y.T), "n_rhs": int(base.nfev), "speedup": 1.0})
    for label, kw in (("odesolve rk4 dt 0.01", dict(method="rk4", dt=0.01)),
                      ("odesolve dopri5 rtol 1e-8", dict(method="dopri5", rtol=1e-8,
                                                          atol=1e-10))):
        odesolve.integrate(setup, state, t_max=1.0, n_out=3, **kw)    # compile / load cache
        tm, traj = _best_of(lambda: odesolve.integrate(setup, state, t_max=t_max, times=times,
                                                        **kw), 3)
        Y = committee.pack_state(odesolve.Overlaps(traj.Q, traj.R, state.T, traj.v,
                                                   state.v_star, check=False))
        rows.append({"name": label, "time_s": tm, "max_abs_error": err(Y),
                     "n_rhs": int(np.sum(traj.info["n_rhs"])), "speedup": base_time / tm})
    return {"t_max": t_max, "reference": "solve_ivp DOP853 rtol 1e-13 (NumPy rhs)",
            "reference_time_s": t_ref, "rows": rows}


def bench_rhs(quick=False):
    rows = []
    for K in (2, 5, 10):
        setup = odesolve.TeacherStudent(K, K, "erf", eta=0.5)
        state = _state(K, K, seed=K)
        y = committee.pack_state(state)[0]
        p = committee.pack_params(setup, state)[0]
        work = np.zeros(committee.n_work(K, K))
        out = np.empty_like(y)
        fun = _numpy_fun(setup, state)
        n_np = 200 if K == 10 else 2000
        t_np, _ = _best_of(lambda: [fun(0.0, y) for _ in range(n_np)], 3)
        row = {"K=M": K, "numpy_us": t_np / n_np * 1e6}
        for label, fast in (("fast", True), ("template", False)):
            rhs = committee.committee_problem(setup, fast=fast).rhs
            rhs(0.0, y, p, work, out)
            n = 200_000 // (K * K)
            loop = _rhs_loop(rhs)
            loop(y, p, work, out, 10)
            tm, _ = _best_of(lambda: loop(y, p, work, out, n), 3)
            row[f"{label}_us"] = tm / n * 1e6
        row["speedup_fast_vs_numpy"] = row["numpy_us"] / row["fast_us"]
        rows.append(row)
    return {"rows": rows}


_LOOPS = {}


def _rhs_loop(rhs):
    """A compiled loop calling ``rhs`` n times (times the rhs, not Python's call overhead)."""
    from odesolve._jit import source_tag, specialise

    if rhs not in _LOOPS:
        _LOOPS[rhs] = specialise(_loop_template, "bench_" + source_tag(rhs), rhs=rhs)
    return _LOOPS[rhs]


def _loop_template(y, p, work, out, n):
    for _ in range(n):
        rhs(0.0, y, p, work, out)  # noqa: F821  (bound by specialise)


_STARTUP = """
import time; t0 = time.perf_counter()
import odesolve
setup = odesolve.TeacherStudent(2, 2, "erf", eta=1.0)
state = odesolve.Overlaps.random(2, 2, seed=0, student_std=0.1, readout_std=0.1)
odesolve.integrate(setup, state, t_max=10.0, method="{method}")
print(time.perf_counter() - t0)
"""


def bench_startup(quick=False):
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for method in ("rk4", "dopri5"):
            code = _STARTUP.format(method=method)
            run = lambda: float(subprocess.run([sys.executable, "-c", code], env=env,  # noqa
                                               capture_output=True, text=True,
                                               check=True).stdout.split()[-1])
            cold = run()
            warm = min(run() for _ in range(2))
            rows.append({"method": method, "cold_s": cold, "warm_s": warm,
                         "cold_over_warm": cold / warm})
    return {"rows": rows}


def _print_table(title, rows):
    print(f"\n== {title}")
    keys = list(rows[0])
    width = {k: max(len(k), *(len(_fmt(r[k])) for r in rows)) for k in keys}
    print("  ".join(k.ljust(width[k]) for k in keys))
    for r in rows:
        print("  ".join(_fmt(r[k]).ljust(width[k]) for k in keys))


def _fmt(x):
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def bench_simulate(quick=False):
    sys.path.insert(0, str(ROOT))
    from bench_simulate import bench_simulate as run

    return run(quick)


def bench_batch(quick=False):
    sys.path.insert(0, str(ROOT))
    from bench_batch import bench_batch as run

    return run(quick)


def bench_sweep(quick=False):
    sys.path.insert(0, str(ROOT))
    from bench_batch import bench_sweep as run

    return run(quick)


def bench_control(quick=False):
    sys.path.insert(0, str(ROOT))
    from bench_control import bench_control as run

    return run(quick)


SECTIONS = {"integrate": bench_integrate, "rhs": bench_rhs, "batch": bench_batch,
            "sweep": bench_sweep, "simulate": bench_simulate, "control": bench_control,
            "startup": bench_startup}


def headline(results) -> list:
    """One row per headline figure: what, value, baseline, ratio (from the sections run)."""
    rows = []

    def add(what, value, baseline, ratio, target=""):
        rows.append({"figure": what, "odesolve": value, "baseline": baseline,
                     "ratio": ratio, "target": target})

    if "integrate" in results:
        r = {row["name"]: row for row in results["integrate"]["rows"]}
        base = next(v for k, v in r.items() if "baseline" in k)
        dop = next(v for k, v in r.items() if "dopri5" in k)
        add(f"single trajectory t<={results['integrate']['t_max']:g}, dopri5 rtol 1e-8 (s)",
            dop["time_s"], base["time_s"], base["time_s"] / dop["time_s"], ">= 100x")
        add("  its max error / solve_ivp's", dop["max_abs_error"], base["max_abs_error"],
            dop["max_abs_error"] / base["max_abs_error"], "<= 1")
    if "rhs" in results:
        for row in results["rhs"]["rows"]:
            add(f"rhs K=M={row['K=M']} (us)", row["fast_us"], row["numpy_us"],
                row["speedup_fast_vs_numpy"], "<= 100 us" if row["K=M"] == 10 else "")
    if "batch" in results:
        b = results["batch"]
        ours, base = b["rows"][1], b["rows"][0]
        add(f"batch of {b['B']}, t<=100, rtol 1e-6 (s)", ours["time_s"],
            base["per_member_us"] * b["B"] * 1e-6, ours["speedup_per_member"],
            "<= 3 s, >= 200x per member")
        st = b["stiff_members"]
        add("  1% stiff members: time ratio / work ratio", st["time_ratio"], st["work_ratio"],
            st["balance"], "~1 (balanced)")
    if "sweep" in results:
        rows_s = results["sweep"]["rows"]
        add(f"sweep of {results['sweep']['members']} members (members/s)",
            rows_s[1]["members_per_s"], rows_s[0]["members_per_s"], rows_s[1]["ratio"],
            "~1 (no overhead)")
    if "simulate" in results:
        row = next(r for r in results["simulate"]["rows"] if r["N"] == 10_000)
        add("simulator N=10000, one core (steps/s)", row["odesolve_steps_per_s"],
            row["plain_steps_per_s"], row["speedup"], ">= 15000/s, >= 4x")
    if "control" in results:
        for row in results["control"]["rows"]:
            add(f"adjoint gradient, 100 pieces, K=M={row['K=M']} (ms)", row["adjoint_ms"],
                row["forward_ms"], row["adjoint_over_forward"],
                "<= 5x forward" if row["K=M"] == 2 else "")
    if "startup" in results:
        for row in results["startup"]["rows"]:
            add(f"start-up {row['method']} cold / warm (s)", row["cold_s"], row["warm_s"],
                row["cold_over_warm"], "")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="shorter runs (smoke test)")
    ap.add_argument("--only", nargs="*", choices=sorted(SECTIONS), help="run these sections")
    ap.add_argument("--json", default=str(ROOT / "results" / "latest.json"),
                    help="where to write the figures (JSON)")
    args = ap.parse_args(argv)
    results = {"machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                           "cpus": os.cpu_count(), "odesolve": odesolve.__version__},
               "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    for name in args.only or SECTIONS:
        res = SECTIONS[name](args.quick)
        results[name] = res
        scalars = {k: v for k, v in res.items() if not isinstance(v, (list, dict))}
        _print_table(f"{name} {scalars if scalars else ''}", res["rows"])
        for key, value in res.items():
            if key != "rows" and isinstance(value, list) and value and isinstance(value[0], dict):
                _print_table(f"{name}: {key}", value)
            elif isinstance(value, dict) and key != "tolerances":
                _print_table(f"{name}: {key}", [value])
    results["headline"] = headline(results)
    _print_table("headline figures (each against a baseline measured in this run)",
                 results["headline"])
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    from odesolve.io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
