"""
``odesolve scenario deficit_kinds``: Lasting effect of removal and flip deficits, per depth and width
=====================================================================================================

The two-pathway deep linear network of ``information_plasticity``, with a deficit on pathway b
that removes its input (or blurs it, or drops its fine directions) or flips it. The panels show
pathway b's final share of the task (dotted: the same starts without a deficit) against the
onset and the length of the window, per depth and per width, and the time lost. An early
removal takes pathway b's whole share; the flip, which keeps the input statistics, leaves at most
a small lasting effect.

Quick settings here (``--quick``). Full version (about 5 minutes)::

    odesolve scenario deficit_kinds
"""
import json

from odesolve.cli import main

assert main(["scenario", "deficit_kinds", "--quick", "-o", "odesolve-out"]) == 0

# %%
# Pathway b's final share of the task after a window [0, 20), per depth and kind of deficit,
# against the same starts without a deficit (first start; width 8).
import numpy as np

with open("odesolve-out/deficit_kinds.json") as fh:
    scan = json.load(fh)["by_depth"]
k = scan["windows"].index([0.0, 20.0])
for i, depth in enumerate(scan["depths"]):
    shares = {kind: np.asarray(scan["effect"][kind]["share_b"])[i, 0, 0, k]
              for kind in scan["deficits"]}
    control = np.asarray(scan["control"]["share_b"])[i, 0, 0]
    print(f"depth {depth}: no deficit {control:.3f}, "
          + ", ".join(f"{kind} {s:.3f}" for kind, s in shares.items()))
