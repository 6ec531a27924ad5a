"""Batch integration and sweep throughput (issue 4), each against a baseline of the same run.

* ``bench_batch``: 10 000 random initial states, erf K = M = 2, both layers trained,
  t in [0, 100], Dormand-Prince rtol 1e-6 / atol 1e-8, integrated as one parallel batch,
  against ``scipy.integrate.solve_ivp`` (RK45, same tolerances, vectorised NumPy right-hand
  side) looped over a subset of the same members (time per member). Also: how the time grows
  with the batch size, K and t_max, and what a few stiff members cost (load balance).
* ``bench_sweep``: ``odesolve.sweep`` over a 10 x 10 grid x 100 replicas (10 000 members)
  against the raw batch integration of as many states (the sweep's overhead) and solve_ivp.
"""
from __future__ import annotations

import time

import numpy as np
from scipy.integrate import solve_ivp

import odesolve
from odesolve import committee
from odesolve.reference import erf_rhs_vector

TOL = dict(rtol=1e-6, atol=1e-8)


def _states(K, M, B, seed=1):
    return odesolve.Overlaps.random(K, M, batch=B, N=10_000, student_std=0.5, readout_std=0.5,
                                    seed=seed)


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _batch(setup, states, t_max, n_out=11):
    return odesolve.integrate(setup, states, t_max=t_max, method="dopri5", n_out=n_out,
                              on_failure="flag", **TOL)


def _solve_ivp_loop(setup, states, t_max, n_out=11):
    """solve_ivp over the members one by one: (seconds, Y (B, n_t, n), mean nfev)."""
    b = states.broadcast()
    y0 = committee.pack_state(states)
    t_eval = np.linspace(0, t_max, n_out)
    Y, nfev = [], []
    t0 = time.perf_counter()
    for i in range(y0.shape[0]):
        sol = solve_ivp(erf_rhs_vector(setup, b.T[i], b.v_star[i]), (0, t_max), y0[i],
                        method="RK45", t_eval=t_eval, **TOL)
        Y.append(sol.y.T)
        nfev.append(sol.nfev)
    return time.perf_counter() - t0, np.array(Y), float(np.mean(nfev))


def bench_batch(quick=False):
    B = 2000 if quick else 10_000
    n_base = 20 if quick else 100
    setup = odesolve.TeacherStudent(2, 2, "erf", eta=1.0)
    states = _states(2, 2, B)
    _batch(setup, _states(2, 2, 4), 1.0)                        # compile / load the cache
    t_batch, traj = min((_timed(lambda: _batch(setup, states, 100.0)) for _ in range(3)),
                        key=lambda r: r[0])
    sub = states[:n_base]
    t_ivp, Y_ivp, nfev_ivp = _solve_ivp_loop(setup, sub, 100.0)
    Y_ours = committee.pack_state(odesolve.Overlaps(
        traj.Q[:n_base].reshape(-1, 2, 2), traj.R[:n_base].reshape(-1, 2, 2),
        np.repeat(sub.T, traj.t.size, 0), traj.v[:n_base].reshape(-1, 2),
        np.repeat(sub.v_star, traj.t.size, 0), check=False)).reshape(Y_ivp.shape)
    per_ours, per_ivp = t_batch / B, t_ivp / n_base
    rows = [{"name": f"solve_ivp RK45 loop ({n_base} members) [baseline]",
             "time_s": t_ivp, "per_member_us": per_ivp * 1e6, "rhs_per_member": nfev_ivp,
             "speedup_per_member": 1.0},
            {"name": f"odesolve batch of {B} (dopri5, 2 cores)", "time_s": t_batch,
             "per_member_us": per_ours * 1e6,
             "rhs_per_member": float(np.mean(traj.info["n_rhs"])),
             "speedup_per_member": per_ivp / per_ours}]
    out = {"B": B, "t_max": 100.0, "tolerances": TOL, "failed": int(np.sum(traj.status != 0)),
           "max_abs_diff_vs_solve_ivp": float(np.abs(Y_ours - Y_ivp).max()), "rows": rows,
           "target": "<= 3 s for 10 000 members and >= 200x per member"}
    out["scaling"] = _scaling(quick)
    out["stiff_members"] = _stiff(quick)
    return out


