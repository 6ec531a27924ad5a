"""
``odesolve scenario specialisation``: Specialisation against weight imbalance (Jarvis et al. 2025)
==================================================================================================

A student with K = 2 erf units learns a teacher with one unit, both layers trained. The first-
layer weights start at scale 1e-3; the readouts at r times that. The figure shows the
specialisation index after training (0: both student units carry the teacher equally; 1: one
unit carries it alone) against the imbalance ratio r: large readouts at initialisation
(imbalance) lead to specialised solutions. Median and quartiles over random initialisations.

Quick settings here (``--quick``: fewer points and replicas). Full version::

    odesolve scenario specialisation
"""
import json

from odesolve.cli import main

assert main(["scenario", "specialisation", "--quick", "-o", "odesolve-out"]) == 0

# %%
# The plotted numbers are in ``odesolve-out/specialisation.json``: the median
# specialisation index over the random initialisations, per imbalance ratio r.
with open("odesolve-out/specialisation.json") as fh:
    data = json.load(fh)
for r, s in zip(data["r"], data["specialisation_stats"]["median"]):
    print(f"r = {r:8g}: specialisation index {s:.2f}")
