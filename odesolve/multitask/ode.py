"""Integrate the ODEs of a multi-teacher, multi-head student through a protocol.

Each phase is one call of the compiled solver on the committee ODE with all teacher fields
(module docstring of :mod:`odesolve.multitask.model`). A phase with EWC appends the anchors
(the first-layer weights at the end of the previous phase) as K further zero-readout fields
and adds the derived EWC terms (:mod:`odesolve.derive.ewc`,
``odesolve/kernels/_generated/ewc.py``).
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import committee
from .._checks import check_choice, check_int, check_real
from .._jit import source_tag, specialise
from ..activations import Activation, kernels_for
from ..integration import output_times
from ..kernels._generated import ewc as generated_ewc
from ..model import Overlaps, TeacherStudent
from ..solvers import TABLEAUS, Problem, solve
from .model import MultiTaskSetup, MultiTaskState
from .protocol import Phase, Protocol

__all__ = ["integrate_protocol", "ProtocolTrajectory", "fisher_diagonal", "task_errors",
           "phase_problem"]


@dataclass
class ProtocolTrajectory:
    """Order parameters through a protocol (ODE, batch of ODE runs, or simulation seeds).

    Arrays are as listed for one run; a batch of states (:func:`integrate_protocol` with a
    sequence) or simulation seeds add a leading axis (B or S) to Q, R, V, eps_g, status and
    t_fail (and, for a batch, T and V_star).

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
    status : int or ndarray
        0, or the solver status of the phase that failed.
    t_fail : float or ndarray
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
    status: int | np.ndarray = 0
    t_fail: float | np.ndarray = np.nan
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def switch_times(self) -> list[float]:
        """Start times of phases 2, 3, ... (:attr:`Protocol.switch_times`)."""
        return self.protocol.switch_times

    def at(self, t: float) -> int:
        """Index of the output time closest to ``t``."""
        return int(np.argmin(np.abs(self.t - t)))


def _phase_times(protocol: Protocol, n_out: int, times: ArrayLike | None) -> np.ndarray:
    """Output times: ``times`` plus every phase boundary, or ``n_out`` per phase.

    ``n_out`` must be an integer >= 2 (checked also when ``times`` is given) and ``times``
    must follow the rules of :func:`odesolve.integration.output_times` with
    ``t_max = protocol.t_max`` (finite, strictly increasing, in [0, t_max], ending at
    t_max). The clip only removes rounding (times up to t_max (1 + 1e-12) are accepted).
    """
    n_out = check_int("n_out", n_out, minimum=2)
    bounds = np.concatenate([[0.0], np.cumsum([p.duration for p in protocol.phases])])
    if times is None:
        grid = [np.linspace(bounds[j], bounds[j + 1], n_out) for j in range(len(bounds) - 1)]
        out = np.concatenate(grid)
    else:
        out = np.concatenate([output_times(protocol.t_max, times), bounds])
    return np.unique(np.clip(out, 0.0, bounds[-1]))


def _check_run(setup: Any, state: Any, protocol: Any, batch: bool) -> list[MultiTaskState]:
    """Check the arguments shared by the protocol runs; return the states as a list.

    Parameters
    ----------
    batch : bool
        Whether ``state`` may also be a non-empty sequence of states.

    Raises
    ------
    TypeError
        ``setup``, ``state`` or ``protocol`` has the wrong type.
    ValueError
        A state does not match the setup, a phase names a teacher or head the setup does
        not have, an empty sequence of states.
    """
    if not isinstance(setup, MultiTaskSetup):
        raise TypeError(f"`setup` must be a MultiTaskSetup, got {type(setup).__name__}.")
    if not isinstance(protocol, Protocol):
        raise TypeError(f"`protocol` must be a Protocol, got {type(protocol).__name__}.")
    if isinstance(state, MultiTaskState):
        states = [state]
    elif batch and isinstance(state, Sequence) and not isinstance(state, (str, bytes)):
        states = list(state)
        if not states:
            raise ValueError("`state` is an empty sequence: give at least one "
                             "MultiTaskState.")
    else:
        kind = "a MultiTaskState or a sequence of them" if batch else "a MultiTaskState"
        raise TypeError(f"`state` must be {kind}, got {type(state).__name__}.")
    for b, st in enumerate(states):
        name = "state" if isinstance(state, MultiTaskState) else f"state[{b}]"
        if not isinstance(st, MultiTaskState):
            raise TypeError(f"`{name}` must be a MultiTaskState, got {type(st).__name__}.")
        if (st.K, st.P, st.M, st.V.shape[0]) != (setup.K, setup.P, setup.M, setup.H):
            raise ValueError(f"`{name}` (K={st.K}, P={st.P}, M={st.M}, {st.V.shape[0]} "
                             f"heads) does not match `setup` (K={setup.K}, P={setup.P}, "
                             f"M={setup.M}, {setup.H} heads).")
    protocol.check(setup)
    return states


