"""ODE-versus-simulation harness: report contents, a verdict that can fail, a test without
power that does not pass, the expected duration, the CLI."""
import json
import math
import time

import numpy as np
import pytest

import odesolve
import odesolve.comparison
from odesolve import Overlaps, TeacherStudent
from odesolve.cli import main

SETUP = TeacherStudent(2, 2, "erf", eta=1.0, sigma=0.1)
STATE = Overlaps(np.array([[0.3, 0.05], [0.05, 0.2]]), np.array([[0.1, 0.0], [0.0, 0.1]]),
                 np.eye(2), np.array([0.4, 0.2]), np.ones(2))
KW = dict(N=500, t_max=3.0, seeds=range(8), n_out=7, progress=False)


@pytest.fixture(scope="module")
def report():
    return odesolve.compare(SETUP, STATE, **KW)


def test_small_n_comparison_passes_with_expected_contents(report, tmp_path):
    assert report.passed and report.verdict == "PASS" and not report.warnings, report.summary()
    assert report.N == 500 and report.seeds == list(range(8)) and report.t.shape == (7,)
    shapes = {"Q": (7, 2, 2), "R": (7, 2, 2), "v": (7, 2), "eps_g": (7,)}
    for q, shape in shapes.items():
        assert report.sim_mean[q].shape == shape and report.sim_sem[q].shape == shape
        assert report.ode_mean[q].shape == shape
        st = report.stats[q]
        assert set(st) >= {"max_abs_dev", "max_dev_sem", "worst", "t_worst", "passed"}
        assert st["passed"] and st["in_verdict"] and 0 <= st["worst"] <= 1
    # both sides start from the same (realised) overlaps
    np.testing.assert_allclose(report.sim_mean["Q"][0], report.ode_mean["Q"][0], atol=1e-10)
    d = report.to_dict()
    assert d["passed"] is True and set(d["stats"]) == set(shapes)
    tol = d["tolerance"]
    assert tol["k"] == 4.0 and tol["c"] == 0.05 and tol["floor_c_over_sqrtN"] == 0.05 / np.sqrt(500)
    # 8 seeds: the multiplier has the two-sided coverage of 4 normal standard errors
    from scipy import stats
    assert np.isclose(stats.t.sf(tol["k_seeds"], df=7), stats.norm.sf(4.0), rtol=1e-6)
    text = report.summary()
    assert "eps_g" in text and "PASS" in text
    js, png = report.save(tmp_path / "rep.json")
    assert json.loads(js.read_text())["stats"]["R"]["passed"] is True
    assert png.exists() and png.stat().st_size > 10_000


def test_seed_multiplier_has_the_advertised_false_alarm_rate():
    """Synthetic seed means with known truth: the fraction of |mean - truth| > k_S sem equals
    the normal two-sided tail of k, whatever the number of seeds (a plain k * sem does not)."""
    from scipy import stats

    from odesolve.comparison import seed_multiplier

    rng = np.random.default_rng(0)
    k, reps = 2.0, 40_000
    for S in (4, 8, 32):
        x = rng.standard_normal((reps, S))
        z = np.abs(x.mean(1)) / (x.std(1, ddof=1) / np.sqrt(S))
        expected = 2 * stats.norm.sf(k)                     # 0.0455
        se = np.sqrt(expected * (1 - expected) / reps)
        assert abs(np.mean(z > seed_multiplier(k, S)) - expected) < 4 * se
        if S == 4:
            assert np.mean(z > k) > 2 * expected             # the naive rule over-rejects
    assert seed_multiplier(0.0, 8) == 0.0


def _wrong_eta(monkeypatch, factor=1.3):
    """Make compare() integrate the ODE with a learning rate ``factor`` times too large."""
    from odesolve import integration

    real = integration.integrate

    def wrong(setup, *args, **kwargs):
        bad = TeacherStudent(setup.K, setup.M, setup.activation, eta=factor * setup.eta,
                             eta_v=setup.eta_v, sigma=setup.sigma)
        return real(bad, *args, **kwargs)

    monkeypatch.setattr(integration, "integrate", wrong)


def test_verdict_fails_for_a_wrong_ode(monkeypatch):
    """The ODE integrated with a learning rate 30 % too large must be caught."""
    _wrong_eta(monkeypatch)
    rep = odesolve.compare(SETUP, STATE, **KW)
    assert not rep.passed and rep.verdict == "FAIL"
    assert not rep.stats["R"]["passed"] and rep.stats["R"]["max_dev_sem"] > 4
    assert "FAIL" in rep.summary()


