"""Finite-N simulator of the soft committee machine trained by online SGD
(docs/theory/simulation.md#theory-simulation-sgd).

- :func:`simulate`: several seeds of the N-dimensional network, returned as a
  :class:`~odesolve.Trajectory` with a seed axis, comparable with :func:`odesolve.integrate`.
- :func:`seed_statistics`: mean and standard error across seeds.
- :func:`sgd_step`: the compiled single SGD step on a given sample (what the main loop runs).

Modules: ``rng`` (per-seed xoshiro256++ streams, Ziggurat normals), ``sgd`` (compiled update
and parallel loop, per activation), ``driver`` (set-up, chunks, recording, progress),
``schedules`` (time-dependent hyper-parameters cut into segments of constant values).
Starting weights come from :mod:`odesolve.weights`.
"""
from .driver import seed_statistics, sgd_step, simulate

__all__ = ["simulate", "seed_statistics", "sgd_step"]
