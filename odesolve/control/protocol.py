"""Exact gradients through a protocol with a task switch and EWC: the continual protocol of
:mod:`odesolve.multitask` (task 0, then task 1 with EWC around the weights at the switch),
with schedules in each phase.

The objective is ``c_0 eps_0 + c_1 eps_1`` at the end, each task's error through its head.
Each phase is a run of :func:`~odesolve.control.objective_gradient`; the phases are chained
by the chain rule through the **switch map** from the state at the end of phase 1 to the
start and the parameters of phase 2 (:func:`odesolve.multitask.ode.phase_problem`):

- the student-anchor overlaps start at Q, the anchors' overlaps with the teachers are R, their
  self-overlaps are Q (entries of the phase's teacher covariance);
- the EWC weights ``F_i = va_i^2 J2(q_ii, q_ii, q_ii)`` (and ``Fv_i = I2(q_ii, q_ii, q_ii)``
  when the anchored head is the trained one) depend on the state at the switch, through the
  derived gradient kernels of J2 and I2; ``va`` is the anchored head.

The adjoint of the map sends phase 2's gradients with respect to its start and parameters
back to the end of phase 1, and the error of task 0 at the end (its head idle in phase 2)
enters as a further final-state term of both phases (``lam_final``). The forward route uses
forward sensitivities in each phase and the same map.
"""
from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from .. import committee
from .._checks import check_choice, check_int, check_real
from ..model import TeacherStudent
from .committee import _closed_form, committee_sensitivity_problem, ewc_sensitivity_problem
from .schedule import Schedule
from .sensitivity import objective_gradient

__all__ = ["continual_gradient"]


@functools.lru_cache(maxsize=None)
def _gradient_kernel(activation, name):
    """The compiled gradient kernel ``name`` ("gI2", "gJ2") of an activation."""
    if isinstance(activation, str) and activation in _closed_form():
        return getattr(importlib.import_module(
            f"odesolve.kernels._generated.jacobian_{activation}"), name)
    from ..kernels.kernel_gradients import quadrature_gradient_kernels

    return quadrature_gradient_kernels(activation)[name]


def _diag_kernel(activation, name, q):
    """Value and total derivative of ``kernel(q, q, q)`` (all three arguments move)."""
    out = _gradient_kernel(activation, name)(q, q, q, 0, 0)
    return float(out[0]), float(out[1] + out[2] + out[3])


def _state(Q, R, v):
    return np.concatenate([np.ravel(Q), np.ravel(R), np.ravel(v)]).astype(np.float64)


