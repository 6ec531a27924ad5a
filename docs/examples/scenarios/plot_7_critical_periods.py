"""
``odesolve scenario critical_periods``: Critical periods in deep linear networks (Kleinman et al. 2024)
=======================================================================================================

Critical periods in deep linear networks (Kleinman et al. 2024). Two pathways learn the same
mode; a deficit freezes pathway b for a window. First panel: the final share of the deprived
pathway against the onset of the deficit, per depth: an early deficit leaves it permanently
behind, a late one does not, and the critical period lasts longer in deeper networks. Second:
how long a deficit must last to matter. Third: matrix completion by a deep linear network with a
deprivation window, the final error on the unobserved entries against the onset.

Quick settings here (``--quick``: fewer points and replicas). Full version::

    odesolve scenario critical_periods
"""
import json

from odesolve.cli import main

assert main(["scenario", "critical_periods", "--quick", "-o", "odesolve-out"]) == 0

# %%
# The plotted numbers are in ``odesolve-out/critical_periods.json``: the final share of the
# deprived pathway, per depth (rows) and onset of the deficit (columns).
with open("odesolve-out/critical_periods.json") as fh:
    data = json.load(fh)
print("onset:   " + " ".join(f"{o:6g}" for o in data["onsets"]))
for depth, row in zip(data["depths"], data["final_share_b"]):
    print(f"depth {depth}: " + " ".join(f"{s:6.3f}" for s in row))
