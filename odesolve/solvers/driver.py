"""Python entry point of the compiled solvers: validation, compilation, results."""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_bool, check_choice, check_int, check_real, real_array
from .._jit import specialise
from . import _stepper as st
from ._control import RunControl, run_in_worker
from .problem import Problem
from .tableaus import TABLEAUS, Tableau

__all__ = ["solve", "SolverResult", "SolverError", "compiled_solver", "check_fixed_step",
           "STATUS_MESSAGES", "OK", "NONFINITE", "INVALID", "MAX_STEPS", "STEP_TOO_SMALL",
           "INTERRUPTED"]

OK, NONFINITE, INVALID, MAX_STEPS, STEP_TOO_SMALL, INTERRUPTED = (
    st.OK, st.NONFINITE, st.INVALID, st.MAX_STEPS, st.STEP_TOO_SMALL, st.INTERRUPTED)

#: Status code -> description.
STATUS_MESSAGES = {
    OK: "integration successful",
    NONFINITE: "state became non-finite",
    INVALID: "`is_valid` returned False",
    MAX_STEPS: "`max_steps` exceeded",
    STEP_TOO_SMALL: "step size became too small",
    INTERRUPTED: "interrupted (Ctrl-C) before the last output time",
}

#: members a thread takes at a time from the batch (numba.parallel_chunksize)
PRANGE_CHUNK = 4

_OPTIONS = {"error_model": "numpy", "nogil": True}
_PARALLEL = {**_OPTIONS, "parallel": True}


class SolverError(RuntimeError):
    """Raised by callers that turn a failed member into an exception (see
    :meth:`SolverResult.raise_on_failure`); :func:`solve` itself never raises on divergence."""


@dataclass
class SolverResult:
    """Result of :func:`solve`.

    Attributes
    ----------
    t : ndarray, shape (n_t,)
        Output times (``t_eval``).
    y : ndarray, shape (B, n_t, n), or (n_t, n) when ``y0`` and ``p`` were 1-D
        States at ``t``; NaN from a member's failure on.
    status : ndarray of int, shape (B,)
        0 ``OK``, 1 ``NONFINITE``, 2 ``INVALID``, 3 ``MAX_STEPS``, 4 ``STEP_TOO_SMALL``,
        5 ``INTERRUPTED`` (stopped by Ctrl-C; not a failure of the integration).
    t_fail : ndarray, shape (B,)
        Time of failure (for ``INTERRUPTED``: the time the member had reached; its outputs up
        to there are kept), NaN where ``status == OK``.
    n_accepted, n_rejected, n_rhs : ndarray of int, shape (B,)
        Accepted steps, rejected steps and right-hand side evaluations per member.
    method : str
    """

    t: np.ndarray
    y: np.ndarray
    status: np.ndarray
    t_fail: np.ndarray
    n_accepted: np.ndarray
    n_rejected: np.ndarray
    n_rhs: np.ndarray
    method: str

    @property
    def success(self) -> bool:
        """True when every member finished with status ``OK``."""
        return bool(np.all(self.status == OK))

    @property
    def interrupted(self) -> bool:
        """True when the run was stopped by Ctrl-C (some member has status ``INTERRUPTED``)."""
        return bool(np.any(self.status == INTERRUPTED))

    def message(self, i: int = 0) -> str:
        """Readable outcome of member ``i``."""
        code = int(self.status[i])
        text = STATUS_MESSAGES.get(code, f"unknown status {code}")
        if code == OK:
            return f"{self.method}: {text}."
        if code == NONFINITE and self._diverged_at_start(i):
            return (f"{self.method}: the derivative is not finite at the initial state, so the "
                    f"run diverges at t = {self.t_fail[i]:.10g} (status {code}).")
        return f"{self.method}: {text} at t = {self.t_fail[i]:.10g} (status {code})."

    def _diverged_at_start(self, i: int) -> bool:
        """Member ``i`` stopped before its first step with a finite initial state: its
        derivative there was not finite."""
        first = (self.y if self.y.ndim == 2 else self.y[i])[0]
        return (self.n_accepted[i] + self.n_rejected[i] == 0 and self.t_fail[i] == self.t[0]
                and bool(np.all(np.isfinite(first))))

    def raise_on_failure(self) -> None:
        """Raise :class:`SolverError` naming the first failed member, if any.

        Members stopped by Ctrl-C (``INTERRUPTED``) did not fail and are not reported.
        """
        failed = np.flatnonzero((self.status != OK) & (self.status != INTERRUPTED))
        if failed.size:
            i = int(failed[0])
            raise SolverError(f"member {i} ({failed.size} failed in total): {self.message(i)}")