def fisher_diagonal(activation: str | Activation, Q: np.ndarray,
                    v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Diagonal Fisher information of the output at the anchor (odesolve/derive/ewc.py).

    Parameters
    ----------
    activation : str or Activation
    Q : ndarray, shape (K, K)
        Student-student overlaps at the anchor.
    v : ndarray, shape (K,)
        The anchored head.

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


def integrate_protocol(setup: MultiTaskSetup, state: MultiTaskState | Sequence[MultiTaskState],
                       protocol: Protocol, n_out: int = 101, times: ArrayLike | None = None,
                       method: str = "dopri5",
                       rtol: float = 1e-8, atol: float = 1e-10,
                       dt: float | None = None) -> ProtocolTrajectory:
    """Integrate the order-parameter ODEs through the phases of ``protocol``.

    Parameters
    ----------
    setup : MultiTaskSetup
    state : MultiTaskState or sequence of MultiTaskState
        Initial overlaps (all heads, all teachers); a sequence is integrated as one batch
        (each phase one parallel solver call, every member with its own adaptive step).
    protocol : Protocol
    n_out : int
        Output times per phase (when ``times`` is not given), at least 2 (its start and end).
    times : array_like, optional
        Strictly increasing output times in [0, protocol.t_max] ending at protocol.t_max
        (the rules of :func:`odesolve.integration.output_times`); the phase boundaries are
        always added.
    method, rtol, atol, dt :
        Solver options (:func:`odesolve.integrate`); ``dt`` is required by the fixed-step
        methods.

    Returns
    -------
    ProtocolTrajectory
        Arrays (n, ...) for one state, (B, n, ...) for a sequence. A member that fails
        (divergence) stops: its ``status`` and ``t_fail`` are set and its later outputs are NaN.

    Raises
    ------
    TypeError
        An argument has the wrong type (``setup`` not a MultiTaskSetup, ``protocol`` not a
        Protocol, ``n_out=2.0``, strings in ``times``, ...).
    ValueError
        A state does not match ``setup``, a phase names a teacher or head the setup does not
        have, ``n_out`` < 2, ``times`` outside [0, protocol.t_max] or not ending there, a
        tolerance out of range, an unknown method.
    """
    batched = not isinstance(state, MultiTaskState)
    states = _check_run(setup, state, protocol, batch=True)
    method = check_choice("method", method.lower() if isinstance(method, str) else method,
                          TABLEAUS)
    rtol = check_real("rtol", rtol, positive=True)
    atol = check_real("atol", atol, minimum=0.0)
    if dt is not None:
        dt = check_real("dt", dt, positive=True)
    elif not TABLEAUS[method].adaptive:
        raise ValueError(f"`dt` is required by the fixed-step method {method!r}.")
    t_all = _phase_times(protocol, n_out, times)
    B, K, PM = len(states), setup.K, setup.P * setup.M
    T = np.stack([st.T for st in states])
    V_star = np.stack([st.V_star for st in states])
    n = t_all.size
    Q_out = np.full((B, n, K, K), np.nan)
    R_out = np.full((B, n, K, PM), np.nan)
    V_out = np.full((B, n, setup.H, K), np.nan)
    phase_of = np.zeros(n, dtype=np.int64)
    Q = np.stack([st.Q for st in states])
    R = np.stack([st.R for st in states])
    V = np.stack([st.V for st in states])
    Q_out[:, 0], R_out[:, 0], V_out[:, 0] = Q, R, V
    status, t_fail = np.zeros(B, dtype=np.int64), np.full(B, np.nan)
    n_rhs = np.zeros(B, dtype=np.int64)
    t0, anchor = 0.0, None
    psd_tol = committee.psd_tolerance(method, rtol, atol)
    for k, ph in enumerate(protocol.phases):
        t1 = t0 + ph.duration
        sel = np.flatnonzero((t_all > t0) & (t_all <= t1 * (1 + 1e-14)))
        phase_of[sel] = k
        h = protocol.head(setup, k)
        problem, ov, p, M_tot = phase_problem(setup, ph, h, Q, R, V, T, V_star, anchor,
                                              psd_tol)
        t_eval = np.concatenate([[t0], t_all[sel]])
        slots = _schedule_slots(setup, ph, p, M_tot)
        if slots:
            from ..control.scheduled import solve_scheduled

            res = solve_scheduled(problem, committee.pack_state(ov), p, t_eval, slots,
                                  offset=-t0, method=method, dt=dt, rtol=rtol, atol=atol)
        else:
            res = solve(problem, committee.pack_state(ov), p, t_eval, method=method, dt=dt,
                        rtol=rtol, atol=atol)
        n_rhs += res.n_rhs
        Qs, Rs, vs = committee.unpack_state(res.y, K, M_tot)
        Q_out[:, sel], R_out[:, sel] = Qs[:, 1:], Rs[:, 1:, :, :PM]
        V_out[:, sel] = V[:, None]
        V_out[:, sel, h] = vs[:, 1:]
        new_fail = (res.status != 0) & (status == 0)
        status[new_fail], t_fail[new_fail] = res.status[new_fail], res.t_fail[new_fail]
        Q, R, V = Qs[:, -1].copy(), Rs[:, -1, :, :PM].copy(), V.copy()
        V[:, h] = vs[:, -1]
        anchor = (Q.copy(), R.copy(), V[:, h].copy(), h)
        t0 = t1
    eps = np.stack([task_errors(setup, T[b], V_star[b], Q_out[b], R_out[b], V_out[b])
                    for b in range(B)])
    info = {"method": method, "rtol": rtol, "atol": atol, "n_rhs": n_rhs}
    if not batched:
        return ProtocolTrajectory(t_all, Q_out[0], R_out[0], V_out[0], eps[0], phase_of, T[0],
                                  V_star[0], setup, protocol, int(status[0]), float(t_fail[0]),
                                  {**info, "n_rhs": int(n_rhs[0])})
    return ProtocolTrajectory(t_all, Q_out, R_out, V_out, eps, phase_of, T, V_star, setup,
                              protocol, status, t_fail, info)


def phase_problem(setup: MultiTaskSetup, ph: Phase, head: int, Q: np.ndarray, R: np.ndarray,
                  V: np.ndarray, T: np.ndarray, V_star: np.ndarray,
                  anchor: tuple[np.ndarray, np.ndarray, np.ndarray, int] | None,
                  psd_tol: float = committee.PSD_RTOL
                  ) -> tuple[Problem, Overlaps, np.ndarray, int]:
    """The committee ODE of one phase: its problem, start and parameter rows.

    All P*M teacher fields take part; the phase's teacher has its readouts, the others zero.
    A phase with EWC appends the anchors (the first-layer weights at the end of the previous
    phase) as K further zero-readout fields and the EWC entries ``lam, F (K), Fv (K), va (K)``
    after the committee row (:func:`fisher_diagonal`).

    Parameters
    ----------
    setup : MultiTaskSetup
    ph : Phase
    head : int
        The head trained and read in the phase.
    Q : ndarray, shape (B, K, K)
    R : ndarray, shape (B, K, P*M)
    V : ndarray, shape (B, H, K)
    T : ndarray, shape (B, P*M, P*M)
    V_star : ndarray, shape (B, P, M)
    anchor : (Qa (B, K, K), Ra (B, K, P*M), va (B, K), head_a) or None
        The state at the end of the previous phase (needed when the phase uses EWC).
    psd_tol : float
        Tolerance of the validity check (:func:`odesolve.committee.psd_tolerance`).

    Returns
    -------
    problem : Problem
    state : Overlaps
        Batched start of the phase (B members; ``R`` and ``T`` extended by the anchors).
    p : ndarray, shape (B, n_p)
        Parameter rows.
    M_tot : int
        Number of teacher fields (P*M, plus K anchors with EWC).
    """
    K, PM = setup.K, setup.P * setup.M
    B = Q.shape[0]
    ts, ewc = _phase_setup(setup, ph)
    M_tot = PM + (K if ewc else 0)
    ts = setup.phase_setup(M_tot, eta=ts.eta, eta_v=ts.eta_readout,
                           weight_decay=ts.weight_decay)
    v_star = np.zeros((B, M_tot))
    v_star[:, ph.teacher * setup.M:(ph.teacher + 1) * setup.M] = V_star[:, ph.teacher]
    if ewc:
        if anchor is None:
            raise ValueError("a phase with EWC needs the `anchor` of the previous phase.")
        Qa, Ra, va, head_a = anchor
        T_ext = np.concatenate([np.concatenate([T, np.swapaxes(Ra, 1, 2)], axis=2),
                                np.concatenate([Ra, Qa], axis=2)], axis=1)
        R_ext = np.concatenate([R, Q], axis=2)      # S = w.a/N = Q at the anchor
    else:
        T_ext, R_ext = T, R
    ov = Overlaps(Q, R_ext, T_ext, V[:, head], v_star, check=False)
    p = committee.pack_params(ts, ov, psd_tol)
    if not ewc:
        return committee.committee_problem(ts), ov, p, M_tot
    extra = np.zeros((B, 1 + 3 * K))
    extra[:, 0] = ph.ewc
    for b in range(B):
        F, Fv = fisher_diagonal(setup.activation, Qa[b], va[b])
        extra[b, 1:1 + K] = F
        extra[b, 1 + K:1 + 2 * K] = Fv if head_a == head else 0.0   # anchored head idle
        extra[b, 1 + 2 * K:] = va[b]
    return (_ewc_problem(setup.activation, K, M_tot), ov, np.concatenate([p, extra], axis=1),
            M_tot)


def _phase_setup(setup: MultiTaskSetup, ph):
    """The learning rates of a phase as a TeacherStudent (M is set later), and whether it
    uses EWC."""
    eta = (setup.eta if ph.eta is None else ph.eta) if ph.train_first else 0.0
    eta_v_default = setup.eta_v if setup.eta_v is not None else (
        setup.eta if ph.eta is None else ph.eta)
    eta_v = (eta_v_default if ph.eta_v is None else ph.eta_v) if ph.train_readout else 0.0
    return setup.phase_setup(setup.M, eta=eta, eta_v=eta_v,
                             weight_decay=ph.weight_decay), ph.ewc is not None


def phase_schedules(setup: MultiTaskSetup, ph: Phase) -> dict[str, Any]:
    """The schedules of a phase with the setup's rule applied: when neither the setup nor
    the phase gives a readout rate (the readout rate *is* eta) and the readout trains, an
    ``"eta"`` schedule drives ``"eta_v"`` too."""
    out = dict(ph.schedules or {})
    if ("eta" in out and "eta_v" not in out and ph.train_readout and ph.eta_v is None
            and setup.eta_v is None):
        out["eta_v"] = out["eta"]
    return out


def _schedule_slots(setup: MultiTaskSetup, ph: Phase, p: np.ndarray, M_tot: int
                    ) -> dict[int, Any]:
    """Parameter slot -> schedule of a phase's ODE (rows ``p`` of :func:`phase_problem`,
    whose readout flag is set when ``"eta_v"`` is scheduled)."""
    names = {"eta": "eta", "eta_v": "eta_v", "weight_decay": "kappa"}
    slots = {}
    for name, sch in phase_schedules(setup, ph).items():
        if name == "ewc":       # the EWC entries follow the committee row (phase_problem)
            slots[committee.N_FIXED_PARAMS + M_tot * M_tot + M_tot + 1] = sch
        else:
            slots[committee.PARAM_INDEX[names[name]]] = sch
            if name == "eta_v":
                p[:, committee.PARAM_INDEX["train_v"]] = 1.0
    return slots


def task_errors(setup: MultiTaskSetup, T: np.ndarray, V_star: np.ndarray, Q: np.ndarray,
                R: np.ndarray, V: np.ndarray) -> np.ndarray:
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
