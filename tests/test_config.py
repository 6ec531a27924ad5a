"""Configuration schema: every section and key declared once, whole files checked before any
work, errors that name the section and key and suggest the nearest known name."""
import sys

import numpy as np
import pytest

from odesolve import config as cfg
from odesolve.config import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RUN = """
[setup]
K = 2
M = 2
eta = 0.8

[init]
kind = "random"
N = 1000
seed = 0

[solver]
method = "rk4"
t_max = 20.0
n_out = 21

[output]
plot = false
"""

SWEEP = """
[setup]
K = 2
M = 2

[init]
student_std = 0.2

[sweep]
replicas = 3

[sweep.axes]
eta = [0.5, 1.0]
readout_std = [0.1, 1.0]

[solver]
t_max = 20.0
n_out = 11
"""

PROTOCOL = """
[setup]
K = 2
M = 1
P = 2
heads = "multi"

[sweep]
replicas = 2

[sweep.axes]
feature_similarity = [0.0, 0.5]

[[sweep.protocol]]
duration = 10.0
teacher = 0

[[sweep.protocol]]
duration = 10.0
teacher = 1

[solver]
t_max = 20.0
n_out = 5

[output]
observable = "forgetting"
"""


def check(text, command="run"):
    return cfg.validate_config(tomllib.loads(text), command)


def refused(text, command="run") -> str:
    with pytest.raises(ConfigError) as info:
        check(text, command)
    return str(info.value)


@pytest.mark.parametrize("name, commands", [("default", ("run", "compare")),
                                            ("compare", ("compare", "run")),
                                            ("sweep", ("sweep",))])
def test_shipped_examples_are_valid_for_the_commands_that_read_them(name, commands):
    conf = tomllib.loads(cfg.example_text(name))
    for command in commands:
        assert cfg.validate_config(conf, command) is conf


def test_test_configs_of_the_other_suites_stay_valid():
    check(RUN)
    check(RUN, "compare")
    check(SWEEP, "sweep")
    check(PROTOCOL, "sweep")


def test_every_key_is_documented_and_its_default_passes_its_own_check():
    ctx = cfg._Context("sweep", protocol=True)
    for section in cfg.SCHEMA:
        assert section.doc
        names = [k.name for k in section.keys]
        assert len(names) == len(set(names)), section.name
        for key in section.keys:
            assert key.doc and key.kind in cfg._CHECKERS, (section.name, key.name)
            if key.default is not None:
                cfg._check_value(key, key.default, section.name, ctx)
    assert "[sweep.protocol]" in cfg.describe_schema()


@pytest.mark.parametrize("typo, right", [("simulaton", "simulation"), ("outptu", "output"),
                                         ("solvr", "solver"), ("setpu", "setup")])
def test_misspelt_section_is_refused_with_the_nearest_name(typo, right):
    text = RUN + f"\n[{typo}]\nseeds = 3\n"
    assert refused(text, "compare") == f"unknown section [{typo}]; did you mean [{right}]?"


def test_misspelt_key_suggests_the_nearest_key_of_its_section():
    msg = refused(RUN.replace("plot = false", "pth = 'x'"))
    assert msg == "[output] unknown key `pth`; did you mean `path`?"
    msg = refused(RUN.replace("[simulation]", "") + "\n[simulation]\nseed = 3\n", "compare")
    assert "did you mean `seeds`?" in msg


def test_key_in_the_wrong_place_names_the_section_it_belongs_in():
    assert "did you mean [solver] t_max?" in refused("t_max = 100.0\n" + RUN)
    assert "belongs in [solver]" in refused(RUN.replace("eta = 0.8", "eta = 0.8\nrtol = 1e-6"))


def test_wrong_types_name_the_section_and_key():
    assert refused(RUN.replace("t_max = 20.0", 't_max = "100"')) == \
        "[solver] `t_max` must be a real number, got the string '100'."
    assert refused(RUN.replace("n_out = 21", 'n_out = 21\nlog_times = "no"')) == \
        "[solver] `log_times` must be true or false, got the string 'no'."
    assert "[setup] `K` must be an integer" in refused(RUN.replace("K = 2", "K = 2.0"))
    assert "[init] `seed`" in refused(RUN.replace("seed = 0", "seed = -1"))


@pytest.mark.parametrize("n_out, rule", [("1", "integer >= 2"), ("2.5", "must be an integer"),
                                         ("0", "integer >= 2")])
def test_n_out_must_be_an_integer_of_at_least_two(n_out, rule):
    msg = refused(RUN.replace("n_out = 21", f"n_out = {n_out}"))
    assert msg.startswith("[solver] `n_out`") and rule in msg


