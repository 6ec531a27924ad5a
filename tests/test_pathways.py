"""Two deep linear pathways with input deficits (odesolve.linear.pathways) against independent
computations: two separately written chains coupled through their summed output (SciPy), the
scalar pathway model of odesolve.linear.critical, finite-difference Fisher traces; the
deficits' defining properties; bad inputs; the quick scenarios."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from odesolve.linear.critical import pathway_deficit
from odesolve.linear.deep import aligned_chain, chain_gradient_flow, end_to_end
from odesolve.linear.pathways import (DEFICITS, PathwayRun, deficit_matrix, deficit_run,
                                      join_pathways, joint_statistics, lasting_effect,
                                      pathway_masks, two_pathway_start, two_pathway_task,
                                      window_scan)


def _product(layers, n):
    P = np.eye(n)
    for W in layers:
        P = W @ P
    return P


def _coupled_pathways_rhs(T, S, A, shapes_a, shapes_b):
    """Gradient flow of 1/2 E||T x - P_a x - P_b A x||^2 with x ~ (0, S), written per pathway
    (no joint chain, no masks): dL/dP_a = -(T - P_eff) S and dL/dP_b = -(T - P_eff) S A^T."""
    def unpack(y):
        out, off = [], 0
        for sh in shapes_a + shapes_b:
            out.append(y[off:off + sh[0] * sh[1]].reshape(sh))
            off += sh[0] * sh[1]
        return out[:len(shapes_a)], out[len(shapes_a):]

    def grads(W, G):
        d_out = W[-1].shape[0]
        out = []
        for l in range(len(W)):
            above = np.eye(d_out)
            for Wl in W[l + 1:][::-1]:
                above = above @ Wl
            below = _product(W[:l], W[0].shape[1])
            out.append((above.T @ G @ below.T).ravel())
        return out

    def f(_, y):
        Wa, Wb = unpack(y)
        d = S.shape[0]
        E = T - _product(Wa, d) - _product(Wb, d) @ A
        return np.concatenate(grads(Wa, E @ S) + grads(Wb, E @ S @ A.T))
    return f


def test_joint_chain_equals_two_pathways_coupled_through_the_output(validation):
    """The one-chain construction (block layers, block connectivity masks, joint input
    statistics) equals two separately integrated chains whose outputs add, for a random
    deficit matrix A, correlated inputs, depth 3 and unequal widths."""
    rng = np.random.default_rng(0)
    d, d_out = 4, 3
    task = two_pathway_task(d, d_out, rho=0.6, seed=1)
    A = rng.standard_normal((d, d)) * 0.7
    wa = [rng.standard_normal(sh) * 0.5 for sh in ((3, d), (3, 3), (d_out, 3))]
    wb = [rng.standard_normal(sh) * 0.5 for sh in ((2, d), (2, 2), (d_out, 2))]
    Sj, Sxx = joint_statistics(task["Sigma_yx"], task["Sigma_xx"], A)
    ma, mb = pathway_masks(wa, wb)
    t = np.linspace(0.0, 4.0, 5)
    ours = chain_gradient_flow(Sj, join_pathways(wa, wb), t, Sigma_xx=Sxx,
                               connectivity=[a + b for a, b in zip(ma, mb)], rtol=1e-12,
                               atol=1e-14)
    f = _coupled_pathways_rhs(task["teacher"], task["Sigma_xx"], A, [w.shape for w in wa],
                              [w.shape for w in wb])
    ref = solve_ivp(f, (0, 4), np.concatenate([w.ravel() for w in wa + wb]), t_eval=t,
                    method="DOP853", rtol=1e-12, atol=1e-14).y.T
    off, ra, rb = 0, [], []
    for w in wa + wb:
        (ra if len(ra) < len(wa) else rb).append(ref[:, off:off + w.size].reshape(-1, *w.shape))
        off += w.size
    expected = join_pathways([r[-1] for r in ra], [r[-1] for r in rb])
    err = max(np.abs(o[-1] - e).max() for o, e in zip(ours, expected))
    # the blocks outside the pathways stay exactly zero
    off_block = max(np.abs(o * (1 - a - b)).max() for o, a, b in zip(ours, ma, mb))
    validation("linear.pathways.joint-chain", area="Deep linear networks",
               claim="two pathways seeing x and A x, outputs added, equal one chain with "
                     "block connectivity masks on the input [x; A x]",
               method="separately written per-pathway gradient flow (SciPy DOP853) against "
                      "the compiled masked chain; depth 3, widths 3 and 2, random A",
               measured=err, bound=1e-9, unit="max abs weight error at t = 4")
    assert off_block == 0.0
    assert err < 1e-9


@pytest.mark.parametrize("D", [2, 3])
def test_aligned_balanced_pathways_follow_the_scalar_pathway_model(D, validation):
    """Aligned balanced pathways on a rank-one task reduce to the scalar model of
    pathway_deficit (dp_i/dt = p_i^(D-1) (S - K_a - K_b)), also through a window in which
    pathway b is frozen (its connectivity mask set to 0)."""
    S_mode, p0, onset, length, t_total = 2.0, 0.2, 3.0, 4.0, 20.0
    u = np.array([0.6, 0.8])
    v = np.array([1.0, 2.0, 2.0]) / 3.0
    Sigma = S_mode * np.outer(u, v)
    wa = aligned_chain(Sigma, D, p0 ** D, width=1, seed=1)
    wb = aligned_chain(Sigma, D, p0 ** D, width=1, seed=2)
    Sj, Sxx = joint_statistics(Sigma, np.eye(3), np.eye(3))
    ma, mb = pathway_masks(wa, wb)
    W = join_pathways(wa, wb)
    t_ref, K = pathway_deficit(D, S_mode, p0, onset, length, t_total, n_out=21)
    K_chain = [[0.0, 0.0]]
    for lo, hi, C in ((0.0, onset, [a + b for a, b in zip(ma, mb)]), (onset, onset + length, ma),
                      (onset + length, t_total, [a + b for a, b in zip(ma, mb)])):
        ts = t_ref[(t_ref >= lo) & (t_ref <= hi)] - lo
        run = chain_gradient_flow(Sj, W, ts, Sigma_xx=Sxx, connectivity=C, rtol=1e-11,
                                  atol=1e-14)
        P = end_to_end(run)
        K_chain.extend(np.stack([u @ P[1:, :, :3] @ v, u @ P[1:, :, 3:] @ v], axis=1))
        W = [w[-1] for w in run]
    K_chain = np.array(K_chain[1:])
    K_chain = np.concatenate([[[p0 ** D, p0 ** D]], K_chain])
    err = np.abs(K_chain - K).max()
    validation(f"linear.pathways.scalar-model.D{D}", area="Deep linear networks",
               claim=f"aligned balanced depth-{D} pathways in the joint chain follow the "
                     "scalar pathway model, through a freeze of pathway b",
               method="compiled masked chain (width 1 per pathway, rank-one task in 3 -> 2) "
                      "against pathway_deficit",
               measured=err, bound=1e-7, unit="max abs error of K_a, K_b")
    assert err < 1e-7


@pytest.fixture(scope="module")
def small():
    """A small task and start (d = 4, width 3, depth 2)."""
    task = two_pathway_task(4, 2, seed=3)
    wa, wb = two_pathway_start(4, 3, 2, 2, scale=0.4, seed=5)
    return task, wa, wb


def test_identity_transform_is_no_deficit(small):
    """A transform deficit with R = I over a window equals the run without a window (the
    phases are joined correctly)."""
    task, wa, wb = small
    control = deficit_run(task, wa, wb, "none", t_total=30.0, n_out=31)
    same = deficit_run(task, wa, wb, np.eye(4), onset=5.0, length=10.0, t_total=30.0,
                       n_out=31)
    sel = np.isin(same.t, control.t)
    for a, b in zip(same.weights, control.weights):
        np.testing.assert_allclose(a[sel], b, atol=1e-8)


def test_removal_freezes_pathway_b(small):
    """With A = 0 pathway b sees nothing: its weights do not move in the window, and its
    Fisher trace on the training inputs is 0 there, while pathway a keeps learning."""
    task, wa, wb = small
    run = deficit_run(task, wa, wb, "remove", onset=2.0, length=8.0, t_total=20.0, n_out=21)
    win = (run.t >= 2.0) & (run.t <= 10.0)
    k0 = np.flatnonzero(win)[0]
    for W, mb, ma in zip(run.weights, run.mask_b, run.mask_a):
        assert np.array_equal(W[win] * mb, np.broadcast_to(W[k0] * mb, W[win].shape))
        assert np.abs((W[win][-1] - W[k0]) * ma).max() > 1e-3
    F = run.fisher()
    assert np.all(F[run.in_window(), 2] == 0.0) and np.all(F[~run.in_window(), 2] > 0.0)
    np.testing.assert_allclose(F[:, 0], F[:, 1] + F[:, 2], rtol=1e-12)


def test_pathway_fisher_trace_against_finite_differences(small, validation):
    """Per-pathway Fisher trace = sum over the pathway's weights w of E||dF(x)/dw||^2 =
    tr(G_w S_joint G_w^T), with G_w the derivative of the joint end-to-end map by central
    differences (exact to rounding: the map is linear in each single weight)."""
    task, wa, wb = small
    A = deficit_matrix("blur", 4)
    run = deficit_run(task, wa, wb, A, onset=0.0, length=10.0, t_total=10.0, n_out=3)
    k = 1                                               # t = 5, inside the window
    W = [w[k] for w in run.weights]
    Sxx = joint_statistics(task["Sigma_yx"], task["Sigma_xx"], A)[1]
    fd = {"a": 0.0, "b": 0.0}
    h = 1e-4
    for l, (ma, mb) in enumerate(zip(run.mask_a, run.mask_b)):
        for idx in zip(*np.nonzero(ma + mb)):
            Wp = [w.copy() for w in W]
            Wm = [w.copy() for w in W]
            Wp[l][idx] += h
            Wm[l][idx] -= h
            G = (end_to_end(Wp) - end_to_end(Wm)) / (2 * h)
            fd["a" if ma[idx] else "b"] += np.trace(G @ Sxx @ G.T)
    F = run.fisher()[k]
    err = max(abs(F[1] - fd["a"]) / fd["a"], abs(F[2] - fd["b"]) / fd["b"])
    validation("linear.pathways.fisher-per-pathway", area="Deep linear networks",
               claim="the per-pathway Fisher trace (closed form summed over a block mask) "
                     "equals the sum of E||J_w x||^2 over the pathway's weights",
               method="central finite differences of the end-to-end map, depth 2, blur "
                      "deficit on pathway b",
               measured=err, bound=1e-8, unit="max relative error")
    assert err < 1e-8


def test_deficit_matrices_have_their_defining_properties():
    d = 8
    S = two_pathway_task(d)["Sigma_xx"]
    J = deficit_matrix("flip", d)
    np.testing.assert_array_equal(J @ J.T, np.eye(d))                 # orthogonal
    np.testing.assert_allclose(J @ S @ J.T, S, atol=0)                # keeps the statistics
    np.testing.assert_array_equal(J @ np.arange(d), np.arange(d)[::-1])
    P = deficit_matrix("drop", d, keep=3)
    np.testing.assert_allclose(P @ P, P, atol=1e-14)                  # a projection
    np.testing.assert_allclose(P, P.T, atol=1e-14)
    assert np.linalg.matrix_rank(P) == 3
    # the kept directions are the smooth ones: a constant image passes unchanged, the
    # alternating one is removed
    np.testing.assert_allclose(P @ np.ones(d), np.ones(d), atol=1e-12)
    alternating = (-1.0) ** np.arange(d)
    assert np.linalg.norm(P @ alternating) < 0.25 * np.linalg.norm(alternating)
    B = deficit_matrix("blur", d, blur_width=1.5)
    np.testing.assert_allclose(B.sum(axis=1), 1.0)
    assert np.linalg.norm(B @ (-1.0) ** np.arange(d)) < 0.2 * np.sqrt(d)   # shrinks
    assert np.array_equal(deficit_matrix("remove", d), np.zeros((d, d)))
    assert np.array_equal(deficit_matrix("none", d), np.eye(d))
    assert set(DEFICITS) == {"none", "remove", "drop", "blur", "flip"}


def test_shares_and_losses_of_a_hand_made_network():
    """Shares and losses against a network set by hand: P_a = T / 4, P_b = T / 2."""
    task = two_pathway_task(3, 2, seed=0)
    T = task["teacher"]
    W = join_pathways([T / 4], [T / 2])
    run = PathwayRun(np.array([0.0]), [W[0][None]], task["Sigma_yx"], task["Sigma_xx"],
                     np.eye(3), 0.0, 0.0, *pathway_masks([T], [T]))
    np.testing.assert_allclose(run.share()[0], [0.25, 0.5], rtol=1e-12)
    np.testing.assert_allclose(run.relative_loss()[0], 0.25 ** 2, rtol=1e-12)
    np.testing.assert_allclose(run.loss_alone()[0], [0.75 ** 2, 0.5 ** 2], rtol=1e-12)


def test_lasting_effect_of_removal_and_flip(validation):
    """Depth 3, width 8, two random starts: removing pathway b's input over [0, 20) leaves b
    with almost no share for good; flipping it (same input statistics) leaves b at least half
    of the share it has without a deficit; after both, the network still learns the task
    (pathway a sees x)."""
    out = window_scan(deficits=("remove", "flip"), windows=[(0.0, 20.0)], depths=(3,),
                      widths=(8,), seeds=(0, 1), t_total=200.0, n_out=101)
    ctrl = np.array(out["control"]["share_b"])[0, 0]
    rm = np.array(out["effect"]["remove"]["share_b"])[0, 0, :, 0]
    fl = np.array(out["effect"]["flip"]["share_b"])[0, 0, :, 0]
    validation("linear.pathways.remove-vs-flip", area="Deep linear networks",
               claim="after an early deficit on pathway b, a removal leaves b almost no share "
                     "of the task, a flip (input statistics kept) at least half its share",
               method="b's final share against the same start without a deficit, depth 3, "
                      "width 8, 2 starts, window [0, 20)",
               measured=float(np.max(np.abs(fl - ctrl) / ctrl)), bound=0.5,
               unit="max |flip change| / control share")
    assert np.all(ctrl > 0.2) and np.all(rm < 0.05)
    assert np.all(np.abs(fl - ctrl) < 0.5 * ctrl)
    for kind in ("remove", "flip"):
        assert np.max(out["effect"][kind]["loss"]) < 1e-6


def test_lasting_effect_reports_time_lost():
    task = two_pathway_task(4, 2, seed=3)
    wa, wb = two_pathway_start(4, 3, 2, 2, scale=0.4, seed=5)
    control = deficit_run(task, wa, wb, "none", t_total=60.0, n_out=121)
    late = deficit_run(task, wa, wb, "remove", onset=40.0, length=10.0, t_total=60.0,
                       n_out=121)
    e = lasting_effect(late, control)
    # the window ends after the control has learned, so the time lost is the time to relearn
    # after it: positive and shorter than the rest of the run
    assert e["control_t_learned"] < 40.0 and 50.0 < e["t_learned"] < 60.0
    assert e["relearn_time"] == pytest.approx(e["t_learned"] - 50.0)
    assert e["time_lost"] == pytest.approx(e["t_learned"] - e["control_t_learned"])
    assert e["control_share_b"] == pytest.approx(control.share()[-1, 1])


_T4 = two_pathway_task(4, 2, seed=0)
_WA, _WB = two_pathway_start(4, 2, 2, 2, seed=0)


@pytest.mark.parametrize("call, error, match", [
    (lambda: two_pathway_task(d=1), ValueError, "`d`"),
    (lambda: two_pathway_task(rho=1.0), ValueError, "`rho`"),
    (lambda: two_pathway_task(d_out=2.0), TypeError, "`d_out`"),
    (lambda: deficit_matrix("mirror", 4), ValueError, "`kind`"),
    (lambda: deficit_matrix("drop", 4, keep=4), ValueError, "`keep`"),
    (lambda: deficit_matrix("blur", 4, blur_width=0.0), ValueError, "`blur_width`"),
    (lambda: joint_statistics(np.ones((2, 3)), np.eye(2), np.eye(3)), ValueError, "`Sigma_xx`"),
    (lambda: joint_statistics(np.ones((2, 3)), np.eye(3), np.eye(2)), ValueError, "`A`"),
    (lambda: join_pathways([np.ones((2, 3))], [np.ones((3, 3)), np.ones((2, 3))]), ValueError,
     "`weights_b` must have as many layers"),
    (lambda: join_pathways([np.ones((2, 3))], [np.ones((2, 4))]), ValueError, "`weights_b`"),
    (lambda: join_pathways("x", [np.ones((2, 3))]), TypeError, "`weights_a`"),
    (lambda: two_pathway_start(4, 0, 2, 2), ValueError, "`width`"),
    (lambda: two_pathway_start(4, 2, 2, 2, scale=-1.0), ValueError, "`scale`"),
    (lambda: deficit_run({"Sigma_yx": np.ones((2, 4))}, _WA, _WB), ValueError, "`task`"),
    (lambda: deficit_run("task", _WA, _WB), TypeError, "`task`"),
    (lambda: deficit_run(_T4, _WA, _WB, "blind"), ValueError, "`deficit`"),
    (lambda: deficit_run(_T4, _WA, _WB, 3), ValueError, "`deficit`"),
    (lambda: deficit_run(_T4, _WA, _WB, np.eye(3)), ValueError, "`deficit`"),
    (lambda: deficit_run(_T4, _WA, _WB, onset=5.0, length=10.0, t_total=10.0), ValueError,
     "`t_total`"),
    (lambda: deficit_run(two_pathway_task(5, 2), _WA, _WB), ValueError, "`task`"),
    (lambda: deficit_run(_T4, _WA, _WB, n_out=1, length=1.0), ValueError, "`n_out`"),
    (lambda: deficit_run(_T4, _WA, _WB, "flip", onset=5.0), ValueError, "`length` must be "
     "positive"),
    (lambda: lasting_effect("run", "control"), TypeError, "`run`"),
    (lambda: lasting_effect(deficit_run(_T4, _WA, _WB, "remove", 0.0, 1.0, 2.0, n_out=2),
                            deficit_run(_T4, *two_pathway_start(4, 2, 2, 2, seed=1),
                                        "none", t_total=2.0, n_out=2)),
     ValueError, "`control` must be trained on the task of `run` from the same start"),
    (lambda: window_scan(deficits="flip"), TypeError, "`deficits`"),
    (lambda: window_scan(deficits=("flip", "tilt")), ValueError, r"`deficits\[1\]`"),
    (lambda: window_scan(windows=[(0.0, 500.0)]), ValueError, r"`windows\[0\]"),
    (lambda: window_scan(windows=[1.0]), ValueError, r"`windows\[0\]`"),
    (lambda: window_scan(windows=[]), ValueError, "`windows`"),
    (lambda: window_scan(depths=[0]), ValueError, r"`depths\[0\]`"),
    (lambda: window_scan(seeds=[-1]), ValueError, r"`seeds\[0\]`"),
    (lambda: window_scan(threshold=2.0), ValueError, "`threshold`"),
])
def test_bad_inputs_are_refused_naming_the_argument(call, error, match):
    with pytest.raises(error, match=match) as info:
        call()
    assert type(info.value) is error


def test_fisher_inputs_choice(small):
    task, wa, wb = small
    run = deficit_run(task, wa, wb, "remove", 0.0, 5.0, 10.0, n_out=3)
    with pytest.raises(ValueError, match="`inputs`"):
        run.fisher("test")
    normal = run.fisher("normal")
    assert np.all(normal[:, 2] > 0)                 # pathway b is seen on normal inputs


@pytest.mark.parametrize("name", ["information_plasticity", "deficit_kinds"])
def test_quick_scenarios_run_and_plot(name, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from odesolve.linear.plasticity_scenarios import PLASTICITY_SCENARIOS

    run, plot, (rows, cols), title = PLASTICITY_SCENARIOS[name]
    data = run(quick=True)
    assert data["scenario"] == name
    back = json.loads(json.dumps(data))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows))
    plot(back, axes.ravel())
    fig.savefig(tmp_path / f"{name}.png")
    plt.close(fig)
    assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    with pytest.raises(TypeError, match="`quick`"):
        run(quick="yes")
