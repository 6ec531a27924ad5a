"""
``odesolve scenario optimal_lr``: The optimal learning-rate schedule of the committee machine
=============================================================================================

A student with K = M erf units and fixed readouts starts from small random overlaps, with the
symmetric plateau ahead. Three protocols are optimised for the generalisation error at a
horizon t_f, on the same RK4 grid: a piecewise-constant eta(t) in [0, 5] with exact adjoint
gradients, the best constant eta, and the best 1/t annealing eta0 t0 / (t0 + t). The top row
shows the schedules, the bottom row eps_g(t) with the final error and the time the student
units specialise (escape from the plateau).

Quick settings here (``--quick``: K = 2 with noise, t_f = 40, 10 pieces; a few seconds). Full
version (K = M = 2 and 3, with and without output noise, 100 pieces; several minutes)::

    odesolve scenario optimal_lr
"""
import json

from odesolve.cli import main

assert main(["scenario", "optimal_lr", "--quick", "-o", "odesolve-out"]) == 0

# %%
# Final generalisation error and escape time of each protocol.
with open("odesolve-out/optimal_lr.json") as fh:
    data = json.load(fh)
for case in data["cases"]:
    for name, pr in case["protocols"].items():
        print(f"K = {case['K']}, sigma = {case['sigma']:g}, {name:10s} eps_g(t_f) = "
              f"{pr['eps_final']:.3e}  escape at t = {pr['t_escape']:.1f}")
