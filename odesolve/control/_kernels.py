"""Compiled templates: classic RK4 on a fixed grid with scheduled parameters, its forward
sensitivities (tangent-linear pass) and its adjoint (the exact reverse of the discrete steps).

The templates call global names bound by :func:`odesolve._jit.specialise`:

- ``rhs(t, y, p, work, out)``: the ODE (ARCHITECTURE.md contract);
- ``jac(t, y, p, work, Jy, Jp)``: ``Jy (n, n) = d rhs / d y`` and ``Jp (n, n_q) = d rhs /
  d p[slots]`` for the problem's differentiable parameter slots;
- ``cost(t, y, p, work, gy, gp) -> float``: the quantity whose final value and time integral
  make the objective, with its gradients ``gy (n,)`` and ``gp (n_q,)``;
- ``is_valid(t, y, p, work) -> bool``.

One step of size h from y (Butcher tableau A, b, c, explicit):
``Y_i = y + h sum_{j<i} A_ij k_j``, ``k_i = rhs(t + c_i h, Y_i, p_i)``,
``y' = y + h sum_i b_i k_i``, and the running integral ``z' = z + h sum_i b_i cost(Y_i)``.
The objective is ``J = w_final cost(y_N) + w_integral z_N``.

Adjoint of one step (derived by reversing the assignments above): with ``lam'`` the
gradient of J with respect to y', for i = s .. 1

    mu_i = h (b_i lam' + sum_{j>i} A_ji nu_j)              (gradient w.r.t. k_i)
    nu_i = Jy_i^T mu_i + w_integral h b_i grad_y cost(Y_i)  (gradient w.r.t. Y_i)

then ``lam = lam' + sum_i nu_i``, and the parameters of stage i collect
``Jp_i^T mu_i + w_integral h b_i grad_p cost(Y_i)``. A scheduled parameter passes that on to
the schedule values with the stage's interpolation weights. The forward sensitivities
differentiate the same assignments in the forward direction. Both are exact derivatives of
the discrete solution, so they agree with each other to rounding and with finite
differences of the discrete solve to the finite-difference error.
"""
from __future__ import annotations

import numba
import numpy as np

#: status codes of a forward pass
OK, NONFINITE, INVALID = 0, 1, 2


@numba.njit(cache=True)
def _set_stage_params(p, p0, ctrl_slot, theta, sidx, swt, s, i):
    """Set every controlled slot of p (a copy of p0) to its schedule value at stage (s, i);
    the other slots keep p0's values (only the controlled ones are ever written)."""
    for c in range(ctrl_slot.shape[0]):
        p[ctrl_slot[c]] = (swt[s, i, c, 0] * theta[sidx[s, i, c, 0]]
                           + swt[s, i, c, 1] * theta[sidx[s, i, c, 1]])


def _forward_template(y0, p0, theta, ctrl_slot, sidx, swt, t0, h, A, b, c, w_final,
                      w_integral, Y, Ystage, n_q, work, out):
    """RK4 forward pass of one member; stores every step end and stage state.

    Parameters
    ----------
    y0 : (n,); p0 : (n_p,); theta : (n_theta,) schedule values, all controls concatenated
    ctrl_slot : int (n_c,) parameter slot of each control
    sidx, swt : (n_steps, s, n_c, 2) value indices and weights of every stage
    t0, h : start time and step
    A (s, s), b (s,), c (s,) : the tableau
    w_final, w_integral : objective weights
    Y : (n_steps + 1, n) output, step ends; Ystage : (n_steps, s, n) output, stage states
    work : scratch of the problem
    out : (3,) output: objective, status, index of the failing step (or -1)
    """
    n_steps, n_st = Ystage.shape[0], Ystage.shape[1]
    n = y0.shape[0]
    p = p0.copy()
    k = np.empty((n_st, n))
    gy = np.empty(n)
    gp = np.empty(n_q)
    for m in range(n):
        Y[0, m] = y0[m]
    z = 0.0
    out[1] = OK
    out[2] = -1.0
    for s in range(n_steps):
        t = t0 + s * h
        for i in range(n_st):
            for m in range(n):
                acc = Y[s, m]
                for j in range(i):
                    acc += h * A[i, j] * k[j, m]
                Ystage[s, i, m] = acc
            _set_stage_params(p, p0, ctrl_slot, theta, sidx, swt, s, i)
            rhs(t + c[i] * h, Ystage[s, i], p, work, k[i])  # noqa: F821
            if w_integral != 0.0:
                z += h * b[i] * cost(t + c[i] * h, Ystage[s, i], p, work, gy, gp)  # noqa: F821
        finite = True
        for m in range(n):
            acc = Y[s, m]
            for i in range(n_st):
                acc += h * b[i] * k[i, m]
            Y[s + 1, m] = acc
            finite = finite and np.isfinite(acc)
        if not finite:
            out[1] = NONFINITE
            out[2] = s
            return
        if not is_valid(t + h, Y[s + 1], p, work):  # noqa: F821
            out[1] = INVALID
            out[2] = s
            return
    _set_stage_params(p, p0, ctrl_slot, theta, sidx, swt, n_steps - 1, n_st - 1)
    final = cost(t0 + n_steps * h, Y[n_steps], p, work, gy, gp)  # noqa: F821
    out[0] = w_final * final + w_integral * z


