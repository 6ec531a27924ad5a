"""Issue 6: laziness against initial rank at equal norm (Liu et al. 2024) over settings.

For each setting: the mean weight change after training (t = 1000) of random low-rank starts
at ranks k .. 15 and of the full-rank start, the least negative paired step between
successive ranks in standard errors (monotone: every step < 0), and task-aligned rank k
against full rank. Zero-balanced starts unless marked "independent". A new random task per
seed. Run: python benchmarks/rank_checks.py   (about 5 minutes)

Options: ``--setting I`` (repeatable) runs only setting I of SETTINGS (numbered from 0);
``--t-final T`` and ``--seeds N`` change the training time and the number of seeds. For
example, ``--setting 4 --seeds 20 --t-final 10000`` is the ``odesolve scenario low_rank``
setting trained ten times longer (about 6 minutes).
"""
import argparse
import time

import numpy as np

from odesolve.linear import rank_study, rank_task

SETTINGS = [  # (d_in, h, d_out, task singular values, scale, start)
    *[(20, 20, 20, sv, scale, "balanced")
      for sv in ((2.0,), (3.0, 2.0, 1.0), (3.0, 2.5, 2.0, 1.5, 1.0, 0.5))
      for scale in (0.1, 0.3, 1.0)],
    (30, 16, 20, (3.0, 2.0, 1.0), 0.3, "balanced"),
    (20, 20, 20, (3.0, 2.0, 1.0), 3.0, "balanced"),
    (20, 20, 20, (3.0, 2.0, 1.0), 0.3, "independent"),
]


def one(d_in, h, d_out, sv, scale, start, seeds=range(12), t_final=1000.0):
    k = len(sv)
    ranks = sorted({r for r in (k, k + 1, 4, 6, 8, 10, 12, 15) if k <= r < h})
    out = rank_study(lambda s: rank_task(d_in, sv, seed=s, d_out=d_out), h, ranks,
                     scale=scale, seeds=seeds, start=start, t_final=t_final)
    wc = {key: np.array(v, dtype=float) for key, v in out["weight_change"].items()}
    curve = np.column_stack([wc["random"], wc["full"]])
    steps = np.diff(curve, axis=1)
    z = steps.mean(axis=0) / (steps.std(axis=0, ddof=1) / np.sqrt(len(steps)))
    return ranks, curve.mean(axis=0), z, wc["aligned"][:, 0].mean(), out["max_relative_loss"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--setting", type=int, action="append",
                    help="index into SETTINGS (repeatable; default all)")
    ap.add_argument("--t-final", type=float, default=1000.0)
    ap.add_argument("--seeds", type=int, default=12)
    args = ap.parse_args(argv)
    chosen = args.setting if args.setting else range(len(SETTINGS))
    print(f"t_final {args.t_final:g}, {args.seeds} seeds")
    print(f"{'setting':48s} {'wc rank k':>9s} {'wc full':>8s} {'monotone':>8s} "
          f"{'max z':>6s} {'aligned k':>9s}  worst loss")
    for i in chosen:
        d_in, h, d_out, sv, scale, start = SETTINGS[i]
        tic = time.perf_counter()
        ranks, mean, z, aligned, loss = one(d_in, h, d_out, sv, scale, start,
                                            range(args.seeds), args.t_final)
        name = f"{i:2d}: {d_in}-{h}-{d_out}, task rank {len(sv)}, scale {scale:g}, {start}"
        mono = bool(np.all(np.diff(mean) < 0))
        print(f"{name:48s} {mean[0]:9.4f} {mean[-1]:8.4f} {str(mono):>8s} {z.max():6.1f} "
              f"{aligned:9.4f}  {loss:.1e}  ({time.perf_counter() - tic:.0f} s)")
        print("    weight change at ranks " + ", ".join(
            f"{r}: {m:.4f}" for r, m in zip([*ranks, "full"], mean)))
        print("    paired steps (sem) " + ", ".join(f"{x:.1f}" for x in z))


if __name__ == "__main__":
    main()
