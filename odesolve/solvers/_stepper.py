"""Numba templates of the Runge-Kutta stepping routine (fixed step and adaptive, batched).

The functions prefixed ``_t_`` are *templates* (see :mod:`odesolve._jit`): plain Python in
Numba's nopython subset calling global names that :func:`odesolve._jit.specialise` binds to
concrete jitted functions:

``rhs(t, y, p, work, out)``, ``is_valid(t, y, p, work)``
    the problem (contract in ARCHITECTURE.md);
``rk_step``, ``initial_step``
    the specialisations of :func:`_t_rk_step` and :func:`_t_initial_step` for that problem;
``fixed_member``, ``adaptive_member``
    the specialisations of the per-member drivers, called by the parallel batch drivers.

Tableau arrays are arguments, so one compiled stepper serves every tableau of a kind. All
arrays a trajectory needs (stages ``K``, states, scratch, ``work``) are allocated once per batch
member before its step loop; nothing is allocated inside the loop. Compiled code never raises:
failures are reported as status codes (constants below), a failure time and counters.

Validity checks: every accepted step checks that the new state is finite and calls
``is_valid`` on it; output times between step ends (dense output) are checked the same way.
A failing member stops; its unwritten outputs, including the failing one, are NaN. A
derivative that is not finite at the initial state (e.g. a NaN parameter) ends the member at
once with ``NONFINITE`` at ``t_eval[0]``, every method alike: each step starts from it, so no
step can be finite. The adaptive method rejects a trial step whose state or error estimate is
not finite (the step shrinks by ``MIN_FACTOR``: a shorter step may stay finite); if that
drives the step below ``10 ulp(t)`` the status is ``NONFINITE``, as it is at once for a step
size that is not a number; otherwise a vanishing step gives ``STEP_TOO_SMALL`` (e.g. at a
finite-time blow-up such as y' = y**2, where the state stays finite up to the pole).
Failures inside the step loop (``MAX_STEPS``, ``STEP_TOO_SMALL``, overflow) report the last
accepted time.

Stopping and progress: the batch drivers take two small *control* arrays shared with the Python
thread that launched them (see :mod:`odesolve.solvers._control`): ``stop`` (int64, shape (1,))
and ``reached`` (float64, shape (nb, 2)). Every ``POLL_STEPS`` steps a member writes the time
it has reached to ``reached[b, 0]`` and reads ``stop[0]``; when it is non-zero the member ends
with status ``INTERRUPTED`` at that time, keeping the outputs written so far (later ones NaN).
A member that finished (reached the last output time or failed) sets
``reached[b, 1] = 1``; a stopped one does not. Both accesses are atomic (relaxed) loads and
stores, so the compiler cannot hoist them out of the step loop; they cost a few instructions
per poll and do not touch the arithmetic, so results are the same as without them.

Changing anything in this file (including the constants) invalidates Numba's cache of all
specialisations, because the cache is keyed on this source file.
"""
import math

import numba
import numpy as np
from numba import prange, types
from numba.core import cgutils
from numba.extending import intrinsic

#: Status codes returned per batch member.
OK = 0
NONFINITE = 1        # the state (or an interpolated output) became inf or NaN; adaptive: also
#                      when rejecting non-finite trial steps shrank the step below its minimum
INVALID = 2          # is_valid returned False
MAX_STEPS = 3        # max_steps (accepted + rejected steps) exceeded
STEP_TOO_SMALL = 4   # adaptive step size fell below 10 ulp(t)
INTERRUPTED = 5      # stopped on request (stop flag, e.g. Ctrl-C) before the last output time

#: steps (fixed) or step attempts (adaptive) between two polls of the stop flag
POLL_STEPS = 256

#: Step-size controller (as scipy's RK45 and Hairer's DOPRI5 with beta = 0).
SAFETY = 0.9
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0

_JIT = dict(cache=True, error_model="numpy", nogil=True)


# --- placeholders, rebound by odesolve._jit.specialise ------------------------------------------
def rhs(t, y, p, work, out):  # pragma: no cover
    raise NotImplementedError("template global, bound by specialise")


