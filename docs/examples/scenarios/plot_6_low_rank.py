"""
``odesolve scenario low_rank``: Laziness against initial rank (Liu et al. 2024)
===============================================================================

Deep linear networks started at equal Frobenius norm with initial weights of different rank: the
weight change and the kernel distance after training against the initial rank, for zero-balanced
starts (layers sharing one hidden basis) and for independently drawn layers. Higher rank at
equal norm gives lazier learning (smaller changes), unless the low-rank start is aligned with
the task.

Quick settings here (``--quick``: fewer points and replicas). Full version::

    odesolve scenario low_rank
"""
import json

from odesolve.cli import main

assert main(["scenario", "low_rank", "--quick", "-o", "odesolve-out"]) == 0

# %%
# The plotted numbers are in ``odesolve-out/low_rank.json``: the relative weight change per
# initial rank (median over seeds) for random low-rank, task-aligned and full-rank starts
# of the zero-balanced family.
import numpy as np

with open("odesolve-out/low_rank.json") as fh:
    data = json.load(fh)["balanced"]
# Starts of a rank below the task's cannot fit it and are left out (NaN).
change = {k: np.array(v, dtype=float) for k, v in data["weight_change"].items()}
for j, rank in enumerate(data["ranks"]):
    if np.isnan(change["random"][:, j]).all():
        print(f"rank {rank:3d}: below the task's rank {data['task_rank']}, left out")
        continue
    print(f"rank {rank:3d}: random {np.nanmedian(change['random'][:, j]):.3f}, "
          f"aligned {np.nanmedian(change['aligned'][:, j]):.3f}")
print(f"full rank: {np.median(change['full']):.3f}")
