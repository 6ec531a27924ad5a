"""Sweeps: batched = one at a time, resume = uninterrupted, divergence flagged, Dask = local,
observables checked against closed forms."""
import numpy as np
import pytest

import odesolve
from odesolve import Overlaps, TeacherStudent
from odesolve.observables import first_crossing, specialisation_index
from odesolve.sweeps import SweepSpec, load_sweep, runner
from odesolve.sweeps.chunk import initial_states
from odesolve.sweeps.spec import SweepPointError

SETUP = TeacherStudent(2, 2, "erf", eta=1.0)
KW = dict(axes={"readout_std": [0.05, 0.5], "eta": [0.5, 1.0, 1.5]},
          init={"student_std": 0.3}, replicas=5, t_max=30.0, n_out=31, chunk_size=7,
          progress=False)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "ref.npz"
    return odesolve.sweep(SETUP, out=path, **KW), path


def test_shapes_coordinates_and_file(reference):
    res, path = reference
    assert res.dims == ("readout_std", "eta", "replica")
    np.testing.assert_array_equal(res.coords["eta"], [0.5, 1.0, 1.5])
    assert res["eps_g_final"].shape == (2, 3, 5) and res["eps_g"].shape == (2, 3, 5, 31)
    assert res["Q_final"].shape == (2, 3, 5, 2, 2)
    assert np.all(res.success)
    assert path.exists() and not path.with_name(path.name + ".parts").exists()
    back = load_sweep(path)
    assert back.dims == res.dims and back.spec.fingerprint() == res.spec.fingerprint()
    for k in res.data:
        np.testing.assert_array_equal(back[k], res[k])
    assert res.reduce("eps_g_final", "median").shape == (2, 3)
    assert res.reduce("eps_g_final", over=("replica", "eta")).shape == (2,)


def test_members_equal_one_at_a_time_integration(reference):
    """Each sweep member equals integrate() of that member's state alone (serial path)."""
    res, _ = reference
    spec = res.spec
    t = spec.output_times()
    for i, j in [(0, 0), (1, 2), (0, 1)]:
        g = i * 3 + j
        states = initial_states(spec, g)
        for r in (0, 3):
            setup = spec.setup(g)
            assert setup.eta == KW["axes"]["eta"][j]
            traj = odesolve.integrate(setup, states[r], t_max=spec.t_max, times=t,
                                      method="dopri5", rtol=spec.rtol, atol=spec.atol)
            np.testing.assert_array_equal(res["eps_g"][i, j, r], traj.eps_g)
            np.testing.assert_array_equal(res["Q_final"][i, j, r], traj.Q[-1])
            np.testing.assert_array_equal(res["v_final"][i, j, r], traj.v[-1])


def test_batched_integrate_equals_one_at_a_time():
    states = Overlaps.random(2, 2, batch=12, student_std=0.4, readout_std=0.4, seed=3)
    batch = odesolve.integrate(SETUP, states, t_max=20, method="dopri5", rtol=1e-6, n_out=5)
    for b in range(12):
        one = odesolve.integrate(SETUP, states[b], t_max=20, method="dopri5", rtol=1e-6,
                                 n_out=5)
        np.testing.assert_array_equal(batch.Q[b], one.Q)
        np.testing.assert_array_equal(batch.eps_g[b], one.eps_g)


def test_interrupted_sweep_resumes_to_the_same_file(reference, tmp_path, monkeypatch):
    ref, ref_path = reference
    path = tmp_path / "resumed.npz"
    real, calls = runner.run_chunk, []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(runner, "run_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        odesolve.sweep(SETUP, out=path, **KW)
    parts = path.with_name(path.name + ".parts")
    assert len(list(parts.glob("chunk_*.npz"))) == 2 and not path.exists()
    monkeypatch.setattr(runner, "run_chunk", real)
    res = odesolve.sweep(SETUP, out=path, **KW)
    assert res.info["chunks_resumed"] == 2 and res.info["chunks"] == 5
    a, b = np.load(ref_path), np.load(path)
    assert sorted(a.files) == sorted(b.files)
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k])
    assert not parts.exists()