def is_valid(t, y, p, work):  # pragma: no cover
    raise NotImplementedError("template global, bound by specialise")


rk_step = initial_step = fixed_member = adaptive_member = rhs


# --- atomic access to the control arrays ----------------------------------------------------------
def _element_pointer(context, builder, aryty, array, index):
    ary = context.make_array(aryty)(context, builder, array)
    ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [index])
    return ptr, context.get_abi_alignment(context.get_data_type(aryty.dtype))


@intrinsic
def _atomic_load(typingctx, arr, index):
    """``arr[index]`` read with a relaxed (monotonic) atomic load: never hoisted out of a loop,
    so a value written by another thread is eventually seen. 1-D arrays only."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1):
        return None

    def codegen(context, builder, signature, args):
        ptr, align = _element_pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.load_atomic(ptr, "monotonic", align)

    return arr.dtype(arr, types.intp), codegen


@intrinsic
def _atomic_store(typingctx, arr, index, value):
    """``arr[index] = value`` as a relaxed (monotonic) atomic store. 1-D arrays only."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1):
        return None

    def codegen(context, builder, signature, args):
        ptr, align = _element_pointer(context, builder, signature.args[0], args[0], args[1])
        builder.store_atomic(args[2], ptr, "monotonic", align)
        return context.get_dummy_value()

    return types.void(arr, types.intp, arr.dtype), codegen


@numba.njit(**_JIT)
def _poll(stop, reached, t):
    """Publish the time reached (``reached[0] = t``); True when a stop was requested."""
    _atomic_store(reached, 0, t)
    return _atomic_load(stop, 0) != 0


@numba.njit(**_JIT)
def _finish(reached, t):
    """Publish the final time of a member and mark it done."""
    _atomic_store(reached, 0, t)
    _atomic_store(reached, 1, 1.0)


# --- helpers without callees --------------------------------------------------------------------
@numba.njit(**_JIT)
def _all_finite(y):
    for m in range(y.shape[0]):
        if not math.isfinite(y[m]):
            return False
    return True


@numba.njit(**_JIT)
def _fill_nan(out, j0):
    """Set outputs ``out[j0:]`` (shape (n_t, n)) to NaN."""
    for j in range(j0, out.shape[0]):
        for m in range(out.shape[1]):
            out[j, m] = np.nan


@numba.njit(**_JIT)
def _write_row(out, j, y):
    for m in range(y.shape[0]):
        out[j, m] = y[m]


@numba.njit(**_JIT)
def _scaled_square(x, scale):
    """``(x / scale)**2``, taking ``0 / 0`` as 0: a component that is exactly zero where its
    tolerance ``atol + rtol |y|`` is zero (``atol = 0``) deviates by nothing."""
    if x == 0.0:
        return 0.0
    return (x / scale) ** 2


@numba.njit(**_JIT)
def _error_norm(K, E, h, y, y_new, rtol, atol):
    """Hairer's RMS norm of the embedded error ``h * K.T @ E`` (inf if y_new is not finite).

    Parameters
    ----------
    K : ndarray, shape (s + 1, n)
    E : ndarray, shape (s + 1,)
    h : float
    y, y_new : ndarray, shape (n,)
        States at the start and end of the step.
    rtol : float
    atol : ndarray, shape (n,)
    """
    n = y.shape[0]
    acc = 0.0
    for m in range(n):
        if not math.isfinite(y_new[m]):
            return np.inf
        e = 0.0
        for j in range(E.shape[0]):
            e += E[j] * K[j, m]
        scale = atol[m] + max(abs(y[m]), abs(y_new[m])) * rtol
        acc += _scaled_square(h * e, scale)
    return math.sqrt(acc / n)


@numba.njit(**_JIT)
def _dense_coefficients(K, P, Q):
    """``Q = K.T @ P``: (s + 1, n) x (s + 1, n_dense) -> (n, n_dense), in place."""
    for m in range(Q.shape[0]):
        for k in range(Q.shape[1]):
            acc = 0.0
            for j in range(K.shape[0]):
                acc += K[j, m] * P[j, k]
            Q[m, k] = acc


