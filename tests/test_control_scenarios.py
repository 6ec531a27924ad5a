"""The optimal_lr scenario (odesolve.control.scenarios): quick run and figure, and the escape
time against its definition."""
import json

import numpy as np
import pytest

from odesolve import committee
from odesolve.control.scenarios import CONTROL_SCENARIOS, escape_time, plateau_start


def test_escape_time_is_the_first_time_the_mean_specialisation_exceeds_the_level():
    setup, state = plateau_start(2)
    y = np.repeat(committee.pack_state(state), 4, axis=0)
    K = 2
    R = np.array([[[0.1, 0.1], [0.1, 0.1]], [[0.3, 0.0], [0.0, 0.3]],
                  [[0.8, 0.0], [0.0, 0.8]], [[0.9, 0.0], [0.0, 0.9]]])
    Q = np.array([np.eye(2) * q for q in (1.0, 1.0, 1.0, 4.0)])
    y[:, :K * K] = Q.reshape(4, -1)
    y[:, K * K:K * K + K * K] = R.reshape(4, -1)
    t = np.array([0.0, 1.0, 2.0, 3.0])
    assert escape_time(t, y, 2, 2) == 2.0          # (0.8 - 0) / 1 > 0.5 first at t = 2
    assert np.isnan(escape_time(t[:2], y[:2], 2, 2))


def test_optimal_lr_quick_beats_the_baselines_and_plots(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run, plot, shape, _ = CONTROL_SCENARIOS["optimal_lr"]
    d = run(quick=True)
    json.dumps(d)
    for case in d["cases"]:
        pr = case["protocols"]
        best = min(pr["constant"]["eps_final"], pr["annealing"]["eps_final"])
        # the optimum over 20 pieces contains the constant schedule: it cannot be worse
        assert pr["optimal"]["eps_final"] <= pr["constant"]["eps_final"] * (1 + 1e-9)
        assert pr["optimal"]["eps_final"] < best
        sched = np.array(pr["optimal"]["schedule"]["values"])
        assert np.all((sched >= 0) & (sched <= case["eta_max"]))
    fig, axes = plt.subplots(*shape, figsize=(12, 6))
    plot(d, axes.ravel())
    fig.savefig(tmp_path / "optimal_lr.png")
    plt.close(fig)


def test_optimal_replay_quick_beats_block_and_interleaved_and_plots(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run, plot, shape, _ = CONTROL_SCENARIOS["optimal_replay"]
    d = run(quick=True)
    json.dumps(d)
    for case in d["cases"]:
        pr = case["protocols"]
        # the optimiser starts from interleaving, so it cannot end worse than it
        assert pr["optimal"]["objective"] <= pr["interleaved"]["objective"]
        assert pr["optimal"]["objective"] < pr["block"]["objective"]
        for name in pr:                            # the cost is the sum of the task errors
            assert pr[name]["objective"] == pytest.approx(sum(pr[name]["eps_final"]),
                                                          rel=1e-10)
    fig, axes = plt.subplots(*shape, figsize=(12, 6))
    plot(d, axes.ravel())
    fig.savefig(tmp_path / "optimal_replay.png")
    plt.close(fig)