def continual_gradient(setup: Any, state: Any, t1: float, t2: float, ewc: float | None,
                       schedules: tuple[Mapping[str, Schedule], Mapping[str, Schedule]] = ({},
                                                                                          {}),
                       cost_weights: tuple[float, float] = (1.0, 1.0),
                       steps_per_unit: int = 20,
                       method: Literal["adjoint", "forward", "none"] = "adjoint"
                       ) -> dict[str, Any]:
    """Objective and gradients of the continual protocol (module docstring).

    Parameters
    ----------
    setup : MultiTaskSetup
        Two tasks (P = 2), one or two heads.
    state : MultiTaskState
        Start of phase 1.
    t1, t2 : float
        Durations of the phases, positive.
    ewc : float or None
        EWC strength of phase 2 (None: no EWC); schedule it with ``"ewc"`` in the second
        mapping of ``schedules``.
    schedules : (mapping, mapping)
        Schedules of each phase by slot name (``"eta"``, ``"eta_v"``, ... and, in phase 2,
        ``"ewc"``), with times measured from the start of the phase.
    cost_weights : (float, float)
        ``c_0, c_1``.
    steps_per_unit : int
        RK4 steps per unit of time (each phase gets a whole number, rounded up to fit the
        jumps of its schedules when they are equal pieces).
    method : {"adjoint", "forward", "none"}

    Returns
    -------
    dict
        ``objective``, ``eps_final`` ([eps_0, eps_1] at the end), ``grad``: ``(dict, dict)``
        per phase schedule -> gradient of its values, ``grad_ewc`` (when EWC is constant),
        ``grad_initial`` (``Q``, ``R``, ``V`` arrays of the gradient with respect to the
        initial overlaps; the Q entries follow the half-per-copy convention of
        :mod:`odesolve.jacobian`).

    Raises
    ------
    ValueError
        The setup does not have two tasks, a phase fails (with its time), bad arguments.
    """
    from ..multitask import Phase
    from ..multitask.ode import phase_problem

    from ..multitask import MultiTaskSetup, MultiTaskState

    if not isinstance(setup, MultiTaskSetup):
        raise TypeError(f"`setup` must be a MultiTaskSetup, got {type(setup).__name__}.")
    if not isinstance(state, MultiTaskState):
        raise TypeError(f"`state` must be a MultiTaskState, got {type(state).__name__}.")
    if setup.P != 2:
        raise ValueError(f"`setup` must have P = 2 tasks, got P = {setup.P}.")
    if ewc is not None and setup.activation == "relu" and method != "none":
        raise ValueError("`ewc` with the ReLU activation: at the switch the student's fields "
                         "coincide with the new anchors', where ReLU's kernels have infinite "
                         "partial derivatives, so the gradient through the switch is not "
                         "available (docs/theory/control.md#theory-control-protocol).")
    for j, phase_schedules in enumerate(schedules):
        for name, sch in dict(phase_schedules).items():
            if not isinstance(sch, Schedule):
                raise TypeError(f"`schedules[{j}][{name!r}]` must be a Schedule, got "
                                f"{type(sch).__name__}.")
    method = check_choice("method", method, ("adjoint", "forward", "none"))
    t1 = check_real("t1", t1, positive=True)
    t2 = check_real("t2", t2, positive=True)
    steps_per_unit = check_int("steps_per_unit", steps_per_unit, minimum=1)
    c0, c1 = (check_real(f"cost_weights[{j}]", c, minimum=0.0)
              for j, c in enumerate(cost_weights))
    s1, s2 = (dict(s) for s in schedules)
    K, M, PM, act = setup.K, setup.M, setup.P * setup.M, setup.activation
    h0, h1 = setup.head_of(0), setup.head_of(1)
    n1, n2 = _steps(t1, steps_per_unit, s1), _steps(t2, steps_per_unit, s2)
    prob1 = committee_sensitivity_problem(TeacherStudent(K, PM, act))
    T, V_star = state.T[None], state.V_star[None]
    Q0, R0, V0 = state.Q[None], state.R[None], state.V[None]
    ph1 = Phase(t1, teacher=0, head=h0)
    _, ov1, p1, _ = phase_problem(setup, ph1, h0, Q0, R0, V0, T, V_star, None)
    y1_0, p1 = committee.pack_state(ov1)[0], p1[0]

    # forward through phase 1, the switch, phase 2
    r1 = objective_gradient(prob1, y1_0, p1, s1, t1, n1, w_final=0.0, method="none",
                            n_record=2)
    _raise_if_failed(r1, "phase 1", 0.0)
    y1_end = r1.y[0, -1]
    Q1, R1, v0_end = committee.unpack_state(y1_end, K, PM)
    V1 = V0[0].copy()
    V1[h0] = v0_end
    ph2 = Phase(t2, teacher=1, head=h1, ewc=ewc)
    anchor = (Q1[None], R1[None], v0_end[None], h0) if ewc is not None else None
    _, ov2, p2, M2 = phase_problem(setup, ph2, h1, Q1[None], R1[None], V1[None], T, V_star,
                                   anchor)
    y2_0, p2 = committee.pack_state(ov2)[0], p2[0]
    prob2 = (ewc_sensitivity_problem(act, K, M2) if ewc is not None
             else committee_sensitivity_problem(TeacherStudent(K, M2, act)))
    r2 = objective_gradient(prob2, y2_0, p2, s2, t2, n2, w_final=c1, method="none",
                            n_record=2)
    _raise_if_failed(r2, "phase 2", t1)
    Q2, R2, v1_end = committee.unpack_state(r2.y[0, -1], K, M2)
    # task 0 at the end: its head is V1[h0] unless phase 2 trained it (one head)
    v0_final = v1_end if h1 == h0 else V1[h0]
    y0_end = _state(Q2, R2[:, :PM], v0_final)
    work = np.zeros(prob1.n_work)
    g0 = np.zeros(y0_end.size)
    e0 = prob1.cost(0.0, y0_end, p1, work, g0, np.zeros(p1.size))
    e1 = float(r2.objective[0]) / c1 if c1 else prob2.cost(0.0, r2.y[0, -1], p2,
                                                          np.zeros(prob2.n_work),
                                                          np.zeros(y2_0.size),
                                                          np.zeros(p2.size))
    out: dict[str, Any] = {"objective": c0 * e0 + c1 * e1, "eps_final": [e0, e1],
                           "steps": (n1, n2)}
    if method == "none":
        return out

    # phase 2 with task 0's error as a final-state term
    lam2 = np.zeros(y2_0.size)
    Qg, Rg, vg = committee.unpack_state(c0 * g0, K, PM)
    lam2[:K * K] = Qg.ravel()
    lam2[K * K:K * K + K * M2] = np.pad(Rg, ((0, 0), (0, M2 - PM))).ravel()
    direct_v0 = np.zeros(K)
    if h1 == h0:
        lam2[K * K + K * M2:] += vg
    else:
        direct_v0 = vg
    g2 = objective_gradient(prob2, y2_0, p2, s2, t2, n2, w_final=c1, method=method,
                            n_record=2, lam_final=lam2)
    # the switch map, backwards
    lam1, g_head1 = _switch_adjoint(act, g2, prob2, K, PM, M2, Q1, v0_end, h0, h1, ewc)
    lam1[K * K + K * PM:] += direct_v0
    g1 = objective_gradient(prob1, y1_0, p1, s1, t1, n1, w_final=0.0, method=method,
                            n_record=2, lam_final=lam1)
    Qi, Ri, vi = committee.unpack_state(g1.grad_y0[0], K, PM)
    V_grad = np.zeros_like(state.V)
    V_grad[h0] = vi
    if h1 != h0:
        V_grad[h1] += g_head1
    out["grad"] = ({k: v[0] for k, v in g1.grad.items()}, {k: v[0] for k, v in g2.grad.items()})
    if ewc is not None and "ewc" not in s2:
        out["grad_ewc"] = float(g2.grad_params["ewc"][0])
    out["grad_initial"] = {"Q": Qi, "R": Ri, "V": V_grad}
    return out


