"""Validation of the ODEs against the finite-N simulator at N = 10 000 (issue 3).

One command::

    python benchmarks/validate_n10000.py [--seeds 32] [--t-max 50] [--out benchmarks/results/validation]

Three cases, each simulated with several seeds up to t = 50 and compared with the ODE integrated
from every seed's realised initial overlaps (:func:`odesolve.compare`):

1. erf, K = M = 2, both layers trained (eta = eta_v = 1, sigma = 0.1);
2. erf, K = 3, M = 2, fixed readouts (eta_v = 0), student readouts 1;
3. ReLU, K = M = 2, both layers trained (eta = 0.5).

Pass rule (odesolve/comparison.py): |mean_sim - ode| <= k_S sem + 0.05 / sqrt(N) for Q, R, v
and eps_g at every record time, k_S being 4 normal standard errors as a Student-t quantile for
the number of seeds (4.6 for 32 seeds).
Prints each report's summary, writes ``<case>.json`` and
``<case>.png`` under the output folder, records each verdict for the documentation's
validation page (``build/validation/n10000.json``, see ``odesolve._records``) and exits 1 if
any case fails.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import odesolve
from odesolve._records import record

HERE = Path(__file__).resolve().parent
N = 10_000

STATE_2x2 = odesolve.Overlaps(np.array([[0.3, 0.05], [0.05, 0.2]]),
                              np.array([[0.1, 0.0], [0.0, 0.1]]), np.eye(2),
                              np.array([0.4, 0.2]), np.ones(2))


def cases():
    return [
        ("erf_K2M2_both_layers", odesolve.TeacherStudent(2, 2, "erf", eta=1.0, sigma=0.1),
         STATE_2x2),
        ("erf_K3M2_fixed_readouts", odesolve.TeacherStudent(3, 2, "erf", eta=1.0, eta_v=0.0),
         odesolve.Overlaps.random(3, 2, N=N, student_std=0.5, readout_std=0.0,
                                  readout_mean=1.0, seed=1)),
        ("relu_K2M2_both_layers", odesolve.TeacherStudent(2, 2, "relu", eta=0.5), STATE_2x2),
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=32, help="number of seeds (default 32)")
    ap.add_argument("--t-max", type=float, default=50.0, help="final time (default 50)")
    ap.add_argument("--n-out", type=int, default=51, help="record times (default 51)")
    ap.add_argument("--N", type=int, default=N, help="input dimension (default 10 000)")
    ap.add_argument("--out", default=str(HERE / "results" / "validation"))
    ap.add_argument("--only", help="run only the case whose name contains this")
    args = ap.parse_args(argv)
    out = Path(args.out)
    results = []
    for name, setup, state in cases():
        if args.only and args.only not in name:
            continue
        print(f"\n=== {name} ===", flush=True)
        tic = time.perf_counter()
        rep = odesolve.compare(setup, state, N=args.N, t_max=args.t_max, n_out=args.n_out,
                               seeds=range(args.seeds), method="dopri5", rtol=1e-9,
                               atol=1e-12, out=out / f"{name}.json")
        wall = time.perf_counter() - tic
        print(rep.summary())
        print(f"wall time {wall:.1f} s; {rep.info['steps_per_s_per_seed']:,.0f} steps/s per "
              f"seed; report {rep.info['paths'][0]}\nfigure {rep.info['paths'][1]}", flush=True)
        results.append((name, rep.passed, wall))
        worst = max(s["worst"] for q, s in rep.stats.items() if s.get("in_verdict", True))
        s = setup
        record("n10000", f"simulation.{name}", area="Simulation agreement",
               claim=f"the ODE predicts the mean of finite-N SGD: {s.activation_name}, "
                     f"K = {s.K}, M = {s.M}, eta = {s.eta:g}, eta_v = {s.eta_readout:g}, "
                     f"sigma = {s.sigma:g}, t <= {args.t_max:g}",
               method=f"simulation of the networks at N = {args.N:,}, {args.seeds} seeds; "
                      f"Q, R, v, eps_g at {args.n_out} times; verdict {rep.verdict}",
               measured=worst, bound=1.0, unit="x tolerance (k_S sem + c/sqrt N)",
               where=f"python benchmarks/validate_n10000.py --seeds {args.seeds} "
                     f"--t-max {args.t_max:g}",
               extra={"k_S": rep.k_seeds, "wall time s": round(wall, 1)})
    print("\n=== summary ===")
    for name, ok, wall in results:
        print(f"{name:<28} {'PASS' if ok else 'FAIL'}  {wall:7.1f} s")
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
