"""Long compiled runs: progress bar, clean stop on Ctrl-C (status INTERRUPTED), worker thread.

The compiled kernels run in a worker thread and poll a stop flag every few hundred steps
(odesolve/solvers/_control.py). In-process tests stop a run through the test hook
``_control._on_tick`` (called at every tick of the waiting loop), which raises
KeyboardInterrupt exactly where a Ctrl-C would arrive; one test sends a real SIGINT to a
subprocess.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numba
import numpy as np
import pytest

import odesolve
from odesolve.solvers import (INTERRUPTED, OK, Problem, SolverResult, compiled_solver,
                              solve)
from odesolve.solvers import _control
from odesolve.solvers.testproblems import LOGISTIC, ROTATION
from odesolve.trajectory import DivergenceError, Trajectory

ROOT = Path(__file__).resolve().parents[1]
SETUP = odesolve.TeacherStudent(K=2, M=2, activation="erf", eta=0.5)
STATE = odesolve.Overlaps.random(2, 2, seed=0, student_std=0.1, readout_std=0.1)


def _interrupt_when(condition):
    """Tick hook raising KeyboardInterrupt (as Ctrl-C would) once ``condition(control)``."""
    def hook(control):
        if condition(control):
            raise KeyboardInterrupt
    return hook


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


# --- the kernel's control contract ------------------------------------------------------------
@pytest.mark.parametrize("adaptive", [False, True])
def test_kernel_stops_at_the_first_poll_when_the_flag_is_set(adaptive):
    """Stop flag set before the launch: every member ends at t0 with status INTERRUPTED, its
    initial state kept and the rest NaN; without the flag every member is marked done at
    t_end. (The kernel called directly with the control arrays, no thread involved.)"""
    t_eval = np.linspace(0.0, 1.0, 5)
    y0 = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0]])
    p = np.ones((3, 1))
    kernel = compiled_solver(ROTATION, adaptive, parallel=True)
    for stop_flag in (1, 0):
        ctl = _control.RunControl(3, t_eval[0], t_eval[-1])
        ctl.stop[0] = stop_flag
        ys = np.empty((3, 5, 2))
        status, t_fail = np.empty(3, dtype=np.int64), np.empty(3)
        counters = [np.empty(3, dtype=np.int64) for _ in range(3)]
        order = np.arange(3, dtype=np.int64)
        tab = odesolve.solvers.DOPRI5 if adaptive else odesolve.solvers.RK4
        if adaptive:
            kernel(t_eval, y0, p, tab.A, tab.B, tab.C, tab.E, tab.P, tab.error_order, 1e-8,
                   np.full(2, 1e-10), 0.0, 10**6, 2, order, ys, status, t_fail, *counters,
                   ctl.stop, ctl.reached)
        else:
            kernel(t_eval, 0.01, y0, p, tab.A, tab.B, tab.C, 10**6, 2, order, ys, status,
                   t_fail, *counters, ctl.stop, ctl.reached)
        if stop_flag:
            np.testing.assert_array_equal(status, INTERRUPTED)
            np.testing.assert_array_equal(t_fail, 0.0)
            np.testing.assert_array_equal(ys[:, 0], y0)
            assert np.isnan(ys[:, 1:]).all()
            assert ctl.n_done == 0 and ctl.fraction == 0.0
        else:
            np.testing.assert_array_equal(status, OK)
            np.testing.assert_array_equal(ctl.reached, [[1.0, 1.0]] * 3)
            assert ctl.fraction == 1.0


# --- integrate: a long single trajectory --------------------------------------------------------
def test_ctrl_c_returns_the_partial_trajectory_with_a_warning(monkeypatch):
    """A run of 1e9 Euler steps, interrupted once it passed t = 0.3: it comes back at once with
    status INTERRUPTED, t_fail the time reached, every output up to there identical to an
    uninterrupted run over those outputs, NaN after; no DivergenceError."""
    monkeypatch.setattr(_control, "_on_tick", _interrupt_when(lambda c: c.reached[0, 0] > 0.3))
    tic = time.perf_counter()
    with pytest.warns(RuntimeWarning, match=r"interrupted \(Ctrl-C\) at t = "):
        traj = odesolve.integrate(SETUP, STATE, t_max=1000.0, method="euler", dt=1e-6,
                                  n_out=100_001, progress=False)
    assert time.perf_counter() - tic < 10
    assert traj.interrupted and int(traj.status) == INTERRUPTED and not traj.success
    t_fail = float(traj.t_fail)
    assert 0.3 < t_fail < 1000.0
    kept = traj.t <= t_fail
    assert np.isfinite(traj.Q[kept]).all() and np.isfinite(traj.eps_g[kept]).all()
    assert np.isnan(traj.Q[~kept]).all() and np.isnan(traj.eps_g[~kept]).all()
    t_kept = traj.t[kept]
    monkeypatch.setattr(_control, "_on_tick", None)
    ref = odesolve.integrate(SETUP, STATE, t_max=t_kept[-1], times=t_kept, method="euler",
                             dt=1e-6, progress=False)
    assert not ref.interrupted and ref.success
    for name in ("Q", "R", "v", "eps_g"):
        np.testing.assert_array_equal(getattr(traj, name)[kept], getattr(ref, name))
    traj.raise_if_failed()                  # an interruption is not a divergence


def test_adaptive_run_is_interrupted_too(monkeypatch):
    """dopri5 at a tolerance that needs ~1e8 steps: stopped like the fixed-step methods."""
    monkeypatch.setattr(_control, "_on_tick", _interrupt_when(lambda c: c.reached[0, 0] > 0))
    with pytest.warns(RuntimeWarning, match="interrupted"):
        traj = odesolve.integrate(SETUP, STATE, t_max=1e7, method="dopri5", rtol=1e-13,
                                  atol=1e-15, n_out=3, progress=False)
    assert traj.interrupted and 0 < float(traj.t_fail) < 1e7
    assert np.isfinite(traj.Q[0]).all() and np.isnan(traj.Q[1:]).all()


def test_uninterrupted_runs_are_not_flagged(recwarn):
    traj = odesolve.integrate(SETUP, STATE, t_max=5.0, progress=False)
    assert not traj.interrupted and traj.success
    assert not [w for w in recwarn if "interrupted" in str(w.message)]


# --- batches ------------------------------------------------------------------------------------
def test_batch_keeps_finished_members_and_stops_the_others(monkeypatch):
    """Three quick members and one that needs ~1e9 steps: after the quick ones are done, Ctrl-C
    stops the slow one; the quick ones equal their single runs bit for bit."""
    y0 = [[1.0, 0.0]] * 4
    p = [[1.0], [2.0], [3.0], [1e6]]             # rotation rates; member 3 is slow
    t = np.linspace(0.0, 1000.0, 11)
    # a thread takes PRANGE_CHUNK = 4 members in the driver's shuffled order, in which member
    # 3 comes last; the deadline only keeps a changed order from hanging the test
    deadline = time.perf_counter() + 10.0
    monkeypatch.setattr(_control, "_on_tick", _interrupt_when(
        lambda c: c.n_done >= 3 or time.perf_counter() > deadline))
    res = solve(ROTATION, y0, p, t, method="dopri5", on_interrupt="return")
    np.testing.assert_array_equal(res.status, [OK, OK, OK, INTERRUPTED])
    assert res.interrupted and not res.success
    res.raise_on_failure()                       # INTERRUPTED is not a failure
    for b in range(3):
        single = solve(ROTATION, y0[b], p[b], t, method="dopri5")
        np.testing.assert_array_equal(res.y[b], single.y)
    assert 0.0 <= res.t_fail[3] < 1000.0
    kept = t <= res.t_fail[3]
    assert np.isfinite(res.y[3, kept]).all() and np.isnan(res.y[3, ~kept]).all()


def test_integrate_batch_interrupted_returns_every_member(monkeypatch):
    """Members not started yet when Ctrl-C comes stop at t = 0 with their initial state."""
    states = odesolve.Overlaps.random(2, 2, seed=1, student_std=0.1, readout_std=0.1, batch=3)
    monkeypatch.setattr(_control, "_on_tick",
                        _interrupt_when(lambda c: np.any(c.reached[:, 0] > 0.01)))
    with pytest.warns(RuntimeWarning, match=r"3 of 3 members stopped before the end \(the "
                                             r"furthest at t = "):
        traj = odesolve.integrate(SETUP, states, t_max=1000.0, method="euler", dt=1e-6,
                                  n_out=1001, progress=False)
    np.testing.assert_array_equal(traj.status, INTERRUPTED)
    assert traj.interrupted and np.max(traj.t_fail) > 0.01
    for b in range(3):
        kept = traj.t <= traj.t_fail[b]
        assert np.isfinite(traj.eps_g[b, kept]).all() and np.isnan(traj.eps_g[b, ~kept]).all()


def test_solve_reraises_after_a_clean_stop_by_default(monkeypatch):
    monkeypatch.setattr(_control, "_on_tick", _interrupt_when(lambda c: True))
    tic = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        solve(ROTATION, [1.0, 0.0], [1e6], [0.0, 1000.0], method="rk4", dt=1e-6)
    assert time.perf_counter() - tic < 5


def test_integrate_batch_shows_members_done(monkeypatch, capsys):
    """A batch shows the same bar, counting finished members."""
    monkeypatch.setattr(_control, "PROGRESS_DELAY", 0.0)
    states = odesolve.Overlaps.random(2, 2, seed=1, student_std=0.1, readout_std=0.1, batch=4)
    odesolve.integrate(SETUP, states, t_max=1.0, method="euler", dt=1e-5, n_out=3)
    err = capsys.readouterr().err
    assert "integrating:" in err and "4/4 members done" in err


def test_progress_bar_only_when_asked_and_long(monkeypatch, capsys):
    monkeypatch.setattr(_control, "PROGRESS_DELAY", 0.0)
    run = dict(t_max=2.0, method="euler", dt=1e-5, n_out=3)      # ~0.2 s
    odesolve.integrate(SETUP, STATE, **run)
    err = capsys.readouterr().err
    assert "integrating:" in err and "t = 2 / 2" in err and "100%" in err
    odesolve.integrate(SETUP, STATE, progress=False, **run)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(_control, "PROGRESS_DELAY", 60.0)       # a short run: no bar
    odesolve.integrate(SETUP, STATE, **run)
    assert capsys.readouterr().err == ""


def test_trajectory_interruption_is_not_divergence():
    """raise_if_failed names only diverged members; INTERRUPTED ones are left to
    `interrupted` (rule stated in Trajectory.raise_if_failed)."""
    n, K, M = 3, 2, 2
    traj = Trajectory(np.arange(n, dtype=float), np.zeros((2, n, K, K)), np.zeros((2, n, K, M)),
                      np.zeros((2, n, K)), np.zeros((2, n)), np.eye(M), np.ones(M), SETUP,
                      np.array([INTERRUPTED, OK]), np.array([1.0, np.nan]))
    assert traj.interrupted and traj.raise_if_failed() is traj
    traj.status = np.array([INTERRUPTED, 1])
    with pytest.raises(DivergenceError, match="1 member"):
        traj.raise_if_failed()
    res = SolverResult(np.arange(2.0), np.zeros((2, 2, 1)), np.array([INTERRUPTED, OK]),
                       np.array([0.5, np.nan]), *[np.zeros(2, dtype=int)] * 3, "rk4")
    assert res.interrupted and "interrupted" in res.message(0)


# --- the worker thread and Numba's threading layer ----------------------------------------------
@numba.njit(cache=True, nogil=True)
def _thread_id_rhs(t, y, p, work, out):
    """y' = id of the Numba thread evaluating it (one Euler step of 1 records it)."""
    out[0] = numba.get_thread_id()


