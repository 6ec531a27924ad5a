"""``odesolve optimise``: the example runs and writes its three files, the numbers it reports
agree with independent runs of the ODE, the optimal schedule is no worse than the constant
baseline, bad configurations and output paths are refused before any work with one line and
exit 2, a diverging start exits 3, Ctrl-C writes the best schedule found so far (exit 130)."""
from __future__ import annotations

import contextlib
import io
import json
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import numpy as np
import pytest

from odesolve import Overlaps, TeacherStudent, committee
from odesolve import config as cfg
from odesolve.cli import main
from odesolve.control import Schedule
from odesolve.control.scheduled import solve_scheduled
from odesolve.io import load_npz
from odesolve.optimise_run import (OptimiseResult, optimise_config, output_paths,
                                   quick_config)

EXAMPLE = cfg.example_text("optimise")


def one_error_line(err: str) -> str:
    """The single stderr line of an expected failure (no traceback)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and lines[0].startswith("odesolve optimise: error: ")
    return lines[0]


def write(tmp_path, text, name="opt.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def final_eps_g(conf: dict, schedule: Schedule, n_steps: int) -> float:
    """eps_g at t_final under ``schedule`` of eta, by the package's RK4 solver restarted at
    every jump of the schedule (not the optimiser's forward pass)."""
    setup = cfg.setup_from_config(conf)
    state = cfg.state_from_config(conf, setup)
    t_final = conf["optimise"]["t_final"]
    res = solve_scheduled(committee.committee_problem(setup), committee.pack_state(state),
                          committee.pack_params(setup, state), np.array([0.0, t_final]),
                          {committee.PARAM_INDEX["eta"]: schedule}, method="rk4",
                          dt=t_final / n_steps)
    P = committee.pack_params(setup, state)
    return float(committee.evaluate_eps_g(setup.activation, res.y, P)[0, -1])


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    """The shipped example through the command line: (output folder, exit code, stdout)."""
    out = tmp_path_factory.mktemp("optimise")
    path = out / "example.toml"
    path.write_text(EXAMPLE)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["optimise", str(path), "-o", str(out / "res"), "-q"])
    return out, code, buf.getvalue()


def test_print_example_is_the_shipped_example_and_valid(capsys):
    assert main(["optimise", "--print-example"]) == 0
    text = capsys.readouterr().out
    assert text == EXAMPLE
    conf = tomllib.loads(text)
    assert cfg.validate_config(conf, "optimise") is conf


def test_example_writes_schedule_json_trajectory_npz_and_figure(example_run):
    out, code, printed = example_run
    assert code == 0
    paths = output_paths(out / "res")
    for path in paths.values():
        assert str(path.resolve()) in printed
    d = json.loads(paths["schedule"].read_text())
    conf = tomllib.loads(EXAMPLE)
    opt = conf["optimise"]
    eta = Schedule.from_dict(d["schedules"]["eta"])
    assert eta.n_values == opt["n_pieces"] and eta.t_end == opt["t_final"]
    assert np.all((eta.values >= opt["eta_min"]) & (eta.values <= opt["eta_max"]))
    assert set(d["protocols"]) == {"optimal", "constant", "setup", "annealing"}
    assert d["config"] == conf and not d["interrupted"]
    arrays, embedded = load_npz(paths["trajectory"])
    assert embedded == conf
    n_rec, B = opt["n_record"], 1
    n = 2 * 2 + 2 * 2 + 2
    assert arrays["t"].shape == (n_rec,) and arrays["t"][-1] == opt["t_final"]
    for name in d["protocols"]:
        assert arrays[f"{name}_y"].shape == (B, n_rec, n)
        assert arrays[f"{name}_eps_g"].shape == (B, n_rec)
        # the recorded schedule is the one in the JSON, read at the recorded times
        sch = Schedule.from_dict(d["protocols"][name]["schedules"]["eta"])
        np.testing.assert_array_equal(arrays[f"{name}_eta"], sch(arrays["t"]))
    assert paths["figure"].stat().st_size > 10_000
    assert not list(out.glob(".*"))                   # no temporary files left behind


