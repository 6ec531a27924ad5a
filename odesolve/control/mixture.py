"""Two tasks at once: replay and task selection as a mixture of the committee ODE, with its
Jacobian and the tasks' errors as the cost (issue 16, ``optimal_replay``).

A student with K hidden units and H heads learns from two teachers (tasks 0 and 1, M units
each, a multi-teacher setup as :mod:`odesolve.multitask`). At time t a fraction ``mix(t)`` of
the samples comes from task 1 and ``1 - mix(t)`` from task 0, each trains the first layer and
the head of its task. Online SGD averages the two updates with these weights, so the drift is
the mixture of the two committee right-hand sides (Mori, Sarao Mannelli & Mignacco, ICLR
2025, use the same relaxation for task selection):

    dy/dt = (1 - mix) f_0(y) + mix f_1(y),

where ``f_p`` is the committee ODE of the sub-state ``(Q, R, V[head_p])`` with all 2M teacher
fields and the readouts of teacher p (the other teacher's readouts zero), embedded back into
the full state ``y = (Q (K*K), R (K*2M), V (H*K))``; the idle head does not move. ``mix = 0``
is training on task 0 only, ``mix = 1`` on task 1 only, a schedule of ``mix`` is a replay or
interleaving protocol. The Jacobian is the same mixture of the embedded committee Jacobians
(:mod:`odesolve.jacobian`), and ``d/d mix = f_1 - f_0``. The cost is
``c_0 eps_0 + c_1 eps_1``, each task's error through its head.

Parameter row: the committee row of the sub-problem (M_tot = 2M teachers; its ``v_star``
entries are unused), then ``mix, c_0, c_1, head_0, head_1, H`` and the two readout vectors
``v*_0``, ``v*_1`` (2M each, zero outside the task's block).
"""
from __future__ import annotations

import functools
from typing import Any

import numba
import numpy as np

from .. import committee
from .._jit import source_tag, specialise
from ..jacobian import committee_jacobian, jac_work_size
from ..kernels.views import matrix
from ..model import Overlaps, TeacherStudent
from .committee import _cost, parameter_names
from .sensitivity import SensitivityProblem

__all__ = ["mixture_problem", "pack_mixture", "mixture_state", "unpack_mixture"]

#: entries after the committee row: mix, c_0, c_1, head_0, head_1, H
N_EXTRA = 6
#: fixed entries of the committee row (compile-time constant of the templates)
_NF = committee.N_FIXED_PARAMS


@numba.njit(cache=True)
def _layout(p):
    """(K, M_tot, n_base, n_c, H) from a mixture parameter row."""
    K = int(p[0])
    Mt = int(p[1])
    n_base = _NF + Mt * Mt + Mt + 1
    H = int(p[n_base + 5])
    return K, Mt, n_base, K * K + K * Mt + K, H


@numba.njit(cache=True)
def _load_task(y, p, task, ysub, q):
    """Sub-state of task ``task`` into ysub and its committee row into q; returns the head."""
    K, Mt, n_base, n_c, H = _layout(p)
    h = int(p[n_base + 3 + task])
    n_qr = K * K + K * Mt
    for j in range(n_qr):
        ysub[j] = y[j]
    for i in range(K):
        ysub[n_qr + i] = y[n_qr + h * K + i]
    for j in range(n_base):
        q[j] = p[j]
    vs = n_base + N_EXTRA + task * Mt
    off = _NF + Mt * Mt
    for n in range(Mt):
        q[off + n] = p[vs + n]
    return h


def _rhs_template(t, y, p, work, out):
    K, Mt, n_base, n_c, H = _layout(p)
    n_qr = K * K + K * Mt
    ysub = work[0:n_c]
    fsub = work[n_c:2 * n_c]
    q = work[2 * n_c:2 * n_c + n_base]
    rest = work[2 * n_c + n_base:]
    for j in range(out.shape[0]):
        out[j] = 0.0
    mix = p[n_base]
    for task in range(2):
        w = 1.0 - mix if task == 0 else mix
        h = _load_task(y, p, task, ysub, q)
        base_rhs(t, ysub, q, rest, fsub)  # noqa: F821
        for j in range(n_qr):
            out[j] += w * fsub[j]
        for i in range(K):
            out[n_qr + h * K + i] += w * fsub[n_qr + i]


