"""The committee ODE as a solver problem: packing states, binding kernels, validity check.

State vector and parameter layout (ARCHITECTURE.md):
``y = concat(Q.ravel(), R.ravel(), v)`` and
``p = [K, M, eta, eta_v, sigma, kappa, train_v, b, T.ravel(), v_star, psd_rtol]``
(``b``: the mini-batch size, docs/theory/committee.md#theory-committee-minibatch).
Read slots through :data:`PARAM_INDEX` and :data:`N_FIXED_PARAMS`, never by number.
"""
from __future__ import annotations

import functools
import importlib

import numba
import numpy as np

from ._jit import source_tag, specialise
from .activations import kernels_for
from .kernels._generated import committee as generated
from .kernels.views import matrix
from .model import Overlaps, TeacherStudent
from .solvers import Problem

__all__ = ["committee_problem", "pack_state", "pack_params", "unpack_state", "eps_g_function",
           "N_FIXED_PARAMS", "PARAM_INDEX", "psd_tolerance"]

#: the leading entries of a parameter row: K, M, eta, eta_v, sigma, kappa, train_v, b
N_FIXED_PARAMS = 8
#: slot of each leading entry of a parameter row
PARAM_INDEX = {name: j for j, name in enumerate(
    ("K", "M", "eta", "eta_v", "sigma", "kappa", "train_v", "b"))}


def n_work(K: int, M: int) -> int:
    """Scratch size: covariance (F*F), coefficients (F), then room for a Cholesky factor
    (F*F, :func:`is_valid_state`) or the hoisted arrays of a fast path (N_ARRAYS*F)."""
    F = K + M
    n_arrays = max(getattr(_fast_module(a), "N_ARRAYS", 0) for a in _closed_form())
    return F * F + F + max(F * F, n_arrays * F)


def _closed_form():
    from .derive import CLOSED_FORM_ACTIVATIONS

    return CLOSED_FORM_ACTIVATIONS


@functools.lru_cache(maxsize=None)
def _fast_module(activation):
    return importlib.import_module(f"odesolve.kernels._generated.committee_{activation}")


#: relative tolerance of the positive semi-definiteness check of the field covariance; it must
#: exceed the integration error, since perfect learning makes the covariance exactly singular
PSD_RTOL = 1e-6
#: an overlap Q_ii or T_nn, or a squared readout v_i^2, above this bound means the run blew up.
#: Overlaps of weights of any sensible scale are far below it; without the bound a run that
#: grows exponentially stays finite up to t_max (values of 1e250 and more) and would be
#: returned as a success.
BLOWUP = 1e12


@numba.njit(cache=True)
def is_valid_state(t, y, p, work):
    """True when the field covariance [[Q, R], [R^T, T]] is positive semi-definite and no
    overlap or readout has blown up.

    A Cholesky factorisation in ``work`` with tolerance: a pivot below ``-rtol * scale``
    (scale = largest diagonal entry, ``rtol`` the last entry of ``p``, :func:`psd_tolerance`)
    means the state left the cone of valid overlaps. A pivot
    within the tolerance of zero is a singular direction, which is legitimate (perfect
    learning makes student and teacher fields coincide); its column must then vanish too.
    A diagonal overlap or a squared readout above :data:`BLOWUP` is a blow-up (invalid).
    The tolerance is read after the fixed entries, T and v_star (:data:`N_FIXED_PARAMS`).
    """
    K = int(p[0])
    M = int(p[1])
    F = K + M
    C = matrix(work, 0, F, F)
    c = work[F * F:F * F + F]
    L = matrix(work, F * F + F, F, F)
    generated.load_fields(y, p, C, c)
    scale = 0.0
    for j in range(F):
        if not abs(C[j, j]) <= BLOWUP:                    # also catches inf and NaN
            return False
        scale = max(scale, abs(C[j, j]))
    for i in range(K):
        if not c[i] * c[i] <= BLOWUP:                     # the readouts, c = (-v, v*)
            return False
    tol = p[N_FIXED_PARAMS + M * M + M] * max(scale, 1e-300)
    for j in range(F):
        s = C[j, j]
        for m in range(j):
            s -= L[j, m] * L[j, m]
        if not s > -tol:          # also catches NaN
            return False
        if s <= tol:
            L[j, j] = 0.0
            for r in range(j + 1, F):
                s2 = C[r, j]
                for m in range(j):
                    s2 -= L[r, m] * L[j, m]
                if abs(s2) > np.sqrt(tol * scale):
                    return False
                L[r, j] = 0.0
            continue
        L[j, j] = np.sqrt(s)
        for r in range(j + 1, F):
            s2 = C[r, j]
            for m in range(j):
                s2 -= L[r, m] * L[j, m]
            L[r, j] = s2 / L[j, j]
    return True


def _kernel_tag(activation, kernels):
    name = activation if isinstance(activation, str) else activation.name
    return f"{name}_{source_tag(*[kernels[k] for k in sorted(kernels)], generated)}"


