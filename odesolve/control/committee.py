"""The committee ODE as a :class:`~odesolve.control.SensitivityProblem`: its right-hand
side, its derived Jacobian (:mod:`odesolve.jacobian`) and the generalisation error with its
gradient as the cost.

The generalisation error is ``eps_g = 1/2 sum_{a,b} c_a c_b I2(C_aa, C_ab, C_bb)`` over all
F = K + M fields (docs/theory/committee.md#theory-committee-eps-g), with C the field
covariance and c = (-v, v*). Its gradient follows by the chain rule from the gradient kernel
``gI2`` (the value of I2 and its three partial derivatives, the same kernel the Jacobian
uses): every ordered pair (a, b) adds ``c_a c_b / 2`` times the partials to the covariance
entries it reads, and ``c_b I2(a, b)`` to the gradient with respect to ``c_a``. The pairs
(a, b) and (b, a) read the two stored copies of a symmetric overlap, so each copy receives
half of the derivative with respect to the overlap, which is the convention of
:mod:`odesolve.jacobian`.

The differentiable parameters are all slots of the committee parameter row, named
(:func:`parameter_names`): ``eta``, ``eta_v``, ``sigma``, ``kappa``, ``b`` (the batch size,
as a real number), ``T[n,m]`` and ``v_star[n]``; ``K``, ``M``, ``train_v`` and ``psd_rtol``
are named too but are not meant to be differentiated.
"""
from __future__ import annotations

import functools
import importlib

import numpy as np

from .. import committee
from ..activations import Activation
from .._jit import source_tag, specialise
from ..jacobian import committee_jacobian, ewc_committee_jacobian, jac_work_size
from ..kernels._generated import committee as generated
from ..kernels.views import matrix
from ..model import TeacherStudent
from .sensitivity import SensitivityProblem

__all__ = ["committee_sensitivity_problem", "parameter_names", "ewc_sensitivity_problem",
           "ewc_parameter_names"]


def _eps_g_cost_template(t, y, p, work, gy, gp):
    """eps_g and its gradients w.r.t. y (n,) and the parameter row (n_p,)."""
    K = int(p[0])
    M = int(p[1])
    F = K + M
    C = matrix(work, 0, F, F)
    c = work[F * F:F * F + F]
    gC = matrix(work, F * F + F, F, F)
    gc = work[2 * F * F + F:2 * F * F + 2 * F]
    load_fields(y, p, C, c)  # noqa: F821
    for a in range(F):
        gc[a] = 0.0
        for b in range(F):
            gC[a, b] = 0.0
    value = 0.0
    for a in range(F):
        for b in range(F):
            I, d11, d12, d22 = gI2(C[a, a], C[a, b], C[b, b], a, b)  # noqa: F821
            w = 0.5 * c[a] * c[b]
            value += w * I
            gc[a] += c[b] * I
            if a == b:
                gC[a, a] += w * (d11 + d12 + d22)
            else:
                gC[a, a] += w * d11
                gC[a, b] += w * d12
                gC[b, b] += w * d22
    for j in range(gy.shape[0]):
        gy[j] = 0.0
    for j in range(gp.shape[0]):
        gp[j] = 0.0
    t0 = N_FIXED  # noqa: F821
    for i in range(K):
        gy[K * K + K * M + i] = -gc[i]
        for k in range(K):
            gy[i * K + k] = gC[i, k]
        for n in range(M):
            gy[K * K + i * M + n] = gC[i, K + n] + gC[K + n, i]
    for n in range(M):
        gp[t0 + M * M + n] = gc[K + n]
        for m in range(M):
            gp[t0 + n * M + m] = gC[K + n, K + m]
    return value


def parameter_names(K: int, M: int) -> list[str]:
    """Names of the slots of the committee parameter row, in order (module docstring)."""
    fixed = ["K", "M", "eta", "eta_v", "sigma", "kappa", "train_v", "b"][:committee.N_FIXED_PARAMS]
    return (fixed + [f"T[{n},{m}]" for n in range(M) for m in range(M)]
            + [f"v_star[{n}]" for n in range(M)] + ["psd_rtol"])


@functools.lru_cache(maxsize=None)
def _cost(activation):
    if isinstance(activation, str) and activation in _closed_form():
        gI2 = importlib.import_module(f"odesolve.kernels._generated.jacobian_{activation}").gI2
    else:
        from ..kernels.kernel_gradients import quadrature_gradient_kernels

        n_nodes = getattr(activation, "n_nodes", None)
        grads = (quadrature_gradient_kernels(activation) if n_nodes is None
                 else quadrature_gradient_kernels(activation, n_nodes))
        gI2 = grads["gI2"]
    tag = "epsg_" + source_tag(gI2, generated, _eps_g_cost_template,
                               str(committee.N_FIXED_PARAMS))
    return specialise(_eps_g_cost_template, tag, gI2=gI2, load_fields=generated.load_fields,
                      N_FIXED=committee.N_FIXED_PARAMS)


