"""One chunk of a sweep: draw its initial states, integrate them as one batch, summarise.

:func:`run_chunk` is a pure function of plain data (the spec as a dict and the chunk's member
indices), so the local runner and Dask workers execute exactly the same code and get exactly
the same numbers.
"""
from __future__ import annotations

import numpy as np

from .. import committee
from ..model import Overlaps
from ..observables import summarise
from ..solvers import solve
from .spec import SweepSpec

__all__ = ["run_chunk", "initial_states"]


def initial_states(spec: SweepSpec, g: int) -> Overlaps:
    """All ``spec.replicas`` initial states of grid point ``g`` (a batch), drawn with the seed
    ``[spec.seed, g]`` (independent of how the sweep is chunked)."""
    s = spec.setup(g)
    init = spec.init_params(spec.grid_points()[g])
    rng = np.random.default_rng([int(spec.seed), int(g)])
    return Overlaps.random(s.K, s.M, batch=spec.replicas, seed=rng, **init)


def run_chunk(spec_dict: dict, grid, replica) -> dict:
    """Integrate members ``(grid[j], replica[j])`` of a sweep and summarise them.

    Parameters
    ----------
    spec_dict : dict
        :meth:`SweepSpec.to_dict` of the sweep.
    grid, replica : array_like of int, shape (n,)
        The chunk's members; all of one structural group (same K, M, activation).

    Returns
    -------
    dict of name -> ndarray
        ``status`` (n,), ``t_fail`` (n,), ``n_rhs`` (n,), every observable of
        :data:`odesolve.observables.OBSERVABLES` (n,), ``eps_g`` (n, n_t) when
        ``spec.keep == "eps_g"``, and ``Q_final`` (n, K, K), ``R_final`` (n, K, M),
        ``v_final`` (n, K) when K and M are the same over the sweep.
    """
    spec = SweepSpec.from_dict(spec_dict)
    grid = np.asarray(grid, dtype=np.int64)
    replica = np.asarray(replica, dtype=np.int64)
    setup = spec.setup(int(grid[0]))
    K, M = setup.K, setup.M
    y0, p, T = [], [], []
    psd_tol = committee.psd_tolerance(spec.method, spec.rtol, spec.atol)
    for g in np.unique(grid):
        states = initial_states(spec, int(g))
        rows = replica[grid == g]
        y0.append(committee.pack_state(states)[rows])
        p.append(committee.pack_params(spec.setup(int(g)), states, psd_tol)[rows])
        T.append(states.broadcast().T[rows])
    # back to the chunk's member order
    order = np.argsort(np.argsort(grid, kind="stable"), kind="stable")
    y0, p, T = (np.concatenate(a)[order] for a in (y0, p, T))
    t_eval = spec.output_times()
    res = solve(committee.committee_problem(setup), y0, p, t_eval, method=spec.method,
                dt=spec.dt, rtol=spec.rtol, atol=spec.atol, max_steps=spec.max_steps)
    Q, R, v = committee.unpack_state(res.y, K, M)
    eps_g = committee.evaluate_eps_g(setup.activation, res.y, p)
    out = {"status": res.status, "t_fail": res.t_fail, "n_rhs": res.n_rhs}
    out.update(summarise(t_eval, Q, R, T, eps_g, spec.specialise_threshold,
                         spec.learn_fraction))
    if spec.keep == "eps_g":
        out["eps_g"] = eps_g
    if spec.fixed_shapes:
        out["Q_final"], out["R_final"], out["v_final"] = Q[:, -1], R[:, -1], v[:, -1]
    return out
