"""
``odesolve plot``: heatmaps and curves from a sweep file
========================================================

``odesolve plot RESULT.npz`` draws any observable of a finished sweep as a heatmap over two swept
parameters (reduced over the replicas and any other axis by the median, mean, min, max or the
fraction of finite values), or with ``--curves`` the eps_g curves of all members coloured by one
parameter. Members that diverged are marked, not drawn as if they had converged.

Here a small sweep over the learning rate and the readout scale (t <= 200, 3 replicas) is run
first, then plotted two ways. Shell commands::

    odesolve sweep lr.toml -o odesolve-out/lr.npz
    odesolve plot odesolve-out/lr.npz --observable eps_g_final --x eta --y readout_std
    odesolve plot odesolve-out/lr.npz --curves --colour-by eta
"""
from pathlib import Path

from odesolve.cli import main

Path("odesolve-out").mkdir(exist_ok=True)
Path("odesolve-out/lr.toml").write_text("""
[setup]
K = 2
M = 2
activation = "erf"

[init]
N = 10000
student_std = 0.1

[sweep]
replicas = 3

[sweep.axes]
eta = [0.25, 0.5, 1.0, 2.0]
readout_std = [0.01, 0.1, 1.0]

[solver]
method = "dopri5"
t_max = 200.0
n_out = 101
log_times = true

[output]
plot = false
""")
assert main(["sweep", "odesolve-out/lr.toml", "-o", "odesolve-out/lr.npz",
             "--quiet"]) == 0

# %%
# The final error over the (eta, readout scale) grid, median over the replicas.
assert main(["plot", "odesolve-out/lr.npz", "--observable", "eps_g_final", "--x", "eta",
             "--y", "readout_std"]) == 0

# %%
# Every member's eps_g curve, coloured by the learning rate.
assert main(["plot", "odesolve-out/lr.npz", "--curves", "--colour-by", "eta"]) == 0
