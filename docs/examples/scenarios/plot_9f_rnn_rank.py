"""
``odesolve scenario rnn_rank``: Initial rank and rich versus lazy learning in recurrent networks (Liu et al. 2024)
==================================================================================================================

Rate RNNs (tanh, Euler steps, hand-written backpropagation through time) learn three
neuroscience-style tasks: a decision with a delay, delayed match-to-sample and context-dependent
integration. The initial recurrent matrix has a fixed Frobenius norm and a chosen effective rank:
random low rank, task-aligned low rank, full rank, or a synthetic cell-type block matrix with
Dale's law. The panels show the relative weight change, the change of the tangent kernel and of
the representation against the effective rank, per task; networks that do not reach the stated
accuracy are flagged and left out.

Quick settings here (``--quick``: 32 units, one seed, fewer ranks). Full version (12
minutes measured on a shared, loaded 2-core machine)::

    odesolve scenario rnn_rank
"""
import json

from odesolve.cli import main

assert main(["scenario", "rnn_rank", "--quick", "-o", "odesolve-out"]) == 0

# %%
# Per task and initial connectivity: effective rank, weight change and kernel distance (first
# seed), and whether the network reached the accuracy threshold.
with open("odesolve-out/rnn_rank.json") as fh:
    data = json.load(fh)
for task, conditions in data["tasks"].items():
    for name, c in conditions.items():
        if not isinstance(c, dict) or "runs" not in c:
            continue
        r = c["runs"]
        print(f"{task:9s} {name:16s} rank {r['effective_rank'][0]:5.1f}  weight change "
              f"{r['weight_change'][0]:.3f}  kernel distance {r['kernel_distance'][0]:.3f}  "
              f"learned {c['learned'][0]}")