@functools.lru_cache(maxsize=None)
def _compiled(activation, fast=True):
    """(rhs, eps_g, tag) of an activation.

    Closed-form activations use their generated fast module (kernels inlined) unless
    ``fast=False``; the others bind their quadrature kernels into the structural template.
    """
    if fast and isinstance(activation, str) and activation in _closed_form():
        mod = _fast_module(activation)
        return mod.committee_rhs, mod.committee_eps_g, f"{activation}_fast_{source_tag(mod)}"
    kernels = kernels_for(activation)
    tag = _kernel_tag(activation, kernels)
    rhs = specialise(generated.committee_rhs, tag, **kernels)
    eps_g = specialise(generated.committee_eps_g, tag, **kernels)
    return rhs, eps_g, tag


def committee_problem(setup: TeacherStudent, fast: bool = True) -> Problem:
    """Solver :class:`~odesolve.solvers.Problem` for the committee ODE of ``setup``.

    ``fast=False`` uses the structural template with kernel calls even for closed-form
    activations (the reference the fast path is tested against).
    """
    return _problem(setup.activation, setup.K, setup.M, fast)


@functools.lru_cache(maxsize=None)
def _problem(activation, K, M, fast):
    rhs, _, tag = _compiled(activation, fast)
    return Problem(rhs=rhs, is_valid=is_valid_state, n_work=n_work(K, M),
                   name=f"committee_{tag}")


def eps_g_function(activation):
    """Compiled ``eps_g(y, p, work) -> float`` for one activation."""
    return _compiled(activation)[1]


def pack_state(state: Overlaps) -> np.ndarray:
    """State vectors, shape (B, K*K + K*M + K) (B = 1 for an unbatched state)."""
    b = state.broadcast()
    B = int(np.prod(state.batch_shape, dtype=int))
    K, M = state.K, state.M
    return np.concatenate([b.Q.reshape(B, K * K), b.R.reshape(B, K * M), b.v.reshape(B, K)],
                          axis=1)


def pack_params(setup: TeacherStudent, state: Overlaps, psd_tol: float = PSD_RTOL) -> np.ndarray:
    """Parameter rows, shape (B, N_FIXED_PARAMS + M*M + M + 1): K, M, eta, eta_v, sigma,
    kappa, train_v, the mini-batch size b, then T, v_star and the relative tolerance of the
    validity check :func:`is_valid_state` (see :func:`psd_tolerance`)."""
    if (state.K, state.M) != (setup.K, setup.M):
        raise ValueError(f"`state` has K={state.K}, M={state.M} but `setup` has K={setup.K}, "
                         f"M={setup.M}.")
    b = state.broadcast()
    B = int(np.prod(state.batch_shape, dtype=int))
    M = setup.M
    train_v = 1.0 if setup.eta_readout > 0 else 0.0
    fixed = np.array([setup.K, setup.M, setup.eta, setup.eta_readout, setup.sigma,
                      setup.weight_decay, train_v, setup.batch_size], dtype=np.float64)
    return np.concatenate([np.broadcast_to(fixed, (B, N_FIXED_PARAMS)),
                           b.T.reshape(B, M * M), b.v_star.reshape(B, M),
                           np.full((B, 1), float(psd_tol))], axis=1)


def psd_tolerance(method: str, rtol: float, atol: float) -> float:
    """Relative tolerance of the positive-semi-definiteness check for a solver setting.

    Perfect learning makes the field covariance exactly singular, so a trajectory converging
    to it may dip below the cone by the integration error. The check therefore only flags
    violations larger than ``max(PSD_RTOL, 100 * max(rtol, atol))`` for the adaptive method;
    fixed-step methods (which preserve the fixed points of the ODE) use ``PSD_RTOL``.
    """
    if method == "dopri5":
        return max(PSD_RTOL, 100.0 * max(float(rtol), float(atol)))
    return PSD_RTOL


def unpack_state(y: np.ndarray, K: int, M: int):
    """Q (..., K, K), R (..., K, M), v (..., K) from state vectors y (..., K*K + K*M + K)."""
    lead = y.shape[:-1]
    Q = y[..., :K * K].reshape(lead + (K, K))
    R = y[..., K * K:K * K + K * M].reshape(lead + (K, M))
    v = y[..., K * K + K * M:].reshape(lead + (K,))
    return Q, R, v


def _eps_g_batch_template(Y, P, out, n_work_size):
    """eps_g for states Y (B, n_t, n) with parameter rows P (B, n_p); writes out (B, n_t)."""
    B = Y.shape[0]
    for b in numba.prange(B):
        work = np.empty(n_work_size)
        for j in range(Y.shape[1]):
            if np.isfinite(Y[b, j, 0]):
                out[b, j] = eps_g(Y[b, j], P[b], work)
            else:
                out[b, j] = np.nan


def evaluate_eps_g(activation, Y: np.ndarray, P: np.ndarray) -> np.ndarray:
    """eps_g of many states: Y (B, n_t, n), P (B, n_p) -> (B, n_t)."""
    fn = eps_g_function(activation)
    K, M = int(P[0, 0]), int(P[0, 1])
    tag = _compiled(activation)[2]
    parallel = Y.shape[0] > 1        # one member: no thread pool (it waits on busy cores)
    batch = specialise(_eps_g_batch_template, tag if parallel else tag + "_serial",
                       {"parallel": parallel}, eps_g=fn)
    n_work_size = n_work(K, M)
    out = np.empty(Y.shape[:2])
    batch(np.ascontiguousarray(Y, dtype=np.float64), np.ascontiguousarray(P, dtype=np.float64),
          out, n_work_size)
    return out
