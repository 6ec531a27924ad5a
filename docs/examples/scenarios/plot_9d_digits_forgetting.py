"""
``odesolve scenario digits_forgetting``: Forgetting against task similarity on handwritten digits (Jarvis et al. 2025)
======================================================================================================================

Two tasks in sequence on the handwritten digits that ship with scikit-learn: each is a one-unit
erf teacher applied to the real images, the second with a controlled similarity a to the first
(the correlation of the teachers' outputs on the training images). A two-layer erf network with
one head per task is trained by online SGD from the balanced, imbalanced and symmetric
initialisations of ``odesolve scenario forgetting``. The panels show the forgetting of task 1
against a on standardised digits, on whitened digits, and in the committee-machine ODE.

Quick settings here (``--quick``: fewer similarities and seeds). Full version (about 2 minutes;
needs ``pip install "odesolve[data]"``)::

    odesolve scenario digits_forgetting
"""
import json

from odesolve.cli import main

assert main(["scenario", "digits_forgetting", "--quick", "-o", "odesolve-out"]) == 0

# %%
# Median forgetting over the seeds against the similarity a, per initialisation (standardised
# digits).
import numpy as np

with open("odesolve-out/digits_forgetting.json") as fh:
    data = json.load(fh)
print("a:          " + " ".join(f"{a:6.2f}" for a in data["a"]))
for init in ("symmetric", "balanced", "imbalanced"):
    med = np.median(np.asarray(data["digits"][init]["forgetting"]), axis=1)
    print(f"{init:11s} " + " ".join(f"{f:6.3f}" for f in med))