THREAD_ID = Problem(_thread_id_rhs, name="thread_id")


def test_worker_uses_the_callers_numba_thread_count():
    """numba.set_num_threads is per thread; the worker must apply the caller's setting."""
    n_before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        res = solve(THREAD_ID, np.zeros((64, 1)), None, [0.0, 1.0], method="euler", dt=1.0)
        np.testing.assert_array_equal(res.y[:, 1, 0], 0.0)
    finally:
        numba.set_num_threads(n_before)
    res = solve(THREAD_ID, np.zeros((64, 1)), None, [0.0, 1.0], method="euler", dt=1.0)
    assert set(res.y[:, 1, 0]) <= set(range(n_before))


def test_solve_from_another_thread_gives_the_same_results():
    """Called from a non-main thread (e.g. a thread pool), the kernel runs in that thread
    (no Ctrl-C can arrive there): same numbers as from the main thread."""
    rng = np.random.default_rng(2)
    y0 = rng.uniform(0.05, 0.9, size=(6, 2))
    t = np.linspace(0.0, 3.0, 7)
    main = solve(LOGISTIC, y0, [1.5, 1.0], t, method="dopri5")
    out = {}
    worker = threading.Thread(target=lambda: out.setdefault(
        "res", solve(LOGISTIC, y0, [1.5, 1.0], t, method="dopri5")))
    worker.start()
    worker.join()
    np.testing.assert_array_equal(out["res"].y, main.y)
    np.testing.assert_array_equal(out["res"].n_rhs, main.n_rhs)