@numba.njit(**_JIT)
def _dense_eval(y, Q, h, x, y_out):
    """``y_out = y + h * sum_k Q[:, k] x**(k + 1)`` (Horner)."""
    nd = Q.shape[1]
    for m in range(y.shape[0]):
        acc = Q[m, nd - 1]
        for k in range(nd - 2, -1, -1):
            acc = Q[m, k] + x * acc
        y_out[m] = y[m] + h * (x * acc)


# --- templates ----------------------------------------------------------------------------------
def _t_rk_step(t, y, h, p, work, A, B, C, K, ytmp, y_new):
    """One explicit Runge-Kutta step (template; calls ``rhs``).

    Parameters
    ----------
    t, h : float
        Time and step.
    y : ndarray, shape (n,)
        State at ``t``.
    p : ndarray, shape (n_p,)
    work : ndarray, shape (n_work,)
    A, B, C : ndarray, shapes (s, s), (s,), (s,)
        Tableau.
    K : ndarray, shape (s + 1, n)
        On entry ``K[0] = f(t, y)``; on exit all stages, ``K[s] = f(t + h, y_new)``.
    ytmp : ndarray, shape (n,)
        Scratch.
    y_new : ndarray, shape (n,)
        Output: state at ``t + h``.
    """
    s = B.shape[0]
    n = y.shape[0]
    for i in range(1, s):
        for m in range(n):
            acc = 0.0
            for j in range(i):
                acc += A[i, j] * K[j, m]
            ytmp[m] = y[m] + h * acc
        rhs(t + C[i] * h, ytmp, p, work, K[i])
    for m in range(n):
        acc = 0.0
        for j in range(s):
            acc += B[j] * K[j, m]
        y_new[m] = y[m] + h * acc
    rhs(t + h, y_new, p, work, K[s])


def _t_initial_step(t0, y0, f0, t_end, p, work, rtol, atol, error_order, y1, f1):
    """Initial step size (Hairer, Norsett & Wanner, Sec. II.4; as scipy). Template, calls ``rhs``.

    One right-hand side evaluation; ``y1`` and ``f1`` (shape (n,)) are scratch. Returns 0
    when the estimate gives no positive step (e.g. an infinite scaled derivative, possible
    with ``atol = 0``): the caller then starts from its minimum step ``10 ulp(t0)``.
    """
    n = y0.shape[0]
    interval = t_end - t0
    d0 = 0.0
    d1 = 0.0
    for m in range(n):
        scale = atol[m] + abs(y0[m]) * rtol
        d0 += _scaled_square(y0[m], scale)
        d1 += _scaled_square(f0[m], scale)
    d0 = math.sqrt(d0 / n)
    d1 = math.sqrt(d1 / n)
    if d0 < 1e-5 or d1 < 1e-5:
        h0 = 1e-6
    else:
        h0 = 0.01 * d0 / d1
    h0 = min(h0, interval)
    for m in range(n):
        y1[m] = y0[m] + h0 * f0[m]
    rhs(t0 + h0, y1, p, work, f1)
    d2 = 0.0
    for m in range(n):
        scale = atol[m] + abs(y0[m]) * rtol
        d2 += _scaled_square(f1[m] - f0[m], scale)
    d2 = math.sqrt(d2 / n) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / (error_order + 1))
    h = min(100.0 * h0, h1, interval)
    if not h > 0.0:  # NaN from a non-finite f1
        h = h0 if h0 > 0.0 else 0.0         # 0 (or NaN from inf / inf): the minimum step
    return h


