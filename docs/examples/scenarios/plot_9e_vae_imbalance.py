"""
``odesolve scenario vae_imbalance``: Imbalance and disentanglement in a deep linear VAE (Jarvis et al. 2025)
============================================================================================================

A beta-VAE with deep linear encoder and decoder (Gaussian decoder) learns data generated from
three independent factors of distinct variances through a known orthonormal mixing. Its expected
ELBO, the gradients and the optimum are in closed form. The start is lambda-balanced between the
last encoder layer and the first decoder layer; the panels show how concentrated each latent unit
is on one factor (purity) over training, against lambda, per depth.

Quick settings here (``--quick``: depth 1 + 1, three lambdas, 8 seeds). Full version (about
4 minutes)::

    odesolve scenario vae_imbalance
"""
import json

from odesolve.cli import main

assert main(["scenario", "vae_imbalance", "--quick", "-o", "odesolve-out"]) == 0

# %%
# Median purity over the seeds at each recorded time, per lambda (depth 1 + 1; the JSON
# stores the quartiles q25, median, q75 per lambda).
with open("odesolve-out/vae_imbalance.json") as fh:
    data = json.load(fh)
res = data["results"][0]
print("t:          " + " ".join(f"{t:6g}" for t in data["times"]))
for lam, purity in zip(data["lambda"], res["purity"]):
    print(f"lambda {lam:4g}: " + " ".join(f"{p:6.3f}" for p in purity[1]))
