"""Finite-N check of the optimal protocols of odesolve.control (issue 16).

One command::

    python benchmarks/validate_control.py [--seeds 8] [--N 10000]
        [--lr-json optimal_lr.json] [--replay-json optimal_replay.json]
        [--out benchmarks/results/control/validate_control.json]

Simulates the networks at N = 10 000 under the schedules the ODE optimised and under the
baselines, with the same protocol objects (:class:`odesolve.control.Schedule`) driving both:

(a) ``optimal_lr``, erf, fixed readouts, by default K = M = 2, sigma = 0.3, t_f = 150
    (``--lr-case K SIGMA T_F``, repeatable, for the other cases): the optimal
    eta(t), the best constant eta and the best 1/t annealing
    (:func:`odesolve.simulate` with ``schedules={"eta": ...}``); the objective is eps_g(t_f);
(b) ``optimal_replay``, two tasks of feature similarity a = 0.2, imbalanced and balanced
    initialisations: block, interleaved and optimal (mix(t), eta(t))
    (:func:`odesolve.multitask.simulate.simulate_mixture`); the objective is
    eps_0(t_f) + eps_1(t_f).

The schedules come from the scenario JSON files (``odesolve scenario optimal_lr`` /
``optimal_replay``) when given, otherwise the cases are optimised here
(:func:`odesolve.control.scenarios.optimal_lr_case`, ``optimal_replay_case``).

For every protocol it prints the simulated objective, mean +- SEM over the seeds, and the
ODE's value; for the optimal protocol against each baseline the gain (baseline - optimal)
and its size in combined standard errors, ``z = gain / sqrt(SEM_opt^2 + SEM_base^2)``, and,
since all protocols run the same seeds (same teacher, initial weights and first samples),
``z_paired`` and ``z_log``: the mean per-seed difference (of the objective, of its log)
over its standard error. The gain counts as confirmed by the simulation when one of the three
exceeds 3 (``--z``). For ``optimal_lr`` it
also measures each seed's escape time from the plateau (records every 0.5). Writes the numbers as JSON
and exits 1 if a gain is not confirmed.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

import odesolve
from odesolve.control.schedule import Schedule

HERE = Path(__file__).resolve().parent
N = 10_000
#: record interval of the simulated optimal_lr runs (resolution of the escape times)
ESCAPE_DT = 0.5


def _stats(values):
    values = np.asarray(values, float)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))


def _lr_case(path, K=2, sigma=0.3, t_f=150.0):
    from odesolve.control.scenarios import optimal_lr_case

    if path is None:
        return optimal_lr_case(K, sigma, t_f)
    cases = json.loads(Path(path).read_text())["cases"]
    for c in cases:
        if c["K"] == K and abs(c["sigma"] - sigma) < 1e-12 and abs(c["t_f"] - t_f) < 1e-9:
            return c
    have = ", ".join(f"({c['K']}, {c['sigma']:g}, {c['t_f']:g})" for c in cases)
    raise SystemExit(f"--lr-json {path}: no case K = {K}, sigma = {sigma:g}, t_f = {t_f:g} "
                     f"(it has {have}).")


def _replay_cases(path):
    from odesolve.control.scenarios import optimal_replay_case

    want = (("imbalanced", 0.2), ("balanced", 0.2))
    if path is None:
        return [optimal_replay_case(init, a) for init, a in want]
    cases = json.loads(Path(path).read_text())["cases"]
    return [next(c for c in cases if c["init"] == init and abs(c["a"] - a) < 1e-12)
            for init, a in want]


def run_lr(case, n, seeds, protocols=None):
    """Final eps_g per protocol of the optimal_lr case: simulation (mean, sem) and ODE."""
    from odesolve.control.scenarios import plateau_start

    from odesolve.control.scenarios import escape_time, plateau_start

    K, sigma, t_f = case["K"], case["sigma"], case["t_f"]
    _, state = plateau_start(K, case.get("seed", 0))
    setup = odesolve.TeacherStudent(K, K, "erf", eta=1.0, eta_v=0.0, sigma=sigma)
    times = np.arange(1, round(t_f / ESCAPE_DT) + 1) * ESCAPE_DT
    out = {}
    for name, pr in case["protocols"].items():
        if protocols and name not in protocols and name != "optimal":
            continue
        tic = time.perf_counter()
        sim = odesolve.simulate(setup, state, N=n, times=times, seeds=seeds,
                                schedules={"eta": Schedule.from_dict(pr["schedule"])},
                                progress=False)
        mean, sem = _stats(sim.eps_g[:, -1])
        n_t = sim.t.size
        escapes = [escape_time(sim.t, np.concatenate([sim.Q[s].reshape(n_t, K * K),
                                                      sim.R[s].reshape(n_t, K * K),
                                                      sim.v[s]], axis=1), K, K)
                   for s in range(sim.Q.shape[0])]
        out[name] = {"sim_mean": mean, "sim_sem": sem, "ode": pr["eps_final"],
                     "sim_per_seed": sim.eps_g[:, -1].tolist(),
                     "escape_ode": pr["t_escape"], "escape_per_seed": escapes,
                     "seconds": time.perf_counter() - tic}
        print(f"  {name:<12} sim {mean:.4e} +- {sem:.1e}   ODE {pr['eps_final']:.4e}   "
              f"escape sim {np.nanmean(escapes):.1f} ({np.isnan(escapes).sum()} never), "
              f"ODE {pr['t_escape']:.1f}   ({out[name]['seconds']:.0f} s)", flush=True)
    return out


def run_replay(case, n, seeds):
    """Final eps_0 + eps_1 per protocol of one optimal_replay case."""
    from odesolve.multitask import MultiTaskSetup, MultiTaskState
    from odesolve.multitask.model import teacher_overlaps
    from odesolve.multitask.simulate import simulate_mixture
    from odesolve.scenarios import INITS

    mt = MultiTaskSetup(2, 1, P=2, heads="multi", eta=1.0)
    T = teacher_overlaps(1, 2, feature_similarity=case["a"])
    st = MultiTaskState.random(mt, T, [[1.0], [1.0]], N=10_000, seed=case.get("seed", 0),
                               **INITS[case["init"]])
    out = {}
    for name, pr in case["protocols"].items():
        tic = time.perf_counter()
        sch = {"mix": Schedule.from_dict(pr["mix"]), "eta": Schedule.from_dict(pr["eta"])}
        sim = simulate_mixture(mt, st, sch, N=n, t_max=case["t_f"], seeds=seeds, n_out=31,
                               progress=False)
        total = sim.eps_g[:, -1].sum(axis=1)
        mean, sem = _stats(total)
        out[name] = {"sim_mean": mean, "sim_sem": sem, "ode": pr["objective"],
                     "sim_eps_final_mean": sim.mean["eps_g"][-1].tolist(),
                     "sim_per_seed": total.tolist(), "seconds": time.perf_counter() - tic}
        print(f"  {name:<12} sim {mean:.4e} +- {sem:.1e}   ODE {pr['objective']:.4e}   "
              f"({out[name]['seconds']:.0f} s)", flush=True)
    return out


def _z(diff):
    """Mean of paired differences over its standard error (inf when they are all equal)."""
    mean, sem = _stats(diff)
    return mean / sem if sem > 0 else math.copysign(math.inf, mean) if mean else 0.0


def gains(res, z_min):
    """Gain of 'optimal' over every other protocol, in the simulation and the ODE.

    Every protocol runs the same seeds (same teacher, initial weights and first samples), so
    the gain is also measured seed by seed: ``z_paired`` is the mean of the per-seed
    differences over its standard error, ``z_log`` the same for the per-seed log ratios
    (baseline / optimal; the right scale when the errors of a run span orders of magnitude,
    as after an escape that happens earlier or later). ``z`` treats the protocols as
    independent samples. The gain is confirmed when one of them exceeds ``z_min``.
    """
    opt = res["optimal"]
    out = {}
    for name, r in res.items():
        if name == "optimal":
            continue
        gain = r["sim_mean"] - opt["sim_mean"]
        z = gain / math.hypot(r["sim_sem"], opt["sim_sem"])
        z_paired = _z(np.subtract(r["sim_per_seed"], opt["sim_per_seed"]))
        log_ratio = np.log(np.divide(r["sim_per_seed"], opt["sim_per_seed"]))
        z_log = _z(log_ratio)
        out[name] = {"sim_gain": gain, "z": z, "z_paired": z_paired, "z_log": z_log,
                     "sim_ratio_geometric": float(np.exp(log_ratio.mean())),
                     "ode_gain": r["ode"] - opt["ode"], "ode_ratio": r["ode"] / opt["ode"],
                     "confirmed": bool(max(z, z_paired, z_log) > z_min)}
        if "escape_per_seed" in r:          # seeds that escape under both protocols
            d = np.subtract(r["escape_per_seed"], opt["escape_per_seed"])
            d = d[np.isfinite(d)]
            out[name]["escape_gain"] = _stats(d) if d.size > 1 else None
            out[name]["escape_seeds"] = int(d.size)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=8, help="seeds per protocol (default 8)")
    ap.add_argument("--N", type=int, default=N, help="input dimension (default 10 000)")
    ap.add_argument("--lr-json", help="scenario JSON of optimal_lr (default: optimise here)")
    ap.add_argument("--replay-json", help="scenario JSON of optimal_replay (default: "
                                          "optimise here)")
    ap.add_argument("--z", type=float, default=3.0,
                    help="combined standard errors a gain must exceed (default 3)")
    ap.add_argument("--only", choices=("lr", "replay"), help="run one part only")
    ap.add_argument("--lr-case", nargs=3, type=float, action="append",
                    metavar=("K", "SIGMA", "T_F"),
                    help="an optimal_lr case; repeat for several (default 2 0.3 150)")
    ap.add_argument("--baselines", nargs="+", choices=("constant", "annealing"),
                    help="optimal_lr baselines to simulate (default both; without noise the "
                         "best 1/t schedule is the constant one, t0 -> infinity)")
    ap.add_argument("--out", default=str(HERE / "results" / "control" /
                                         "validate_control.json"))
    args = ap.parse_args(argv)
    seeds = range(args.seeds)
    tic = time.perf_counter()
    report = {"N": args.N, "seeds": args.seeds, "z_min": args.z, "cases": []}
    if args.only in (None, "lr"):
        for K, sigma, t_f in args.lr_case or [(2, 0.3, 150.0)]:
            case = _lr_case(args.lr_json, int(K), sigma, t_f)
            label = (f"optimal_lr K = M = {case['K']}, sigma = {case['sigma']:g}, "
                     f"t_f = {case['t_f']:g}")
            print(f"=== {label}: final eps_g ===", flush=True)
            res = run_lr(case, args.N, seeds, args.baselines)
            report["cases"].append({"case": label, "objective": "eps_g(t_f)",
                                    "protocols": res, "gains": gains(res, args.z)})
    if args.only in (None, "replay"):
        for case in _replay_cases(args.replay_json):
            label = f"optimal_replay {case['init']}, a = {case['a']:g}, t_f = {case['t_f']:g}"
            print(f"=== {label}: final eps_0 + eps_1 ===", flush=True)
            res = run_replay(case, args.N, seeds)
            report["cases"].append({"case": label, "objective": "eps_0(t_f) + eps_1(t_f)",
                                    "protocols": res, "gains": gains(res, args.z)})
    report["seconds"] = time.perf_counter() - tic
    print(f"\n=== gains of the optimal protocol (N = {args.N:,}, {args.seeds} seeds; "
          f"confirmed when z = gain / sqrt(sem_opt^2 + sem_base^2) > {args.z:g}) ===")
    print(f"{'case':<52} {'baseline':<12} {'ODE gain':>10} {'sim gain':>10} {'z':>7} "
          f"{'paired':>7} {'log':>7}  verdict")
    ok = True
    for c in report["cases"]:
        for name, g in c["gains"].items():
            ok &= g["confirmed"]
            print(f"{c['case']:<52} {name:<12} {g['ode_gain']:10.3e} {g['sim_gain']:10.3e} "
                  f"{g['z']:7.1f} {g['z_paired']:7.1f} {g['z_log']:7.1f}  "
                  f"{'confirmed' if g['confirmed'] else 'NOT confirmed'}")
            if g.get("escape_gain"):
                print(f"{'':<52} {'':<12} escapes earlier by {g['escape_gain'][0]:.1f} +- "
                      f"{g['escape_gain'][1]:.1f} (paired, {g['escape_seeds']} seeds)")
    print(f"wall time {report['seconds']:.0f} s")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"written {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