def _jac_template(t, y, p, work, Jy, Jp):
    K, Mt, n_base, n_c, H = _layout(p)
    n_qr = K * K + K * Mt
    n = y.shape[0]
    ysub = work[0:n_c]
    fsub = work[n_c:2 * n_c]
    q = work[2 * n_c:2 * n_c + n_base]
    o = 2 * n_c + n_base
    Js = matrix(work, o, n_c, n_c)
    Jps = matrix(work, o + n_c * n_c, n_c, n_base)
    rest = work[o + n_c * n_c + n_c * n_base:]
    for r in range(n):
        for s in range(n):
            Jy[r, s] = 0.0
        for s in range(Jp.shape[1]):
            Jp[r, s] = 0.0
    mix = p[n_base]
    voff = _NF + Mt * Mt
    for task in range(2):
        w = 1.0 - mix if task == 0 else mix
        sign = -1.0 if task == 0 else 1.0
        h = _load_task(y, p, task, ysub, q)
        base_jac(t, ysub, q, rest, Js, Jps)  # noqa: F821
        base_rhs(t, ysub, q, rest, fsub)  # noqa: F821
        vs = n_base + N_EXTRA + task * Mt
        for r in range(n_c):
            rr = r if r < n_qr else n_qr + h * K + (r - n_qr)
            for s in range(n_c):
                ss = s if s < n_qr else n_qr + h * K + (s - n_qr)
                Jy[rr, ss] += w * Js[r, s]
            for s in range(n_base):
                if voff <= s < voff + Mt:
                    Jp[rr, vs + (s - voff)] += w * Jps[r, s]
                else:
                    Jp[rr, s] += w * Jps[r, s]
            Jp[rr, n_base] += sign * fsub[r]


def _cost_template(t, y, p, work, gy, gp):
    K, Mt, n_base, n_c, H = _layout(p)
    n_qr = K * K + K * Mt
    ysub = work[0:n_c]
    gsub = work[n_c:2 * n_c]
    q = work[2 * n_c:2 * n_c + n_base]
    gq = work[2 * n_c + n_base:2 * n_c + 2 * n_base]
    rest = work[2 * n_c + 2 * n_base:]
    for j in range(gy.shape[0]):
        gy[j] = 0.0
    for j in range(gp.shape[0]):
        gp[j] = 0.0
    voff = _NF + Mt * Mt
    total = 0.0
    for task in range(2):
        c = p[n_base + 1 + task]
        if c == 0.0:
            continue
        h = _load_task(y, p, task, ysub, q)
        value = base_cost(t, ysub, q, rest, gsub, gq)  # noqa: F821
        total += c * value
        for j in range(n_qr):
            gy[j] += c * gsub[j]
        for i in range(K):
            gy[n_qr + h * K + i] += c * gsub[n_qr + i]
        vs = n_base + N_EXTRA + task * Mt
        for s in range(n_base):
            if voff <= s < voff + Mt:
                gp[vs + (s - voff)] += c * gq[s]
            else:
                gp[s] += c * gq[s]
        gp[n_base + 1 + task] += value
    return total


def _valid_template(t, y, p, work):
    K, Mt, n_base, n_c, H = _layout(p)
    ysub = work[0:n_c]
    q = work[2 * n_c:2 * n_c + n_base]
    rest = work[2 * n_c + 2 * n_base:]
    for task in range(2):
        _load_task(y, p, task, ysub, q)
        if not base_valid(t, ysub, q, rest):  # noqa: F821
            return False
    return True


def _check_mixture(schedules, Y0, P0):
    """Inputs the compiled mixture passes cannot take (SensitivityProblem.check)."""
    K, Mt = int(P0[0, 0]), int(P0[0, 1])
    n_base = _NF + Mt * Mt + Mt + 1
    H = int(P0[0, n_base + 5])
    n = K * K + K * Mt + H * K
    if Y0.shape[1] != n:
        raise ValueError(f"`y0` has {Y0.shape[1]} entries per state; K = {K}, two teachers "
                         f"of M = {Mt // 2} and H = {H} heads need K*K + 2*K*M + H*K = {n} "
                         "(mixture_state).")
    fixed = {"K", "M", "train_v", "psd_rtol", "head_0", "head_1", "H"}
    bad = sorted(fixed.intersection(schedules))
    if bad:
        raise ValueError(f"`schedules` names {bad}: these slots fix the problem's layout and "
                         "cannot be scheduled.")
    if "mix" in schedules and (np.any(schedules["mix"].values < 0)
                               or np.any(schedules["mix"].values > 1)):
        raise ValueError("`schedules['mix']` must lie in [0, 1] (a fraction of the samples).")


def mixture_names(K: int, M: int) -> list[str]:
    """Names of the slots of the mixture parameter row (module docstring)."""
    base = parameter_names(K, 2 * M)
    return (base + ["mix", "c_0", "c_1", "head_0", "head_1", "H"]
            + [f"v_star_0[{n}]" for n in range(2 * M)] + [f"v_star_1[{n}]" for n in range(2 * M)])


def mixture_problem(activation: Any, K: int, M: int) -> SensitivityProblem:
    """The two-task mixture ODE (module docstring) as a sensitivity problem.

    Parameters
    ----------
    activation : str or Activation
    K : int
        Student hidden units.
    M : int
        Hidden units of each teacher.

    Returns
    -------
    SensitivityProblem
        Slots named by :func:`mixture_names`; the scheduled ones are ``mix`` and ``eta``.
    """
    return _mixture(activation, K, M)