def test_reported_objectives_agree_with_an_independent_rk4_run(example_run, validation):
    out, _, _ = example_run
    d = json.loads(output_paths(out / "res")["schedule"].read_text())
    conf = tomllib.loads(EXAMPLE)
    n_steps = d["settings"]["n_steps"]
    worst = 0.0
    for name, p in d["protocols"].items():
        sch = Schedule.from_dict(p["schedules"]["eta"])
        again = final_eps_g(conf, sch, n_steps)
        worst = max(worst, abs(p["objective"] - again) / again)
    validation("control.cli.objective-vs-rk4", area="Optimal protocols",
               claim="`odesolve optimise` reports the objective of every protocol it writes",
               method="eps_g(t_final) of the schedules in the written JSON, re-run by the "
                      "package's RK4 solver restarted at every jump (the shipped example: "
                      "optimal, best constant, [setup] and annealing)",
               measured=worst, bound=1e-9, unit="relative")
    assert worst < 1e-9


def test_optimal_beats_the_best_constant_which_beats_a_grid_of_constants(example_run):
    out, _, _ = example_run
    d = json.loads(output_paths(out / "res")["schedule"].read_text())
    conf = tomllib.loads(EXAMPLE)
    n_steps, t_final = d["settings"]["n_steps"], conf["optimise"]["t_final"]
    objective = {k: p["objective"] for k, p in d["protocols"].items()}
    assert objective["optimal"] <= objective["constant"]
    assert objective["optimal"] <= objective["annealing"]
    grid = [final_eps_g(conf, Schedule([0.0, t_final], [eta]), n_steps)
            for eta in np.linspace(0.25, 3.0, 12)]       # the best constant is best on a grid
    assert objective["constant"] <= min(grid) * (1 + 1e-9)
    assert d["gains"]["constant"] == pytest.approx(objective["constant"] / objective["optimal"])


@pytest.mark.parametrize("edit, key", [
    (("n_pieces = 20", "n_peices = 20"), "`n_peices`; did you mean `n_pieces`?"),
    (("t_final = 100.0", "t_final = -1.0"), "`t_final`"),
    (('schedules = ["eta"]', 'schedules = ["eta", "sigma"]'), "`schedules[1]`"),
    (("eta_max = 5.0", "eta_max = 0.0"), "`eta_max`"),
    (("eta_max = 5.0", "eta_max = -2"), "`eta_max`"),
    (("eta_min = 0.0", "eta_min = 6.0"), "`eta_min` must be below `eta_max`"),
    (('objective = "final"', 'objective = "final"\nw_integral = 1.0'), "`objective`"),
    (('schedules = ["eta"]', 'schedules = ["eta", "eta_v"]'), "[setup] eta_v = 0"),
    (("steps_per_unit = 10", "n_steps = 1001"), "`n_steps` must be a multiple"),
    (('start = "constant"', "start = 7.0"), "[optimise] `start` = 7"),
    (('start = "constant"', 'start = "best"'), "`start`"),
    (("[baselines]", "[baseline]"), "unknown section [baseline]; did you mean [baselines]?"),
])
def test_bad_configuration_is_one_line_naming_the_key_and_exit_2(tmp_path, capsys, edit, key):
    old, new = edit
    assert EXAMPLE.count(old) == 1
    path = write(tmp_path, EXAMPLE.replace(old, new))
    assert main(["optimise", path, "-o", str(tmp_path / "r"), "-q"]) == 2
    captured = capsys.readouterr()
    assert key in one_error_line(captured.err)
    assert captured.out == ""                         # refused before any work
    assert not list(tmp_path.glob("r*"))