def test_resume_refuses_a_different_sweep(tmp_path, monkeypatch):
    path = tmp_path / "s.npz"

    def stop(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_chunk", stop)
    with pytest.raises(KeyboardInterrupt):
        odesolve.sweep(SETUP, out=path, **KW)
    monkeypatch.undo()
    other = {**KW, "replicas": 4}
    with pytest.raises(ValueError, match="different sweep"):
        odesolve.sweep(SETUP, out=path, **other)
    res = odesolve.sweep(SETUP, out=path, restart=True, **other)
    assert res["status"].shape == (2, 3, 4)


def test_diverging_member_is_flagged_while_the_others_finish():
    """Linear units with fixed readouts diverge for eta > 2 (dQ/dt ~ (eta^2 - 2 eta) Q)."""
    res = odesolve.sweep(TeacherStudent(1, 1, "linear", eta_v=0.0),
                         axes={"eta": [0.5, 1.0, 4.0, 1.5]},
                         init={"student_std": 0.5, "readout_std": 0.0, "readout_mean": 1.0},
                         replicas=3, t_max=200.0, chunk_size=100, progress=False)
    status, t_fail = res["status"], res["t_fail"]
    assert np.all(status[[0, 1, 3]] == 0) and np.all(status[2] != 0)
    assert np.all((t_fail[2] > 0) & (t_fail[2] < 200)) and np.isnan(t_fail[[0, 1, 3]]).all()
    assert np.all(res["eps_g_final"][[0, 1, 3]] < 1e-5)          # the others learn perfectly
    assert np.isnan(res["eps_g_final"][2]).all()


def test_dask_local_cluster_gives_the_local_numbers(reference):
    distributed = pytest.importorskip("distributed")
    ref, _ = reference
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        res = odesolve.sweep(SETUP, scheduler=cluster.scheduler_address, **KW)
    assert res.info["scheduler"].startswith("tcp://")
    for k in ref.data:
        np.testing.assert_array_equal(res[k], ref[k])


def test_list_of_points_and_swept_structure():
    res = odesolve.sweep({"activation": "erf", "eta": 0.5},
                         points=[{"K": 1, "M": 1}, {"K": 2, "M": 1}, {"K": 3, "M": 2}],
                         replicas=2, t_max=5.0, n_out=6, progress=False)
    assert res.dims == ("point", "replica") and res["eps_g"].shape == (3, 2, 6)
    assert "Q_final" not in res.data            # shapes differ between points
    assert np.all(res.success)


def test_spec_validation_names_the_problem():
    with pytest.raises(ValueError, match="unknown swept parameter 'etta'"):
        SweepSpec(base={"K": 2, "M": 2}, axes={"etta": [1.0]})
    with pytest.raises(ValueError, match="either `axes`"):
        SweepSpec(base={"K": 2, "M": 2}, axes={"eta": [1.0]}, points=[{"eta": 1.0}])
    with pytest.raises(ValueError, match=r"grid point 1 \{'eta': -1.0\}.*eta"):
        SweepSpec(base={"K": 2, "M": 2}, axes={"eta": [1.0, -1.0]})
    with pytest.raises(ValueError, match="`K` must be given"):
        SweepSpec(base={"M": 2}, axes={"eta": [1.0]})
    with pytest.raises(ValueError, match="replicas"):
        SweepSpec(base={"K": 2, "M": 2}, replicas=0)


@pytest.mark.parametrize("field, value, error, rule", [
    ("n_out", 1, ValueError, "integer >= 2"),       # one output time: no 'final' state
    ("n_out", 3.0, TypeError, "must be an integer"),
    ("t_max", True, TypeError, "real number"),
    ("seed", 1.5, TypeError, "must be an integer"),
    ("seed", -1, ValueError, ">= 0"),
    ("specialise_threshold", float("nan"), ValueError, "NaN"),
    ("specialise_threshold", 0, ValueError, "positive"),
    ("specialise_threshold", 2, ValueError, "<= 1"),
    ("specialise_threshold", None, TypeError, "real number"),
    ("learn_fraction", -1, ValueError, "positive"),
    ("log_times", "no", TypeError, "true or false"),
    ("rtol", {"a": 1}, TypeError, "real number"),
    ("method", 3, TypeError, "one of"),
    ("keep", "all", ValueError, "one of"),
    ("axes", "eta", TypeError, "dict of parameter name"),
    ("axes", {"eta": 0.5}, TypeError, "list of values"),
    ("points", [("eta", 0.5)], TypeError, "dict of parameter name"),
])
def test_spec_refuses_a_field_naming_it_type_or_value(field, value, error, rule):
    """The rule of odesolve._checks: TypeError for a wrong type, ValueError for a wrong value,
    the field named in backticks, before any work."""
    with pytest.raises(error, match=rf"`{field}(\[[^`]*\])?` .*{rule}"):
        SweepSpec(**{"base": {"K": 1, "M": 1}, "axes": {} if field == "points" else
                     {"eta": [0.5]}, field: value})


@pytest.mark.parametrize("init, name", [({"N": 0}, "N"), ({"student_std": -1.0}, "student_std"),
                                         ({"teacher_std": 0.0}, "teacher_std"),
                                         ({"readout_mean": float("nan")}, "readout_mean"),
                                         ({"v_star": [1.0, 1.0, 1.0]}, "v_star")])
def test_initialisation_of_every_grid_point_is_checked_when_the_spec_is_built(init, name):
    """Overlaps.random's checks apply to every grid point before any state is drawn: here
    M = 2 (v_star must have 2 entries), and the point that fails is named."""
    with pytest.raises(SweepPointError, match=rf"grid point 0 \{{'eta': 0.5\}}: `{name}`") as e:
        SweepSpec(base={"K": 2, "M": 2, **init}, axes={"eta": [0.5]})
    assert e.value.index == 0 and e.value.name == name


def test_v_star_that_fits_only_some_grid_points_names_the_first_that_it_does_not_fit():
    with pytest.raises(SweepPointError, match=r"grid point 1 \{'M': 3\}: `v_star`.*\(3,\)"):
        SweepSpec(base={"K": 2, "v_star": [1.0, 0.5]}, axes={"M": [2, 3]})
    spec = SweepSpec(base={"K": 2, "v_star": [1.0, 0.5]}, axes={"M": [2]})   # fits M = 2
    assert initial_states(spec, 0).v_star.tolist() == [1.0, 0.5]


def test_sweep_names_init_and_setup_in_their_own_errors():
    kw = dict(axes={"eta": [0.5]}, replicas=1, t_max=0.5, n_out=3, progress=False)
    with pytest.raises(ValueError, match=r"\['seed'\] in `init`"):
        odesolve.sweep(SETUP, init={"seed": 1}, **kw)
    with pytest.raises(TypeError, match="`init` must be a dict"):
        odesolve.sweep(SETUP, init="x", **kw)
    with pytest.raises(ValueError, match=r"\['seeds'\] in `setup`"):
        odesolve.sweep({"K": 2, "M": 2, "seeds": 3}, **kw)
    with pytest.raises(TypeError, match="`setup` must be an odesolve.TeacherStudent"):
        odesolve.sweep("erf", **kw)
    with pytest.raises(TypeError, match="`progress` must be true or false"):
        odesolve.sweep(SETUP, **{**kw, "progress": None})


def test_refused_sweep_writes_nothing(tmp_path):
    """A sweep refused for a grid point's initialisation does no work: no lock, no parts."""
    with pytest.raises(SweepPointError, match="`N`"):
        odesolve.sweep(SETUP, axes={"eta": [0.5]}, init={"N": 0}, out=tmp_path / "s.npz",
                       progress=False)
    assert list(tmp_path.iterdir()) == []


def test_valid_fields_are_stored_as_given():
    """Checked values are kept as the user wrote them (an int t_max stays an int), so the
    fingerprint of a valid spec is what it was; numpy scalars become Python ones."""
    spec = SweepSpec(base={"K": 1, "M": 1}, axes={"eta": [0.5]}, t_max=20, seed=np.int64(3),
                     method="RK4", atol=0)
    d = spec.to_dict()
    assert d["t_max"] == 20 and type(d["t_max"]) is int
    assert d["seed"] == 3 and type(d["seed"]) is int
    assert d["method"] == "rk4" and d["atol"] == 0          # as integrate: any case, atol >= 0


@pytest.mark.parametrize("n_out", [2, 3, 50])
def test_log_times_run_from_zero_to_t_max_with_n_out_points(n_out):
    t = SweepSpec(base={"K": 1, "M": 1}, t_max=40.0, n_out=n_out, log_times=True).output_times()
    assert t.size == n_out and t[0] == 0.0 and t[-1] == pytest.approx(40.0)
    assert np.all(np.diff(t) > 0)


def test_times_not_ending_at_t_max_are_refused_when_the_spec_is_built():
    with pytest.raises(ValueError, match="`times` ends at 5"):
        SweepSpec(base={"K": 1, "M": 1}, t_max=10.0, times=[0.0, 5.0])


def test_specialisation_index_limits():
    K = 3
    T = np.eye(K)
    sym = specialisation_index(np.eye(K), np.full((K, K), 0.3), T)          # symmetric plateau
    perm = specialisation_index(np.eye(K), np.eye(K)[[2, 0, 1]] * -1.0, T)  # signed permutation
    assert sym == pytest.approx(0.0, abs=1e-15) and perm == pytest.approx(1.0)
    # normalisation: scaling a student unit does not change it
    Q = np.diag([4.0, 1.0, 1.0])
    R = np.diag([2.0, 0.5, 0.5]) + 0.1
    assert specialisation_index(Q, R, T) == pytest.approx(
        np.mean([(2.1 / 2 - 0.1 / 2), 0.5, 0.5]))


def test_first_crossing_matches_closed_form():
    t = np.linspace(0, 10, 2001)
    x = np.exp(-t)[None, :] * np.array([[1.0], [2.0]])
    got = first_crossing(t, x, 0.01, below=True, log=True)
    np.testing.assert_allclose(got, [np.log(100), np.log(200)], rtol=1e-12)
    s = np.tanh(t)
    assert first_crossing(t, s, 0.5) == pytest.approx(np.arctanh(0.5), abs=1e-5)
    assert np.isnan(first_crossing(t, s, 2.0))


def test_sweep_specialisation_time_is_the_plateau_escape():
    """From small initial overlaps, eps_g sits on the plateau until the units specialise: at
    t_specialise eps_g has left the plateau value, well before it it has not."""
    res = odesolve.sweep(SETUP, axes={"eta": [1.0]}, init={"student_std": 0.05,
                                                          "readout_std": 0.05},
                         replicas=3, t_max=600.0, n_out=601, progress=False)
    ts = res["t_specialise"][0]
    assert np.all(np.isfinite(ts)) and np.all(ts > 20)
    t, eps = res.t, res["eps_g"][0]
    for r in range(3):
        before = eps[r, (t > 0.3 * ts[r]) & (t < 0.6 * ts[r])]
        assert before.std() / before.mean() < 0.05           # flat: the plateau
        assert eps[r, t > ts[r] + 50].max() < 0.5 * before.mean()


SWEEP_TOML = """
[setup]
K = 2
M = 2
activation = "erf"

[init]
student_std = 0.2

[sweep]
replicas = 3
chunk_size = 5

[sweep.axes]
eta = [0.5, 1.0]
readout_std = [0.1, 1.0]

[solver]
t_max = 20.0
n_out = 11
"""


def test_cli_sweep_and_plot(tmp_path, capsys):
    from odesolve.cli import main

    cfg = tmp_path / "s.toml"
    cfg.write_text(SWEEP_TOML)
    out = tmp_path / "res.npz"
    assert main(["sweep", str(cfg), "-o", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "12 members" in printed and str(out.resolve()) in printed
    res = load_sweep(out)
    assert res.dims == ("eta", "readout_std", "replica") and res.spec.replicas == 3
    assert (tmp_path / "res-t_specialise.png").exists() and (tmp_path / "res-eps_g.png").exists()
    # same numbers as the API with the same spec
    api = odesolve.sweep({"K": 2, "M": 2, "activation": "erf"},
                         axes={"eta": [0.5, 1.0], "readout_std": [0.1, 1.0]},
                         init={"student_std": 0.2}, replicas=3, t_max=20.0, n_out=11,
                         chunk_size=5, progress=False)
    np.testing.assert_array_equal(api["eps_g"], res["eps_g"])
    assert main(["plot", str(out), "--observable", "eps_g_final", "--x", "eta",
                 "--y", "readout_std", "-o", str(tmp_path / "fig")]) == 0
    assert (tmp_path / "fig-eps_g_final.png").exists()
    assert main(["plot", str(out), "--curves", "-o", str(tmp_path / "fig")]) == 0
    assert (tmp_path / "fig-eps_g.png").exists()
    assert main(["plot", str(out), "--observable", "nope"]) == 2
    assert "unknown observable" in capsys.readouterr().err


def test_cli_sweep_rejects_bad_config(tmp_path, capsys):
    from odesolve.cli import main

    cfg = tmp_path / "s.toml"
    cfg.write_text(SWEEP_TOML.replace("[sweep.axes]\neta", "[sweep.axes]\netta"))
    assert main(["sweep", str(cfg), "-q"]) == 2
    assert "etta" in capsys.readouterr().err
    cfg.write_text(SWEEP_TOML.replace("replicas = 3", "replica = 3"))
    assert main(["sweep", str(cfg), "-q"]) == 2
    assert main(["sweep", "--print-example"]) == 0
    assert "[sweep.axes]" in capsys.readouterr().out


def test_example_sweep_config_is_valid():
    import sys
    from importlib import resources

    from odesolve import config as cfg

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    conf = tomllib.loads(resources.files("odesolve").joinpath("data/sweep.toml").read_text())
    spec = cfg.sweep_spec_from_config(conf)
    assert spec.dims == ("readout_std", "student_std") and spec.n_members == 200
    assert spec.base["N"] == 10000 and spec.log_times


def test_protocol_sweep_members_equal_integrate_protocol():
    """The same protocol drives sweeps: each member equals integrate_protocol of its state."""
    from odesolve.multitask import integrate_protocol
    from odesolve.sweeps.chunk import task_states

    res = odesolve.sweep({"K": 2, "M": 1, "P": 2, "heads": "multi", "activation": "erf"},
                         axes={"feature_similarity": [0.0, 0.6], "ewc": [0.0, 5.0]},
                         init={"student_std": 0.1, "readout_std": 0.1}, replicas=3,
                         protocol=[{"duration": 20.0, "teacher": 0},
                                   {"duration": 20.0, "teacher": 1, "ewc": 0.0}],
                         n_out=6, chunk_size=4, progress=False)
    assert res.dims == ("feature_similarity", "ewc", "replica")
    assert res["eps_g"].shape == (2, 2, 3, 11, 2) and res["forgetting"].shape == (2, 2, 3)
    for i, j, r in [(0, 0, 0), (1, 1, 2), (0, 1, 1)]:
        g = i * 2 + j
        setup, protocol, a = res.spec.task_setup(g)
        assert a == [0.0, 0.6][i] and protocol.phases[1].ewc == [0.0, 5.0][j]
        traj = integrate_protocol(setup, task_states(res.spec, g)[r], protocol, n_out=6,
                                  rtol=res.spec.rtol, atol=res.spec.atol)
        np.testing.assert_array_equal(res["eps_g"][i, j, r], traj.eps_g)
        assert res["forgetting"][i, j, r] == traj.eps_g[-1, 0] - traj.eps_g[traj.at(20.0), 0]
    # EWC protects task 1 at every similarity (median over replicas)
    f = res.reduce("forgetting")
    assert np.all(f[:, 1] < f[:, 0])
    with pytest.raises(ValueError, match="feature_similarity"):
        odesolve.sweep({"K": 2, "M": 1}, axes={"feature_similarity": [0.5]}, progress=False)


def test_cli_protocol_sweep(tmp_path):
    from odesolve.cli import main

    cfg = tmp_path / "p.toml"
    cfg.write_text("""
[setup]
K = 2
M = 1
P = 2
heads = "multi"

[init]
student_std = 0.1
readout_std = 0.1

[sweep]
replicas = 2

[sweep.axes]
feature_similarity = [0.0, 0.5, 1.0]
eta = [0.5, 1.0]

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
""")
    out = tmp_path / "p.npz"
    assert main(["sweep", str(cfg), "-o", str(out), "-q"]) == 0
    res = load_sweep(out)
    assert res["forgetting"].shape == (3, 2, 2) and res.spec.protocol[1]["teacher"] == 1
    assert (tmp_path / "p-forgetting.png").exists()
