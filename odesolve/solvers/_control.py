"""Running a compiled batch kernel in a worker thread: progress bar and a clean Ctrl-C.

A compiled kernel holds no Python frame, so a Ctrl-C in the main thread is only seen when the
kernel returns (and its work would be thrown away). :func:`run_in_worker` therefore launches
the kernel (compiled with ``nogil=True``) in a worker thread and waits in the main thread,
where ``KeyboardInterrupt`` arrives at once. The two threads share a :class:`RunControl`: the
kernel publishes the time each member has reached and whether it is done, and polls a stop
flag (every ``POLL_STEPS`` steps, :mod:`odesolve.solvers._stepper`). On Ctrl-C the main
thread sets the flag and waits for the kernel to return; the members then end with status
``INTERRUPTED`` at the time they reached, keeping their outputs up to there.

Numba keeps the thread count (:func:`numba.set_num_threads`) and the prange chunk size per
thread; :func:`run_in_worker` passes the caller's thread count on, and the launch callable sets
the chunk size inside the worker. The worker runs while the main thread only waits, so the
threading layer is never entered concurrently (which the ``workqueue`` layer does not allow).
The worker is one long-lived thread: the per-thread state of the threading layer (OpenMP's
team of threads belongs to the thread that opens the parallel region) is created once, not on
every call.
"""
from __future__ import annotations

import _thread
import os
import queue
import sys
import threading
import time

import numba
import numpy as np

__all__ = ["RunControl", "run_in_worker", "PROGRESS_DELAY"]

#: seconds a run must last before a progress bar appears
PROGRESS_DELAY = 2.0
#: seconds between two looks of the main thread at the control arrays
TICK = 0.05

#: test hook: called with the RunControl at every tick of the waiting loop (None: nothing)
_on_tick = None


class RunControl:
    """Arrays shared between a running batch kernel and the thread waiting for it.

    Parameters
    ----------
    n_members : int
        Batch size nb.
    t0, t_end : float
        First and last output time.

    Attributes
    ----------
    stop : ndarray of int64, shape (1,)
        Stop flag; non-zero makes every member stop at its next poll.
    reached : ndarray, shape (nb, 2)
        Per member: the time reached (updated at each poll) and a done flag (1 when finished,
        at the last output time or by a failure; not set for a member stopped on request).
    """

    def __init__(self, n_members: int, t0: float, t_end: float):
        self.t0, self.t_end = float(t0), float(t_end)
        self.stop = np.zeros(1, dtype=np.int64)
        self.reached = np.zeros((n_members, 2))
        self.reached[:, 0] = t0

    def request_stop(self):
        """Ask every member to stop at its next poll (status ``INTERRUPTED``)."""
        self.stop[0] = 1

    @property
    def n_done(self) -> int:
        """Members finished (at the last output time or by a failure)."""
        return int(np.count_nonzero(self.reached[:, 1]))

    @property
    def fraction(self) -> float:
        """Fraction of the work done: time reached per member, finished members count 1."""
        span = self.t_end - self.t0
        if span <= 0:
            return 1.0
        part = np.clip((self.reached[:, 0] - self.t0) / span, 0.0, 1.0)
        return float(np.mean(np.where(self.reached[:, 1] != 0, 1.0, part)))

    def describe(self) -> str:
        """Short state of the run for the progress bar."""
        nb = self.reached.shape[0]
        if nb == 1:
            return f"t = {self.reached[0, 0]:.4g} / {self.t_end:.4g}"
        return f"{self.n_done}/{nb} members done"


