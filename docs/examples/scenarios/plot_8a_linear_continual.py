"""
``odesolve scenario linear_continual``: Forgetting in a sequence of two tasks (Dominé et al. 2024)
==================================================================================================

A two-layer linear network (4-4-4, lambda-balanced start at scale 0.1) learns task A, then a
task B whose input (or output) singular vectors are those of A rotated by an angle. Because
gradient flow conserves lambda-balancedness under any task, the exact solution continues through
the switch. The panels show the forgetting of A against the angle, one curve per lambda, with
whitened inputs shared by both tasks and with each task shown only its own inputs.

Quick settings here (``--quick``: fewer angles and lambdas). Full version (about half a
minute)::

    odesolve scenario linear_continual
"""
import json

from odesolve.cli import main

assert main(["scenario", "linear_continual", "--quick", "-o", "odesolve-out"]) == 0

# %%
# With whitened inputs shared by both tasks, the forgetting once B is learned depends on the
# tasks only, not on lambda: rich (lambda = 0) and lazy networks forget the same amount.
with open("odesolve-out/linear_continual.json") as fh:
    data = json.load(fh)
white = data["white_input"]
print("angle / pi: " + " ".join(f"{a / 3.141592653589793:6.2f}" for a in white["angle"]))
for lam, row in zip(white["lambda"], white["forgetting"]):
    print(f"lambda {lam:5g}: " + " ".join(f"{f:6.3f}" for f in row))