def test_unwritable_output_path_is_refused_before_work(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    path = write(tmp_path, EXAMPLE)
    assert main(["optimise", path, "-o", str(blocker / "sub" / "res"), "-q"]) == 2
    captured = capsys.readouterr()
    assert "is not a directory" in one_error_line(captured.err)
    assert captured.out == ""


def test_missing_config_and_unknown_option_are_one_line_exit_2(capsys):
    assert main(["optimise"]) == 2
    assert "--print-example" in one_error_line(capsys.readouterr().err)
    assert main(["optimise", "x.toml", "--fast"]) == 2
    assert "--fast" in capsys.readouterr().err


def test_a_diverging_start_exits_3_in_one_line(tmp_path, capsys):
    text = (EXAMPLE.replace('activation = "erf"', 'activation = "linear"')
            .replace("eta = 1.0 ", "eta = 10.0 ").replace('start = "constant"', 'start = "setup"')
            .replace("eta_max = 5.0", "eta_max = 50.0"))
    path = write(tmp_path, text)
    assert main(["optimise", path, "-o", str(tmp_path / "r"), "-q"]) == 3
    assert "diverges at t = " in one_error_line(capsys.readouterr().err)


def test_ctrl_c_writes_the_best_schedule_so_far_and_exits_130(tmp_path, capsys, monkeypatch):
    """Ctrl-C after the optimiser's third iterate: the files hold that iterate."""
    import odesolve.optimise_run as run

    seen = {}

    def interrupted(prob, start, tracker):
        for i in range(3):
            sch = {k: s.with_values(s.values * (1 - 0.1 * (i + 1))) for k, s in start.items()}
            tracker(i + 1, 1.0 - i, sch)
        seen["best"] = sch
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "_optimise", interrupted)
    path = write(tmp_path, quick_text())
    assert main(["optimise", path, "-o", str(tmp_path / "r"), "-q"]) == 130
    assert "interrupted (Ctrl-C)" in capsys.readouterr().err
    d = json.loads((tmp_path / "r-schedule.json").read_text())
    assert d["interrupted"] and d["optimiser"]["iterations"] == 3
    np.testing.assert_array_equal(d["schedules"]["eta"]["values"],
                                  seen["best"]["eta"].values)
    assert (tmp_path / "r-trajectory.npz").exists() and (tmp_path / "r.png").exists()


def quick_text() -> str:
    return (EXAMPLE.replace("n_pieces = 20", "n_pieces = 5")
            .replace("t_final = 100.0", "t_final = 20.0").replace("annealing = true",
                                                                 "annealing = false"))


def test_python_call_equals_the_command_and_quick_caps_the_work(tmp_path):
    conf = tomllib.loads(quick_text())
    result = optimise_config(conf)
    assert isinstance(result, OptimiseResult) and not result.interrupted
    assert list(result.protocols) == ["optimal", "constant", "setup"]
    assert main(["optimise", write(tmp_path, quick_text()), "-o", str(tmp_path / "q"),
                 "-q", "--no-plot"]) == 0
    d = json.loads((tmp_path / "q-schedule.json").read_text())
    np.testing.assert_array_equal(d["schedules"]["eta"]["values"],
                                  result.protocols["optimal"].schedules["eta"].values)
    assert not (tmp_path / "q.png").exists()
    quick = quick_config(tomllib.loads(EXAMPLE))
    assert quick["optimise"]["n_pieces"] == 10 and quick["optimise"]["max_iter"] == 30
    assert quick["optimise"]["steps_per_unit"] == 10
    assert tomllib.loads(EXAMPLE)["optimise"]["n_pieces"] == 20


def test_two_schedules_with_trained_readouts_and_a_batch(tmp_path):
    """eta and eta_v scheduled together, for the mean objective of two initial states."""
    text = (quick_text().replace("eta_v = 0.0 ", "eta_v = 0.5 ")
            .replace('schedules = ["eta"]', 'schedules = ["eta", "eta_v"]')
            .replace("# batch = 4 ", "batch = 2 ").replace("readout_std = 0.0",
                                                           "readout_std = 0.1")
            .replace("max_iter = 200", "max_iter = 15"))
    result = optimise_config(tomllib.loads(text))
    opt = result.protocols["optimal"]
    assert set(opt.schedules) == {"eta", "eta_v"} and opt.y.shape[0] == 2
    assert result.objective <= result.protocols["constant"].objective
    assert result.objective == pytest.approx(float(np.mean(opt.eps_g[:, -1])), rel=1e-9)


