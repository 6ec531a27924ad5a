"""
``odesolve scenario lazy_rich``: Rich and lazy learning in a two-layer linear network (Dominé et al. 2024)
==========================================================================================================

The exact solution of lambda-balanced two-layer linear networks: loss curves for several lambda,
and the distance the neural tangent kernel travels by t = 20 against lambda. Small ``|lambda|`` is
rich (sigmoidal, mode-by-mode learning with a large kernel change); large ``|lambda|`` is lazy
(exponential learning, the kernel hardly moves).

Quick settings here (``--quick``: fewer points and replicas). Full version::

    odesolve scenario lazy_rich
"""
import json

from odesolve.cli import main

assert main(["scenario", "lazy_rich", "--quick", "-o", "odesolve-out"]) == 0

# %%
# The plotted numbers are in ``odesolve-out/lazy_rich.json``: the kernel distance travelled
# by t = 20 shrinks as ``|lambda|`` grows (lazier learning).
with open("odesolve-out/lazy_rich.json") as fh:
    data = json.load(fh)
for lam, d in zip(data["lambda"], data["kernel_distance_t20"]):
    print(f"lambda = {lam:6g}: kernel distance {d:.3f}")
