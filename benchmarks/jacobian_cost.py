"""Cost of one Jacobian evaluation against one right-hand-side evaluation (issue 16).

Both timed in the same run, each inside a compiled loop (no Python call overhead), best of
15 short runs taken alternately, at one state with trained readouts, noise and weight decay.
The ratio is the claim (machines are shared and noisy). Run:

    python benchmarks/jacobian_cost.py [--activation erf] [--sizes 2 3 4 6] [--no-record]

Prints a table; records the ratio at K = M = 2 (``odesolve._records``, source
``jacobian_cost``) unless ``--no-record``.
"""
from __future__ import annotations

import argparse
import time

import numba
import numpy as np

import odesolve
from odesolve import committee
from odesolve._records import record
from odesolve.jacobian import committee_jacobian, jac_work_size


def _loops(rhs, jac):
    @numba.njit
    def loop_rhs(y, p, work, out, reps):
        for _ in range(reps):
            rhs(0.0, y, p, work, out)

    @numba.njit
    def loop_jac(y, p, work, Jy, Jp, reps):
        for _ in range(reps):
            jac(0.0, y, p, work, Jy, Jp)

    return loop_rhs, loop_jac


def _time(fn, args, reps):
    t0 = time.perf_counter()
    fn(*args, reps)
    return (time.perf_counter() - t0) / reps


def _best_pair(f_rhs, a_rhs, f_jac, a_jac, reps, repeat=15):
    """Best times of the two loops, measured alternately (a shared machine: both see the same
    load, and the best of many short runs finds the quiet moments)."""
    f_rhs(*a_rhs, 1)
    f_jac(*a_jac, 1)
    t_rhs = t_jac = np.inf
    for _ in range(repeat):
        t_rhs = min(t_rhs, _time(f_rhs, a_rhs, reps))
        t_jac = min(t_jac, _time(f_jac, a_jac, max(1, reps // 4)))
    return t_rhs, t_jac


def measure(activation: str = "erf", sizes=(2, 3, 4, 6)) -> list[dict]:
    """Per K = M: seconds per rhs, seconds per Jacobian and their ratio."""
    rhs = committee.committee_problem(odesolve.TeacherStudent(2, 2, activation)).rhs
    loop_rhs, loop_jac = _loops(rhs, committee_jacobian(activation))
    rows = []
    for K in sizes:
        M = K
        setup = odesolve.TeacherStudent(K, M, activation, eta=0.7, eta_v=0.3, sigma=0.4,
                                        weight_decay=0.05)
        state = odesolve.Overlaps.random(K, M, N=50, student_std=0.6, readout_std=0.5, seed=3)
        y = committee.pack_state(state)[0]
        p = committee.pack_params(setup, state)[0]
        n = y.size
        work = np.zeros(jac_work_size(K, M))
        reps = max(100, 10000 // K ** 3)
        t_rhs, t_jac = _best_pair(loop_rhs, (y, p, work, np.empty(n)), loop_jac,
                                  (y, p, work, np.empty((n, n)), np.empty((n, p.size))), reps)
        rows.append({"K": K, "M": M, "n": n, "rhs_us": t_rhs * 1e6, "jac_us": t_jac * 1e6,
                     "ratio": t_jac / t_rhs})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--activation", default="erf")
    ap.add_argument("--sizes", type=int, nargs="+", default=[2, 3, 4, 6])
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args(argv)
    rows = measure(args.activation, tuple(args.sizes))
    print(f"activation {args.activation}: one Jacobian (Jy and Jp) against one rhs evaluation")
    print(f"{'K = M':>6} {'n':>4} {'rhs [us]':>10} {'jac [us]':>10} {'ratio':>7}")
    for r in rows:
        print(f"{r['K']:>6} {r['n']:>4} {r['rhs_us']:>10.2f} {r['jac_us']:>10.2f} "
              f"{r['ratio']:>7.2f}")
    first = rows[0]
    if not args.no_record and first["K"] == 2:
        record("jacobian_cost", f"jacobian.cost.{args.activation}.K2M2",
               area="Jacobians of the right-hand side",
               claim=f"one Jacobian evaluation ({args.activation}, K = M = 2, d/dy and d/dp) "
                     "costs a small multiple of one right-hand-side evaluation",
               method="best of 15 alternating timings of compiled loops, same run",
               measured=first["ratio"], unit="x rhs",
               extra={f"ratio at K = M = {r['K']}": round(r["ratio"], 2) for r in rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