def _adjoint_template(p0, theta, ctrl_slot, ctrl_col, sidx, swt, t0, h, A, b, c, w_final,
                      w_integral, Y, Ystage, n_q, work, g_theta, g_p, g_y0, rec_index, Lrec,
                      lam_final):
    """Reverse pass of one member after :func:`_forward_template`.

    Writes g_theta (n_theta,), g_p (n_q,) (constant parameter slots; a controlled slot's
    entry is 0) and g_y0 (n,), the gradients of the objective, and the costate (the gradient
    with respect to the state at step s) into ``Lrec[rec_index[s]]`` for every step end s
    with ``rec_index[s] >= 0``. ``lam_final`` (n,) is added to the final adjoint: the
    gradient of a further term of the objective with respect to the final state (used to
    chain runs, e.g. the phases of a protocol).
    """
    n_steps, n_st, n = Ystage.shape[0], Ystage.shape[1], Ystage.shape[2]
    p = p0.copy()
    Jy = np.empty((n, n))
    Jp = np.empty((n, n_q))
    gy = np.empty(n)
    gp = np.empty(n_q)
    lam = np.zeros(n)
    mu = np.empty((n_st, n))
    nu = np.zeros((n_st, n))
    gstage = np.empty(n_q)
    controlled = np.zeros(n_q, dtype=np.bool_)
    for cc in range(ctrl_col.shape[0]):
        controlled[ctrl_col[cc]] = True
    for q in range(n_q):
        g_p[q] = 0.0
    for q in range(g_theta.shape[0]):
        g_theta[q] = 0.0
    _set_stage_params(p, p0, ctrl_slot, theta, sidx, swt, n_steps - 1, n_st - 1)
    cost(t0 + n_steps * h, Y[n_steps], p, work, gy, gp)  # noqa: F821
    for m in range(n):
        lam[m] = w_final * gy[m] + lam_final[m]
    if rec_index[n_steps] >= 0:
        for m in range(n):
            Lrec[rec_index[n_steps], m] = lam[m]
    _scatter(gp, w_final, controlled, ctrl_col, sidx, swt, n_steps - 1, n_st - 1, g_theta, g_p)
    for s in range(n_steps - 1, -1, -1):
        t = t0 + s * h
        for i in range(n_st - 1, -1, -1):
            for m in range(n):
                acc = b[i] * lam[m]
                for j in range(i + 1, n_st):
                    acc += A[j, i] * nu[j, m]
                mu[i, m] = h * acc
            _set_stage_params(p, p0, ctrl_slot, theta, sidx, swt, s, i)
            jac(t + c[i] * h, Ystage[s, i], p, work, Jy, Jp)  # noqa: F821
            for m in range(n):
                acc = 0.0
                for r in range(n):
                    acc += Jy[r, m] * mu[i, r]
                nu[i, m] = acc
            for q in range(n_q):
                acc = 0.0
                for r in range(n):
                    acc += Jp[r, q] * mu[i, r]
                gstage[q] = acc
            if w_integral != 0.0:
                cost(t + c[i] * h, Ystage[s, i], p, work, gy, gp)  # noqa: F821
                wq = w_integral * h * b[i]
                for m in range(n):
                    nu[i, m] += wq * gy[m]
                for q in range(n_q):
                    gstage[q] += wq * gp[q]
            _scatter(gstage, 1.0, controlled, ctrl_col, sidx, swt, s, i, g_theta, g_p)
        for i in range(n_st):
            for m in range(n):
                lam[m] += nu[i, m]
        if rec_index[s] >= 0:
            for m in range(n):
                Lrec[rec_index[s], m] = lam[m]
    for m in range(n):
        g_y0[m] = lam[m]


@numba.njit(cache=True)
def _scatter(gstage, scale, controlled, ctrl_col, sidx, swt, s, i, g_theta, g_p):
    """Add a stage's parameter gradient: constant slots to g_p, controls to their values."""
    for q in range(g_p.shape[0]):
        if not controlled[q]:
            g_p[q] += scale * gstage[q]
    for cc in range(ctrl_col.shape[0]):
        gq = scale * gstage[ctrl_col[cc]]
        g_theta[sidx[s, i, cc, 0]] += swt[s, i, cc, 0] * gq
        g_theta[sidx[s, i, cc, 1]] += swt[s, i, cc, 1] * gq