def _scaling(quick):
    rows = []
    base_setup = odesolve.TeacherStudent(2, 2, "erf", eta=1.0)
    for B in ((500, 2000) if quick else (1000, 3000, 10_000, 30_000)):
        t, tr = _timed(lambda: _batch(base_setup, _states(2, 2, B, seed=B), 100.0))
        rows.append({"vary": "batch", "B": B, "K=M": 2, "t_max": 100.0, "time_s": t,
                     "per_member_us": t / B * 1e6,
                     "rhs_per_member": float(np.mean(tr.info["n_rhs"]))})
    for K in ((3,) if quick else (3, 5, 8)):
        setup = odesolve.TeacherStudent(K, K, "erf", eta=1.0)
        B = 1000
        _batch(setup, _states(K, K, 2), 1.0)
        t, tr = _timed(lambda: _batch(setup, _states(K, K, B, seed=K), 100.0))
        rows.append({"vary": "K", "B": B, "K=M": K, "t_max": 100.0, "time_s": t,
                     "per_member_us": t / B * 1e6,
                     "rhs_per_member": float(np.mean(tr.info["n_rhs"]))})
    for t_max in ((50.0, 200.0) if quick else (50.0, 200.0, 1000.0)):
        B = 3000
        t, tr = _timed(lambda: _batch(base_setup, _states(2, 2, B, seed=7), t_max))
        rows.append({"vary": "t_max", "B": B, "K=M": 2, "t_max": t_max, "time_s": t,
                     "per_member_us": t / B * 1e6,
                     "rhs_per_member": float(np.mean(tr.info["n_rhs"]))})
    return rows


def _stiff(quick):
    """1 % of the members at eta = 100 (about 40x the work each): does the batch take the time
    of its total work, or do the slow members hold up the rest?"""
    B = 2000 if quick else 10_000
    states = _states(2, 2, B, seed=3)
    y0 = committee.pack_state(states)
    setup = odesolve.TeacherStudent(2, 2, "erf", eta=1.0)
    p = committee.pack_params(setup, states, committee.psd_tolerance("dopri5", **TOL))
    heavy = p.copy()
    idx = np.arange(0, B, 100)
    heavy[idx, 2] = heavy[idx, 3] = 100.0
    problem = committee.committee_problem(setup)
    t_eval = np.linspace(0, 100.0, 11)
    from odesolve.solvers import solve

    t_u, r_u = _timed(lambda: solve(problem, y0, p, t_eval, method="dopri5", **TOL))
    t_h, r_h = _timed(lambda: solve(problem, y0, heavy, t_eval, method="dopri5", **TOL))
    work_ratio = r_h.n_rhs.sum() / r_u.n_rhs.sum()
    return {"B": B, "heavy_members": int(idx.size),
            "heavy_rhs_per_member": float(r_h.n_rhs[idx].mean()),
            "normal_rhs_per_member": float(np.delete(r_h.n_rhs, idx).mean()),
            "time_uniform_s": t_u, "time_with_heavy_s": t_h, "work_ratio": float(work_ratio),
            "time_ratio": t_h / t_u,
            "balance": float(work_ratio / (t_h / t_u))}


def bench_sweep(quick=False):
    grid = 5 if quick else 10
    reps = 40 if quick else 100
    B = grid * grid * reps
    setup = odesolve.TeacherStudent(2, 2, "erf", eta=1.0)
    axes = {"readout_std": list(np.geomspace(0.01, 1.0, grid)),
            "eta": list(np.linspace(0.2, 2.0, grid))}
    kw = dict(axes=axes, init={"student_std": 0.5}, replicas=reps, t_max=100.0, n_out=11,
              progress=False, **TOL)
    odesolve.sweep(setup, **{**kw, "replicas": 1})               # compile / load the cache
    t_sweep, res = _timed(lambda: odesolve.sweep(setup, **kw))
    states = _states(2, 2, B, seed=11)
    t_batch, _ = _timed(lambda: _batch(setup, states, 100.0))
    n_base = 20 if quick else 50
    sub = states[:n_base]
    t_ivp, _, _ = _solve_ivp_loop(setup, sub, 100.0)
    rows = [{"name": "raw batch integrate (same member count) [baseline]", "time_s": t_batch,
             "members_per_s": B / t_batch, "ratio": 1.0},
            {"name": f"odesolve.sweep {grid}x{grid} grid x {reps} replicas", "time_s": t_sweep,
             "members_per_s": B / t_sweep, "ratio": t_batch / t_sweep},
            {"name": f"solve_ivp RK45 loop ({n_base} members)", "time_s": t_ivp,
             "members_per_s": n_base / t_ivp, "ratio": (t_batch / B) / (t_ivp / n_base)}]
    return {"members": B, "chunks": res.info["chunks"], "rows": rows}
