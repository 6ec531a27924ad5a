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
# The plotted numbers are in ``odesolve-out/low_rank.json``:
with open("odesolve-out/low_rank.json") as fh:
    data = json.load(fh)
print(sorted(data))