def _check_committee(schedules, Y0, P0):
    """Inputs the compiled committee passes cannot take (SensitivityProblem.check)."""
    K, M = int(P0[0, 0]), int(P0[0, 1])
    n = K * K + K * M + K
    if Y0.shape[1] != n:
        raise ValueError(f"`y0` has {Y0.shape[1]} entries per state; K = {K}, M = {M} need "
                         f"K*K + K*M + K = {n}.")
    fixed = {"K", "M", "train_v", "psd_rtol"}
    bad = sorted(fixed.intersection(schedules))
    if bad:
        raise ValueError(f"`schedules` names {bad}: these slots fix the problem's layout or "
                         "its checks and cannot be scheduled.")
    if "eta_v" in schedules and np.any(P0[:, committee.PARAM_INDEX["train_v"]] == 0):
        raise ValueError("`schedules` holds 'eta_v' but the readouts are not trained "
                         "(train_v = 0 in `p0`): pack the row from a setup with eta_v > 0.")


def _closed_form():
    from ..derive import CLOSED_FORM_ACTIVATIONS

    return CLOSED_FORM_ACTIVATIONS


def committee_sensitivity_problem(setup: TeacherStudent) -> SensitivityProblem:
    """The committee ODE of ``setup`` with its Jacobian and ``eps_g`` as the cost.

    Parameters
    ----------
    setup : TeacherStudent
        Only K, M and the activation matter (the rest lives in the parameter rows,
        :func:`odesolve.committee.pack_params`).

    Returns
    -------
    SensitivityProblem
        Slots named by :func:`parameter_names`.

    Raises
    ------
    TypeError
        ``setup`` is not a :class:`~odesolve.TeacherStudent`.
    """
    if not isinstance(setup, TeacherStudent):
        raise TypeError(f"`setup` must be a TeacherStudent, got {type(setup).__name__}.")
    return _problem(setup.activation, setup.K, setup.M)


@functools.lru_cache(maxsize=None)
def _problem(activation, K, M):
    rhs = committee.committee_problem(TeacherStudent(K, M, activation)).rhs
    names = parameter_names(K, M)
    return SensitivityProblem(rhs=rhs, jac=committee_jacobian(activation), cost=_cost(activation),
                              slots={k: j for j, k in enumerate(names)},
                              n_work=max(jac_work_size(K, M), 2 * (K + M) * (K + M + 1)),
                              is_valid=committee.is_valid_state,
                              name=f"committee_{getattr(activation, 'name', activation)}",
                              check=_check_committee)



def ewc_parameter_names(K: int, M_tot: int) -> list[str]:
    """Names of the slots of an EWC phase's parameter row: the committee row with ``M_tot``
    teacher fields (the anchors included), then ``ewc`` (the strength lambda), ``F[i]``,
    ``Fv[i]`` and ``va[i]`` (:func:`odesolve.multitask.ode.phase_problem`)."""
    return (parameter_names(K, M_tot) + ["ewc"] + [f"F[{i}]" for i in range(K)]
            + [f"Fv[{i}]" for i in range(K)] + [f"va[{i}]" for i in range(K)])


def ewc_sensitivity_problem(activation: str | Activation, K: int, M_tot: int
                            ) -> SensitivityProblem:
    """The ODE of an EWC phase (:mod:`odesolve.multitask`) with its derived Jacobian
    (:func:`odesolve.jacobian.ewc_committee_jacobian`) and the active task's ``eps_g`` as the
    cost; the EWC strength ``ewc`` may be scheduled like any other slot.

    Parameters
    ----------
    activation : str or Activation
    K : int
        Student units.
    M_tot : int
        Teacher fields of the phase, the K anchors included.

    Returns
    -------
    SensitivityProblem
        Slots named by :func:`ewc_parameter_names`.
    """
    return _ewc(activation, K, M_tot)


@functools.lru_cache(maxsize=None)
def _ewc(activation, K, M_tot):
    from ..multitask.ode import _ewc_problem

    base = _ewc_problem(activation, K, M_tot)
    names = ewc_parameter_names(K, M_tot)
    return SensitivityProblem(rhs=base.rhs, jac=ewc_committee_jacobian(activation),
                              cost=_cost(activation), slots={k: j for j, k in enumerate(names)},
                              n_work=max(jac_work_size(K, M_tot),
                                         2 * (K + M_tot) * (K + M_tot + 1)),
                              is_valid=committee.is_valid_state,
                              name=f"ewc_{getattr(activation, 'name', activation)}",
                              check=_check_committee)