def compiled_solver(problem: Problem, adaptive: bool,
                    parallel: bool = True) -> numba.core.registry.CPUDispatcher:
    """Batch driver specialised for ``problem`` (compiled lazily, cached on disk).

    Returns the Numba dispatcher of the parallel batch routine (``_t_adaptive_batch`` or
    ``_t_fixed_batch`` of :mod:`odesolve.solvers._stepper`); its ``stats.cache_hits`` shows
    whether the compiled code came from the on-disk cache. ``parallel=False`` gives a serial
    version (used for a single member, where starting the thread pool costs more than it saves
    and waits on busy cores).
    """
    tag = problem.tag
    batch_tag, batch_opts = (tag, _PARALLEL) if parallel else (tag + "_serial", _OPTIONS)
    step = specialise(st._t_rk_step, tag, _OPTIONS, rhs=problem.rhs)
    if adaptive:
        init = specialise(st._t_initial_step, tag, _OPTIONS, rhs=problem.rhs)
        member = specialise(st._t_adaptive_member, tag, _OPTIONS, rhs=problem.rhs,
                            is_valid=problem.is_valid, rk_step=step, initial_step=init)
        return specialise(st._t_adaptive_batch, batch_tag, batch_opts, adaptive_member=member)
    member = specialise(st._t_fixed_member, tag, _OPTIONS, rhs=problem.rhs,
                        is_valid=problem.is_valid, rk_step=step)
    return specialise(st._t_fixed_batch, batch_tag, batch_opts, fixed_member=member)


def _float_array(value, name):
    """``value`` as a float64 array without a copy when it is one (:func:`real_array`)."""
    return real_array(name, value, copy=False)


def _compiled_layout(arr):
    """C-contiguous writeable float64 (one Numba signature for every input; copies if needed)."""
    return np.require(arr, np.float64, ["C", "W"])


