"""Rate RNN trained by BPTT (odesolve.networks.rnn): gradients against finite differences,
measures against independent formulas, tasks against their definitions, the rnn_rank scenario.
"""
import json

import numpy as np
import pytest

from odesolve.networks.rnn import (dale_connectivity, effective_rank, initial_connectivity,
                                   kernel_alignment, linear_cka, random_connectivity,
                                   readout_jacobian, relative_weight_change, rnn_forward,
                                   rnn_gradients, rnn_loss, rnn_readin_readout, train_and_measure,
                                   train_rnn)
from odesolve.networks.rnn_scenarios import RNN_SCENARIOS, rnn_rank_study
from odesolve.networks.rnn_tasks import RNN_TASKS, choice_accuracy, task_batch


def _small_net(task, n=10, seed=3):
    b = task_batch(task, 3, seed, n_steps=20)
    W = random_connectivity(n, 1.2 * np.sqrt(n), seed)
    U, V = rnn_readin_readout(n, b.x.shape[2], b.z.shape[2], seed + 1)
    return W, U, 3.0 * V, b


def _central_difference(f, A, eps=1e-5):
    out = np.empty_like(A)
    for idx in np.ndindex(A.shape):
        old = A[idx]
        A[idx] = old + eps
        fp = f()
        A[idx] = old - eps
        fm = f()
        A[idx] = old
        out[idx] = (fp - fm) / (2 * eps)
    return out


@pytest.mark.parametrize("task", list(RNN_TASKS))
def test_bptt_gradients_equal_central_finite_differences(task, validation):
    W, U, V, b = _small_net(task)
    params = {"W": W, "U": U, "V": V}
    _, grads = rnn_gradients(W, U, V, b.x, b.z, b.mask)
    for name, A in params.items():
        num = _central_difference(lambda: rnn_loss(W, U, V, b.x, b.z, b.mask), A)
        rel = np.linalg.norm(grads[name] - num) / np.linalg.norm(num)
        validation(f"networks.rnn.bptt-vs-fd.{task}.{name}", area="Trained networks",
                   claim=f"hand-written BPTT gradient of the rate-RNN loss w.r.t. {name} equals "
                         f"central finite differences ({task} task, N = 10, T = 20, 3 trials)",
                   method="central differences, step 1e-5, of the loss from the forward pass",
                   measured=rel, bound=1e-6, unit="relative error (Frobenius)")
        assert rel < 1e-6, (name, rel)


def test_readout_jacobian_equals_finite_differences(validation):
    W, U, V, b = _small_net("context", n=6)
    J = readout_jacobian(W, U, V, b.x, b.mask, params=("W", "U", "V"))
    weights = b.mask / b.mask.sum(axis=1, keepdims=True)

    def decision():
        y = rnn_forward(W, U, V, b.x)[1]
        return (y * weights[:, :, None]).sum(axis=1).ravel()      # (B * n_out,)

    cols = []
    for A in (W, U, V):
        for idx in np.ndindex(A.shape):
            old = A[idx]
            A[idx] = old + 1e-5
            fp = decision()
            A[idx] = old - 1e-5
            fm = decision()
            A[idx] = old
            cols.append((fp - fm) / 2e-5)
    num = np.stack(cols, axis=1)
    rel = np.linalg.norm(J - num) / np.linalg.norm(num)
    validation("networks.rnn.jacobian-vs-fd", area="Trained networks",
               claim="per-trial Jacobian of the decision readout (tangent-kernel features) "
                     "w.r.t. W, U, V equals central finite differences",
               method="central differences, step 1e-5, of the forward pass",
               measured=rel, bound=1e-6, unit="relative error (Frobenius)")
    assert rel < 1e-6


def test_forward_is_the_stated_euler_recursion():
    W, U, V, b = _small_net("match", n=5)
    alpha = 0.3
    rates, y = rnn_forward(W, U, V, b.x, alpha)
    for trial in range(b.x.shape[0]):
        h = np.zeros(5)
        for t in range(b.x.shape[1]):
            h = (1 - alpha) * h + alpha * (W @ np.tanh(h) + U @ b.x[trial, t])
            np.testing.assert_allclose(rates[trial, t + 1], np.tanh(h), atol=1e-14)
            np.testing.assert_allclose(y[trial, t], V @ np.tanh(h), atol=1e-14)
    assert np.all(rates[:, 0] == 0)


