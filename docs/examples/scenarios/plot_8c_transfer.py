"""
``odesolve scenario transfer``: Transfer to a rotated task against angle and lambda (Dominé et al. 2024)
========================================================================================================

Pre-train a two-layer linear network on task A, then learn a task B whose input (or output)
singular vectors are those of A rotated by an angle. The speed-up is the time to learn B from
scratch divided by the time to learn it after pre-training (both to 1% of B's loss at the zero
network). Rich networks gain mostly by skipping the plateau of a small start; lazy ones gain only
at small angles and are slowed down beyond.

Quick settings here (``--quick``). Full version (about a minute)::

    odesolve scenario transfer
"""
import json

from odesolve.cli import main

assert main(["scenario", "transfer", "--quick", "-o", "odesolve-out"]) == 0

# %%
# Speed-up against the angle of the input rotation, one row per lambda.
with open("odesolve-out/transfer.json") as fh:
    data = json.load(fh)["input"]
print("angle / pi: " + " ".join(f"{a / 3.141592653589793:6.2f}" for a in data["angle"]))
for lam, row in zip(data["lambda"], data["speedup"]):
    print(f"lambda {lam:4g}:  " + " ".join(f"{s:6.2f}" for s in row))