def _positive(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    return check_real(name, value, positive=True)


def _validate_states(y0, p):
    y0 = _float_array(y0, "y0")
    if y0.ndim not in (1, 2) or y0.shape[-1] == 0 or y0.shape[0] == 0:
        raise ValueError("`y0` has wrong shape.")
    p = np.zeros(0) if p is None else _float_array(p, "p")
    if p.ndim not in (1, 2):
        raise ValueError("`p` has wrong shape.")
    squeeze = y0.ndim == 1 and p.ndim == 1
    y0_2d = np.atleast_2d(y0)
    p_2d = np.atleast_2d(p)
    nb = max(y0_2d.shape[0], p_2d.shape[0])
    if y0_2d.shape[0] not in (1, nb):
        raise ValueError("`y0` has wrong shape.")
    if p_2d.shape[0] not in (1, nb):
        raise ValueError("`p` has wrong shape.")
    y0_2d = _compiled_layout(np.broadcast_to(y0_2d, (nb, y0_2d.shape[1])))
    p_2d = _compiled_layout(np.broadcast_to(p_2d, (nb, p_2d.shape[1])))
    return y0_2d, p_2d, squeeze


def _validate_t_eval(t_eval):
    t_eval = _float_array(t_eval, "t_eval")
    if t_eval.ndim != 1 or t_eval.size == 0:
        raise ValueError("`t_eval` must be a non-empty 1-d array.")
    t_eval = _compiled_layout(t_eval)
    if not np.all(np.isfinite(t_eval)):
        raise ValueError("`t_eval` must be finite.")
    if np.any(np.diff(t_eval) <= 0):
        raise ValueError("`t_eval` must be strictly increasing.")
    return t_eval


def _validate_atol(atol, n):
    atol = _float_array(atol, "atol")
    if atol.ndim > 1 or (atol.ndim == 1 and atol.shape[0] != n):
        raise ValueError("`atol` has wrong shape.")
    if np.any(~np.isfinite(atol)) or np.any(atol < 0):
        raise ValueError("`atol` must be finite and non-negative.")
    return _compiled_layout(np.broadcast_to(atol, (n,)))


def check_fixed_step(dt: float, t_eval: np.ndarray, name: str = "dt") -> None:
    """Refuse a fixed step longer than an interval between output times.

    The fixed-step solver takes full steps from each output time and shortens the step that
    lands on the next one, so a step longer than an output interval would silently be cut to
    that interval. A step within the solver's landing tolerance of the interval
    (``1e-9 dt + 16 eps |t|``) counts as equal; a step that does not divide the interval is
    fine (full steps, then one shorter).

    Parameters
    ----------
    dt : float
        Fixed step.
    t_eval : ndarray, shape (n_t,)
        Strictly increasing output times.
    name : str
        Name of the step argument in the message.

    Raises
    ------
    ValueError
        naming ``dt``, the shortest output interval and the ways out.
    """
    gaps = np.diff(t_eval)
    if gaps.size == 0:
        return
    tol = 1e-9 * dt + 16.0 * np.finfo(float).eps * np.abs(t_eval[1:])
    if np.any(dt > gaps + tol):
        shortest = float(gaps.min())
        raise ValueError(
            f"`{name}` = {dt:g} is longer than the spacing of the output times ({shortest:g}): "
            f"the fixed-step solver would shorten every step to land on them. Use fewer "
            f"output times (`n_out` or `times`) or `{name}` <= {shortest:g}.")


def solve(problem: Problem, y0: ArrayLike, p: ArrayLike | None, t_eval: ArrayLike,
          method: str = "rk4", dt: float | None = None, rtol: float = 1e-8,
          atol: float | ArrayLike = 1e-10, max_steps: int = 10**8,
          first_step: float | None = None, progress: bool = False,
          on_interrupt: str = "raise") -> SolverResult:
    """Integrate a (batch of) initial value problem(s) with compiled Runge-Kutta methods.

    Parameters
    ----------
    problem : Problem
    y0 : array_like, shape (n,) or (B, n)
        Initial states at ``t_eval[0]``.
    p : array_like, shape (n_p,) or (B, n_p), or None
        Parameters, one row per member; a single row (or ``y0`` row) is broadcast.
    t_eval : array_like, shape (n_t,)
        Strictly increasing output times; ``t_eval[0]`` is the initial time (output 0 is the
        initial state).
    method : {'euler', 'rk4', 'dopri5'}
        'euler' and 'rk4' are fixed-step and need ``dt``. 'dopri5' (Dormand-Prince 5(4)) is
        adaptive, with dense output at ``t_eval``; given ``dt`` it takes fixed steps of its
        5th-order formula instead (no error control).
    dt : float, optional
        Fixed step. Full steps are taken from each output time, and only the step landing on
        the next output time is shortened (a ``dt`` longer than an output interval is thus
        cut to it; :func:`check_fixed_step` refuses that).
    rtol : float
        Relative tolerance (adaptive only).
    atol : float or array_like, shape (n,)
        Absolute tolerance (adaptive only).
    max_steps : int
        Maximum number of steps per member (accepted + rejected).
    first_step : float, optional
        Initial step of the adaptive method; chosen automatically by default.
    progress : bool
        Show a progress bar on stderr when the run lasts longer than about 2 s.
    on_interrupt : {'raise', 'return'}
        On Ctrl-C the compiled run is stopped cleanly (within a few hundred steps) either way;
        then ``'raise'`` re-raises :class:`KeyboardInterrupt` and ``'return'`` returns the
        partial result: stopped members have status ``INTERRUPTED``, ``t_fail`` the time they
        reached, their outputs up to there and NaN after.

    Returns
    -------
    SolverResult
        Members that fail stop with a status code; ``solve`` does not raise on divergence.

    Raises
    ------
    TypeError
        An argument has the wrong type (e.g. a string for ``dt``).
    ValueError
        An argument has a wrong value or shape; the message names it.
    KeyboardInterrupt
        On Ctrl-C with ``on_interrupt='raise'``, after the compiled run has stopped.

    Notes
    -----
    Members are integrated in parallel (``numba.prange``), each with its own step size; the
    results do not depend on the batch composition or the number of threads.

    Called from the main thread, the compiled run happens in a worker thread
    (:mod:`odesolve.solvers._control`) while the main thread waits, draws the progress bar
    and receives Ctrl-C; the Numba thread count of the calling thread
    (:func:`numba.set_num_threads`) applies to the run.

    After every accepted step the new state must be finite and satisfy ``is_valid``; outputs
    computed by dense output between step ends are checked the same way. The first failure
    fixes ``t_fail`` and the status, and the member's outputs from there on are NaN. A
    derivative that is not finite at the initial state (a NaN parameter, or a right-hand side
    undefined there) ends the member before its first step, with ``NONFINITE`` and ``t_fail``
    the initial time, for every method. The adaptive method rejects trial steps whose state
    is not finite; when that shrinks the step below ``10 ulp(t)`` the status is
    ``NONFINITE``. A finite-time blow-up usually ends with ``STEP_TOO_SMALL`` instead, since
    the state stays finite while the step vanishes.

    The error control, initial step and dense output of 'dopri5' reproduce scipy's ``RK45``
    (same steps and number of evaluations). Compilation happens once per :class:`Problem`
    (``Problem.tag``) and kind (fixed or adaptive) and is cached on disk.
    """
    if not isinstance(problem, Problem):
        raise TypeError("`problem` must be a Problem.")
    method = check_choice("method", method, TABLEAUS)
    tableau: Tableau = TABLEAUS[method]
    t_eval = _validate_t_eval(t_eval)
    y0, p, squeeze = _validate_states(y0, p)
    nb, n = y0.shape
    dt = _positive(dt, "dt", allow_none=True)
    if dt is None and not tableau.adaptive:
        raise ValueError(f"`dt` is required by the fixed-step method {method!r}.")
    adaptive = dt is None
    rtol = _positive(rtol, "rtol")
    atol = _validate_atol(atol, n)
    max_steps = min(check_int("max_steps", max_steps, minimum=1), 2**62)
    first_step = _positive(first_step, "first_step", allow_none=True)
    if first_step is not None and not adaptive:
        raise ValueError("`first_step` applies only to adaptive stepping (no `dt`).")
    progress = check_bool("progress", progress)
    on_interrupt = check_choice("on_interrupt", on_interrupt, ("raise", "return"))
    n_work = problem.work_size(p)

    n_t = t_eval.shape[0]
    ys = np.empty((nb, n_t, n))
    status = np.empty(nb, dtype=np.int64)
    t_fail = np.empty(nb)
    n_acc = np.empty(nb, dtype=np.int64)
    n_rej = np.empty(nb, dtype=np.int64)
    n_rhs = np.empty(nb, dtype=np.int64)
    kernel = compiled_solver(problem, adaptive, parallel=nb > 1)
    # shuffled member order, and threads take PRANGE_CHUNK members at a time (dynamic
    # scheduling): one slow (stiff) member costs its own time only, not that of a static share
    order = (np.random.default_rng(0).permutation(nb).astype(np.int64) if nb > 1
             else np.zeros(1, dtype=np.int64))
    control = RunControl(nb, t_eval[0], t_eval[-1])
    if adaptive:
        args = (t_eval, y0, p, tableau.A, tableau.B, tableau.C, tableau.E, tableau.P,
                tableau.error_order, rtol, atol, first_step or 0.0, max_steps, n_work,
                order, ys, status, t_fail, n_acc, n_rej, n_rhs, control.stop, control.reached)
    else:
        args = (t_eval, dt, y0, p, tableau.A, tableau.B, tableau.C, max_steps, n_work,
                order, ys, status, t_fail, n_acc, n_rej, n_rhs, control.stop, control.reached)
    if not kernel.signatures:
        # compile (or load from the disk cache) here, where Ctrl-C can interrupt it; the
        # arguments have the same types on every call, so this happens once per kernel
        kernel.compile(tuple(numba.typeof(a) for a in args))

    def launch():
        with numba.parallel_chunksize(PRANGE_CHUNK if nb > 1 else 0):
            kernel(*args)

    interrupted = run_in_worker(launch, control, progress,
                                threads=numba.get_num_threads() if nb > 1 else None)
    if interrupted and on_interrupt == "raise":
        raise KeyboardInterrupt
    return SolverResult(t=t_eval, y=ys[0] if squeeze else ys, status=status, t_fail=t_fail,
                        n_accepted=n_acc, n_rejected=n_rej, n_rhs=n_rhs, method=method)