def _detectable(rep, q):
    """The power rule of the module docstring, computed here from the report's curves:
    k_S sem + c/sqrt(N), largest over components, median over the times after the start;
    against the largest range of the ODE over time."""
    from scipy import stats

    S = len(rep.seeds)
    k_s = stats.t.isf(stats.norm.sf(rep.tolerance_k), df=S - 1)
    n = rep.t.size
    sem = np.asarray(rep.sim_sem[q]).reshape(n, -1)[1:]
    ode = np.asarray(rep.ode_mean[q]).reshape(n, -1)
    band = np.median(np.max(k_s * sem + rep.tolerance_c / math.sqrt(rep.N), axis=1))
    return band, np.max(ode.max(axis=0) - ode.min(axis=0))


def test_two_seeds_cannot_pass():
    """2 seeds: k_S is ~10^4 standard errors (Student t, 1 degree of freedom), so the test
    cannot detect anything. The verdict is INCONCLUSIVE (passed False), with a warning that
    names the number of seeds needed."""
    with pytest.warns(odesolve.comparison.PowerWarning, match=r"about \d+ seeds are needed"):
        rep = odesolve.compare(SETUP, STATE, **{**KW, "seeds": range(2)})
    assert rep.k_seeds > 1e3
    assert rep.verdict == "INCONCLUSIVE" and not rep.passed
    assert all(st["passed"] for st in rep.stats.values())         # nothing detected ...
    for q in ("Q", "R", "eps_g"):                                  # ... nor detectable
        band, change = _detectable(rep, q)
        assert band > change and not rep.stats[q]["powered"]
        assert rep.stats[q]["detectable"] == pytest.approx(band, rel=1e-12)
    needed = int(rep.warnings[-1].split("about ")[1].split()[0])
    assert needed >= odesolve.comparison.MIN_SEEDS
    assert "overall: INCONCLUSIVE" in rep.summary() and "seeds are needed" in rep.summary()
    assert rep.to_dict()["verdict"] == "INCONCLUSIVE"


def test_sixteen_seeds_pass_with_power(validation):
    """16 seeds on the correct equations: every quantity can detect a deviation of a quarter
    of its change over the run (computed here from the curves), and the verdict is PASS."""
    rep = odesolve.compare(SETUP, STATE, **{**KW, "seeds": range(16)})
    validation("simulation.compare.erf-K2M2.N500", area="Simulation agreement",
               claim="the ODE predicts the mean of finite-N SGD (erf, K = M = 2, both layers, "
                     "sigma = 0.1), reduced version of the N = 10 000 validation",
               method=f"simulation at N = 500, 16 seeds, t <= 3; verdict {rep.verdict}",
               measured=max(s["worst"] for s in rep.stats.values()), bound=1.0,
               unit="x tolerance (k_S sem + c/sqrt N)")
    for q in odesolve.comparison.QUANTITIES:
        band, change = _detectable(rep, q)
        assert rep.stats[q]["detectable"] == pytest.approx(band, rel=1e-12)
        assert rep.stats[q]["change"] == pytest.approx(change, rel=1e-12)
        assert band <= odesolve.comparison.POWER_FRACTION * change
    assert rep.verdict == "PASS" and rep.passed, rep.summary()


def test_wrong_ode_fails_with_enough_seeds_and_is_inconclusive_with_two(monkeypatch):
    """A learning rate 30 % off: FAIL with 16 seeds; with 2 seeds the same error goes
    undetected, and the verdict is INCONCLUSIVE rather than PASS."""
    _wrong_eta(monkeypatch)
    rep = odesolve.compare(SETUP, STATE, **{**KW, "seeds": range(16)})
    assert rep.verdict == "FAIL" and not rep.passed
    with pytest.warns(odesolve.comparison.PowerWarning):
        weak = odesolve.compare(SETUP, STATE, **{**KW, "seeds": range(2)})
    assert all(st["passed"] for st in weak.stats.values())        # the error is not seen
    assert weak.verdict == "INCONCLUSIVE" and not weak.passed


def test_seeds_needed_is_the_smallest_number_with_power():
    from scipy import stats

    from odesolve.comparison import MIN_SEEDS, seeds_needed

    def band(S, sd, floor):
        return stats.t.isf(stats.norm.sf(4.0), df=S - 1) * sd / math.sqrt(S) + floor

    for sd, target, floor in [(1.0, 1.0, 0.0), (0.3, 0.05, 0.01), (2.0, 0.5, 0.1)]:
        S = seeds_needed(sd, target, 4.0, floor)
        assert band(S, sd, floor) <= target
        assert S == MIN_SEEDS or band(S - 1, sd, floor) > target
    assert seeds_needed(1.0, 0.01, 4.0, floor=0.02) is None     # the floor alone is too wide