def _steps(t, per_unit, schedules):
    """Steps of a phase: about ``t * per_unit``, rounded up to a multiple of the piece
    counts of its piecewise-constant schedules (equal pieces put every jump on the grid)."""
    n = int(np.ceil(t * per_unit - 1e-9))
    multiple = 1
    for sch in schedules.values():
        if sch.kind == "constant":
            multiple = int(np.lcm(multiple, sch.n_values))
    return n + (-n) % multiple


def _raise_if_failed(res, phase, t0):
    if res.status[0] != 0:
        raise ValueError(f"{phase} failed at t = {t0 + res.t_fail[0]:g} (the overlaps left "
                         "the valid region or became non-finite).")


def _switch_adjoint(act, g2, prob2, K, PM, M2, Q1, v0_end, h0, h1, ewc):
    """Gradient with respect to the state at the end of phase 1 (committee layout with PM
    teacher fields and head h0), and with respect to the initial head h1 (multi-head), from
    phase 2's gradients with respect to its start and its parameters."""
    n1 = K * K + K * PM + K
    lam = np.zeros(n1)
    gy = g2.grad_y0[0]
    gQ = gy[:K * K].reshape(K, K)
    gR = gy[K * K:K * K + K * M2].reshape(K, M2)
    g_v2 = gy[K * K + K * M2:]
    lamQ = gQ.copy()
    lamR = gR[:, :PM].copy()
    lamv = np.zeros(K)
    g_head1 = np.zeros(K)
    if h1 == h0:
        lamv += g_v2                       # phase 2 trains the same head: it starts at v0_end
    else:
        g_head1 = g_v2                     # the other head starts at its initial value
    if ewc is not None:
        lamQ += gR[:, PM:]                 # student-anchor overlaps start at Q
        gp = {k: float(v[0]) for k, v in g2.grad_params.items()}
        for i in range(K):
            for n in range(PM):            # anchor-teacher overlaps are R at the switch
                lamR[i, n] += gp[f"T[{PM + i},{n}]"] + gp[f"T[{n},{PM + i}]"]
            for k in range(K):             # anchor self-overlaps are Q at the switch
                lamQ[i, k] += gp[f"T[{PM + i},{PM + k}]"]
            q, va = Q1[i, i], v0_end[i]
            J2, dJ2 = _diag_kernel(act, "gJ2", q)
            lamv[i] += gp[f"F[{i}]"] * 2.0 * va * J2 + gp[f"va[{i}]"]
            lamQ[i, i] += gp[f"F[{i}]"] * va * va * dJ2
            if h1 == h0:                   # Fv = I2(q, q, q) when the anchored head trains
                _, dI2 = _diag_kernel(act, "gI2", q)
                lamQ[i, i] += gp[f"Fv[{i}]"] * dI2
    lam[:K * K] = lamQ.ravel()
    lam[K * K:K * K + K * PM] = lamR.ravel()
    lam[K * K + K * PM:] = lamv
    return lam, g_head1
