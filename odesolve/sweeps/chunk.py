"""One chunk of a sweep: draw its initial states, integrate them as one batch, summarise.

:func:`run_chunk` is a pure function of plain data (the spec as a dict and the chunk's member
indices), so the local runner and Dask workers execute exactly the same code and get exactly
the same numbers.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from .. import committee
from ..model import Overlaps
from ..observables import summarise
from ..solvers import solve
from .spec import SweepSpec

if TYPE_CHECKING:
    from ..multitask import MultiTaskState, ProtocolTrajectory

__all__ = ["run_chunk", "initial_states"]


def initial_states(spec: SweepSpec, g: int) -> Overlaps:
    """All ``spec.replicas`` initial states of grid point ``g`` (a batch), drawn with the seed
    ``[spec.seed, g]`` (independent of how the sweep is chunked)."""
    s = spec.setup(g)
    init = spec.init_params(spec.grid_points()[g])
    rng = np.random.default_rng([int(spec.seed), int(g)])
    return Overlaps.random(s.K, s.M, batch=spec.replicas, seed=rng, **init)


def run_chunk(spec_dict: Mapping[str, Any], grid: ArrayLike,
              replica: ArrayLike) -> dict[str, np.ndarray]:
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
    if spec.protocol is not None:
        return _run_protocol_chunk(spec, grid, replica)
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


def task_states(spec: SweepSpec, g: int) -> list[MultiTaskState]:
    """The ``spec.replicas`` multi-task initial states of grid point ``g`` (protocol mode),
    drawn in order from the seed ``[spec.seed, g]``."""
    from ..multitask import MultiTaskState, teacher_overlaps

    setup, _, a = spec.task_setup(g)
    init = spec.init_params(spec.grid_points()[g])
    T = teacher_overlaps(setup.M, setup.P, feature_similarity=a,
                         teacher_std=init.get("teacher_std", 1.0))
    V_star = np.full((setup.P, setup.M), float(init.get("v_star", 1.0)))
    rng = np.random.default_rng([int(spec.seed), int(g)])
    kw = {k: init[k] for k in ("N", "student_std", "readout_std", "readout_mean") if k in init}
    return [MultiTaskState.random(setup, T, V_star, seed=rng, **kw)
            for _ in range(spec.replicas)]


def protocol_observables(traj: ProtocolTrajectory) -> dict[str, np.ndarray]:
    """Per member of a batched :class:`~odesolve.multitask.ProtocolTrajectory`: final eps_g
    of every task (B, P), forgetting of task 0 between the first switch and the end (B,),
    the teacher-side specialisation index for task 0 at the first switch (B,), and the eps_g
    curves (B, n, P)."""
    from ..observables import teacher_specialisation

    t_sw = traj.switch_times[0] if traj.switch_times else traj.t[-1]
    j = int(np.argmin(np.abs(traj.t - t_sw)))
    setup = traj.setup
    M = setup.M
    spec = np.array([teacher_specialisation(traj.R[b, j][:, :M], traj.T[b][:M, :M],
                                            traj.V[b, j, setup.head_of(0)])
                     for b in range(traj.R.shape[0])])
    return {"eps_g_final": traj.eps_g[:, -1].copy(),
            "forgetting": traj.eps_g[:, -1, 0] - traj.eps_g[:, j, 0],
            "specialisation_switch": spec, "eps_g": traj.eps_g}


def _run_protocol_chunk(spec: SweepSpec, grid: np.ndarray,
                        replica: np.ndarray) -> dict[str, np.ndarray]:
    from ..multitask import integrate_protocol

    n = grid.size
    out = {}
    for g in np.unique(grid):
        rows = np.flatnonzero(grid == g)
        states = task_states(spec, int(g))
        setup, protocol, _ = spec.task_setup(int(g))
        traj = integrate_protocol(setup, [states[r] for r in replica[rows]], protocol,
                                  n_out=spec.n_out, times=spec.times, method=spec.method,
                                  rtol=spec.rtol, atol=spec.atol, dt=spec.dt)
        res = {"status": traj.status, "t_fail": traj.t_fail,
               "n_rhs": np.asarray(traj.info["n_rhs"])}
        res.update(protocol_observables(traj))
        if spec.keep != "eps_g":
            res.pop("eps_g")
        for name, arr in res.items():
            if name not in out:
                out[name] = np.full((n,) + arr.shape[1:], np.nan if arr.dtype.kind == "f"
                                    else 0, dtype=arr.dtype)
            out[name][rows] = arr
    return out