def test_a_write_failure_after_the_work_started_exits_4_in_one_line(tmp_path, capsys,
                                                                     monkeypatch):
    import errno

    import odesolve.optimise_run as run

    def full_disk(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(run, "save_npz", full_disk)
    path = write(tmp_path, quick_text())
    assert main(["optimise", path, "-o", str(tmp_path / "r"), "-q"]) == 4
    line = one_error_line(capsys.readouterr().err)
    assert "No space left on device" in line and "r-trajectory.npz" in line


REPLAY = """
[setup]
K = 2
M = 1
activation = "erf"
eta = 1.0
eta_v = 1.0

[init]
N = 10000
student_std = 0.001
readout_std = 1.0
seed = 0

[replay]
similarity = 0.5
task_weights = [1.0, 2.0]

[optimise]
t_final = 20.0
n_pieces = 8
steps_per_unit = 10
eta_max = 3.0
max_iter = 40
n_record = 41
"""


def test_replay_optimises_mix_and_eta_against_block_and_interleaved(tmp_path, capsys):
    """Two tasks: the files, the order of the objectives, and each task's error equal to the
    committee eps_g of that task's sub-state (the single-task error, not the mixture cost)."""
    assert main(["optimise", write(tmp_path, REPLAY), "-o", str(tmp_path / "rep"),
                 "-q"]) == 0
    d = json.loads((tmp_path / "rep-schedule.json").read_text())
    assert set(d["schedules"]) == {"mix", "eta"}
    mix = Schedule.from_dict(d["schedules"]["mix"])
    assert mix.n_values == 8 and np.all((mix.values >= 0) & (mix.values <= 1))
    objective = {k: p["objective"] for k, p in d["protocols"].items()}
    assert set(objective) == {"optimal", "constant", "block", "interleaved"}
    assert objective["optimal"] <= min(objective.values())
    arrays, _ = load_npz(tmp_path / "rep-trajectory.npz")
    K, M = 2, 1
    setup = TeacherStudent(K, M, "erf")
    for name in objective:
        y, eps = arrays[f"{name}_y"][0], arrays[f"{name}_eps_g"][0]
        assert eps.shape == (41, 2)
        Q = y[:, :K * K].reshape(-1, K, K)
        R = y[:, K * K:K * K + K * 2 * M].reshape(-1, K, 2 * M)
        V = y[:, K * K + K * 2 * M:].reshape(-1, 2, K)
        for task in (0, 1):
            state = Overlaps(Q, R[:, :, task * M:(task + 1) * M], np.eye(M), V[:, task],
                             np.ones(M), check=False)
            Y = committee.pack_state(state)[None]
            P = committee.pack_params(setup, state)[:1]
            direct = committee.evaluate_eps_g("erf", Y, P)[0]
            np.testing.assert_allclose(eps[:, task], direct, rtol=1e-10, atol=1e-14)
        # the objective is the weighted final cost
        assert d["protocols"][name]["objective"] == pytest.approx(
            eps[-1, 0] + 2.0 * eps[-1, 1], rel=1e-10)
    assert "interleaved" in capsys.readouterr().out


@pytest.mark.parametrize("text, key", [
    (EXAMPLE.replace('schedules = ["eta"]', 'schedules = ["eta", "mix"]'), "add a [replay]"),
    (REPLAY + "\n[baselines]\nannealing = true\n", "[baselines] `annealing`"),
    (REPLAY.replace("task_weights = [1.0, 2.0]", "task_weights = [0.0, 0.0]"),
     "[replay] `task_weights`"),
    (REPLAY.replace("similarity = 0.5", "similarity = 1.5"), "[replay] `similarity`"),
    (REPLAY.replace("seed = 0", "seed = 0\nbatch = 2"), "[init] `batch`"),
    (REPLAY.replace("t_final = 20.0", 't_final = 20.0\nschedules = ["eta"]'),
     "must hold 'mix' with [replay]"),
])
def test_bad_replay_configuration_is_refused_before_work(tmp_path, capsys, text, key):
    assert main(["optimise", write(tmp_path, text), "-o", str(tmp_path / "r"), "-q"]) == 2
    captured = capsys.readouterr()
    assert key in one_error_line(captured.err) and captured.out == ""
