"""Integrate the ODEs of a multi-teacher, multi-head student through a protocol.

Each phase is one call of the compiled solver on the committee ODE with all teacher fields
(module docstring of :mod:`odesolve.multitask.model`). A phase with EWC appends the anchors
(the first-layer weights at the end of the previous phase) as K further zero-readout fields
and adds the derived EWC terms (:mod:`odesolve.derive.ewc`,
``odesolve/kernels/_generated/ewc.py``).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from .. import committee
from .._jit import source_tag, specialise
from ..activations import kernels_for
from ..kernels._generated import ewc as generated_ewc
from ..model import Overlaps, TeacherStudent
from ..solvers import Problem, solve
from .model import MultiTaskSetup, MultiTaskState
from .protocol import Protocol

__all__ = ["integrate_protocol", "ProtocolTrajectory", "fisher_diagonal", "task_errors"]


@dataclass
class ProtocolTrajectory:
    """Order parameters through a protocol (ODE or simulation seed mean).

    Attributes
    ----------
    t : ndarray, shape (n,)
    Q : ndarray, shape (n, K, K)
    R : ndarray, shape (n, K, P*M)
    V : ndarray, shape (n, H, K)
        All heads (an inactive head stays constant).
    eps_g : ndarray, shape (n, P)
        Generalisation error of every task (through its head) at every time.
    phase : ndarray of int, shape (n,)
        Phase index of each output (the boundary belongs to the phase it ends).
    T : ndarray, shape (P*M, P*M); V_star : ndarray, shape (P, M)
    setup : MultiTaskSetup
    protocol : Protocol
    status : int
        0, or the solver status of the phase that failed.
    t_fail : float
        NaN, or the time of the failure (outputs after it are NaN).
    info : dict
    """

    t: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    V: np.ndarray
    eps_g: np.ndarray
    phase: np.ndarray
    T: np.ndarray
    V_star: np.ndarray
    setup: MultiTaskSetup
    protocol: Protocol
    status: int = 0
    t_fail: float = np.nan
    info: dict = field(default_factory=dict)

    @property
    def switch_times(self) -> list:
        return self.protocol.switch_times

    def at(self, t: float) -> int:
        """Index of the output time closest to ``t``."""
        return int(np.argmin(np.abs(self.t - t)))


def _phase_times(protocol: Protocol, n_out: int, times) -> np.ndarray:
    """Output times: ``times`` plus every phase boundary, or ``n_out`` per phase."""
    bounds = np.concatenate([[0.0], np.cumsum([p.duration for p in protocol.phases])])
    if times is None:
        grid = [np.linspace(bounds[j], bounds[j + 1], n_out) for j in range(len(bounds) - 1)]
        out = np.concatenate(grid)
    else:
        out = np.concatenate([np.asarray(times, dtype=np.float64), bounds])
    return np.unique(np.clip(out, 0.0, bounds[-1]))


def fisher_diagonal(activation, Q, v):
    """Diagonal Fisher information of the output at the anchor (odesolve/derive/ewc.py).

    Returns
    -------
    F : ndarray, shape (K,)
        First layer, times N: ``v_i^2 J2(i, i)`` (the same for every input component).
    Fv : ndarray, shape (K,)
        Head: ``I2(i, i)``.
    """
    kern = kernels_for(activation)
    q = np.diag(Q)
    F = np.array([v[i] ** 2 * kern["J2"](q[i], q[i], q[i]) for i in range(q.size)])
    Fv = np.array([kern["I2"](q[i], q[i], q[i]) for i in range(q.size)])
    return F, Fv


@functools.lru_cache(maxsize=None)
def _ewc_problem(activation, K, M):
    base = committee.committee_problem(TeacherStudent(K, M, activation))
    rhs = specialise(_t_ewc_rhs, "ewc_" + source_tag(base.rhs, generated_ewc),
                     base_rhs=base.rhs, add_ewc_terms=generated_ewc.add_ewc_terms)
    return Problem(rhs=rhs, is_valid=base.is_valid, n_work=base.n_work,
                   name=f"ewc_{base.name}")


def _t_ewc_rhs(t, y, p, work, out):
    """Committee right-hand side plus the derived EWC terms (template)."""
    base_rhs(t, y, p, work, out)  # noqa: F821  (bound by specialise)
    add_ewc_terms(y, p, out)      # noqa: F821


def integrate_protocol(setup: MultiTaskSetup, state: MultiTaskState, protocol: Protocol,
                       n_out: int = 101, times=None, method: str = "dopri5",
                       rtol: float = 1e-8, atol: float = 1e-10,
                       dt: float | None = None) -> ProtocolTrajectory:
    """Integrate the order-parameter ODEs through the phases of ``protocol``.

    Parameters
    ----------
    setup : MultiTaskSetup
    state : MultiTaskState
        Initial overlaps (all heads, all teachers).
    protocol : Protocol
    n_out : int
        Output times per phase (when ``times`` is not given).
    times : array_like, optional
        Output times in [0, protocol.t_max]; the phase boundaries are always added.
    method, rtol, atol, dt :
        Solver options (:func:`odesolve.integrate`).

    Returns
    -------
    ProtocolTrajectory
        A failing phase (divergence) stops the run: ``status`` and ``t_fail`` are set and
        later outputs are NaN.
    """
    protocol.check(setup)
    if (state.K, state.P, state.M, state.V.shape[0]) != (setup.K, setup.P, setup.M, setup.H):
        raise ValueError(f"`state` (K={state.K}, P={state.P}, M={state.M}, "
                         f"{state.V.shape[0]} heads) does not match `setup` (K={setup.K}, "
                         f"P={setup.P}, M={setup.M}, {setup.H} heads).")
    K, PM = setup.K, setup.P * setup.M
    t_all = _phase_times(protocol, n_out, times)
    n = t_all.size
    Q_out = np.full((n, K, K), np.nan)
    R_out = np.full((n, K, PM), np.nan)
    V_out = np.full((n, setup.H, K), np.nan)
    phase_of = np.zeros(n, dtype=np.int64)
    Q, R, V = state.Q.copy(), state.R.copy(), state.V.copy()
    Q_out[0], R_out[0], V_out[0] = Q, R, V
    status, t_fail, n_rhs = 0, np.nan, 0
    t0 = 0.0
    anchor = None
    for k, ph in enumerate(protocol.phases):
        t1 = t0 + ph.duration
        sel = np.flatnonzero((t_all > t0) & (t_all <= t1 * (1 + 1e-14)))
        phase_of[sel] = k
        h = protocol.head(setup, k)
        eta = (setup.eta if ph.eta is None else ph.eta) if ph.train_first else 0.0
        eta_v_default = setup.eta_v if setup.eta_v is not None else (
            setup.eta if ph.eta is None else ph.eta)
        eta_v = (eta_v_default if ph.eta_v is None else ph.eta_v) if ph.train_readout else 0.0
        ewc = ph.ewc is not None
        M_tot = PM + (K if ewc else 0)
        ts = setup.phase_setup(M_tot, eta=eta, eta_v=eta_v, weight_decay=ph.weight_decay)
        T_ext = state.T
        R_ext = R
        v_star = state.v_star_ext(ph.teacher)
        if ewc:
            Qa, Ra, va_anchor, head_a = anchor
            T_ext = np.block([[state.T, Ra.T], [Ra, Qa]])
            R_ext = np.concatenate([R, Q], axis=1)          # S = w.a/N = Q at the anchor
            v_star = np.concatenate([v_star, np.zeros(K)])
        ov = Overlaps(Q, R_ext, T_ext, V[h], v_star, check=False)
        method_tol = committee.psd_tolerance(method, rtol, atol)
        p = committee.pack_params(ts, ov, method_tol)[0]
        if ewc:
            F, Fv = fisher_diagonal(setup.activation, Qa, va_anchor)
            if head_a != h:
                Fv = np.zeros(K)              # the anchored head is not trained now
            p = np.concatenate([p, [ph.ewc], F, Fv, va_anchor])
            problem = _ewc_problem(setup.activation, K, M_tot)
        else:
            problem = committee.committee_problem(ts)
        t_eval = np.concatenate([[t0], t_all[sel]])
        y0 = committee.pack_state(ov)[0]
        res = solve(problem, y0, p, t_eval, method=method, dt=dt, rtol=rtol, atol=atol)
        n_rhs += int(res.n_rhs[0])
        Qs, Rs, vs = committee.unpack_state(res.y, K, M_tot)
        Q_out[sel], R_out[sel] = Qs[1:], Rs[1:, :, :PM]
        V_out[sel] = V
        V_out[sel, h] = vs[1:]
        if res.status[0] != 0:
            status, t_fail = int(res.status[0]), float(res.t_fail[0])
            break
        Q, R, V = Qs[-1].copy(), Rs[-1, :, :PM].copy(), V.copy()
        V[h] = vs[-1]
        anchor = (Q.copy(), R.copy(), V[h].copy(), h)
        t0 = t1
    eps = task_errors(setup, state.T, state.V_star, Q_out, R_out, V_out)
    return ProtocolTrajectory(t_all, Q_out, R_out, V_out, eps, phase_of, state.T.copy(),
                              state.V_star.copy(), setup, protocol, status, t_fail,
                              {"method": method, "rtol": rtol, "atol": atol, "n_rhs": n_rhs})


def task_errors(setup: MultiTaskSetup, T, V_star, Q, R, V) -> np.ndarray:
    """eps_g of every task through its head, for overlaps Q (n, K, K), R (n, K, P*M),
    V (n, H, K); shape (n, P). NaN where the overlaps are NaN."""
    n, K, PM = R.shape
    P, M = V_star.shape
    out = np.empty((n, P))
    for task in range(P):
        h = setup.head_of(task)
        sl = slice(task * M, (task + 1) * M)
        y = np.concatenate([Q.reshape(n, K * K), R[:, :, sl].reshape(n, K * M), V[:, h]],
                           axis=1)
        ts = setup.phase_setup(M)
        ov = Overlaps(Q[0], R[0, :, sl], T[sl, sl], V[0, h], V_star[task], check=False)
        out[:, task] = committee.evaluate_eps_g(setup.activation, y[None],
                                                committee.pack_params(ts, ov))[0]
    return out