@pytest.mark.parametrize("n_out", [2, 3, 400])
def test_log_times_run_from_zero_to_t_max_with_n_out_points(n_out):
    conf = tomllib.loads(RUN.replace("n_out = 21", f"n_out = {n_out}\nlog_times = true"))
    times = cfg.solver_options(conf)["times"]
    assert len(times) == n_out and times[0] == 0.0 and times[-1] == pytest.approx(20.0)
    assert np.all(np.diff(times) > 0)


def test_times_must_increase_and_lie_in_the_run():
    assert "strictly increasing" in refused(RUN.replace("n_out = 21", "times = [0.0, 2.0, 1.0]"))
    assert "[0, t_max]" in refused(RUN.replace("n_out = 21", "times = [0.0, 30.0]"))
    assert "not both" in refused(RUN.replace("n_out = 21", "times = [1.0]\nlog_times = true"))


def test_each_command_reads_its_own_sections():
    assert "not read by `odesolve run`" in refused(RUN + "\n[sweep]\nreplicas = 2\n")
    check(RUN + "\n[simulation]\nN = 100\nseeds = 3\n")          # run tolerates it
    assert "not read by `odesolve sweep`" in refused(SWEEP + "\n[simulation]\nN = 10\n",
                                                     "sweep")
    assert refused(RUN.split("[solver]")[0]).startswith("missing section [solver]")
    assert "is missing `K`" in refused(RUN.replace("K = 2\n", ""))


def test_init_keys_of_the_other_kind_are_named():
    msg = refused(RUN.replace("seed = 0", "seed = 0\nQ = [[1.0, 0.0], [0.0, 1.0]]"))
    assert "kind = 'overlaps'" in msg and "`Q`" in msg
    msg = refused(RUN.replace('kind = "random"', 'kind = "overlaps"'))
    assert "kind = 'random'" in msg and "`N`" in msg
    assert "`kind` must be one of" in refused(RUN.replace('"random"', '"weights"'))


def test_overlap_arrays_are_checked_for_numbers_and_shape():
    text = RUN.replace('kind = "random"\nN = 1000\nseed = 0', '''kind = "overlaps"
Q = [[0.5, 0.1], [0.1, "x"]]
R = [[0.1, 0.0], [0.0, 0.05]]
T = [[1.0, 0.0], [0.0, 1.0]]
v = [0.3, 0.2]
v_star = [1.0, 1.0]''')
    assert "[init] `Q[1][1]` must be a real number" in refused(text)
    assert "rectangular" in refused(text.replace('[0.1, "x"]', "[0.1]"))
    good = tomllib.loads(text.replace('"x"', "0.4"))
    cfg.validate_config(good, "run")
    state = cfg.state_from_config(good, cfg.setup_from_config(good))
    np.testing.assert_array_equal(state.Q, [[0.5, 0.1], [0.1, 0.4]])


def test_simulation_seeds_are_a_count_or_distinct_seeds():
    sim = RUN + "\n[simulation]\nN = 100\nseeds = {}\n"
    assert "`seeds` must be an integer >= 2" in refused(sim.format("1"), "compare")
    assert "at least 2 seeds" in refused(sim.format("[4]"), "compare")
    assert "distinct" in refused(sim.format("[3, 3]"), "compare")
    assert "count or a list" in refused(sim.format('"8"'), "compare")
    conf = tomllib.loads(sim.format("[3, 5]"))
    assert cfg.simulation_options(conf)["seeds"] == [3, 5]
    conf = tomllib.loads(sim.format("4"))
    assert cfg.simulation_options(conf) == {"N": 100, "seeds": [0, 1, 2, 3]}


def test_sweep_tables_are_checked_value_by_value():
    assert refused(SWEEP.replace("[sweep.axes]\neta", "[sweep.axes]\netta"), "sweep") == \
        "[sweep.axes] unknown parameter `etta`; did you mean `eta`?"
    assert "[sweep.axes] `eta[1]` must be a real number" in \
        refused(SWEEP.replace("[0.5, 1.0]", '[0.5, "1"]'), "sweep")
    assert "[sweep] unknown key `replica`; did you mean `replicas`?" == \
        refused(SWEEP.replace("replicas = 3", "replica = 3"), "sweep")
    assert "[sweep] seed" in refused(SWEEP.replace("student_std = 0.2", "seed = 1"), "sweep")
    assert "needs [[sweep.protocol]]" in refused(SWEEP.replace("M = 2", "M = 2\nP = 2"),
                                                 "sweep")
    assert "[sweep.protocol 2] `duration` must be positive" in \
        refused(PROTOCOL.replace("duration = 10.0\nteacher = 1", "duration = 0.0\nteacher = 1"),
                "sweep")
    assert "did you mean `forgetting`?" in \
        refused(PROTOCOL.replace('"forgetting"', '"forgeting"'), "sweep")
    assert "did you mean `t_specialise`?" in \
        refused(SWEEP + '\n[output]\nobservable = "t_specialize"\n', "sweep")
    no_grid = SWEEP.split("[sweep.axes]")[0] + "[solver]\nt_max = 1.0\n"
    assert "needs a [sweep.axes] table" in refused(no_grid, "sweep")


