"""
``odesolve scenario specialisation_levers``: Both levers of specialisation, both frameworks (Jarvis et al. 2025)
================================================================================================================

Jarvis et al. (2025) argue that weight imbalance between the layers and the entropy of the
weights at initialisation decide whether hidden units specialise. Top: the committee-machine ODE
(erf, over-parameterised students), the teacher specialisation index after training against the
entropy of the initial readout magnitudes (left) and against the imbalance ratio (right).
Bottom: a two-layer linear network, how concentrated each hidden unit is on one singular mode of
the task, against the same two levers, next to a control whose hidden layer is rotated at random.

Quick settings here (``--quick``: K = 2, M = 1, 16 initialisations per point). The full version
scans K = 2, 4, 8 against M = 1, 2, several scales and horizons, 24 initialisations per committee
point and 32 per linear point (about 5 minutes)::

    odesolve scenario specialisation_levers
"""
import json

from odesolve.cli import main

assert main(["scenario", "specialisation_levers", "--quick", "-o", "odesolve-out"]) == 0

# %%
# Median teacher specialisation at the last horizon against the initial readout entropy
# (1: all readouts of equal magnitude), committee machine K = 2, M = 1.
with open("odesolve-out/specialisation_levers.json") as fh:
    data = json.load(fh)
grid = data["committee"]["grid"]
scan = data["committee"]["sizes"]["K2M1"]["entropy_scan"]
for H, row in zip(grid["entropies"], scan["teacher_specialisation"]["median"]):
    print(f"entropy {H:4.2f}: s_T = {row[-1]:.3f}")
