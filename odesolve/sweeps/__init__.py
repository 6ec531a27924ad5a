"""Sweeps over initial overlaps and hyper-parameters (issue 4).

- :func:`sweep`: a grid or list of parameter settings x random initial states, integrated in
  chunks (each a parallel batch), summarised per member, resumable, optionally on Dask.
- :class:`SweepResult` / :func:`load_sweep`: the results with labelled axes.
- :class:`SweepSpec`: the validated description of a sweep.

Modules: ``spec`` (what is computed, chunking), ``chunk`` (one chunk, pure function),
``runner`` (local or Dask execution, resume, reuse, the output lock), ``result`` (labelled
arrays, file format, :class:`SweepFileError`), ``plots`` (figures).
"""
from .result import SweepFileError, SweepResult, load_sweep
from .runner import run_spec, sweep
from .spec import INIT_PARAMS, SETUP_PARAMS, SweepSpec

__all__ = ["sweep", "run_spec", "SweepResult", "load_sweep", "SweepFileError", "SweepSpec",
           "SETUP_PARAMS", "INIT_PARAMS"]
