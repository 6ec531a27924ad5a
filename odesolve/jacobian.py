"""Compiled Jacobians of the committee right-hand side (derivation: odesolve/derive/jacobian.py).

Contract (same calling style as the right-hand side, ARCHITECTURE.md)::

    jac(t, y (n,), p (n_p,), work (jac_work_size(K, M),), Jy (n, n), Jp (n, n_p)) -> None

* ``Jy[r, s] = d rhs_r / d y_s`` with ``n = K*K + K*M + K`` (state layout of
  :mod:`odesolve.committee`);
* ``Jp[r, j] = d rhs_r / d p[j]`` for *every* slot ``j`` of the parameter row (same layout as
  ``p``: the model parameters at :data:`odesolve.committee.PARAM_INDEX` (eta, eta_v, sigma,
  kappa, train_v, b), then T (M*M), v_star (M); the columns of K, M and the PSD tolerance are 0).
  Every column comes from the same derivation, so d/dT and d/dv_star cost nothing extra;
* symmetric Q and T: the Jacobian is that of the right-hand side composed with
  ``Q -> (Q + Q^T) / 2`` (and likewise T). A column of an off-diagonal stored entry ``Q[i, k]``
  holds half the derivative with respect to the overlap ``q_ik = q_ki``, and rows ``(i, k)``,
  ``(k, i)`` are equal. ``Jy @ dy`` is the exact directional derivative for every perturbation
  that keeps Q symmetric, and a symmetric sensitivity stays symmetric under ``Jy``. An adjoint
  (row vector) ``lam @ Jy`` gives the gradient with respect to the stored entries in that
  convention: the gradient with respect to ``q_ik`` is the sum of the two entries.

Writes every entry of ``Jy`` and ``Jp``, allocates nothing, uses ``work`` as scratch (the
field covariance and per-row gradient buffers; :func:`jac_work_size` is at least the
right-hand side's ``n_work``, so one scratch array serves both).
"""
from __future__ import annotations

import functools
import importlib
from collections.abc import Callable

import numpy as np

from ._jit import source_tag, specialise
from .committee import N_FIXED_PARAMS, n_work, pack_params, pack_state
from .kernels._generated import jacobian as generated
from .activations import Activation
from .model import Overlaps, TeacherStudent

__all__ = ["committee_jacobian", "ewc_committee_jacobian", "jac_work_size", "evaluate_jacobian"]


def _closed_form():
    from .derive import CLOSED_FORM_ACTIVATIONS

    return CLOSED_FORM_ACTIVATIONS


def jac_work_size(K: int, M: int) -> int:
    """Size of the scratch array of the Jacobian (and of the right-hand side) at K, M.

    Parameters
    ----------
    K, M : int
        Student and teacher widths.

    Returns
    -------
    int
        ``max(n_work(K, M), F*F + F + N_BUFFERS * (F*F + F) + N_ARRAYS * F)`` with
        ``F = K + M`` (N_ARRAYS: the hoisted arrays of the generated modules).
    """
    F = K + M
    n_arrays = max(_module(a).N_ARRAYS for a in _closed_form())
    return max(n_work(K, M), (1 + generated.N_BUFFERS) * (F * F + F) + n_arrays * F)


@functools.lru_cache(maxsize=None)
def _module(activation):
    return importlib.import_module(f"odesolve.kernels._generated.jacobian_{activation}")


@functools.lru_cache(maxsize=None)
def committee_jacobian(activation: str | Activation) -> Callable[..., None]:
    """The compiled Jacobian ``jac(t, y, p, work, Jy, Jp)`` of one activation (module doc).

    Parameters
    ----------
    activation : str or odesolve.activations.Activation
        ``"erf"``, ``"linear"``, ``"relu"``: derived gradient kernels
        (``odesolve/kernels/_generated/jacobian_<activation>.py``); any other activation:
        the structural Jacobian with the Price's-theorem gradients of its quadrature kernels
        (:mod:`odesolve.kernels.kernel_gradients`), same node counts as its kernels.

    Returns
    -------
    numba.core.registry.CPUDispatcher
    """
    if isinstance(activation, str) and activation in _closed_form():
        return _module(activation).committee_jac
    from .kernels.kernel_gradients import quadrature_gradient_kernels

    n_nodes = getattr(activation, "n_nodes", None)
    grads = (quadrature_gradient_kernels(activation) if n_nodes is None
             else quadrature_gradient_kernels(activation, n_nodes))
    name = activation if isinstance(activation, str) else activation.name
    tag = f"{name}_{source_tag(*[grads[k] for k in sorted(grads)], generated)}"
    return specialise(generated.committee_jac, tag, **grads)


def _t_ewc_jac(t, y, p, work, Jy, Jp):
    """Jacobian of the committee right-hand side plus the EWC terms (template)."""
    base_jac(t, y, p, work, Jy, Jp)  # noqa: F821  (bound by specialise)
    add_ewc_jacobian(y, p, Jy, Jp)   # noqa: F821


@functools.lru_cache(maxsize=None)
def ewc_committee_jacobian(activation: str | Activation) -> Callable[..., None]:
    """Jacobian of the right-hand side of an EWC phase (odesolve.multitask): the committee
    Jacobian plus that of the derived EWC terms (``odesolve/kernels/_generated/
    jacobian_ewc.py``). Same contract as :func:`committee_jacobian`, with ``p`` the EWC
    parameter row (``lam, F (K), Fv (K), va (K)`` after the PSD tolerance) and ``Jp`` one
    column per entry of it.

    Parameters
    ----------
    activation : str or odesolve.activations.Activation

    Returns
    -------
    numba.core.registry.CPUDispatcher
    """
    from .kernels._generated import jacobian_ewc

    base = committee_jacobian(activation)
    return specialise(_t_ewc_jac, "ewc_" + source_tag(base, jacobian_ewc),
                      base_jac=base, add_ewc_jacobian=jacobian_ewc.add_ewc_jacobian)


def evaluate_jacobian(setup: TeacherStudent, state: Overlaps,
                      t: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Jacobians of the right-hand side at one state (a convenience around the compiled one).

    Parameters
    ----------
    setup : TeacherStudent
    state : Overlaps
        One state (no batch axis).
    t : float
        Time (the committee ODE is autonomous; kept for the calling convention).

    Returns
    -------
    Jy : ndarray, shape (n, n)
        ``d rhs / d y``, ``n = K*K + K*M + K``.
    Jp : ndarray, shape (n, n_p)
        ``d rhs / d p`` for every slot of the parameter row (module doc).

    Raises
    ------
    ValueError
        If ``state`` holds more than one state.
    """
    y = pack_state(state)
    if y.shape[0] != 1:
        raise ValueError(f"`state` must hold one state, got a batch of {y.shape[0]}.")
    p = pack_params(setup, state)[0]
    K, M = setup.K, setup.M
    n = y.shape[1]
    Jy = np.empty((n, n))
    Jp = np.empty((n, p.size))
    assert p.size == N_FIXED_PARAMS + M * M + M + 1
    committee_jacobian(setup.activation)(float(t), y[0], p, np.zeros(jac_work_size(K, M)), Jy,
                                         Jp)
    return Jy, Jp
