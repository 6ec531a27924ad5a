"""
``odesolve scenario reversal``: Reversal learning against lambda (Dominé et al. 2024)
=====================================================================================

After learning a task A, a two-layer linear network is trained on its reversal B = -A. Each
mode must pass through zero. For a mode aligned with the task, zero is a fixed point at
lambda = 0, so the reversal stalls; any lambda != 0 carries the mode through zero in a time that
grows like log(1 / ``|lambda|``). Independently drawn small layers behave as if lambda were the
size of their imbalance, so their reversal time grows with the logarithm of the start scale.

Quick settings here (``--quick``). Full version (about half a minute)::

    odesolve scenario reversal
"""
import json

from odesolve.cli import main

assert main(["scenario", "reversal", "--quick", "-o", "odesolve-out"]) == 0

# %%
# Time for the reversed task's loss to fall to a tenth of its start, for one aligned mode
# (None: it never does).
with open("odesolve-out/reversal.json") as fh:
    data = json.load(fh)
for lam, t in zip(data["lambda"], data["time_aligned"]):
    print(f"lambda {lam:6g}: " + ("never" if t is None else f"{t:.3f}"))
