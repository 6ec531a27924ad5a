"""Sweep files: unreadable parts and results are named with the way out, a different sweep's
result is not overwritten, an identical one is reused, one output path has one writer."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import odesolve
from odesolve import TeacherStudent
from odesolve.sweeps import SweepFileError, load_sweep, runner
from odesolve.sweeps.runner import OutputLock

SETUP = TeacherStudent(2, 2, "erf", eta=1.0)
KW = dict(axes={"eta": [0.5, 1.0]}, init={"student_std": 0.3}, replicas=3, t_max=5.0,
          n_out=6, chunk_size=2, progress=False)                       # 3 chunks


@pytest.fixture(scope="module")
def clean():
    """The sweep computed in memory, no files involved."""
    return odesolve.sweep(SETUP, **KW)


def _same(res, ref):
    assert sorted(res.data) == sorted(ref.data)
    for k in ref.data:
        np.testing.assert_array_equal(res[k], ref[k])


def _interrupted(path, monkeypatch, after=2):
    """Run the sweep to ``path`` and stop it (Ctrl-C) after ``after`` chunks."""
    real, calls = runner.run_chunk, []

    def stop(*args):
        calls.append(1)
        if len(calls) > after:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(runner, "run_chunk", stop)
    with pytest.raises(KeyboardInterrupt):
        odesolve.sweep(SETUP, out=path, **KW)
    monkeypatch.setattr(runner, "run_chunk", real)
    parts = sorted(path.with_name(path.name + ".parts").glob("chunk_*.npz"))
    assert len(parts) == after
    return parts


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_truncated_part_file_is_named_with_the_way_out(tmp_path, monkeypatch, clean):
    path = tmp_path / "s.npz"
    parts = _interrupted(path, monkeypatch)
    _truncate(parts[0])
    with pytest.raises(SweepFileError) as err:
        odesolve.sweep(SETUP, out=path, **KW)
    assert isinstance(err.value, ValueError) and err.value.path == parts[0]
    assert str(parts[0]) in str(err.value) and "restart=True" in str(err.value)
    assert "delete it" in str(err.value) and not path.exists()
    # way out 1: delete the bad part; its chunk is computed again, the rest resumed
    parts[0].unlink()
    res = odesolve.sweep(SETUP, out=path, **KW)
    assert res.info["chunks_resumed"] == 1
    _same(res, clean)
    _same(load_sweep(path), clean)


def test_restart_gets_past_a_truncated_part_file(tmp_path, monkeypatch, clean):
    path = tmp_path / "s.npz"
    _truncate(_interrupted(path, monkeypatch)[1])
    with pytest.raises(SweepFileError):
        odesolve.sweep(SETUP, out=path, **KW)
    res = odesolve.sweep(SETUP, out=path, restart=True, **KW)
    assert res.info["chunks_resumed"] == 0
    _same(res, clean)


def test_unreadable_spec_of_the_parts_is_named(tmp_path, monkeypatch):
    path = tmp_path / "s.npz"
    _interrupted(path, monkeypatch)
    spec_file = path.with_name(path.name + ".parts") / "spec.json"
    spec_file.write_text('{"fingerprint": ')
    with pytest.raises(SweepFileError, match="restart=True") as err:
        odesolve.sweep(SETUP, out=path, **KW)
    assert err.value.path == spec_file


def test_corrupt_result_given_to_load_sweep_names_the_file(tmp_path, clean):
    path = tmp_path / "s.npz"
    odesolve.sweep(SETUP, out=path, **KW)
    _same(load_sweep(path), clean)
    _truncate(path)
    with pytest.raises(SweepFileError, match="truncated or corrupt") as err:
        load_sweep(path)
    assert err.value.path == path and str(path) in str(err.value)
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(SweepFileError, match="truncated or corrupt"):
        load_sweep(path)
    with pytest.raises(SweepFileError, match="no such"):
        load_sweep(tmp_path / "missing.npz")
    odesolve.io.save_npz(path, {"x": np.zeros(3)}, {"run": {}})
    with pytest.raises(SweepFileError, match="not an odesolve sweep result"):
        load_sweep(path)


def test_result_of_a_different_sweep_is_not_overwritten(tmp_path):
    path = tmp_path / "s.npz"
    odesolve.sweep(SETUP, out=path, **KW)
    before = path.read_bytes()
    other = {**KW, "replicas": 2}
    with pytest.raises(SweepFileError) as err:
        odesolve.sweep(SETUP, out=path, **other)
    assert err.value.path == path and "different sweep" in str(err.value)
    assert "overwrite=True" in str(err.value) and "another output path" in str(err.value)
    assert path.read_bytes() == before                     # untouched
    res = odesolve.sweep(SETUP, out=path, overwrite=True, **other)
    assert load_sweep(path).spec.fingerprint() == res.spec.fingerprint()
    assert load_sweep(path)["status"].shape == (2, 2)
    # a file that is no sweep result is not replaced either, unless asked
    path.write_bytes(b"something else")
    with pytest.raises(SweepFileError, match="overwrite=True"):
        odesolve.sweep(SETUP, out=path, **KW)
    assert path.read_bytes() == b"something else"
    odesolve.sweep(SETUP, out=path, overwrite=True, **KW)
    assert load_sweep(path)["status"].shape == (2, 3)


def test_identical_sweep_is_returned_without_recomputing(tmp_path, monkeypatch, clean):
    path = tmp_path / "s.npz"
    odesolve.sweep(SETUP, out=path, **KW)
    real, calls = runner.run_chunk, []

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(runner, "run_chunk", counting)
    res = odesolve.sweep(SETUP, out=path, **KW)
    assert res.info["reused"] is True and not calls
    _same(res, clean)
    assert res.dims == clean.dims and res.spec.dims == clean.spec.dims
    res = odesolve.sweep(SETUP, out=path, restart=True, **KW)
    assert res.info["reused"] is False and len(calls) == 3
    _same(res, clean)


def test_a_held_lock_refuses_a_second_run(tmp_path):
    """A concurrent run on the same output path, simulated by holding its lock."""
    path = tmp_path / "s.npz"
    lock = tmp_path / "s.npz.lock"
    with OutputLock(path):
        holder = json.loads(lock.read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        with pytest.raises(SweepFileError) as err:
            odesolve.sweep(SETUP, out=path, **KW)
        assert err.value.path == lock
        assert str(lock) in str(err.value) and f"pid {os.getpid()}" in str(err.value)
        assert not path.exists() and not (tmp_path / "s.npz.parts").exists()
    assert not lock.exists()                                # released on exit
    odesolve.sweep(SETUP, out=path, **KW)
    assert path.exists() and not lock.exists()


def test_lock_of_another_host_is_refused(tmp_path):
    path = tmp_path / "s.npz"
    lock = tmp_path / "s.npz.lock"
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "started": "then"}))
    with pytest.raises(SweepFileError, match="elsewhere.example") as err:
        odesolve.sweep(SETUP, out=path, **KW)
    assert "delete this lock file" in str(err.value) and lock.exists()


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, clean):
    path = tmp_path / "s.npz"
    lock = tmp_path / "s.npz.lock"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(),
                                "started": "earlier"}))
    res = odesolve.sweep(SETUP, out=path, **KW)
    _same(res, clean)
    assert not lock.exists()


def test_lock_is_released_when_a_run_is_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "s.npz"
    _interrupted(path, monkeypatch)
    assert not (tmp_path / "s.npz.lock").exists()
