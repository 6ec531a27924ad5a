"""Issue 6: laziness against initial rank at equal norm (Liu et al. 2024) over settings.

For each setting: the mean weight change after training (t = 1000) of random low-rank starts
at ranks k .. 15 and of the full-rank start, the least negative paired step between
successive ranks in standard errors (monotone: every step < 0), and task-aligned rank k
against full rank. Zero-balanced starts unless marked "independent". A new random task per
seed. Run: python benchmarks/rank_checks.py   (about 5 minutes)
"""
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


def one(d_in, h, d_out, sv, scale, start, seeds=range(12)):
    k = len(sv)
    ranks = sorted({r for r in (k, k + 1, 4, 6, 8, 10, 12, 15) if k <= r < h})
    out = rank_study(lambda s: rank_task(d_in, sv, seed=s, d_out=d_out), h, ranks,
                     scale=scale, seeds=seeds, start=start)
    wc = {key: np.array(v, dtype=float) for key, v in out["weight_change"].items()}
    curve = np.column_stack([wc["random"], wc["full"]])
    steps = np.diff(curve, axis=1)
    z = steps.mean(axis=0) / (steps.std(axis=0, ddof=1) / np.sqrt(len(steps)))
    return ranks, curve.mean(axis=0), z, wc["aligned"][:, 0].mean(), out["max_relative_loss"]


def main():
    print(f"{'setting':44s} {'wc rank k':>9s} {'wc full':>8s} {'monotone':>8s} "
          f"{'max z':>6s} {'aligned k':>9s}  worst loss")
    for d_in, h, d_out, sv, scale, start in SETTINGS:
        tic = time.perf_counter()
        ranks, mean, z, aligned, loss = one(d_in, h, d_out, sv, scale, start)
        name = f"{d_in}-{h}-{d_out}, task rank {len(sv)}, scale {scale:g}, {start}"
        mono = bool(np.all(np.diff(mean) < 0))
        print(f"{name:44s} {mean[0]:9.4f} {mean[-1]:8.4f} {str(mono):>8s} {z.max():6.1f} "
              f"{aligned:9.4f}  {loss:.1e}  ({time.perf_counter() - tic:.0f} s)")


if __name__ == "__main__":
    main()