def test_parallel_kernel_from_a_worker_thread_under_workqueue():
    """The workqueue layer aborts on concurrent launches; launched from the (single) worker
    thread while the caller waits, a batch gives the serial results."""
    code = textwrap.dedent("""
        import numba, numpy as np
        from odesolve.solvers import solve
        from odesolve.solvers.testproblems import LOGISTIC
        rng = np.random.default_rng(1)
        y0 = rng.uniform(0.05, 0.9, size=(16, 2))
        t = np.linspace(0.0, 3.0, 7)
        batch = solve(LOGISTIC, y0, [1.5, 1.0], t, method="dopri5")
        same = all(np.array_equal(batch.y[i], solve(LOGISTIC, y0[i], [1.5, 1.0], t,
                                                    method="dopri5").y) for i in range(16))
        print(numba.threading_layer(), same)
    """)
    env = dict(_env(), NUMBA_THREADING_LAYER="workqueue")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["workqueue", "True"]


# --- a real Ctrl-C --------------------------------------------------------------------------------
_SIGINT_SCRIPT = textwrap.dedent("""
    import json, signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import numpy as np, odesolve
    from odesolve.solvers import _control
    _control.PROGRESS_DELAY = 0.2
    setup = odesolve.TeacherStudent(K=2, M=2, activation="erf", eta=0.5)
    state = odesolve.Overlaps.random(2, 2, seed=0, student_std=0.1, readout_std=0.1)
    odesolve.integrate(setup, state, t_max=0.1, method="euler", dt=1e-3, n_out=3)  # compile
    print("running", flush=True)
    traj = odesolve.integrate(setup, state, t_max=100.0, method="euler", dt=1e-6, n_out=1001)
    kept = traj.t <= traj.t_fail
    print(json.dumps({"status": int(traj.status), "t_fail": float(traj.t_fail),
                      "kept_finite": bool(np.isfinite(traj.eps_g[kept]).all()),
                      "rest_nan": bool(np.isnan(traj.eps_g[~kept]).all()),
                      "n_kept": int(kept.sum())}))
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_sigint_stops_a_long_integration_in_a_subprocess():
    """1e8 Euler steps (~100 s); SIGINT after 1.5 s: the process prints the partial result
    (status 5, outputs up to t_fail) and exits normally within seconds."""
    proc = subprocess.Popen([sys.executable, "-c", _SIGINT_SCRIPT], cwd=ROOT, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "running"
        time.sleep(1.5)
        tic = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        took = time.perf_counter() - tic
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == INTERRUPTED and 0 < result["t_fail"] < 100
    assert result["kept_finite"] and result["rest_nan"] and result["n_kept"] >= 1
    assert took < 5, took
    assert "integrating:" in err and "interrupted" in err