class _Bar:
    """tqdm bar on stderr showing :meth:`RunControl.fraction` (created only for long runs).

    Parameters
    ----------
    label : str
    elapsed : float
        Seconds the run has already lasted (the bar appears late).
    """

    _FORMAT = "{{desc}}: {{percentage:3.0f}}%|{{bar}}| {text} [{{elapsed}}<{{remaining}}]"

    def __init__(self, label, elapsed):
        from tqdm.auto import tqdm

        # on a terminal the line is redrawn twice a second; in a log file every 30 s
        tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
        self._every = 0.5 if tty else 30.0
        self._last = -np.inf
        # delay > 0 only suppresses tqdm's empty first line; the first update draws the bar
        self._bar = tqdm(total=1.0, desc=label, file=sys.stderr, leave=True, delay=1e-9,
                         dynamic_ncols=True, bar_format=self._FORMAT.format(text=""))
        self._bar.start_t -= elapsed

    def _render(self, control, note=""):
        self._bar.n = control.fraction
        self._bar.bar_format = self._FORMAT.format(text=control.describe() + note)

    def update(self, control: RunControl):
        now = time.perf_counter()
        if now - self._last >= self._every:
            self._last = now
            self._render(control)
            self._bar.refresh()

    def close(self, control: RunControl, interrupted: bool):
        self._render(control, ", interrupted" if interrupted else "")
        self._bar.close()                # draws the final state once


class _Worker:
    """The long-lived thread running kernels for the main thread, one job at a time."""

    def __init__(self):
        self.pid = os.getpid()
        self._jobs = queue.SimpleQueue()
        # a bare thread: no start handshake, and like a daemon thread it does not hold up
        # interpreter exit
        _thread.start_new_thread(self._serve, ())

    def _serve(self):
        while True:
            self._jobs.get()()

    def submit(self, job):
        self._jobs.put(job)


_worker = None


def _the_worker() -> _Worker:
    """The worker of this process (a new one after a fork: threads do not survive it)."""
    global _worker
    if _worker is None or _worker.pid != os.getpid():
        _worker = _Worker()
    return _worker


def run_in_worker(launch, control: RunControl, progress: bool = False,
                  label: str = "integrating", threads: int | None = None) -> bool:
    """Run ``launch()`` (a call of a ``nogil`` kernel) in a worker thread; wait for it.

    Parameters
    ----------
    launch : callable
        Runs the kernel with ``control.stop`` and ``control.reached``.
    control : RunControl
    progress : bool
        Show a progress bar on stderr once the run has lasted ``PROGRESS_DELAY`` seconds.
    label : str
        Label of the bar.
    threads : int, optional
        Numba thread count to use in the worker (the caller's :func:`numba.get_num_threads`
        for a parallel kernel; None for a serial one).

    Returns
    -------
    bool
        True when the run was stopped by Ctrl-C (the members then carry status
        ``INTERRUPTED``); the kernel has returned either way.

    Raises
    ------
    KeyboardInterrupt
        On a second Ctrl-C while waiting for the stopped kernel to return.
    Exception
        Whatever ``launch`` raised in the worker.

    Notes
    -----
    Called from a thread other than the main thread (which never receives Ctrl-C) without
    a progress bar, the kernel runs right there: the worker would only add its hand-over
    latency (tens of microseconds per call).
    """
    if not progress and threading.current_thread() is not threading.main_thread():
        _launch(launch, threads)
        return False
    failure = []
    finished = threading.Event()

    def work():
        try:
            _launch(launch, threads)
        except BaseException as exc:        # re-raised in the calling thread
            failure.append(exc)
        finally:
            finished.set()

    start = time.perf_counter()
    bar = None
    interrupted = False
    try:
        try:
            _the_worker().submit(work)
            while not finished.wait(TICK):
                if _on_tick is not None:
                    _on_tick(control)
                elapsed = time.perf_counter() - start
                if bar is None and progress and elapsed >= PROGRESS_DELAY:
                    bar = _Bar(label, elapsed)
                if bar is not None:
                    bar.update(control)
        except KeyboardInterrupt:
            interrupted = True
            control.request_stop()           # members stop within POLL_STEPS steps
            while not finished.wait(TICK):
                pass
    finally:
        if bar is not None:
            bar.close(control, interrupted)
    if failure:
        raise failure[0]
    return interrupted


def _launch(launch, threads):
    if threads is not None:
        numba.set_num_threads(threads)
    launch()
