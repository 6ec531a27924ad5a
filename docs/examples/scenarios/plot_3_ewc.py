"""
``odesolve scenario ewc``: Elastic weight consolidation against its strength (Jarvis et al. 2025)
=================================================================================================

The two-task protocol at feature similarity 0.5, with elastic weight consolidation (EWC) on the
first layer during task 2; the penalty enters the ODEs through terms derived in the high-
dimensional limit. The figure shows the forgetting of task 1 and the final error on task 2
against the EWC strength, for balanced, imbalanced and symmetric initialisations: the price in
task-2 error that each pays for protecting task 1.

Quick settings here (``--quick``: fewer points and replicas). Full version::

    odesolve scenario ewc
"""
import json

from odesolve.cli import main

assert main(["scenario", "ewc", "--quick", "-o", "odesolve-out"]) == 0

# %%
# The plotted numbers are in ``odesolve-out/ewc.json``: per initialisation and EWC strength,
# the median forgetting of task 1 and the median final error on task 2.
with open("odesolve-out/ewc.json") as fh:
    data = json.load(fh)
for init in data["inits"]:
    pairs = zip(data["lambda"], data[init]["forgetting_stats"]["median"],
                data[init]["task2_error_stats"]["median"])
    print(init + ": " + "; ".join(f"lambda {lam:g}: {f:.2g} / {e:.2g}" for lam, f, e in pairs))