@functools.lru_cache(maxsize=None)
def _mixture(activation, K, M):
    Mt = 2 * M
    base = committee.committee_problem(TeacherStudent(K, Mt, activation))
    jac = committee_jacobian(activation)
    cost = _cost(activation)
    n_c = K * K + K * Mt + K
    n_base = committee.N_FIXED_PARAMS + Mt * Mt + Mt + 1
    tag = "mix_" + source_tag(base.rhs, jac, cost, _rhs_template, _jac_template, _cost_template,
                              _valid_template, _load_task, str(committee.N_FIXED_PARAMS))
    calls = dict(base_rhs=base.rhs, base_jac=jac, base_cost=cost, base_valid=base.is_valid)
    rhs = specialise(_rhs_template, tag, **calls)
    names = mixture_names(K, M)
    return SensitivityProblem(
        rhs=rhs, jac=specialise(_jac_template, tag, **calls),
        cost=specialise(_cost_template, tag, **calls), slots={k: j for j, k in enumerate(names)},
        n_work=2 * n_c + 2 * n_base + n_c * n_c + n_c * n_base + jac_work_size(K, Mt),
        is_valid=specialise(_valid_template, tag, **calls),
        name=f"mixture_{getattr(activation, 'name', activation)}_{K}_{M}",
        check=_check_mixture)


def pack_mixture(setup: TeacherStudent, T: np.ndarray, V_star: np.ndarray, heads: tuple[int, int],
                 n_heads: int, mix: float = 0.0, cost_weights: tuple[float, float] = (1.0, 1.0)
                 ) -> np.ndarray:
    """A mixture parameter row.

    Parameters
    ----------
    setup : TeacherStudent
        K, the activation and the learning rates; ``setup.M`` is the size of one teacher.
    T : ndarray, shape (2M, 2M)
        Teacher-teacher overlaps of both teachers.
    V_star : ndarray, shape (2, M)
        Readouts of the two teachers.
    heads : (int, int)
        Head of each task.
    n_heads : int
        Number of heads H.
    mix : float
        Fraction of samples from task 1 (constant; schedule it to make it vary).
    cost_weights : (float, float)
        Weights of the tasks' errors in the cost.

    Returns
    -------
    ndarray, shape (n_p,)

    Raises
    ------
    TypeError, ValueError
        naming the argument: ``setup`` not a TeacherStudent, ``T`` not (2M, 2M), ``V_star``
        not (2, M), a head outside ``0 .. n_heads - 1``, ``mix`` outside [0, 1], a negative
        cost weight.
    """
    from .._checks import check_int, check_real

    if not isinstance(setup, TeacherStudent):
        raise TypeError(f"`setup` must be a TeacherStudent, got {type(setup).__name__}.")
    K, M = setup.K, setup.M
    T = np.asarray(T, dtype=np.float64)
    V_star = np.asarray(V_star, dtype=np.float64)
    if T.shape != (2 * M, 2 * M):
        raise ValueError(f"`T` must have shape ({2 * M}, {2 * M}) (both teachers), got "
                         f"{T.shape}.")
    if V_star.shape != (2, M):
        raise ValueError(f"`V_star` must have shape (2, {M}), got {V_star.shape}.")
    n_heads = check_int("n_heads", n_heads, minimum=1)
    heads = tuple(check_int(f"heads[{j}]", h, minimum=0, maximum=n_heads - 1)
                  for j, h in enumerate(heads))
    mix = check_real("mix", mix, minimum=0.0, maximum=1.0)
    cost_weights = tuple(check_real(f"cost_weights[{j}]", c, minimum=0.0)
                         for j, c in enumerate(cost_weights))
    ts = TeacherStudent(K, 2 * M, setup.activation, eta=setup.eta, eta_v=setup.eta_readout,
                        sigma=setup.sigma, weight_decay=setup.weight_decay,
                        batch_size=setup.batch_size)
    ov = Overlaps(np.eye(K), np.zeros((K, 2 * M)), np.asarray(T, float), np.zeros(K),
                  np.zeros(2 * M), check=False)
    base = committee.pack_params(ts, ov)[0]
    vs = np.zeros((2, 2 * M))
    V_star = np.asarray(V_star, float)
    vs[0, :M], vs[1, M:] = V_star[0], V_star[1]
    extra = [mix, cost_weights[0], cost_weights[1], heads[0], heads[1], n_heads]
    return np.concatenate([base, np.array(extra, float), vs.ravel()])


def mixture_state(Q: np.ndarray, R: np.ndarray, V: np.ndarray) -> np.ndarray:
    """State vector ``(Q.ravel(), R.ravel(), V.ravel())`` with Q (K, K), R (K, 2M), V (H, K)."""
    return np.concatenate([np.ravel(Q), np.ravel(R), np.ravel(V)]).astype(np.float64)


def unpack_mixture(y: np.ndarray, K: int, M: int, H: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Q (..., K, K), R (..., K, 2M), V (..., H, K) from mixture states y (..., n)."""
    lead = y.shape[:-1]
    n_q, n_r = K * K, K * 2 * M
    return (y[..., :n_q].reshape(lead + (K, K)), y[..., n_q:n_q + n_r].reshape(lead + (K, 2 * M)),
            y[..., n_q + n_r:].reshape(lead + (H, K)))