def test_sweep_spec_from_a_valid_config():
    spec = cfg.sweep_spec_from_config(tomllib.loads(SWEEP))
    assert spec.dims == ("eta", "readout_std") and spec.replicas == 3
    assert spec.base == {"K": 2, "M": 2, "student_std": 0.2} and spec.n_out == 11


def built(text, reader, *args):
    """The ConfigError message of ``reader(config, *args)`` for a schema-valid ``text``."""
    conf = tomllib.loads(text)
    with pytest.raises(ConfigError) as info:
        reader(conf, *args)
    return str(info.value)


def test_default_n_out_is_that_of_the_function_each_command_calls():
    import dataclasses
    import inspect

    import odesolve
    from odesolve.sweeps import SweepSpec

    for command, func in (("run", odesolve.integrate), ("compare", odesolve.compare)):
        assert cfg.DEFAULT_N_OUT[command] == inspect.signature(func).parameters["n_out"].default
    n_out = next(f for f in dataclasses.fields(SweepSpec) if f.name == "n_out")
    assert cfg.DEFAULT_N_OUT["sweep"] == n_out.default


@pytest.mark.parametrize("command", ["run", "compare"])
def test_step_longer_than_the_output_spacing_is_refused_naming_solver_and_dt(command):
    """integrate's rule (a fixed step is not cut to the output spacing), applied when the
    options are built: t_max = 20 with 21 outputs is a spacing of 1."""
    text = RUN.replace("n_out = 21", "n_out = 21\ndt = {}")
    msg = built(text.format(1.5), cfg.solver_options, command)
    assert msg.startswith("[solver] `dt` = 1.5 is longer than the spacing")
    assert cfg.solver_options(tomllib.loads(text.format(1.0)), command)["dt"] == 1.0


def test_default_step_may_be_shortened_for_log_times():
    """Without dt, the default step is shortened where outputs are closer (as integrate)."""
    conf = tomllib.loads(RUN.replace("n_out = 21", "n_out = 21\nlog_times = true"))
    assert "dt" not in cfg.solver_options(conf)


def test_times_that_end_before_t_max_are_refused_naming_solver():
    msg = built(RUN.replace("n_out = 21", "times = [0.0, 5.0]"), cfg.solver_options)
    assert msg.startswith("[solver] `times` ends at 5")


@pytest.mark.parametrize("command", ["run", "compare"])
def test_log_times_without_n_out_use_the_command_default(command):
    conf = tomllib.loads(RUN.replace("n_out = 21", "log_times = true"))
    assert len(cfg.solver_options(conf, command)["times"]) == cfg.DEFAULT_N_OUT[command]


@pytest.mark.parametrize("key", ["K", "M"])
def test_sweep_without_k_or_m_points_to_setup_and_the_axes(key):
    msg = built(SWEEP.replace(f"{key} = 2\n", ""), cfg.sweep_spec_from_config)
    assert msg.startswith(f"[sweep] needs `{key}`")
    assert "[setup]" in msg and "[sweep.axes]" in msg and "`base`" not in msg


def test_sweep_v_star_of_the_wrong_length_names_its_section_and_the_grid_point():
    msg = built(SWEEP.replace("student_std = 0.2", "v_star = [1.0, 1.0, 1.0]"),
                cfg.sweep_spec_from_config)
    assert msg.startswith("[sweep] grid point 0 ")
    assert "[init] `v_star` must be a number or have shape (2,), got shape (3,)" in msg
    msg = built(SWEEP.replace("readout_std = [0.1, 1.0]", "v_star = [[1.0, 1.0], [1.0]]"),
                cfg.sweep_spec_from_config)
    assert "[sweep.axes] `v_star`" in msg and "grid point 1 " in msg


def test_load_config_reports_missing_broken_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        cfg.load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is a directory"):
        cfg.load_config(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text("[setup\nK = 2\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        cfg.load_config(bad)
    bad.write_text(RUN.replace("t_max = 20.0", 't_max = "100"'))
    cfg.load_config(bad)                                   # no command: parsed only
    with pytest.raises(ConfigError, match=r"bad.toml: \[solver\] `t_max`"):
        cfg.load_config(bad, "run")


def test_errors_are_value_errors_on_one_line():
    msgs = [refused(RUN.replace("t_max = 20.0", 't_max = "1"')),
            refused(RUN + "\n[simulaton]\n", "compare"),
            refused(SWEEP.replace("eta = [0.5, 1.0]", "eta = []"), "sweep")]
    for msg in msgs:
        assert "\n" not in msg
    assert issubclass(ConfigError, ValueError)
