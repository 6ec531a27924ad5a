"""Two tasks in sequence on the scikit-learn digits (odesolve.networks.digits): hand-written
gradients against finite differences, SGD steps against the gradients, the task construction,
the measures, the initialisations and the ``digits_forgetting`` scenario."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from scipy.special import erf

from odesolve.networks.digits import (INIT_SCALES, field_overlaps, init_weights,
                                      load_digits_data, loss_and_gradients, sgd_steps,
                                      teacher_directions, teacher_fields, train_two_tasks)
from odesolve.networks.digits_scenarios import DIGITS_SCENARIOS


@pytest.fixture(scope="module")
def data():
    return load_digits_data(0)


def _loss(W, V, X, y, head):
    # written out independently of odesolve: erf units, one head, mean squared error / 2
    lam = X @ W.T / np.sqrt(X.shape[1])
    return 0.5 * np.mean((erf(lam / np.sqrt(2)) @ V[head] - y) ** 2)


def test_gradients_equal_central_finite_differences(data, validation):
    rng = np.random.default_rng(3)
    K, N = 3, data.N
    W, V = rng.standard_normal((K, N)), rng.standard_normal((2, K))
    X, y = data.X_train[:40], 0.5 * rng.standard_normal(40)
    _, dW, dV = loss_and_gradients(W, V, X, y, head=1)
    h = 1e-6
    fd_W, fd_V = np.zeros_like(W), np.zeros_like(V)
    for P, fd in ((W, fd_W), (V, fd_V)):
        for k in np.ndindex(P.shape):
            old = P[k]
            P[k] = old + h
            up = _loss(W, V, X, y, 1)
            P[k] = old - h
            down = _loss(W, V, X, y, 1)
            P[k] = old
            fd[k] = (up - down) / (2 * h)
    g, fd = np.concatenate([dW.ravel(), dV.ravel()]), np.concatenate([fd_W.ravel(),
                                                                       fd_V.ravel()])
    rel = np.linalg.norm(g - fd) / np.linalg.norm(fd)
    validation("digits.gradient-fd", area="Networks on real data",
               claim="the hand-written gradients of the two-layer erf network with two heads "
                     "(digits, K = 3, N = 64, 40 images) equal central finite differences",
               method="central differences with step 1e-6 on every weight and readout",
               measured=float(rel), bound=1e-6, unit="relative error (2-norm)")
    assert rel < 1e-6
    assert np.all(dV[0] == 0.0)                     # the untrained head gets no gradient


@pytest.mark.parametrize("batch", [1, 5])
def test_compiled_sgd_step_is_the_gradient_step(data, batch):
    rng = np.random.default_rng(1)
    W, V = rng.standard_normal((2, data.N)), rng.standard_normal((2, 2))
    y = rng.standard_normal(len(data.X_train))
    idx = np.array([[7, 7, 30, 2, 11][:batch]])
    _, dW, dV = loss_and_gradients(W, V, data.X_train[idx[0]], y[idx[0]], head=0)
    W_expect, V_expect = W - 0.3 * dW, V - 0.3 / data.N * dV
    sgd_steps(W, V, data.X_train, y, 0, idx, eta=0.3)
    np.testing.assert_allclose(W, W_expect, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(V, V_expect, rtol=1e-12, atol=1e-14)


def test_teacher_fields_have_unit_variance_and_correlation_a_on_training_set(data):
    for a in (0.0, 0.35, 1.0):
        nu = teacher_fields(teacher_directions(data, a), data.X_train)
        T = nu.T @ nu / len(nu)
        np.testing.assert_allclose(T, [[1.0, a], [a, 1.0]], atol=1e-12)


def test_teacher_one_is_an_even_odd_score(data):
    # the first task is built from a real label: its field separates even from odd digits
    nu = teacher_fields(teacher_directions(data, 0.0), data.X_test)[:, 0]
    even = data.labels_test % 2 == 0
    assert nu[even].mean() > 0 > nu[~even].mean()
    assert np.mean((nu > 0) == even) > 0.75


def test_split_is_standardised_and_fixed_by_seed(data):
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0.0, atol=1e-12)
    std = data.X_train.std(axis=0)
    assert np.all((np.abs(std - 1) < 1e-12) | (std == 0))
    assert data.X_train.shape == (1348, 64) and data.X_test.shape == (449, 64)
    np.testing.assert_array_equal(load_digits_data(0).X_test, data.X_test)
    assert not np.array_equal(load_digits_data(1).labels_test, data.labels_test)


def test_whitened_digits_have_identity_second_moments(data):
    w = load_digits_data(0, whiten=True)
    assert w.N == np.linalg.matrix_rank(data.X_train)
    np.testing.assert_allclose(w.X_train.T @ w.X_train / len(w.X_train), np.eye(w.N),
                               atol=1e-10)
    np.testing.assert_array_equal(w.labels_test, data.labels_test)


def test_init_scales_are_the_scenarios_inits():
    from odesolve.scenarios import INITS
    assert INIT_SCALES == INITS
    W, V = init_weights("imbalanced", 300, 64, 2, seed=0)
    assert W.std() == pytest.approx(1e-3, rel=0.03)
    assert V.std() == pytest.approx(1.0, rel=0.2)
    W, V = init_weights("symmetric", 2, 64, 2, seed=0)
    np.testing.assert_array_equal(W[0], W[1])
    np.testing.assert_array_equal(V[:, 0], V[:, 1])


def test_symmetric_units_stay_identical_under_sgd(data):
    r = train_two_tasks(data, 0.5, "symmetric", seed=2, t_task=20.0)
    np.testing.assert_array_equal(r.W[0], r.W[1])
    np.testing.assert_array_equal(r.V[:, 0], r.V[:, 1])
    assert r.specialisation == 0.0


def test_field_overlaps_are_weight_overlaps_for_white_inputs():
    rng = np.random.default_rng(0)
    n, N = 500, 16
    X = np.linalg.qr(rng.standard_normal((n, N)))[0] * np.sqrt(n)   # X^T X / n = identity
    W, Ws = rng.standard_normal((2, N)), rng.standard_normal((3, N))
    Q, R, T = field_overlaps(W, Ws, X)
    np.testing.assert_allclose(Q, W @ W.T / N, atol=1e-12)
    np.testing.assert_allclose(R, W @ Ws.T / N, atol=1e-12)
    np.testing.assert_allclose(T, Ws @ Ws.T / N, atol=1e-12)


def test_specialisation_is_one_when_one_unit_is_the_teacher(data):
    from odesolve.observables import teacher_specialisation
    Ws = teacher_directions(data, 0.0)          # teacher 1 and a direction uncorrelated with it
    _, R, T = field_overlaps(Ws, Ws[:1], data.X_train)
    np.testing.assert_allclose(R[:, 0], [1.0, 0.0], atol=1e-12)
    assert teacher_specialisation(R, T, np.array([1.0, 1.0])) == pytest.approx(1.0)
    _, R, T = field_overlaps(np.stack([Ws[0], Ws[0]]), Ws[:1], data.X_train)
    assert teacher_specialisation(R, T, np.array([0.5, 0.5])) == pytest.approx(0.0, abs=1e-12)


def test_two_task_run_learns_and_forgetting_is_the_error_rise(data):
    r = train_two_tasks(data, 0.2, "balanced", seed=0, eta=0.5, t_task=100.0, n_out=11)
    j = int(np.argmin(np.abs(r.t - 100.0)))
    assert r.eps[j, 0] < 1e-2 * r.eps[0, 0]         # task 1 learned by the switch
    assert r.eps[-1, 1] < 1e-2 * r.eps[0, 1]        # task 2 learned at the end
    assert r.forgetting == pytest.approx(r.eps[-1, 0] - r.eps[j, 0], abs=1e-15)
    # the final task-1 error recomputed from the final weights, independently of the module
    Ws = teacher_directions(data, 0.2)
    y1 = erf(data.X_test @ Ws[0] / 8.0 / np.sqrt(2))
    assert r.eps[-1, 0] == pytest.approx(_loss(r.W, r.V, data.X_test, y1, 0), rel=1e-12)
    np.testing.assert_array_equal(r.V[0], r.V_switch[0])     # head 1 frozen during task 2


def test_identical_tasks_are_not_forgotten(data):
    # a = 1: task 2 is task 1 through a fresh head; W moves only to fit the new head
    r = train_two_tasks(data, 1.0, "symmetric", seed=0, eta=0.5, t_task=100.0)
    assert abs(r.forgetting) < 1e-3


def test_bad_arguments_are_named(data, monkeypatch):
    with pytest.raises(ValueError, match="`similarity`"):
        teacher_directions(data, 1.5)
    with pytest.raises(ValueError, match="`init`"):
        init_weights("lazy", 2, 64)
    with pytest.raises(ValueError, match="`test_fraction`"):
        load_digits_data(0, test_fraction=1.0)
    with pytest.raises(TypeError, match="`seed`"):
        load_digits_data("zero")
    with pytest.raises(TypeError, match="`whiten`"):
        load_digits_data(0, whiten=1)
    with pytest.raises(ValueError, match="`batch`"):
        train_two_tasks(data, 0.5, "balanced", batch=0)
    with pytest.raises(ValueError, match="`idx`"):
        sgd_steps(np.zeros((2, 64)), np.zeros((2, 2)), data.X_train,
                  np.zeros(len(data.X_train)), 0, np.array([[len(data.X_train)]]), 1.0)
    # the compiled loop reads without bounds checks: shapes and dtypes are checked before it
    y0, idx0 = np.zeros(len(data.X_train)), np.zeros((1, 1), dtype=int)
    with pytest.raises(ValueError, match="`W`"):
        sgd_steps(np.zeros((2, 10)), np.zeros((2, 2)), data.X_train, y0, 0, idx0, 1.0)
    with pytest.raises(ValueError, match="`y_star`"):
        sgd_steps(np.zeros((2, 64)), np.zeros((2, 2)), data.X_train, y0[:3], 0, idx0, 1.0)
    with pytest.raises(TypeError, match="float64"):
        sgd_steps(np.zeros((2, 64), dtype=int), np.zeros((2, 2)), data.X_train, y0, 0, idx0,
                  1.0)
    with pytest.raises(ValueError, match="`test_fraction`"):
        load_digits_data(0, test_fraction=1e-4)          # no test image
    with pytest.raises(TypeError, match="`data`"):
        train_two_tasks(data.X_train, 0.5, "balanced")
    with pytest.raises(ValueError, match="`t_task`"):
        train_two_tasks(data, 0.5, "balanced", t_task=1e-3)   # no SGD step
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r'pip install "odesolve\[data\]"'):
        load_digits_data(0)


def test_digits_forgetting_quick_runs_and_plots(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    run, plot, n_axes, title = DIGITS_SCENARIOS["digits_forgetting"]
    d = run(quick=True)
    json.dumps(d, allow_nan=False)           # strict JSON
    assert d["scenario"] == "digits_forgetting" and n_axes == 3 and title
    for key in ("digits", "whitened"):
        for init in INIT_SCALES:
            f = np.array(d[key][init]["forgetting"])
            assert f.shape == (len(d["a"]), d["seeds"]) and np.all(np.isfinite(f))
            assert d[key][init]["task1_error_at_switch_max"] < 0.01   # task 1 was learned
        # symmetric units cannot specialise, in the network as in the ODE
        assert np.all(np.array(d[key]["symmetric"]["specialisation"]) == 0.0)
    assert d["ode"]["scenario"] == "forgetting"
    fig, axes = plt.subplots(1, 3, squeeze=False)
    plot(d, axes)
    fig.savefig(tmp_path / "digits.png")
    plt.close(fig)
    with pytest.raises(TypeError, match="`quick`"):
        run(quick="yes")