def test_effective_rank_of_known_spectra():
    Q1 = np.linalg.qr(np.random.default_rng(0).standard_normal((7, 7)))[0]
    Q2 = np.linalg.qr(np.random.default_rng(1).standard_normal((7, 7)))[0]
    s = np.array([3.0, 1.0, 0, 0, 0, 0, 0])
    A = Q1 @ np.diag(s) @ Q2
    # p = (3/4, 1/4): exp(-(3/4 log 3/4 + 1/4 log 1/4)) = 4 / 3^(3/4)
    assert effective_rank(A) == pytest.approx(4 / 3 ** 0.75, rel=1e-12)
    assert effective_rank(A, "participation") == pytest.approx(100 / 82, rel=1e-12)
    P = Q1[:, :4] @ Q2[:4] * 2.5                      # four equal singular values
    assert effective_rank(P) == pytest.approx(4.0, rel=1e-12)
    assert effective_rank(P, "participation") == pytest.approx(4.0, rel=1e-12)


def test_relative_weight_change_and_kernel_alignment_formulas():
    rng = np.random.default_rng(5)
    W0, D = rng.standard_normal((6, 6)), rng.standard_normal((6, 6))
    assert relative_weight_change(W0 + D, W0) == pytest.approx(
        np.sqrt((D ** 2).sum() / (W0 ** 2).sum()), rel=1e-12)
    J0, J1 = rng.standard_normal((5, 30)), rng.standard_normal((5, 30))
    K0, K1 = J0 @ J0.T, J1 @ J1.T
    expected = np.trace(K0 @ K1) / np.sqrt(np.trace(K0 @ K0) * np.trace(K1 @ K1))
    assert kernel_alignment(J0, J1) == pytest.approx(expected, rel=1e-12)
    assert kernel_alignment(J0, 3.0 * J0) == pytest.approx(1.0, rel=1e-12)
    # an orthogonal change of parameter coordinates leaves the kernel unchanged
    Q = np.linalg.qr(rng.standard_normal((30, 30)))[0]
    assert kernel_alignment(J0, J0 @ Q) == pytest.approx(1.0, rel=1e-12)


def test_linear_cka_equals_centred_gram_hsic_form():
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((40, 5)), rng.standard_normal((40, 8))
    H = np.eye(40) - 1 / 40
    K, L = H @ X @ X.T @ H, H @ Y @ Y.T @ H
    expected = np.trace(K @ L) / np.sqrt(np.trace(K @ K) * np.trace(L @ L))
    assert linear_cka(X, Y) == pytest.approx(expected, rel=1e-12)
    Q = np.linalg.qr(rng.standard_normal((5, 5)))[0]
    assert linear_cka(X, 2.0 * X @ Q + 1.0) == pytest.approx(1.0, rel=1e-12)


def test_initial_connectivity_has_the_norm_rank_and_structure_asked():
    n, norm = 20, 0.9 * np.sqrt(20)
    full = initial_connectivity("full", n, norm, seed=4)
    low = initial_connectivity("random_low_rank", n, norm, 3, seed=4)
    for M in (full, low):
        assert np.linalg.norm(M) == pytest.approx(norm, rel=1e-12)
    assert np.linalg.matrix_rank(full) == n and np.linalg.matrix_rank(low) == 3
    U, s, Vt = np.linalg.svd(full)       # random low rank = rescaled truncation of the full draw
    np.testing.assert_allclose(low, (U[:, :3] * s[:3]) @ Vt[:3] * norm / np.linalg.norm(s[:3]),
                               atol=1e-12)
    S = np.random.default_rng(9).standard_normal((n, n))
    al = initial_connectivity("aligned", n, norm, 2, structure=S)
    Us, ss, Vst = np.linalg.svd(S)
    np.testing.assert_allclose(al, (Us[:, :2] * ss[:2]) @ Vst[:2] * norm / np.linalg.norm(ss[:2]),
                               atol=1e-12)