def test_constant_quantity_needs_no_power():
    """Fixed readouts (eta_v = 0): v does not change in the ODE; it enters the verdict (any
    motion would fail it) but cannot make the test inconclusive."""
    setup = TeacherStudent(2, 2, "erf", eta=1.0, eta_v=0.0)
    rep = odesolve.compare(setup, STATE, **{**KW, "seeds": range(12)})
    assert rep.stats["v"]["static"] and rep.stats["v"]["powered"]
    assert rep.stats["v"]["max_abs_dev"] == 0.0
    assert rep.verdict == "PASS", rep.summary()


def test_expected_duration_matches_a_measured_run():
    """estimate_duration (calibrated on this machine) is within a factor 3 of the measured
    simulation it predicts, for seeds below and above the number of cores."""
    import numba

    from odesolve.comparison import estimate_duration

    cores = numba.get_num_threads()
    for N, S, t_max in [(2000, 2, 40.0), (4000, 2 * cores + 1, 6.0)]:
        state = Overlaps.random(2, 2, N=N, student_std=0.5, readout_std=0.5, seed=1)
        tic = time.perf_counter()
        expected = estimate_duration(SETUP, N, S, t_max)
        calibration = time.perf_counter() - tic
        tic = time.perf_counter()
        odesolve.simulate(SETUP, state, N=N, t_max=t_max, seeds=range(S), progress=False)
        measured = time.perf_counter() - tic
        assert measured / 3 <= expected <= 3 * measured, (N, S, expected, measured)
        assert calibration < 2.0                       # a fraction of a second once compiled


def test_verdict_fails_when_the_tolerance_is_tiny(report):
    rep = odesolve.compare(SETUP, STATE, tolerance_k=0.01, tolerance_c=0.0, **KW)
    assert not rep.passed and rep.stats["Q"]["max_dev_sem"] == report.stats["Q"]["max_dev_sem"]


def test_compare_validates():
    with pytest.raises(ValueError, match="at least 2 seeds"):
        odesolve.compare(SETUP, STATE, N=100, t_max=1.0, seeds=(0,), progress=False)
    with pytest.raises(ValueError, match="tolerance_k"):
        odesolve.compare(SETUP, STATE, N=100, t_max=1.0, tolerance_k=-1, progress=False)


CONFIG = """
[setup]
K = 2
M = 2
activation = "erf"
eta = 1.0
eta_v = 0.0

[init]
kind = "overlaps"
Q = [[0.3, 0.05], [0.05, 0.2]]
R = [[0.1, 0.0], [0.0, 0.1]]
T = [[1.0, 0.0], [0.0, 1.0]]
v = [1.0, 1.0]
v_star = [1.0, 1.0]

[solver]
method = "dopri5"
t_max = 2.0
n_out = 5

[simulation]
N = 400
seeds = 12
"""


def test_cli_compare_writes_json_and_png(tmp_path, capsys):
    cfg = tmp_path / "cmp.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / "out" / "cmp.json"
    assert main(["compare", str(cfg), "-o", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "overall: PASS" in printed and str(out.resolve()) in printed
    data = json.loads(out.read_text())
    assert data["passed"] and data["N"] == 400 and len(data["seeds"]) == 12
    assert out.with_suffix(".png").exists()


def test_cli_compare_exit_codes(tmp_path, capsys):
    cfg = tmp_path / "cmp.toml"
    cfg.write_text(CONFIG + "tolerance_k = 0.0\ntolerance_c = 0.0\n")
    assert main(["compare", str(cfg), "-o", str(tmp_path / "f.json"), "-q"]) == 1
    cfg.write_text(CONFIG.replace("seeds = 12", "seeds = 12\nbogus = 1"))
    assert main(["compare", str(cfg), "-q"]) == 2
    assert "bogus" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "missing.toml")]) == 2


def test_protocol_comparison_follows_the_power_rule():
    """compare_protocol judges with the same rule: 2 seeds INCONCLUSIVE, 8 seeds PASS."""
    from odesolve.multitask import MultiTaskSetup, MultiTaskState, continual, teacher_overlaps
    from odesolve.multitask.compare import compare_protocol

    setup = MultiTaskSetup(2, 1, P=2, heads="multi", eta=1.0)
    T = teacher_overlaps(M=1, P=2, feature_similarity=0.3)
    state = MultiTaskState.random(setup, T, V_star=[[1.0], [1.0]], N=2000, student_std=0.3,
                                  readout_std=0.3, seed=0)
    with pytest.warns(odesolve.comparison.PowerWarning, match="seeds are needed"):
        weak = compare_protocol(setup, state, continual(5.0, 5.0), N=2000, seeds=range(2),
                                progress=False)
    assert weak["verdict"] == "INCONCLUSIVE" and not weak["passed"]
    rep = compare_protocol(setup, state, continual(5.0, 5.0), N=2000, seeds=range(8),
                           progress=False)
    assert rep["verdict"] == "PASS" and rep["passed"] and not rep["warnings"], rep["stats"]