def _t_fixed_member(t_eval, dt, y0, p, A, B, C, max_steps, K, y, y_new, ytmp, work, out,
                    stop, reached):
    """Fixed-step integration of one member (template; calls ``rk_step``, ``rhs``, ``is_valid``).

    Full steps ``dt`` from each output time; only the step landing on the next output time is
    shortened (and taken as exactly ``dt`` when it is within rounding of ``dt``). Step times
    are ``t_eval[j] + m * dt``, so they do not accumulate rounding.

    Parameters
    ----------
    t_eval : ndarray, shape (n_t,)
    dt : float
    y0 : ndarray, shape (n,)
    p : ndarray, shape (n_p,)
    A, B, C : tableau arrays
    max_steps : int
    K : ndarray, shape (s + 1, n); y, y_new, ytmp : ndarray, shape (n,); work : (n_work,)
        Preallocated storage.
    out : ndarray, shape (n_t, n)
        Output states (NaN from the failure on).
    stop : ndarray of int64, shape (1,)
        Stop flag, polled every ``POLL_STEPS`` steps (status ``INTERRUPTED``).
    reached : ndarray, shape (2,)
        This member's row of the control array: the time reached is written at each poll.

    Returns
    -------
    status : int
    t_fail : float
    n_steps : int
    n_rhs : int
    """
    n_t = t_eval.shape[0]
    s = B.shape[0]
    t = t_eval[0]
    for m in range(y.shape[0]):
        y[m] = y0[m]
    status = OK
    t_fail = np.nan
    n_steps = 0
    n_rhs = 0
    if not _all_finite(y):
        status = NONFINITE
    elif not is_valid(t, y, p, work):
        status = INVALID
    if status != OK:
        _fill_nan(out, 0)
        return status, t, n_steps, n_rhs
    _write_row(out, 0, y)
    if n_t > 1:
        rhs(t, y, p, work, K[0])
        n_rhs += 1
        if not _all_finite(K[0]):           # every step starts from it: diverges at t0
            _fill_nan(out, 1)
            return NONFINITE, t, n_steps, n_rhs
    j = 1
    next_poll = 0
    while j < n_t:
        t_out = t_eval[j]
        t_seg = t
        tol = 1e-9 * dt + 16.0 * 2.220446049250313e-16 * abs(t_out)
        m = 0
        landed = False
        while not landed:
            if n_steps >= next_poll:
                next_poll = n_steps + POLL_STEPS
                if _poll(stop, reached, t):
                    status = INTERRUPTED
                    t_fail = t
                    break
            if n_steps >= max_steps:
                status = MAX_STEPS
                t_fail = t
                break
            t_new = t_seg + (m + 1) * dt
            h = dt
            if t_new >= t_out - tol:
                landed = True
                t_new = t_out
                if abs((t_out - t) - dt) > tol:
                    h = t_out - t
            rk_step(t, y, h, p, work, A, B, C, K, ytmp, y_new)
            n_steps += 1
            n_rhs += s
            m += 1
            if not _all_finite(y_new):
                status = NONFINITE
            elif not is_valid(t_new, y_new, p, work):
                status = INVALID
            if status != OK:
                t_fail = t_new
                break
            y, y_new = y_new, y
            for i in range(y.shape[0]):
                K[0, i] = K[s, i]
            t = t_new
        if status != OK:
            break
        _write_row(out, j, y)
        j += 1
    if status != OK:
        _fill_nan(out, j)
    return status, t_fail, n_steps, n_rhs