def test_dale_connectivity_obeys_dale_law_and_block_balance():
    n = 50
    W = dale_connectivity(n, 4.0, seed=1)
    assert np.linalg.norm(W) == pytest.approx(4.0, rel=1e-12)
    n_inh = int(np.floor(0.2 * n))
    assert np.all(W[:, :n - n_inh] >= 0) and np.all(W[:, n - n_inh:] <= 0)
    assert np.all(np.diag(W) == 0)
    # the expected input is balanced: mean E input and mean I input cancel on average
    big = dale_connectivity(1000, 1.0, seed=2)
    assert abs(big.sum()) / np.abs(big).sum() < 0.02
    # ... and per post-synaptic cell type (types 400, 400, 200 units; the last inhibitory)
    types = np.repeat([0, 1, 2], [400, 400, 200])
    for a in range(3):
        rows = big[types == a]
        exc, inh = rows[:, types < 2].sum(), rows[:, types == 2].sum()
        assert inh < 0 < exc and abs(exc + inh) / exc < 0.05


def test_tasks_labels_follow_their_definitions():
    for task in RNN_TASKS:
        b = task_batch(task, 50, 7, noise=0.0)
        assert choice_accuracy(b.z, b) == 1.0                  # the target itself is correct
        assert np.all(b.mask.sum(axis=1) == 10) and np.all(b.x[:, 30:, 0] == 0)
    d = task_batch("decision", 50, 7, noise=0.0)
    np.testing.assert_array_equal(d.label, d.x[:, 5:20, 1].sum(axis=1) > 0)
    m = task_batch("match", 50, 7, noise=0.0)
    np.testing.assert_array_equal(m.label, m.x[:, 6, 1:3].argmax(1) == m.x[:, 23, 1:3].argmax(1))
    c = task_batch("context", 50, 7, noise=0.0)
    cued = np.where(c.x[:, 10, 3] == 1, c.x[:, 10, 1], c.x[:, 10, 2])
    np.testing.assert_array_equal(c.label, cued > 0)


def test_one_update_is_adam_or_sgd_on_the_first_batch():
    W, U, V, _ = _small_net("decision", n=8)
    b = task_batch("decision", 4, np.random.default_rng(11))
    _, g = rnn_gradients(W, U, V, b.x, b.z, b.mask)
    sgd = train_rnn(W, U, V, "decision", n_iter=1, lr=0.1, batch_size=4, seed=11,
                    optimizer="sgd", train=("W", "V"))
    np.testing.assert_allclose(sgd["W"], W - 0.1 * g["W"], atol=1e-14)
    np.testing.assert_allclose(sgd["V"], V - 0.1 * g["V"], atol=1e-14)
    np.testing.assert_array_equal(sgd["U"], U)                 # untrained stays put
    adam = train_rnn(W, U, V, "decision", n_iter=1, lr=0.01, batch_size=4, seed=11)
    np.testing.assert_allclose(adam["W"], W - 0.01 * g["W"] / (np.abs(g["W"]) + 1e-8),
                               atol=1e-12)


def test_gradient_norm_clipping_rescales_the_whole_gradient():
    """One clipped SGD step moves (W, V) by lr * clip along the gradient direction when the
    gradient's norm over the trained parameters exceeds clip, and is unchanged otherwise."""
    W, U, V, _ = _small_net("decision", n=8)
    b = task_batch("decision", 4, np.random.default_rng(11))
    _, g = rnn_gradients(W, U, V, b.x, b.z, b.mask)
    norm = np.sqrt(np.sum(g["W"] ** 2) + np.sum(g["V"] ** 2))
    kw = dict(n_iter=1, lr=0.1, batch_size=4, seed=11, optimizer="sgd", train=("W", "V"))
    clipped = train_rnn(W, U, V, "decision", max_grad_norm=0.5 * norm, **kw)
    np.testing.assert_allclose(clipped["W"], W - 0.1 * 0.5 * g["W"], atol=1e-14)
    np.testing.assert_allclose(clipped["V"], V - 0.1 * 0.5 * g["V"], atol=1e-14)
    loose = train_rnn(W, U, V, "decision", max_grad_norm=2.0 * norm, **kw)
    np.testing.assert_allclose(loose["W"], W - 0.1 * g["W"], atol=1e-14)


