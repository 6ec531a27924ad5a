"""ODE-versus-simulation harness: report contents, a verdict that can fail, the CLI."""
import json

import numpy as np
import pytest

import odesolve
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
    assert report.passed, report.summary()
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


def test_verdict_fails_for_a_wrong_ode(monkeypatch):
    """The ODE integrated with a learning rate 30 % too large must be caught."""
    from odesolve import integration

    real = integration.integrate

    def wrong(setup, *args, **kwargs):
        bad = TeacherStudent(setup.K, setup.M, setup.activation, eta=1.3 * setup.eta,
                             eta_v=setup.eta_v, sigma=setup.sigma)
        return real(bad, *args, **kwargs)

    monkeypatch.setattr(integration, "integrate", wrong)
    rep = odesolve.compare(SETUP, STATE, **KW)
    assert not rep.passed
    assert not rep.stats["R"]["passed"] and rep.stats["R"]["max_dev_sem"] > 4
    assert "FAIL" in rep.summary()


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
seeds = 6
"""


def test_cli_compare_writes_json_and_png(tmp_path, capsys):
    cfg = tmp_path / "cmp.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / "out" / "cmp.json"
    assert main(["compare", str(cfg), "-o", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "overall: PASS" in printed and str(out.resolve()) in printed
    data = json.loads(out.read_text())
    assert data["passed"] and data["N"] == 400 and len(data["seeds"]) == 6
    assert out.with_suffix(".png").exists()


def test_cli_compare_exit_codes(tmp_path, capsys):
    cfg = tmp_path / "cmp.toml"
    cfg.write_text(CONFIG + "tolerance_k = 0.0\ntolerance_c = 0.0\n")
    assert main(["compare", str(cfg), "-o", str(tmp_path / "f.json"), "-q"]) == 1
    cfg.write_text(CONFIG.replace("seeds = 6", "seeds = 6\nbogus = 1"))
    assert main(["compare", str(cfg), "-q"]) == 2
    assert "bogus" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "missing.toml")]) == 2
