"""Multi-task observables against hand-made cases; scenarios run end to end (quick mode)."""
import json

import numpy as np
import pytest

from odesolve.cli import main
from odesolve.observables import (forgetting, layer_imbalance, readout_entropy,
                                  teacher_specialisation, transfer)
from odesolve.scenarios import run_scenario


def test_teacher_specialisation_limits():
    T = np.eye(2)
    equal = np.full((3, 2), 0.4)                  # every student unit carries both equally
    assert teacher_specialisation(equal, T, np.ones(3)) == pytest.approx(0.0, abs=1e-15)
    one = np.array([[1.0, 0.0], [0.0, 0.9], [0.0, 0.0]])   # one carrier per teacher unit
    assert teacher_specialisation(one, T, np.array([1.0, -2.0, 5.0])) == pytest.approx(1.0)
    # a unit with zero readout carries nothing, whatever its alignment
    R = np.array([[0.8], [0.8]])
    assert teacher_specialisation(R, np.eye(1), np.array([1.0, 0.0])) == pytest.approx(1.0)
    assert teacher_specialisation(R, np.eye(1), np.array([0.5, 0.5])) == pytest.approx(0.0)
    # half-way: p = (3/4, 1/4) for K = 2 gives (3/4 - 1/2) / (1/2) = 1/2
    assert teacher_specialisation(R, np.eye(1), np.array([3.0, 1.0])) == pytest.approx(0.5)
    assert teacher_specialisation(np.ones((1, 1)), np.eye(1), np.ones(1)) == 1.0
    batch = teacher_specialisation(np.stack([one, equal]), T, np.ones(3))
    np.testing.assert_allclose(batch, [1.0, 0.0], atol=1e-15)


def test_entropy_imbalance_forgetting_transfer():
    assert readout_entropy(np.array([1.0, -1.0, 1.0])) == pytest.approx(1.0)
    assert readout_entropy(np.array([0.0, 2.0, 0.0])) == pytest.approx(0.0)
    assert readout_entropy(np.array([1.0, 1.0, 0.0])) == pytest.approx(np.log(2) / np.log(3))
    np.testing.assert_allclose(layer_imbalance(np.diag([1.0, 4.0]), np.array([2.0, 1.0])),
                               [3.0, -3.0])
    t = np.linspace(0, 4, 5)
    f = forgetting(t, np.array([0.5, 0.2, 0.1, 0.3, 0.4]), 2.0)
    np.testing.assert_allclose(f[2:], [0.0, 0.2, 0.3])
    assert np.isnan(f[:2]).all()
    assert transfer(0.1, 0.4) == pytest.approx(0.3)


@pytest.mark.parametrize("name", ["specialisation", "forgetting", "ewc", "scm_deficit",
                                  "lazy_rich", "low_rank", "critical_periods",
                                  "committee_plasticity"])