def test_training_learns_the_decision_task():
    n = 32
    probe = task_batch("decision", 64, 123)
    U, V = rnn_readin_readout(n, 2, 2, 1)
    W0 = initial_connectivity("full", n, 0.9 * np.sqrt(n), seed=1)
    m = train_and_measure(W0, U, V, "decision", probe, n_iter=120, seed=2)
    assert m["accuracy"] >= 0.85 > m["accuracy_initial"]
    assert 0 < m["weight_change"] and 0 < m["kernel_distance"] < 1
    assert 0 < m["representation_change"] < 1


def test_training_stops_at_the_first_check_that_reaches_the_criterion():
    n, check, target = 16, 5, 0.85
    probe = task_batch("decision", 64, 321)
    U, V = rnn_readin_readout(n, 2, 2, 4)
    W0 = initial_connectivity("full", n, 0.9 * np.sqrt(n), seed=4)
    kw = dict(lr=0.1, batch_size=16, seed=8, optimizer="sgd")
    out = train_rnn(W0, U, V, "decision", n_iter=400, probe=probe, target_accuracy=target,
                    check_every=check, **kw)
    k = out["n_updates"]
    assert out["reached"] and 0 < k < 400 and k % check == 0 and out["loss"].shape == (k,)

    def accuracy_after(n_iter):             # independent: a fixed-length run on the same stream
        w = train_rnn(W0, U, V, "decision", n_iter=n_iter, **kw)["W"] if n_iter else W0
        return w, choice_accuracy(rnn_forward(w, U, V, probe.x)[1], probe)

    W_k, acc_k = accuracy_after(k)
    np.testing.assert_array_equal(out["W"], W_k)
    assert out["accuracy"] == acc_k >= target
    assert all(accuracy_after(j)[1] < target for j in range(0, k, check))


def test_budget_without_reaching_the_criterion_is_reported():
    n = 8
    probe = task_batch("match", 32, 5)
    U, V = rnn_readin_readout(n, 3, 2, 1)
    W0 = initial_connectivity("full", n, 0.9 * np.sqrt(n), seed=1)
    out = train_rnn(W0, U, V, "match", n_iter=7, lr=1e-6, optimizer="sgd", seed=2,
                    probe=probe, target_accuracy=1.0, check_every=3)
    assert not out["reached"] and out["n_updates"] == 7 and out["loss"].shape == (7,)
    assert out["accuracy"] == choice_accuracy(rnn_forward(out["W"], U, V, probe.x)[1], probe)