def _t_adaptive_member(t_eval, y0, p, A, B, C, E, P, error_order, rtol, atol, first_step,
                       max_steps, K, Q, y, y_new, ytmp, work, out, stop, reached):
    """Adaptive embedded Runge-Kutta integration of one member (template).

    Error control as scipy's RK45: Hairer's RMS norm with ``atol + rtol * max(|y|, |y_new|)``,
    step factor ``0.9 * err**(-1/(error_order+1))`` limited to [0.2, 10] (no increase right
    after a rejection). Steps are not shortened for output times (dense output), only the last
    one is clipped to ``t_eval[-1]``. A component whose scale is zero (``atol = 0`` and the
    component 0) counts as 0 in the norms when its deviation is exactly 0 (scipy's norm is
    0 / 0 = NaN there), so pure relative control works with components that stay at zero.

    Parameters
    ----------
    t_eval : ndarray, shape (n_t,)
    y0 : ndarray, shape (n,)
    p : ndarray, shape (n_p,)
    A, B, C, E, P : tableau arrays
    error_order : int
    rtol : float
    atol : ndarray, shape (n,)
    first_step : float
        Initial step; <= 0 selects it automatically (one extra rhs evaluation).
    max_steps : int
        Limit on accepted + rejected steps.
    K : ndarray, shape (s + 1, n); Q : ndarray, shape (n, n_dense);
    y, y_new, ytmp : ndarray, shape (n,); work : ndarray, shape (n_work,)
        Preallocated storage.
    out : ndarray, shape (n_t, n)
    stop : ndarray of int64, shape (1,); reached : ndarray, shape (2,)
        Control arrays as in :func:`_t_fixed_member`; polled every ``POLL_STEPS`` attempts.

    Returns
    -------
    status : int
    t_fail : float
    n_accepted, n_rejected, n_rhs : int
    """
    n_t = t_eval.shape[0]
    s = B.shape[0]
    n = y.shape[0]
    t = t_eval[0]
    t_end = t_eval[n_t - 1]
    exponent = -1.0 / (error_order + 1)
    for m in range(n):
        y[m] = y0[m]
    status = OK
    t_fail = np.nan
    n_acc = 0
    n_rej = 0
    n_rhs = 0
    if not _all_finite(y):
        status = NONFINITE
    elif not is_valid(t, y, p, work):
        status = INVALID
    if status != OK:
        _fill_nan(out, 0)
        return status, t, n_acc, n_rej, n_rhs
    _write_row(out, 0, y)
    if n_t == 1:
        return status, t_fail, n_acc, n_rej, n_rhs
    rhs(t, y, p, work, K[0])
    n_rhs += 1
    if not _all_finite(K[0]):               # every trial step starts from it: diverges at t0
        _fill_nan(out, 1)
        return NONFINITE, t, n_acc, n_rej, n_rhs
    if first_step > 0.0:
        h_abs = min(first_step, t_end - t)
    else:
        h_abs = initial_step(t, y, K[0], t_end, p, work, rtol, atol, error_order, ytmp, K[1])
        n_rhs += 1
    j = 1
    next_poll = 0
    while j < n_t:
        if n_acc + n_rej >= next_poll:
            next_poll = n_acc + n_rej + POLL_STEPS
            if _poll(stop, reached, t):
                status = INTERRUPTED
                t_fail = t
                break
        # --- one accepted step from t to t_new (with rejections) ---
        min_step = 10.0 * abs(np.nextafter(t, np.inf) - t)
        if h_abs < min_step:
            h_abs = min_step
        rejected = False
        overflow = False
        while True:
            if n_acc + n_rej >= max_steps:
                status = MAX_STEPS
                break
            if not h_abs >= min_step:       # also a NaN step, which no rejection shrinks
                status = NONFINITE if overflow or h_abs != h_abs else STEP_TOO_SMALL
                break
            t_new = t + h_abs
            if t_new > t_end:
                t_new = t_end
            h = t_new - t
            h_abs = h
            rk_step(t, y, h, p, work, A, B, C, K, ytmp, y_new)
            n_rhs += s
            err = _error_norm(K, E, h, y, y_new, rtol, atol)
            if err < 1.0:
                if err == 0.0:
                    factor = MAX_FACTOR
                else:
                    factor = min(MAX_FACTOR, SAFETY * err ** exponent)
                if rejected:
                    factor = min(1.0, factor)
                h_abs *= factor
                n_acc += 1
                break
            overflow = not math.isfinite(err)
            if overflow:
                factor = MIN_FACTOR
            else:
                factor = max(MIN_FACTOR, SAFETY * err ** exponent)
            h_abs *= factor
            rejected = True
            n_rej += 1
        if status != OK:
            t_fail = t
            break
        # --- outputs in (t, t_new] by dense output, then the step end ---
        if t_eval[j] <= t_new:
            _dense_coefficients(K, P, Q)
        while j < n_t and t_eval[j] <= t_new:
            if t_eval[j] == t_new:
                for m in range(n):
                    ytmp[m] = y_new[m]
            else:
                _dense_eval(y, Q, h, (t_eval[j] - t) / h, ytmp)
            if not _all_finite(ytmp):
                status = NONFINITE
            elif not is_valid(t_eval[j], ytmp, p, work):
                status = INVALID
            if status != OK:
                t_fail = t_eval[j]
                break
            _write_row(out, j, ytmp)
            j += 1
        if status != OK:
            break
        if t_eval[j - 1] != t_new and not is_valid(t_new, y_new, p, work):
            status = INVALID
            t_fail = t_new
            break
        y, y_new = y_new, y
        for m in range(n):
            K[0, m] = K[s, m]
        t = t_new
    if status != OK:
        _fill_nan(out, j)
    return status, t_fail, n_acc, n_rej, n_rhs


