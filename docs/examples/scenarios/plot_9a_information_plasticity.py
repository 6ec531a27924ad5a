"""
``odesolve scenario information_plasticity``: Fisher information of deep linear pathways with and without deficits
==================================================================================================================

Two depth-D linear pathways of width h share the output and learn the same task from correlated
inputs (Kleinman et al. 2024). A deficit on pathway b over [0, 20) either removes its input or
flips it (a permutation that keeps the input statistics, the analogue of the vertical flip of
Achille et al. 2019). Top rows: the Fisher trace (total and of pathway b) and the loss over time,
per depth; bottom row: per width, and whether the trace rises and then falls, against the scale
of the start. Under gradient flow without weight decay the trace rises from small starts and
stays at its maximum; from large starts it falls (except in the narrowest pathways, which
still rise).

Quick settings here (``--quick``: fewer starts and scales). Full version (about 75 s)::

    odesolve scenario information_plasticity
"""
import json

from odesolve.cli import main

assert main(["scenario", "information_plasticity", "--quick", "-o", "odesolve-out"]) == 0

# %%
# Without a deficit: how much the Fisher trace rises (F_max / F(0)) and how much of it is left
# at the end (F(t_end) / F_max), per depth and scale of the start (first random start).
with open("odesolve-out/information_plasticity.json") as fh:
    data = json.load(fh)
for depth, rf in data["rise_fall_by_depth"].items():
    for scale, rise, fall in zip(data["scales"], rf["rise"], rf["fall"]):
        print(f"depth {depth}, scale {scale:g}: rise x{rise[0]:.3g}, end/max {fall[0]:.3f}")
