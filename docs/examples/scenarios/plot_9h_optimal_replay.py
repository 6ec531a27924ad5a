"""
``odesolve scenario optimal_replay``: Optimal task selection and learning rate for two tasks
============================================================================================

Two teachers of feature similarity a, a student with two hidden units and one head per task,
and a fixed budget of training. A fraction mix(t) of the samples comes from task 1, the rest
from task 0; the ODE is the mixture of the two tasks' committee ODEs. Block training (task 0,
then task 1), interleaving (mix = 1/2) and the protocol optimised with exact gradients over
mix(t) and eta(t) are compared by the sum of the two tasks' errors at the end, for the
balanced (non-specialised) and imbalanced (specialised) initialisations.

Quick settings here (``--quick``: one initialisation, a = 0.5, a short budget; a few seconds).
Full version (two initialisations, a = 0.2 and 0.8; a few minutes)::

    odesolve scenario optimal_replay
"""
import json

from odesolve.cli import main

assert main(["scenario", "optimal_replay", "--quick", "-o", "odesolve-out"]) == 0

# %%
# The errors of both tasks at the end of the budget, per protocol.
with open("odesolve-out/optimal_replay.json") as fh:
    data = json.load(fh)
for case in data["cases"]:
    for name, pr in case["protocols"].items():
        e0, e1 = pr["eps_final"]
        print(f"{case['init']:10s} a = {case['a']:g}  {name:11s} eps_0 = {e0:.2e}  "
              f"eps_1 = {e1:.2e}  sum = {pr['objective']:.2e}")