def _tangent_template(y0, p0, theta, ctrl_slot, ctrl_col, sidx, swt, t0, h, A, b, c, w_final,
                      w_integral, n_q, work, dJ, lam_final):
    """Forward sensitivities of one member: dJ (n_theta + n_q + n,) = gradient of the
    objective w.r.t. (schedule values, constant parameter slots, initial state), from the
    tangent-linear RK4 pass (every direction carried along); ``lam_final . y(t_f)`` is a
    further term of the objective (as in :func:`_adjoint_template`)."""
    n = y0.shape[0]
    n_theta = theta.shape[0]
    n_g = n_theta + n_q + n
    n_steps, n_st = sidx.shape[0], sidx.shape[1]
    p = p0.copy()
    y = y0.copy()
    Yi = np.empty(n)
    k = np.empty((n_st, n))
    S = np.zeros((n, n_g))
    dK = np.empty((n_st, n, n_g))
    dYi = np.empty((n, n_g))
    dz = np.zeros(n_g)
    Jy = np.empty((n, n))
    Jp = np.empty((n, n_q))
    gy = np.empty(n)
    gp = np.empty(n_q)
    dp = np.empty((n_q, n_g))
    controlled = np.zeros(n_q, dtype=np.bool_)
    for cc in range(ctrl_col.shape[0]):
        controlled[ctrl_col[cc]] = True
    for m in range(n):
        S[m, n_theta + n_q + m] = 1.0
    for s in range(n_steps):
        t = t0 + s * h
        for i in range(n_st):
            for m in range(n):
                acc = y[m]
                for j in range(i):
                    acc += h * A[i, j] * k[j, m]
                Yi[m] = acc
                for g in range(n_g):
                    acc = S[m, g]
                    for j in range(i):
                        acc += h * A[i, j] * dK[j, m, g]
                    dYi[m, g] = acc
            _set_stage_params(p, p0, ctrl_slot, theta, sidx, swt, s, i)
            _stage_dp(dp, controlled, ctrl_col, sidx, swt, s, i, n_theta)
            rhs(t + c[i] * h, Yi, p, work, k[i])  # noqa: F821
            jac(t + c[i] * h, Yi, p, work, Jy, Jp)  # noqa: F821
            for m in range(n):
                for g in range(n_g):
                    acc = 0.0
                    for r in range(n):
                        acc += Jy[m, r] * dYi[r, g]
                    for q in range(n_q):
                        acc += Jp[m, q] * dp[q, g]
                    dK[i, m, g] = acc
            if w_integral != 0.0:
                cost(t + c[i] * h, Yi, p, work, gy, gp)  # noqa: F821
                wq = w_integral * h * b[i]
                for g in range(n_g):
                    acc = 0.0
                    for r in range(n):
                        acc += gy[r] * dYi[r, g]
                    for q in range(n_q):
                        acc += gp[q] * dp[q, g]
                    dz[g] += wq * acc
        for m in range(n):
            for i in range(n_st):
                y[m] += h * b[i] * k[i, m]
                for g in range(n_g):
                    S[m, g] += h * b[i] * dK[i, m, g]
    _set_stage_params(p, p0, ctrl_slot, theta, sidx, swt, n_steps - 1, n_st - 1)
    _stage_dp(dp, controlled, ctrl_col, sidx, swt, n_steps - 1, n_st - 1, n_theta)
    cost(t0 + n_steps * h, y, p, work, gy, gp)  # noqa: F821
    for g in range(n_g):
        acc = 0.0
        extra = 0.0
        for r in range(n):
            acc += gy[r] * S[r, g]
            extra += lam_final[r] * S[r, g]
        for q in range(n_q):
            acc += gp[q] * dp[q, g]
        dJ[g] = w_final * acc + extra + dz[g]


@numba.njit(cache=True)
def no_adjoint(p0, theta, ctrl_slot, ctrl_col, sidx, swt, t0, h, A, b, c, w_final, w_integral,
               Y, Ystage, n_q, work, g_theta, g_p, g_y0, rec_index, Lrec, lam_final):
    """Stands in for the adjoint pass in a batch runner that never calls it (no compile)."""


@numba.njit(cache=True)
def no_tangent(y0, p0, theta, ctrl_slot, ctrl_col, sidx, swt, t0, h, A, b, c, w_final,
               w_integral, n_q, work, dJ, lam_final):
    """Stands in for the tangent pass in a batch runner that never calls it (no compile)."""


@numba.njit(cache=True)
def _stage_dp(dp, controlled, ctrl_col, sidx, swt, s, i, n_theta):
    """dp (n_q, n_g): derivative of the stage's parameter slots w.r.t. all directions."""
    n_q = dp.shape[0]
    for q in range(n_q):
        for g in range(dp.shape[1]):
            dp[q, g] = 0.0
        if not controlled[q]:
            dp[q, n_theta + q] = 1.0
    for cc in range(ctrl_col.shape[0]):
        q = ctrl_col[cc]
        dp[q, sidx[s, i, cc, 0]] += swt[s, i, cc, 0]
        dp[q, sidx[s, i, cc, 1]] += swt[s, i, cc, 1]