def test_measures_are_taken_at_the_criterion():
    n, target = 16, 0.85
    probe = task_batch("decision", 48, 77)
    U, V = rnn_readin_readout(n, 2, 2, 6)
    W0 = initial_connectivity("random_low_rank", n, 0.9 * np.sqrt(n), 2, seed=6)
    kw = dict(lr=0.1, batch_size=16, seed=9, optimizer="sgd")
    m = train_and_measure(W0, U, V, "decision", probe, n_iter=400, target_accuracy=target,
                          check_every=4, **kw)
    assert m["reached"] and m["accuracy"] >= target > m["accuracy_initial"]
    # independent recomputation from a fixed-length run of m["n_updates"] updates
    W1 = train_rnn(W0, U, V, "decision", n_iter=m["n_updates"], **kw)["W"]
    np.testing.assert_array_equal(m["W"], W1)
    assert m["weight_change"] == pytest.approx(
        np.sqrt(((W1 - W0) ** 2).sum() / (W0 ** 2).sum()), rel=1e-12)
    J0 = readout_jacobian(W0, U, V, probe.x, probe.mask)
    J1 = readout_jacobian(W1, U, V, probe.x, probe.mask)
    K0, K1 = J0 @ J0.T, J1 @ J1.T
    align = np.trace(K0 @ K1) / np.sqrt(np.trace(K0 @ K0) * np.trace(K1 @ K1))
    assert m["kernel_distance"] == pytest.approx(1 - align, rel=1e-9, abs=1e-12)
    X = rnn_forward(W0, U, V, probe.x)[0][:, 1:].reshape(-1, n)
    Y = rnn_forward(W1, U, V, probe.x)[0][:, 1:].reshape(-1, n)
    X, Y = X - X.mean(0), Y - Y.mean(0)
    cka = np.trace(X @ X.T @ Y @ Y.T) / np.sqrt(np.trace(X @ X.T @ X @ X.T)
                                                * np.trace(Y @ Y.T @ Y @ Y.T))
    assert m["representation_change"] == pytest.approx(1 - cka, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("call, error, match", [
    (lambda: effective_rank(np.zeros((3, 3))), ValueError, "must not be zero"),
    (lambda: effective_rank(np.eye(3), "pr"), ValueError, "`method` must be one of"),
    (lambda: initial_connectivity("aligned", 5, 1.0, 2), ValueError, "`structure` is needed"),
    (lambda: initial_connectivity("random_low_rank", 5, 1.0), ValueError, "`rank` is needed"),
    (lambda: initial_connectivity("full", 5, -1.0), ValueError, "`norm` must be positive"),
    (lambda: train_rnn(np.eye(4), np.ones((4, 3)), np.ones((2, 4)), "decision"), ValueError,
     "n_in = 2"),
    (lambda: train_rnn(np.eye(4), np.ones((4, 2)), np.ones((2, 4)), "decision", train="X"),
     ValueError, "`train` must be one of"),
    (lambda: train_rnn(np.eye(4), np.ones((4, 2)), np.ones((2, 4)), "decision", train=5),
     TypeError, "`train` must be a name"),
    (lambda: readout_jacobian(np.eye(4), np.ones((4, 2)), np.ones((2, 4)), np.ones((1, 20, 2)),
                              np.ones((1, 20)), params=("X",)), ValueError,
     "`params` must be one of"),
    (lambda: dale_connectivity(10, 1.0, p_connect=np.zeros((3, 3))), ValueError,
     "`p_connect` gave no connection"),
    (lambda: choice_accuracy(np.zeros((2, 40, 2)), "batch"), TypeError,
     "`batch` must be a TaskBatch"),
    (lambda: task_batch("dms", 3), ValueError, "`task` must be one of"),
    (lambda: rnn_forward(np.eye(4), np.ones((4, 2)), np.ones((2, 4)), np.ones((3, 5))),
     ValueError, "`x` must have shape"),
    (lambda: task_batch("decision", 2.0), TypeError, "`n_trials` must be an integer"),
    (lambda: rnn_rank_study(tasks=["dms"]), ValueError, "`tasks` must be one of"),
    (lambda: rnn_rank_study(seeds=[]), ValueError, "`seeds` must not be empty"),
    (lambda: rnn_rank_study(n=8, ranks=[16]), ValueError, "`ranks\\[0\\]`"),
    (lambda: rnn_rank_study(optimizer="rmsprop"), ValueError, "`optimizer` must be one of"),
    (lambda: rnn_rank_study(lr={"decision": 0.1}), ValueError, "`lr` must give a learning"),
    (lambda: rnn_rank_study(max_grad_norm=0.0), ValueError, "`max_grad_norm` must be"),
    (lambda: train_rnn(np.eye(4), np.ones((4, 2)), np.ones((2, 4)), "decision",
                       target_accuracy=0.9), ValueError, "`probe` is needed"),
    (lambda: train_rnn(np.eye(4), np.ones((4, 2)), np.ones((2, 4)), "decision",
                       probe=task_batch("decision", 2, 0), target_accuracy=1.5), ValueError,
     "`target_accuracy` must be"),
])
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_rnn_rank_quick_runs_and_plots(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run, plot, shape, _ = RNN_SCENARIOS["rnn_rank"]
    d = json.loads(json.dumps(run(quick=True)))
    assert d["scenario"] == "rnn_rank" and set(d["tasks"]) == set(RNN_TASKS)
    for conds in d["tasks"].values():
        assert set(conds) == {"full", "dale", "random_r2", "aligned_r2", "aligned_trained_r2",
                              "rank_correlation"}
        for c in (c for key, c in conds.items() if key != "rank_correlation"):
            assert c["learned"] == [a >= d["accuracy_threshold"] for a in c["runs"]["accuracy"]]
            for learned, k in zip(c["learned"], c["runs"]["n_updates"]):   # stopped at a check
                assert (k % d["check_every"] == 0 and k <= d["max_updates"]) if learned else (
                    k == d["max_updates"])
        assert conds["random_r2"]["runs"]["effective_rank"][0] < 2.0 + 1e-9
    fig, axes = plt.subplots(*shape)
    plot(d, axes.ravel())
    fig.savefig(tmp_path / "rnn_rank.png")
    plt.close(fig)
