"""
``odesolve scenario committee_plasticity``: Fisher information of a committee machine through deficit windows
=============================================================================================================

The trace of the Fisher information of the weights, from the order parameters of the committee
ODE (erf, K = 2 against M = 1 and 2 teacher units), in the undisturbed run and with deficit
windows of length 50 (an orthogonal teacher through the same head) opening at t = 1 and
t = 100. Achille et al. (2019) report that the Fisher information rises fast and then falls
("information plasticity"). Here the total trace rises fast and does not fall; the first layer's
part does fall, by half, in the over-parameterised student (M = 1). A deficit leaves a transient
dip and, from the fixed start, no lasting change.

Quick settings here (``--quick``: M = 1, one window). Full version (about 5 s)::

    odesolve scenario committee_plasticity
"""
import json

from odesolve.cli import main

assert main(["scenario", "committee_plasticity", "--quick", "-o", "odesolve-out"]) == 0

# %%
# The undisturbed run from the fixed start: the total trace and the first layer's part, at
# the start, at their maximum and at the end.
with open("odesolve-out/committee_plasticity.json") as fh:
    data = json.load(fh)
for part, row in data["summary"]["M1_fixed"].items():
    if part.startswith("deficit"):
        print(f"{part}: largest dip after the window {row['largest_drop_after']:.3f}, "
              f"difference at the end {row['end_difference']:+.4f}")
    else:
        print(f"{part}: F(0) = {row['initial']:.3f}, max {row['max']:.3f} at "
              f"t = {row['t_max']:g}, end {row['end']:.3f}")
