"""Cost of an exact gradient through the committee ODE (issue 16): the adjoint pass of a
100-piece learning-rate schedule against one forward solve of the same RK4 run, both timed in
the same run (best of several, alternating), for K = M = 2, 3, 4, 6, erf.

    python benchmarks/run.py --only control        (or: python benchmarks/bench_control.py)

"forward" is the RK4 pass that the adjoint needs anyway (it stores the stage states); the
package's own fixed-step solver (``odesolve.solvers.solve``, RK4 at the same step) is timed as
a second baseline. The claim is the ratio adjoint / forward at K = M = 2 (issue: at most 5).
"""
from __future__ import annotations

import time

import numpy as np

from odesolve import committee
from odesolve.control import objective_gradient, piecewise_constant
from odesolve.control.committee import committee_sensitivity_problem
from odesolve.model import Overlaps, TeacherStudent
from odesolve.solvers import solve


def _best(fn, repeat):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_control(quick: bool = False) -> dict:
    sizes = (2, 3) if quick else (2, 3, 4, 6)
    t_f, n_pieces, steps_per_piece = 100.0, 100, 10
    rows = []
    for K in sizes:
        setup = TeacherStudent(K, K, "erf", eta=0.5, eta_v=0.3, sigma=0.1)
        state = Overlaps.random(K, K, N=10_000, student_std=0.5, seed=3)
        prob = committee_sensitivity_problem(setup)
        y0 = committee.pack_state(state)[0]
        p0 = committee.pack_params(setup, state)[0]
        sch = {"eta": piecewise_constant(t_f, np.full(n_pieces, 0.5))}
        n_steps = n_pieces * steps_per_piece

        def run(method):
            return objective_gradient(prob, y0, p0, sch, t_f, n_steps, method=method,
                                      n_record=2)

        def plain():
            return solve(committee.committee_problem(setup), y0, p0[None],
                         np.array([0.0, t_f]), method="rk4", dt=t_f / n_steps)

        for f in (lambda: run("none"), lambda: run("adjoint"), plain):
            f()                                     # compile / load the cache
        repeat = 3 if quick else 7
        times = {"forward": [], "adjoint": [], "solve": []}
        for _ in range(repeat):                      # alternate, so drifts hit both alike
            times["forward"].append(_best(lambda: run("none"), 1))
            times["adjoint"].append(_best(lambda: run("adjoint"), 1))
            times["solve"].append(_best(plain, 1))
        best = {k: min(v) for k, v in times.items()}
        rows.append({"K=M": K, "state_size": int(y0.size), "forward_ms": 1e3 * best["forward"],
                     "adjoint_ms": 1e3 * best["adjoint"], "solve_rk4_ms": 1e3 * best["solve"],
                     "adjoint_over_forward": best["adjoint"] / best["forward"],
                     "adjoint_over_solve": best["adjoint"] / best["solve"]})
    return {"rows": rows, "pieces": n_pieces, "steps": n_pieces * steps_per_piece, "t_f": t_f}


if __name__ == "__main__":
    for row in bench_control()["rows"]:
        print(row)