def _t_fixed_batch(t_eval, dt, y0, p, A, B, C, max_steps, n_work, order,
                   ys, status, t_fail, n_acc, n_rej, n_rhs, stop, reached):
    """Parallel fixed-step driver over batch members (template; calls ``fixed_member``).

    Parameters
    ----------
    t_eval : ndarray, shape (n_t,)
    dt : float
    y0 : ndarray, shape (nb, n)
    p : ndarray, shape (nb, n_p)
    A, B, C : tableau arrays
    max_steps, n_work : int
    order : ndarray of int64, shape (nb,)
        Permutation of the members: iteration ``i`` integrates member ``order[i]``. Numba
        splits a prange into contiguous blocks, one per thread; a shuffled order balances the
        load when the cost varies smoothly along the batch (e.g. a sorted parameter sweep).
    ys : ndarray, shape (nb, n_t, n)
        Output states.
    status, t_fail, n_acc, n_rej, n_rhs : ndarray, shape (nb,)
        Outputs per member (``n_rej`` is set to 0).
    stop : ndarray of int64, shape (1,)
        Stop flag (non-zero: members stop at their next poll with status ``INTERRUPTED``).
    reached : ndarray, shape (nb, 2)
        Per member: time reached (updated at each poll) and done flag (1 when finished: at
        the last output time or by a failure; a stopped member is not done).
    """
    nb, n = y0.shape
    s = B.shape[0]
    for i in prange(nb):
        b = order[i]
        K = np.empty((s + 1, n))
        y = np.empty(n)
        y_new = np.empty(n)
        ytmp = np.empty(n)
        work = np.zeros(n_work)
        prow = p[b].copy()
        st, tf, steps, nf = fixed_member(t_eval, dt, y0[b], prow, A, B, C, max_steps,
                                         K, y, y_new, ytmp, work, ys[b], stop, reached[b])
        status[b] = st
        t_fail[b] = tf
        n_acc[b] = steps
        n_rej[b] = 0
        n_rhs[b] = nf
        if st != INTERRUPTED:
            _finish(reached[b], t_eval[t_eval.shape[0] - 1] if st == OK else tf)


def _t_adaptive_batch(t_eval, y0, p, A, B, C, E, P, error_order, rtol, atol, first_step,
                      max_steps, n_work, order, ys, status, t_fail, n_acc, n_rej, n_rhs,
                      stop, reached):
    """Parallel adaptive driver over batch members (template; calls ``adaptive_member``).

    Arguments as :func:`_t_fixed_batch` and :func:`_t_adaptive_member`; each member has its
    own step size.
    """
    nb, n = y0.shape
    s = B.shape[0]
    for i in prange(nb):
        b = order[i]
        K = np.empty((s + 1, n))
        Q = np.empty((n, P.shape[1]))
        y = np.empty(n)
        y_new = np.empty(n)
        ytmp = np.empty(n)
        work = np.zeros(n_work)
        prow = p[b].copy()
        st, tf, na, nr, nf = adaptive_member(t_eval, y0[b], prow, A, B, C, E, P, error_order,
                                             rtol, atol, first_step, max_steps,
                                             K, Q, y, y_new, ytmp, work, ys[b], stop,
                                             reached[b])
        status[b] = st
        t_fail[b] = tf
        n_acc[b] = na
        n_rej[b] = nr
        n_rhs[b] = nf
        if st != INTERRUPTED:
            _finish(reached[b], t_eval[t_eval.shape[0] - 1] if st == OK else tf)