def test_scenarios_write_figure_and_numbers(name, tmp_path):
    data, js, png = run_scenario(name, tmp_path, quick=True)
    assert png.exists() and png.stat().st_size > 10_000
    back = json.loads(js.read_text())
    assert back["scenario"] == name and back["quick"] is True
    if name == "specialisation":
        st = back["specialisation_stats"]
        assert np.all(np.array(st["q25"]) <= np.array(st["median"]) + 1e-12)
        s = np.array(back["specialisation"])
        assert np.all((s >= -1e-12) & (s <= 1 + 1e-12))
        assert back["final_eps_g_max"] < 1e-3                  # every network learned
    elif name == "forgetting":
        for init in ("balanced", "imbalanced"):
            med = back[init]["forgetting_stats"]["median"]
            # identical teachers (a = 1): the shared features already fit task 2, and task 1
            # has its own head: nothing to forget
            assert abs(med[-1]) < 1e-2 and max(med) > 5 * abs(med[-1])
        # identical student units stay identical (the symmetric manifold is invariant), so
        # they never specialise, and (Lee et al. 2021) their forgetting falls monotonically
        # with the feature similarity
        sym = back["symmetric"]
        assert np.allclose(sym["specialisation_at_switch"], 0.0, atol=1e-9)
        assert np.all(np.diff(sym["forgetting_stats"]["median"]) < 0)
    elif name == "lazy_rich":
        d = dict(zip(back["lambda"], back["kernel_distance_t20"]))
        assert d[0.0] > d[1.0] > d[5.0] > 0                     # rich to lazy
    elif name == "critical_periods":
        share = np.array(back["final_share_b"])
        assert np.all(share[:, 0] < 0.01) and np.allclose(share[:, -1], 0.5, atol=0.02)
        c = back["completion"]
        err, ctrl = np.array(c["test_error"]), np.array(c["control"])
        assert err[0, 0, 0] > 3 * ctrl[0, 0]                     # depth 2, onset 0: lasting
        assert err[0, 0, -1] == pytest.approx(ctrl[0, 0], rel=0.02)   # onset 64: none
    elif name == "low_rank":
        res = {start: ({k: np.array(v, dtype=float) for k, v in back[start]["weight_change"].items()},
                       {k: np.array(v, dtype=float) for k, v in back[start]["kernel_distance"].items()})
               for start in ("balanced", "independent")}
        # zero-balanced starts, ranks 3, 6, 10 then full: the higher the initial rank at equal
        # norm, the smaller the weight change and the kernel distance (Liu et al. 2024) ...
        wc, kd = res["balanced"]
        for m in (wc, kd):
            curve = np.append(np.nanmean(m["random"][:, 1:], axis=0), np.mean(m["full"]))
            assert np.all(np.diff(curve) < 0), curve
        # ... unless the low rank is task-aligned
        assert np.nanmean(wc["aligned"][:, 1]) < 0.7 * np.mean(wc["full"])
        assert np.nanmean(kd["aligned"][:, 1]) < 0.2 * np.mean(kd["full"])
        # independent layers: the kernel distance still falls with rank, but the weight change
        # is smallest at an intermediate rank (the off-task product has to be cancelled)
        wc, kd = res["independent"]
        assert np.all(np.diff(np.nanmean(kd["random"], axis=0)) < 0)
        assert np.nanmean(wc["random"][:, 0]) > np.mean(wc["full"]) > np.nanmean(wc["random"][:, 2])
        assert max(back[s]["max_relative_loss"] for s in res) < 1e-5    # all converged
    elif name == "committee_plasticity":
        fixed = back["summary"]["M1_fixed"]
        # the first-layer Fisher information rises fast, then falls by half as the two
        # redundant units share the readout; the total does not fall (the readout part grows)
        assert fixed["first_layer"]["t_max"] < 50 and fixed["first_layer"]["end_over_max"] < 0.6
        assert fixed["trace"]["end_over_max"] > 0.99
        # a deficit window leaves a transient dip, not a lasting change, from the fixed start
        dip = fixed["deficit_1"]
        assert dip["largest_drop_after"] > 0.1 and abs(dip["end_difference"]) < 0.01
    elif name == "scm_deficit":
        extra = dict(zip(back["onsets"], back["extra_time_lost"]))
        # on the plateau the window is a pause; after specialisation it costs a relearning
        assert abs(extra[0.0]) < 20 and extra[600.0] > 50
    else:
        for init in ("balanced", "imbalanced"):
            f = np.array(back[init]["forgetting_stats"]["median"])
            e2 = np.array(back[init]["task2_error_stats"]["median"])
            assert np.all(np.diff(f) < 0) and np.all(np.diff(e2) > 0)   # the EWC trade-off


def test_cli_scenario(tmp_path, capsys):
    assert main(["scenario", "specialisation", "--quick", "-o", str(tmp_path)]) == 0
    assert "specialisation.png" in capsys.readouterr().out
    assert main(["scenario", "nope"]) == 2
    assert "unknown scenario" in capsys.readouterr().err
