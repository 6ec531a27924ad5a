"""Command line: run a config, errors that name the key, atomic results with the config;
output paths checked before work, one-line errors with the documented exit codes, per-command
help."""
import errno
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import odesolve
from odesolve import cli
from odesolve.cli import main
from odesolve.io import OutputPathError, atomic_path, check_writable, load_npz, save_npz

CONFIG = """
[setup]
K = 2
M = 2
activation = "erf"
eta = 0.8

[init]
kind = "overlaps"
Q = [[0.5, 0.1], [0.1, 0.4]]
R = [[0.1, 0.0], [0.0, 0.05]]
T = [[1.0, 0.0], [0.0, 1.0]]
v = [0.3, 0.2]
v_star = [1.0, 1.0]

[solver]
method = "rk4"
dt = 0.05
t_max = 20.0
n_out = 21

[output]
plot = true
"""


def test_run_writes_results_with_embedded_config_and_a_figure(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / "res" / "run.npz"
    assert main(["run", str(cfg), "-o", str(out)]) == 0
    arrays, config = load_npz(out)
    assert arrays["Q"].shape == (21, 2, 2) and arrays["eps_g"].shape == (21,)
    np.testing.assert_allclose(arrays["Q"][0], [[0.5, 0.1], [0.1, 0.4]])
    assert config["setup"]["eta"] == 0.8 and config["solver"]["method"] == "rk4"
    assert out.with_suffix(".png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert str(out.resolve()) in printed
    assert not list(out.parent.glob(".*"))           # no temporary files left behind


@pytest.mark.parametrize("bad, needle", [
    ("eta = 0.8", "eta = -1.0"),
    ("K = 2\n", "K = 2\nwidth = 3\n"),
    ('kind = "overlaps"', 'kind = "weights"'),
])
def test_bad_config_errors_name_the_key(tmp_path, capsys, bad, needle):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(CONFIG.replace(bad, needle, 1))
    assert main(["run", str(cfg), "-o", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err
    key = {"eta = -1.0": "`eta`", "K = 2\nwidth = 3\n": "width", 'kind = "weights"': "kind"}
    assert key[needle] in err


def test_missing_config_file_is_reported(capsys):
    assert main(["run", "/nonexistent/run.toml"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_help_lists_examples():
    proc = subprocess.run([sys.executable, "-m", "odesolve", "--help"], capture_output=True,
                          text=True, check=True)
    assert "odesolve run" in proc.stdout and "odesolve derive --check" in proc.stdout


def test_print_default_is_a_valid_config(tmp_path, capsys):
    assert main(["run", "--print-default"]) == 0
    text = capsys.readouterr().out
    from odesolve import config
    conf = config.tomllib.loads(text)
    setup = config.setup_from_config(conf)
    assert setup.K == 2 and config.state_from_config(conf, setup).K == 2


def test_stability_command_writes_curves_and_figure(tmp_path, capsys):
    import json

    assert main(["stability", "--K", "2", "--n-eta", "6", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "eta_max" in out and "eta_opt" in out
    d = json.loads((tmp_path / "stability-K2-erf.json").read_text())
    assert (tmp_path / "stability-K2-erf.png").stat().st_size > 10_000
    assert 0 < d["eta_opt"] < d["eta_max"]
    decay = np.array(d["decay_rate"])
    eta = np.array(d["eta"])
    assert np.all(decay[eta < d["eta_max"]] > 0) and np.all(decay[eta > d["eta_max"]] < 0)
    assert main(["stability", "--K", "2", "--activation", "relu", "-o", str(tmp_path)]) == 2
    assert "for erf units" in capsys.readouterr().err


# -- the command line a new user meets: schema errors, output paths, exit codes, help --------
COMPARE_CONFIG = CONFIG.replace("[output]\nplot = true", """[simulation]
N = 400
seeds = 6
""").replace('method = "rk4"\ndt = 0.05\nt_max = 20.0\nn_out = 21',
             'method = "dopri5"\nt_max = 2.0\nn_out = 5')

DIVERGING = """
[setup]
K = 2
M = 2
activation = "linear"
eta = 8.0
eta_v = 0.0

[init]
N = 1000
student_std = 0.5
readout_std = 1.0
seed = 0

[solver]
method = "rk4"
dt = 0.01
t_max = 10.0
n_out = 11
"""

DIVERGING_SWEEP = """
[setup]
K = 2
M = 2
activation = "linear"
eta_v = 0.0

[init]
N = 1000
student_std = 0.5
readout_std = 1.0

[sweep]
replicas = 2

[sweep.axes]
eta = [0.5, 8.0]

[solver]
method = "rk4"
dt = 0.01
t_max = 10.0
n_out = 11
"""

SMALL_SWEEP = """
[setup]
K = 2
M = 2

[init]
student_std = 0.2

[sweep]
replicas = 2

[sweep.axes]
eta = [0.5, 1.0]

[solver]
t_max = 5.0
n_out = 6
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def one_error_line(err: str, command: str) -> str:
    """The single stderr line of an expected failure (no traceback)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and lines[0].startswith(f"odesolve {command}: ")
    return lines[0]


def cli_subprocess(*args, cwd):
    return subprocess.run([sys.executable, "-m", "odesolve", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_result_path_follows_the_one_base_rule(tmp_path):
    rp = cli.result_path
    assert rp("run", None, None, "a/my.toml") == Path("odesolve-out/my.npz")
    assert rp("compare", None, None, "a/my.toml") == Path("odesolve-out/my-compare.json")
    assert rp("sweep", None, None, "a/my.toml") == Path("odesolve-out/my-sweep.npz")
    assert rp("run", None, None, None) == Path("odesolve-out/default.npz")
    # [output] path = "odesolve-out/default.npz" (the built-in default) serves both commands
    assert rp("run", None, "out/default.npz", None) == Path("out/default.npz")
    assert rp("compare", None, "out/default.npz", None) == Path("out/default-compare.json")
    # -o wins over [output] path; the command's own suffix names the file itself
    assert rp("compare", "x/r.json", "out/default.npz", "c.toml") == Path("x/r.json")
    assert rp("sweep", "x/base", None, "c.toml") == Path("x/base-sweep.npz")
    assert rp("run", "x/base.v2", None, "c.toml") == Path("x/base.v2.npz")
    # an existing directory receives the files of the config's name
    assert rp("compare", str(tmp_path), None, "c.toml") == tmp_path / "c-compare.json"


def test_run_then_compare_on_one_config_keep_both_sets_of_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "both.toml", COMPARE_CONFIG)
    assert main(["run", "both.toml"]) == 0
    out = tmp_path / "odesolve-out"
    figure = (out / "both.png").read_bytes()
    assert main(["compare", "both.toml", "-q"]) in (0, 1)        # the verdict is not the point
    assert sorted(p.name for p in out.iterdir()) == ["both-compare.json", "both-compare.png",
                                                     "both.npz", "both.png"]
    assert (out / "both.png").read_bytes() == figure              # run's figure untouched
    assert "expected duration" in capsys.readouterr().out


@pytest.mark.parametrize("make_bad, reason", [
    # -o under a regular file: its parent can never be created
    (lambda d: (d / "file.txt").write_text("x") and (d / "file.txt" / "x.json",) * 2,
     "not a directory"),
    # -o base x whose report x-compare.json is taken by a directory
    (lambda d: (d / "x-compare.json").mkdir() or (d / "x", d / "x-compare.json"),
     "is a directory"),
])
def test_unwritable_output_is_refused_before_any_simulation(tmp_path, monkeypatch, capsys,
                                                            make_bad, reason):
    import odesolve.comparison as comparison

    def must_not_run(*a, **k):
        raise AssertionError("the simulation started")

    monkeypatch.setattr(comparison, "compare", must_not_run)
    monkeypatch.setattr(comparison, "estimate_duration", must_not_run)
    cfg = write(tmp_path, "cmp.toml", COMPARE_CONFIG)
    option, target = make_bad(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(["compare", cfg, "-o", str(option), "-q"]) == 2
    line = one_error_line(capsys.readouterr().err, "compare")
    assert f"cannot write {target}:" in line and reason in line
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing left behind


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs POSIX permissions and a non-root user")
def test_read_only_directory_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputPathError, match="cannot create files"):
            check_writable(ro / "sub" / "x.npz")
    finally:
        ro.chmod(0o755)


def test_output_option_naming_a_directory_writes_inside_it(tmp_path, capsys):
    cfg = write(tmp_path, "run.toml", CONFIG)
    target = tmp_path / "results"
    target.mkdir()
    assert main(["run", cfg, "-o", str(target)]) == 0
    assert sorted(p.name for p in target.iterdir()) == ["run.npz", "run.png"]


def test_atomic_path_leaves_no_temporary_file_when_the_rename_fails(tmp_path):
    target = tmp_path / "taken.npz"
    target.mkdir()
    with pytest.raises(OSError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"data")
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "x.json") as tmp:
            tmp.write_text("partial")
            raise RuntimeError("writer failed")
    assert [p.name for p in tmp_path.iterdir()] == ["taken.npz"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_files_get_the_permissions_of_a_new_file(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        with atomic_path(tmp_path / "a.json") as tmp:
            tmp.write_text("{}")
        save_npz(tmp_path / "b.npz", {"x": np.zeros(2)})
        with open(tmp_path / "plain", "w"):                        # what open() makes
            pass
    finally:
        os.umask(old)
    for name in ("a.json", "b.npz", "plain"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name


def test_check_writable_accepts_new_directories(tmp_path):
    assert check_writable(tmp_path / "new" / "deeper" / "x.npz") == tmp_path / "new" / \
        "deeper" / "x.npz"
    assert not (tmp_path / "new").exists()                           # nothing created


@pytest.mark.parametrize("args, code, needle", [
    (["run", "{tmp}/missing.toml"], 2, "does not exist"),
    (["run", "{tmp}/bad.toml"], 2, "[solver] `t_max` must be a real number, got the string"),
    (["compare", "{tmp}/cmp.toml", "-o", "{tmp}/file.txt/x.json"], 2, "not a directory"),
    (["plot", "{tmp}/garbage.npz"], 2, "truncated or corrupt"),
    (["stability", "--K", "0"], 2, "`--K` must be an integer >= 1, got 0"),
    (["run", "{tmp}/div.toml", "-o", "{tmp}/div"], 3, "1 of 1 member(s) diverged"),
])
def test_subprocess_prints_one_line_and_the_documented_exit_code(tmp_path, args, code, needle):
    write(tmp_path, "bad.toml", CONFIG.replace("t_max = 20.0", 't_max = "100"'))
    write(tmp_path, "cmp.toml", COMPARE_CONFIG)
    write(tmp_path, "div.toml", DIVERGING)
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "garbage.npz").write_bytes(b"this is not a zip archive")
    args = [a.format(tmp=tmp_path) for a in args]
    proc = cli_subprocess(*args, cwd=tmp_path)
    assert proc.returncode == code, proc.stderr
    assert needle in one_error_line(proc.stderr, args[0])


def test_diverging_run_writes_results_and_exits_3(tmp_path, capsys):
    cfg = write(tmp_path, "div.toml", DIVERGING)
    out = tmp_path / "div.npz"
    assert main(["run", cfg, "-o", str(out)]) == 3
    arrays, _ = load_npz(out)
    assert arrays["status"] != 0 and out.with_suffix(".png").exists()
    line = one_error_line(capsys.readouterr().err, "run")
    assert f"first at t = {float(arrays['t_fail']):.6g}" in line


def test_diverging_sweep_exits_3_and_counts_the_members(tmp_path, capsys):
    cfg = write(tmp_path, "div.toml", DIVERGING_SWEEP)
    out = tmp_path / "div.npz"
    assert main(["sweep", cfg, "-o", str(out), "-q"]) == 3
    res = odesolve.load_sweep(out)
    failed = res["status"] != 0
    assert failed.any() and not failed.all()
    line = one_error_line(capsys.readouterr().err, "sweep")
    first = res["t_fail"][failed].min()
    assert f"{failed.sum()} of {failed.size} member(s) diverged (first at t = {first:.6g}" \
        in line
    assert (tmp_path / "div-eps_g.png").exists()


def test_sweep_refuses_a_different_finished_result_unless_overwrite(tmp_path, capsys):
    first = write(tmp_path, "a.toml", SMALL_SWEEP)
    other = write(tmp_path, "b.toml", SMALL_SWEEP.replace("replicas = 2", "replicas = 3"))
    out = str(tmp_path / "res.npz")
    assert main(["sweep", first, "-o", out, "-q", "--no-plot"]) == 0
    assert main(["sweep", first, "-o", out, "-q", "--no-plot"]) == 0
    assert "not recomputed" in capsys.readouterr().out
    assert main(["sweep", other, "-o", out, "-q", "--no-plot"]) == 2
    assert "--overwrite" in one_error_line(capsys.readouterr().err, "sweep")
    assert main(["sweep", other, "-o", out, "-q", "--no-plot", "--overwrite"]) == 0
    assert odesolve.load_sweep(out).spec.replicas == 3


def test_ctrl_c_exits_130_with_one_line(tmp_path, monkeypatch, capsys):
    import odesolve.comparison
    import odesolve.integration
    import odesolve.scenarios
    import odesolve.sweeps

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    def interrupt_sweep(spec, out=None, scheduler=None, progress=True, restart=False,
                        overwrite=False):
        raise KeyboardInterrupt

    monkeypatch.setattr(odesolve.integration, "integrate", interrupt)
    monkeypatch.setattr(odesolve.comparison, "compare", interrupt)
    monkeypatch.setattr(odesolve.comparison, "estimate_duration", lambda *a: 1.0)
    monkeypatch.setattr(odesolve.sweeps, "run_spec", interrupt_sweep)
    monkeypatch.setattr(odesolve.scenarios, "run_scenario", interrupt)
    run = write(tmp_path, "run.toml", CONFIG)
    cmp_ = write(tmp_path, "cmp.toml", COMPARE_CONFIG)
    sweep = write(tmp_path, "s.toml", SMALL_SWEEP)
    for args in (["run", run], ["compare", cmp_, "-q"], ["sweep", sweep, "-q"],
                 ["scenario", "forgetting"]):
        assert main(args + ["-o", str(tmp_path / "o")]) == 130, args
        err = capsys.readouterr().err
        if args[0] != "sweep":               # the sweep runner itself says what is kept
            assert "interrupted" in one_error_line(err, args[0])


def test_interrupted_run_writes_the_partial_result_and_exits_130(tmp_path, monkeypatch,
                                                                 capsys):
    import dataclasses

    import odesolve.integration
    from odesolve.solvers import INTERRUPTED

    real = odesolve.integration.integrate

    def stopped_at_t_5(*a, **k):
        traj = real(*a, **k)
        after = traj.t > 5.0
        return dataclasses.replace(traj, eps_g=np.where(after, np.nan, traj.eps_g),
                                   status=np.asarray(INTERRUPTED), t_fail=np.asarray(5.0))

    monkeypatch.setattr(odesolve.integration, "integrate", stopped_at_t_5)
    cfg = write(tmp_path, "run.toml", CONFIG)
    out = tmp_path / "part.npz"
    assert main(["run", cfg, "-o", str(out)]) == 130
    arrays, _ = load_npz(out)
    assert arrays["status"] == INTERRUPTED and out.with_suffix(".png").exists()
    assert "interrupted (Ctrl-C) at t = 5" in one_error_line(capsys.readouterr().err, "run")


def test_write_failure_after_the_work_exits_4(tmp_path, monkeypatch, capsys):
    import odesolve.io

    def disk_full(path, *a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(odesolve.io, "save_npz", disk_full)
    cfg = write(tmp_path, "run.toml", CONFIG)
    assert main(["run", cfg, "-o", str(tmp_path / "r.npz")]) == 4
    line = one_error_line(capsys.readouterr().err, "run")
    assert os.strerror(errno.ENOSPC) in line and "r.npz" in line


def test_corrupt_or_wrong_input_files_are_one_line_errors(tmp_path, capsys):
    np.savez(tmp_path / "real.npz", x=np.arange(1000.0))
    data = (tmp_path / "real.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(data[: len(data) // 2])
    save_npz(tmp_path / "run-result.npz", {"x": np.zeros(3)}, config={"setup": {"K": 2}})
    cases = {"truncated.npz": "truncated or corrupt", "run-result.npz": "not an odesolve sweep",
             "missing.npz": "does not exist"}
    for name, needle in cases.items():
        assert main(["plot", str(tmp_path / name)]) == 2, name
        assert needle in one_error_line(capsys.readouterr().err, "plot"), name
    with pytest.raises(zipfile.BadZipFile):                      # the premise of the case
        zipfile.ZipFile(tmp_path / "truncated.npz")


@pytest.mark.parametrize("args, option", [
    (["stability", "--K", "0"], "--K"), (["stability", "--n-eta", "1"], "--n-eta"),
    (["stability", "--sigma", "-1"], "--sigma"), (["stability", "--sigma", "nan"], "--sigma"),
    (["stability", "--K", "2.5"], "--K"), (["scenario", "ewc", "--seeds", "1"], "--seeds"),
    (["scenario", "ewc", "--N", "0"], "--N"), (["stability", "--activation", "erff"],
                                                "--activation"),
    (["run", "-o", ""], "--output"),
])
def test_bad_option_values_are_one_line_errors(capsys, args, option):
    assert main(args) == 2
    assert option in one_error_line(capsys.readouterr().err, args[0])


COMMANDS = ("run", "derive", "compare", "sweep", "plot", "scenario", "stability", "optimise")


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_help_shows_only_its_own_examples(capsys, command):
    assert main([command, "--help"]) == 0
    examples = capsys.readouterr().out.split("examples:")[1]
    assert set(re.findall(r"\bodesolve (\w+)", examples)) == {command}
    assert "exit codes" not in examples


def test_top_level_help_lists_every_command_and_the_exit_codes():
    proc = subprocess.run([sys.executable, "-m", "odesolve", "--help"], capture_output=True,
                          text=True, check=True)
    text = proc.stdout
    for command in COMMANDS:
        assert f"odesolve {command}" in text
    codes = text.split("exit codes:")[1]
    for code in (cli.EXIT_OK, cli.EXIT_CHECK_FAILED, cli.EXIT_BAD_INPUT, cli.EXIT_DIVERGED,
                 cli.EXIT_FILE_SYSTEM, cli.EXIT_INTERRUPTED):
        assert re.search(rf"^  {code} ", codes, re.M), code
    assert codes.split("\n\n")[0] in cli.__doc__                  # one table, two places


def test_misspelt_section_is_refused_at_the_command_line(tmp_path, capsys):
    cfg = write(tmp_path, "cmp.toml", COMPARE_CONFIG.replace("[simulation]", "[simulaton]"))
    assert main(["compare", cfg, "-q"]) == 2
    line = one_error_line(capsys.readouterr().err, "compare")
    assert "unknown section [simulaton]; did you mean [simulation]?" in line


def test_unknown_option_is_reported_by_the_command_it_was_given_to(capsys):
    assert main(["run", "--ax"]) == 2
    assert capsys.readouterr().err == ("odesolve run: error: unrecognized arguments: --ax; see "
                                       "`odesolve run --help`.\n")
    assert main(["--ax"]) == 2                     # no command: the top-level parser says it
    assert capsys.readouterr().err.startswith("odesolve: error: unrecognized arguments: --ax")


@pytest.mark.parametrize("command, text, needle", [
    ("run", CONFIG.replace("v_star = [1.0, 1.0]", "v_star = [1.0, 1.0, 1.0]"), "[init]"),
    ("run", CONFIG.replace("K = 2", "K = 3"), "[init] `Q`, `R`"),      # overlaps of K = 2
    ("run", CONFIG.replace("dt = 0.05", "dt = 5.0"), "[solver] `dt`"),
    ("compare", COMPARE_CONFIG.replace("n_out = ", "dt = 5.0\nn_out = "), "[solver] `dt`"),
    ("sweep", SMALL_SWEEP.replace("student_std = 0.2", "v_star = [1.0]\nstudent_std = 0.2")
     .replace("M = 2", "M = 3"), "[init] `v_star`"),
])
def test_rules_across_keys_name_the_file_before_any_work(tmp_path, capsys, command, text,
                                                         needle):
    """Checked when the objects are built from the file, before anything is printed or
    written: one line naming the file, the section and the key."""
    path = write(tmp_path, "cfg.toml", text)
    assert main([command, path, "-o", str(tmp_path / "out" / "r")]) == 2
    out, err = capsys.readouterr()
    line = one_error_line(err, command)
    assert line.startswith(f"odesolve {command}: error: cfg.toml: ") and needle in line, line
    assert out == "" and sorted(p.name for p in tmp_path.iterdir()) == ["cfg.toml"]


def test_compare_without_config_points_to_the_example(capsys):
    assert main(["compare"]) == 2
    assert "--print-example" in one_error_line(capsys.readouterr().err, "compare")


def test_fallback_duration_estimate_is_steps_over_rate(monkeypatch):
    import odesolve.comparison

    monkeypatch.delattr(odesolve.comparison, "estimate_duration", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    # 8 seeds on 2 cores: 4 rounds of t_max * N = 2e7 steps at 50 000 steps/s (N = 1e4, K+M = 4)
    setup = odesolve.TeacherStudent(2, 2, "erf", eta=1.0)
    assert cli.expected_compare_duration(setup, 10_000, 8, 2000.0) == pytest.approx(1600.0)
    # a step costs N (K + M): K = M = 4 doubles it, N = 1000 makes it 10 times cheaper
    wide = odesolve.TeacherStudent(4, 4, "erf", eta=1.0)
    assert cli.expected_compare_duration(wide, 10_000, 8, 2000.0) == pytest.approx(3200.0)
    assert cli.expected_compare_duration(setup, 1000, 8, 2000.0) == pytest.approx(16.0)


def test_compare_example_is_quick_and_passes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "--print-example"]) == 0
    text = capsys.readouterr().out
    (tmp_path / "cmp.toml").write_text(text)
    from odesolve import config

    conf = config.validate_config(config.tomllib.loads(text), "compare")
    sim = config.simulation_options(conf)
    assert sim["N"] <= 2000 and 8 <= len(sim["seeds"]) <= 16 and conf["solver"]["t_max"] <= 20
    assert main(["compare", "cmp.toml", "-q"]) == 0
    assert "expected duration" in capsys.readouterr().out
    report = json.loads((tmp_path / "odesolve-out" / "cmp-compare.json").read_text())
    assert report["passed"] and report["info"]["wall_s"] < 60
    assert (tmp_path / "odesolve-out" / "cmp-compare.png").exists()


def test_sweep_held_by_another_run_is_a_one_line_error(tmp_path, capsys):
    import socket

    cfg = write(tmp_path, "a.toml", SMALL_SWEEP)
    out = tmp_path / "res.npz"
    lock = tmp_path / "res.npz.lock"                 # as a live run on this host leaves it
    lock.write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname()}))
    assert main(["sweep", cfg, "-o", str(out), "-q"]) == 2
    assert "res.npz.lock" in one_error_line(capsys.readouterr().err, "sweep")
    assert not out.exists() and lock.exists()
