"""
``odesolve sweep``: time to specialise against the initial scales
=================================================================

``odesolve sweep SWEEP.toml`` integrates the ODE over a grid of parameters (here the scale of the
readouts and of the first-layer weights at initialisation), several random initial states per
grid point, in parallel batches, and writes the observables of every member (final error, time
to specialise, ...) to one labelled ``.npz`` file, with two figures: a heatmap of the median
time to specialise and the overlaid eps_g curves.

Quick settings here: a 3 x 3 grid, 4 replicas, t <= 300. The full example
(``odesolve sweep --print-example``: a 5 x 5 grid, 8 replicas, t <= 1000) takes well under a
minute; a sweep can run on a Dask cluster with ``--scheduler tcp://host:8786``.
"""
from pathlib import Path

from odesolve.cli import main

config = """
[setup]
K = 2
M = 2
activation = "erf"
eta = 1.0

[init]
N = 10000

[sweep]
replicas = 4
seed = 0

[sweep.axes]
readout_std = [0.01, 0.1, 1.0]
student_std = [0.01, 0.1, 1.0]

[solver]
method = "dopri5"
t_max = 300.0
n_out = 101
log_times = true
"""
Path("odesolve-out").mkdir(exist_ok=True)
Path("odesolve-out/init_scales.toml").write_text(config)
assert main(["sweep", "odesolve-out/init_scales.toml", "-o",
             "odesolve-out/init_scales.npz", "--quiet"]) == 0
