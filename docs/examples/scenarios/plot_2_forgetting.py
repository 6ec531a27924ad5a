"""
``odesolve scenario forgetting``: Forgetting against task similarity (Jarvis et al. 2025; Lee et al. 2021)
==========================================================================================================

Two teachers in sequence with a multi-head student (shared first layer, one readout per task).
The feature similarity of the teachers is a. The figure shows the forgetting of task 1 at the
end of task 2 against a, for balanced, imbalanced and symmetric (non-specialised by
construction) initialisations: forgetting falls monotonically with similarity for the non-
specialised network, while specialised networks forget most at intermediate similarity.

Quick settings here (``--quick``: fewer points and replicas). Full version::

    odesolve scenario forgetting
"""
import json

from odesolve.cli import main

assert main(["scenario", "forgetting", "--quick", "-o", "odesolve-out"]) == 0

# %%
# The plotted numbers are in ``odesolve-out/forgetting.json``: the median forgetting of task
# 1 per initialisation, against the feature similarity a of the two teachers.
with open("odesolve-out/forgetting.json") as fh:
    data = json.load(fh)
print("a:          " + " ".join(f"{a:7.2f}" for a in data["a"]))
for init in data["inits"]:
    print(f"{init:<11} " + " ".join(f"{f:7.4f}" for f in data[init]["forgetting_stats"]["median"]))
