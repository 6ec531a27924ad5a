"""Deep linear networks: the exact lambda-balanced solution against numerical gradient flow,
the Saxe limit and the per-mode equation of docs/theory/linear.md#theory-linear-modes."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from odesolve.linear import (balanced_mode, balanced_weights, exact_QQT, gradient_flow,
                             kernel_distance, low_rank_weights, network_function, ntk_blocks,
                             random_start, rank_study, representation_alignment, saxe_mode,
                             task_aligned_low_rank, weight_change)


@pytest.mark.parametrize("dims", [(3, 3, 3), (5, 2, 4), (4, 3, 6)])
@pytest.mark.parametrize("lam", [-1.0, -0.1, 0.0, 0.5, 2.0])
def test_exact_solution_matches_gradient_flow(dims, lam, validation):
    d_in, h, d_out = dims
    rng = np.random.default_rng(sum(dims))
    Sigma = rng.standard_normal((d_out, d_in))
    W1, W2 = balanced_weights(d_in, h, d_out, lam, scale=0.5, seed=1)
    np.testing.assert_allclose(W2.T @ W2 - W1 @ W1.T, lam * np.eye(h), atol=1e-13)
    t = np.array([0.0, 0.3, 1.0, 3.0, 10.0])
    X = exact_QQT(Sigma, W1, W2, t, tau=1.0)
    A1, A2 = gradient_flow(Sigma, W1, W2, t)
    Q = np.concatenate([np.swapaxes(A1, 1, 2), A2], axis=1)
    validation(f"linear.exact-vs-flow.{'-'.join(map(str, dims))}.lam{lam:g}",
               area="Deep linear networks",
               claim=f"the exact lambda-balanced solution QQ^T equals gradient flow, dims "
                     f"{dims}, lambda = {lam:g}, t <= 10",
               method="numerical gradient flow of both layers (compiled dopri5)",
               measured=np.abs(X - Q @ np.swapaxes(Q, 1, 2)).max(), bound=1e-8,
               unit="max abs difference")
    np.testing.assert_allclose(X, Q @ np.swapaxes(Q, 1, 2), atol=1e-8, rtol=0)
    # balancedness is conserved by the numerical flow
    drift = np.swapaxes(A2, 1, 2) @ A2 - A1 @ np.swapaxes(A1, 1, 2) - lam * np.eye(h)
    assert np.abs(drift).max() < 1e-10
    # blocks: network function and NTK
    np.testing.assert_allclose(network_function(X, d_in), A2 @ A1, atol=1e-8)
    K1, K2 = ntk_blocks(X, d_in)
    np.testing.assert_allclose(K1, np.swapaxes(A1, 1, 2) @ A1, atol=1e-8)
    np.testing.assert_allclose(K2, A2 @ np.swapaxes(A2, 1, 2), atol=1e-8)


def test_tau_rescales_time():
    Sigma = np.array([[1.5, 0.2], [0.0, 0.7]])
    W1, W2 = balanced_weights(2, 2, 2, 0.3, scale=0.2, seed=0)
    np.testing.assert_allclose(exact_QQT(Sigma, W1, W2, 6.0, tau=3.0),
                               exact_QQT(Sigma, W1, W2, 2.0), atol=1e-13)


def test_saxe_solution_and_limit(validation):
    # docs/theory/linear.md#theory-linear-saxe: s = 2, u0 = 1e-3, tau = 1 reaches s/2 at t = 1.9001
    validation("linear.saxe-half-time", area="Deep linear networks",
               claim="a Saxe mode with s = 2, u0 = 1e-3, tau = 1 reaches s/2 at t = 1.9001",
               method="the half-time ln(s/u0 - 1)/(2s) of the logistic solution, by hand",
               measured=abs(saxe_mode(1.9001, 2.0, 1e-3) - 1.0), bound=1e-5,
               unit="abs error")
    assert saxe_mode(1.9001, 2.0, 1e-3) == pytest.approx(1.0, abs=1e-5)
    t = np.linspace(0, 6, 25)
    np.testing.assert_allclose(balanced_mode(t, 2.0, 1e-3, lam=0.0), saxe_mode(t, 2.0, 1e-3),
                               rtol=1e-10, atol=1e-13)
    near = balanced_mode(t, 2.0, 1e-3, lam=1e-9)
    np.testing.assert_allclose(near, saxe_mode(t, 2.0, 1e-3), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("lam", [-2.0, -0.5, 0.5, 2.0])
def test_balanced_mode_solves_the_mode_equation(lam, validation):
    """ds/dt = sqrt(lam^2 + 4 s^2) (sigma - s), integrated independently with scipy."""
    sigma, s0 = 1.7, 0.05
    t = np.linspace(0, 5, 11)
    ref = solve_ivp(lambda _, s: np.sqrt(lam ** 2 + 4 * s ** 2) * (sigma - s), (0, 5), [s0],
                    t_eval=t, rtol=1e-12, atol=1e-14, method="DOP853").y[0]
    validation(f"linear.balanced-mode.lam{lam:g}", area="Deep linear networks",
               claim=f"the closed-form lambda-balanced mode solves ds/dt = sqrt(lambda^2 + "
                     f"4 s^2)(sigma - s), lambda = {lam:g}",
               method="scipy DOP853 at rtol = 1e-12", measured=np.abs(
                   balanced_mode(t, sigma, s0, lam) - ref).max(), bound=1e-9,
               unit="max abs error")
    np.testing.assert_allclose(balanced_mode(t, sigma, s0, lam), ref, atol=1e-9)


def test_unbalanced_weights_are_refused():
    W1, W2 = np.eye(2), np.diag([1.0, 2.0])
    with pytest.raises(ValueError, match="lambda-balanced"):
        exact_QQT(np.eye(2), W1, W2, 1.0)
    with pytest.raises(ValueError, match="`h` must be <= `d_out` for `lam` >= 0"):
        balanced_weights(3, 4, 2, 1.0)
    with pytest.raises(ValueError, match="`h` must be <= `d_in` for `lam` < 0"):
        balanced_weights(2, 4, 5, -1.0)


def test_ntk_measures_against_explicit_kronecker_products():
    from odesolve.linear.measures import ntk_inner

    rng = np.random.default_rng(3)
    d_in, h, d_out = 3, 4, 2
    W1, W2 = rng.standard_normal((h, d_in)), rng.standard_normal((d_out, h))
    V1, V2 = rng.standard_normal((h, d_in)), rng.standard_normal((d_out, h))

    def K(A1, A2):       # explicit NTK on whitened inputs, (d_out d_in) square
        return np.kron(A2 @ A2.T, np.eye(d_in)) + np.kron(np.eye(d_out), A1.T @ A1)

    Ka, Kb = K(W1, W2), K(V1, V2)
    assert ntk_inner(W2 @ W2.T, W1.T @ W1, V2 @ V2.T, V1.T @ V1) == pytest.approx(
        np.sum(Ka * Kb), rel=1e-12)
    expected = 1 - np.sum(Ka * Kb) / (np.linalg.norm(Ka) * np.linalg.norm(Kb))
    assert kernel_distance(V1, V2, W1, W2) == pytest.approx(expected, rel=1e-12)
    assert kernel_distance(W1, W2, W1, W2) == pytest.approx(0.0, abs=1e-14)
    assert weight_change(V1, V2, W1, W2) == pytest.approx(
        np.sqrt(np.sum((V1 - W1) ** 2) + np.sum((V2 - W2) ** 2)))


def test_kernel_distance_falls_as_lambda_grows():
    """Rich (lambda ~ 0) to lazy (|lambda| large): the NTK moves less, for both signs."""
    from odesolve.linear.measures import ntk_inner

    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    V, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    Sigma = U @ np.diag([3, 2, 1.5, 1, 0.5, 0.2]) @ V.T
    dist = {}
    for lam in (-5.0, -2.0, -1.0, -0.3, 0.0, 0.3, 1.0, 2.0, 5.0):
        W1, W2 = balanced_weights(6, 6, 6, lam, scale=0.1, seed=2)
        X = exact_QQT(Sigma, W1, W2, 20.0)
        A1, A2 = X[:6, :6], X[6:, 6:]          # W1^T W1, W2 W2^T at t = 20
        C, D = W2 @ W2.T, W1.T @ W1
        dist[lam] = 1 - ntk_inner(A2, A1, C, D) / np.sqrt(ntk_inner(A2, A1, A2, A1)
                                                           * ntk_inner(C, D, C, D))
    for side in (1.0, -1.0):
        d = [dist[side * abs(x)] if x else dist[0.0] for x in (0.0, 0.3, 1.0, 2.0, 5.0)]
        assert np.all(np.diff(d) < 0), d


def test_low_rank_initialisations():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((6, 5))
    L = low_rank_weights(W, 2)
    assert np.linalg.matrix_rank(L) == 2
    assert np.linalg.norm(L) == pytest.approx(np.linalg.norm(W))
    Sigma = rng.standard_normal((4, 5))
    W1, W2 = rng.standard_normal((6, 5)), rng.standard_normal((4, 6))
    A1, A2 = task_aligned_low_rank(W1, W2, Sigma, 2)
    U, _, Vt = np.linalg.svd(Sigma)
    # the row space of A1 and the column space of A2 are the task's top-2 singular spaces
    np.testing.assert_allclose(A1 @ Vt[2:].T, 0.0, atol=1e-12)
    np.testing.assert_allclose(U[:, 2:].T @ A2, 0.0, atol=1e-12)
    assert np.linalg.norm(A1) == pytest.approx(np.linalg.norm(W1))
    assert representation_alignment(Vt[:1], Sigma) > representation_alignment(Vt[-1:], Sigma)


def test_low_rank_balanced_start_stays_balanced_and_shares_hidden_basis():
    """Truncating both layers of a zero-balanced start (W1 = R S V^T, W2 = U S R^T) keeps it
    zero-balanced, with r shared hidden directions: rank r, not 2r, hidden dimensions."""
    W1, W2 = random_start(7, 6, 6, scale=0.8, start="balanced", seed=3)
    for r in (1, 3, 6):
        A1, A2 = low_rank_weights(W1, r), low_rank_weights(W2, r)
        np.testing.assert_allclose(A2.T @ A2, A1 @ A1.T, atol=1e-12)
        hidden = np.concatenate([A1, A2.T], axis=1)          # col(A1) + row(A2)
        assert np.linalg.matrix_rank(hidden, tol=1e-10) == r
    B1, B2 = random_start(7, 6, 6, scale=0.8, start="independent", seed=3)
    hidden = np.concatenate([low_rank_weights(B1, 2), low_rank_weights(B2, 2).T], axis=1)
    assert np.linalg.matrix_rank(hidden, tol=1e-10) == 4


def test_rank_study_rejects_bad_input_and_skips_inadmissible_starts():
    Sigma = np.diag([2.0, 1.0, 0.5, 0.0])
    with pytest.raises(ValueError, match="start"):
        rank_study(Sigma, 4, [2], start="gaussian")
    with pytest.raises(ValueError, match="ranks"):
        rank_study(Sigma, 4, [5])
    with pytest.raises(ValueError, match="scale"):
        rank_study(Sigma, 4, [2], scale=0.0)
    out = rank_study(Sigma, 4, [2, 3], seeds=[0], t_final=200.0)
    # a balanced rank-2 start spans 2 hidden directions, fewer than the task's rank 3
    assert np.isnan(out["weight_change"]["random"][0][0])
    assert np.isfinite(out["weight_change"]["random"][0][1])
    assert out["task_rank"] == 3 and out["max_relative_loss"] < 1e-3


def test_depth_two_mode_is_saxe_and_deeper_is_slower():
    from odesolve.linear.critical import depth_mode

    t = np.linspace(0, 5, 11)
    np.testing.assert_allclose(depth_mode(t, 2.0, 1e-3, 2), saxe_mode(t, 2.0, 1e-3),
                               atol=1e-9)
    half = [np.interp(1.0, depth_mode(np.linspace(0, 400, 4001), 2.0, 1e-2, D),
                      np.linspace(0, 400, 4001)) for D in (2, 3, 4)]
    assert half[0] < half[1] < half[2]          # time to reach s/2 grows with depth


def test_critical_periods():
    """Early deficit: the deprived pathway stays behind for good; late deficit: no lasting
    effect (share 1/2 by symmetry); the sensitive period lasts longer in deeper networks."""
    from odesolve.linear.critical import critical_period_curve, pathway_deficit

    t, K = pathway_deficit(2, onset=0.0, length=0.0, t_total=100.0)
    np.testing.assert_allclose(K[-1], [0.5, 0.5], atol=1e-8)       # no deficit: symmetric
    d = critical_period_curve(depths=(2, 3, 4), onsets=[0.0, 40.0, 300.0], length=20.0,
                              t_total=800.0)
    share = np.array(d["final_share_b"])
    assert np.all(share[:, 0] < 0.01)                    # early deficit: lasting
    assert np.allclose(share[:, -1], 0.5, atol=0.02)      # late deficit: none
    assert share[0, 1] > 0.49 and share[2, 1] < 0.01      # at onset 40: D = 2 fine, D = 4 not


def _chain_rhs_numpy(Sigma, mask, shapes):
    """Independent masked gradient flow of a depth-D chain (plain NumPy)."""
    def f(_, y):
        W, off = [], 0
        for sh in shapes:
            W.append(y[off:off + sh[0] * sh[1]].reshape(sh))
            off += sh[0] * sh[1]
        P = W[0]
        for Wl in W[1:]:
            P = Wl @ P
        E = mask * (Sigma - P)
        grads = []
        for l in range(len(W)):
            above = np.eye(Sigma.shape[0])
            for Wl in W[l + 1:][::-1]:
                above = above @ Wl
            below = np.eye(Sigma.shape[1])
            for Wl in W[:l]:
                below = Wl @ below
            grads.append((above.T @ E @ below.T).ravel())
        return np.concatenate(grads)
    return f


@pytest.mark.parametrize("masked", [False, True])
def test_chain_gradient_flow_against_numpy(masked):
    from odesolve.linear.deep import chain_gradient_flow, random_chain

    rng = np.random.default_rng(4)
    Sigma = rng.standard_normal((4, 5))
    mask = (rng.random((4, 5)) < 0.6).astype(float) if masked else np.ones((4, 5))
    W = random_chain(5, 3, 4, 3, 0.6, seed=1)
    t = np.linspace(0, 3, 4)
    ours = chain_gradient_flow(Sigma, W, t, mask=mask if masked else None, rtol=1e-12,
                               atol=1e-14)
    ref = solve_ivp(_chain_rhs_numpy(Sigma, mask, [w.shape for w in W]), (0, 3),
                    np.concatenate([w.ravel() for w in W]), t_eval=t, method="DOP853",
                    rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.concatenate([w.reshape(4, -1) for w in ours], axis=1),
                               ref.y.T, atol=1e-9)


@pytest.mark.parametrize("D", [1, 2, 3, 4])
def test_balanced_aligned_chain_follows_the_depth_mode_equation(D, validation):
    """Each singular value of a balanced aligned depth-D chain follows
    du/dt = D u^(2 - 2/D) (s - u) (docs/theory/linear.md#theory-linear-deep)."""
    from odesolve.linear.critical import depth_mode
    from odesolve.linear.deep import aligned_chain, chain_gradient_flow, end_to_end

    s = np.array([3.0, 1.0, 0.5])
    Sigma = np.diag(s)
    W = aligned_chain(Sigma, D, 1e-2, width=5, seed=3)
    np.testing.assert_allclose(end_to_end(W), 1e-2 * np.eye(3), atol=1e-14)
    t = np.linspace(0, 20, 6)
    sv = np.linalg.svd(end_to_end(chain_gradient_flow(Sigma, W, t, rtol=1e-11, atol=1e-14)),
                       compute_uv=False)
    ref = np.stack([depth_mode(t, si, 1e-2, D) for si in s], axis=1)
    validation(f"linear.depth-mode.D{D}", area="Deep linear networks",
               claim=f"singular values of a balanced aligned depth-{D} chain follow "
                     "du/dt = D u^(2 - 2/D) (s - u)",
               method="compiled gradient flow of the full chain; singular values by SVD",
               measured=np.abs(sv - ref).max(), bound=1e-8, unit="max abs error")
    np.testing.assert_allclose(sv, ref, atol=1e-8)


def test_chain_input_errors():
    from odesolve.linear.deep import chain_gradient_flow

    with pytest.raises(ValueError, match=r"`weights\[1\]` has shape \(2, 3\) .* must chain"):
        chain_gradient_flow(np.eye(2), [np.eye(2), np.ones((2, 3))], [0, 1])
    with pytest.raises(ValueError, match=r"`Sigma` must have shape \(2, 2\)"):
        chain_gradient_flow(np.eye(3), [np.eye(2)], [0, 1])
    with pytest.raises(ValueError, match="`mask`"):
        chain_gradient_flow(np.eye(2), [np.eye(2)], [0, 1], mask=np.ones(3))
    with pytest.raises(ValueError, match="`mask` must hold only 0"):
        chain_gradient_flow(np.eye(2), [np.eye(2)], [0, 1], mask=np.full((2, 2), 0.5))


def test_matrix_completion_deficit():
    """Depth 2: an early deprivation leaves a lasting error on the unobserved entries, a late
    one none. Depth 3 completes the matrix much better (the low-rank bias of depth)."""
    from odesolve.linear.critical import completion_deficit, completion_task

    task = completion_task(seed=0)
    control = completion_deficit(2, task, seed=100)
    early = completion_deficit(2, task, onset=0.0, length=40.0, seed=100)
    late = completion_deficit(2, task, onset=16.0, length=40.0, seed=100)
    assert early > 3 * control
    assert late == pytest.approx(control, rel=0.01)
    assert completion_deficit(3, task, seed=100) < 0.1 * control


def test_train_exact_and_gradient_flow_give_the_same_trajectory():
    """The two routes of odesolve.linear.train agree on every measure they share, and the
    kernel distance equals the explicit Kronecker-product computation."""
    from odesolve.linear import train

    rng = np.random.default_rng(7)
    Sigma = rng.standard_normal((4, 3))
    W1, W2 = balanced_weights(3, 3, 4, 0.7, scale=0.3, seed=2)
    t = np.linspace(0, 5, 6)
    ex = train(Sigma, [W1, W2], t, method="exact")
    gf = train(Sigma, [W1, W2], t, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ex.network, gf.network, atol=1e-9)
    np.testing.assert_allclose(ex.loss, gf.loss, atol=1e-9)
    np.testing.assert_allclose(ex.kernel_distance(), gf.kernel_distance(), atol=1e-9)
    A1, A2 = gf.weights
    K = [np.kron(A2[j] @ A2[j].T, np.eye(3)) + np.kron(np.eye(4), A1[j].T @ A1[j])
         for j in (0, -1)]
    explicit = 1 - (K[0] * K[1]).sum() / (np.linalg.norm(K[0]) * np.linalg.norm(K[1]))
    assert gf.kernel_distance()[-1] == pytest.approx(explicit, abs=1e-12)
    np.testing.assert_allclose(gf.weight_change(), weight_change(A1, A2, W1, W2))
    with pytest.raises(ValueError, match="rotation"):
        ex.weight_change()
    with pytest.raises(ValueError, match="`method` must be one of 'gradient_flow', 'exact'"):
        train(Sigma, [W1, W2], t, method="euler")


@pytest.mark.parametrize("lam", [0.0, 1e-7])
def test_exact_matrix_solution_reduces_to_saxe_modes(lam):
    """lambda -> 0 with small aligned balanced weights: every singular value of the network
    function of exact_QQT follows Saxe's mode solution
    (docs/theory/linear.md#theory-linear-saxe)."""
    s = np.array([2.0, 1.0, 0.5])
    u0 = 1e-3
    W1 = np.sqrt(u0) * np.eye(3)
    W2 = np.sqrt(u0 + lam) * np.eye(3)                  # W2^T W2 - W1 W1^T = lam I
    t = np.linspace(0, 8, 17)
    X = exact_QQT(np.diag(s), W1, W2, t)
    sv = np.diagonal(network_function(X, 3), axis1=1, axis2=2)
    u_start = np.sqrt(u0 * (u0 + lam))                    # = (W2 W1)(0)
    ref = np.stack([saxe_mode(t, si, u_start) for si in s], axis=1)
    np.testing.assert_allclose(sv, ref, rtol=1e-4 if lam else 1e-9, atol=1e-12)


# --- argument checks ----------------------------------------------------------------------------
_W1, _W2 = balanced_weights(3, 3, 3, 0.5, scale=0.1, seed=0)
_SIGMA = np.diag([3.0, 2.0, 1.0])
_NAN_SIGMA = np.diag([3.0, np.nan, 1.0])
_EYE3 = np.eye(3)


def _task():
    from odesolve.linear import completion_task

    return completion_task(n=4, rank=1, seed=0)


#: function -> (valid arguments, [(argument, bad value, error)]); every public function of
#: odesolve.linear and its modules (test_every_public_linear_function_checks_its_arguments)
ARGUMENT_CASES = {
    "balanced_weights": (dict(d_in=3, h=2, d_out=3, lam=0.5, scale=0.1, seed=0), [
        ("d_in", "3", TypeError), ("d_in", 0, ValueError), ("h", 2.0, TypeError),
        ("h", -1, ValueError), ("d_out", True, TypeError), ("lam", np.nan, ValueError),
        ("lam", {"a": 1}, TypeError), ("scale", 0.0, ValueError), ("scale", np.inf, ValueError),
        ("scale", "0.1", TypeError), ("seed", -1, ValueError), ("seed", 1.5, TypeError)]),
    "gradient_flow": (dict(Sigma=_SIGMA, W1=_W1, W2=_W2, t=[0.0, 1.0]), [
        ("Sigma", _NAN_SIGMA, ValueError), ("Sigma", np.eye(2), ValueError),
        ("W1", np.full((3, 3), "a"), TypeError), ("W2", np.ones((3, 2)), ValueError),
        ("t", [0.0, np.nan], ValueError), ("t", [1.0, 2.0], ValueError),
        ("t", [0.0, np.inf], ValueError), ("tau", 0.0, ValueError), ("tau", "1", TypeError),
        ("rtol", 0.0, ValueError)]),
    "chain_gradient_flow": (dict(Sigma=_SIGMA, weights=[_W1, _W2], t=[0.0, 1.0]), [
        ("weights", "W", TypeError), ("weights", [], ValueError),
        ("weights", [_W1, np.full((3, 3), np.nan)], ValueError),
        ("Sigma", _NAN_SIGMA, ValueError), ("mask", np.full((3, 3), 0.5), ValueError),
        ("mask", np.full((3, 3), "1"), TypeError), ("t", [0.0, 1.0, 1.0], ValueError),
        ("t", ["0", "1"], TypeError), ("tau", np.nan, ValueError)]),
    "end_to_end": (dict(weights=[_W1, _W2]), [
        ("weights", None, TypeError), ("weights", [_W1, np.ones((2, 2))], ValueError)]),
    "aligned_chain": (dict(Sigma=_SIGMA, D=2, u0=1e-2), [
        ("Sigma", [[np.nan]], ValueError), ("D", 0, ValueError), ("D", 2.0, TypeError),
        ("u0", -1.0, ValueError), ("width", 0, ValueError), ("seed", "a", TypeError)]),
    "random_chain": (dict(d_in=3, width=2, d_out=3, D=2, scale=0.5), [
        ("d_in", 0, ValueError), ("width", "2", TypeError), ("D", 0, ValueError),
        ("scale", -1.0, ValueError), ("seed", -5, ValueError)]),
    "exact_QQT": (dict(Sigma=_SIGMA, W1=_W1, W2=_W2, t=[0.0, 1.0]), [
        ("t", [0.0, np.inf], ValueError), ("t", [0.0, np.nan], ValueError),
        ("t", [1.0, 0.5], ValueError), ("t", -1.0, ValueError), ("t", [[0.0, 1.0]], ValueError),
        ("t", ["a"], TypeError), ("tau", 0.0, ValueError), ("tau", 1e-310, ValueError),
        ("lam", np.nan, ValueError), ("Sigma", np.eye(2), ValueError),
        ("Sigma", _NAN_SIGMA, ValueError), ("W1", None, TypeError),
        ("W2", np.ones((3, 2)), ValueError)]),
    "riccati_matrix": (dict(Sigma=_SIGMA, lam=0.5), [
        ("Sigma", "x", TypeError), ("Sigma", _NAN_SIGMA, ValueError), ("lam", np.nan, ValueError)]),
    "network_function": (dict(X=np.eye(4), d_in=2), [
        ("d_in", 0, ValueError), ("d_in", 4, ValueError), ("d_in", 2.0, TypeError),
        ("X", np.ones((3, 4)), ValueError), ("X", np.full((4, 4), "a"), TypeError)]),
    "ntk_blocks": (dict(X=np.eye(4), d_in=2), [
        ("d_in", -1, ValueError), ("X", np.ones(4), ValueError)]),
    "saxe_mode": (dict(t=[0.0, 1.0], s=2.0, u0=1e-3), [
        ("t", [np.nan], ValueError), ("t", [-1.0], ValueError), ("t", "1", TypeError),
        ("s", -1.0, ValueError), ("u0", 0.0, ValueError), ("tau", 0.0, ValueError)]),
    "balanced_mode": (dict(t=[0.0, 1.0], sigma=1.0, s0=0.1, lam=0.5), [
        ("sigma", np.nan, ValueError), ("s0", "x", TypeError), ("lam", np.inf, ValueError),
        ("tau", -1.0, ValueError), ("t", [0.0, np.inf], ValueError)]),
    "weight_change": (dict(W1=_W1, W2=_W2, W1_0=_W1, W2_0=_W2), [
        ("W1_0", np.ones((2, 2)), ValueError), ("W2", np.full((3, 3), np.nan), ValueError),
        ("W1", "x", TypeError), ("W2_0", np.ones((2, 3, 3)) * [[[1.0]], [[2.0]]],
                                  None)]),
    "kernel_distance": (dict(W1=_W1, W2=_W2, W1_0=_W1, W2_0=_W2), [
        ("W1_0", np.ones((3, 2)), ValueError), ("W2", np.ones((3, 2)), ValueError),
        ("W1", np.full((3, 3), np.inf), ValueError)]),
    "ntk_inner": (dict(A=_EYE3, B=_EYE3, C=_EYE3, D=_EYE3), [
        ("C", np.eye(2), ValueError), ("B", np.ones((2, 3)), ValueError),
        ("D", np.full((3, 3), np.nan), ValueError), ("A", "x", TypeError)]),
    "representation_alignment": (dict(W1=_W1, Sigma=_SIGMA), [
        ("Sigma", np.eye(2), ValueError), ("W1", np.full((3, 3), np.nan), ValueError)]),
    "low_rank_weights": (dict(W=_W1, rank=2), [
        ("rank", 0, ValueError), ("rank", 1.0, TypeError), ("W", [[np.nan]], ValueError)]),
    "task_aligned_low_rank": (dict(W1=_W1, W2=_W2, Sigma=_SIGMA, rank=2), [
        ("rank", 4, ValueError), ("Sigma", np.eye(2), ValueError),
        ("W2", np.ones((3, 2)), ValueError)]),
    "depth_mode": (dict(t=[0.0, 1.0], s=1.0, u0=0.1, D=2), [
        ("t", [0.5, 1.0], ValueError), ("D", 0, ValueError), ("D", 1.5, TypeError),
        ("s", np.nan, ValueError), ("u0", -1.0, ValueError)]),
    "pathway_deficit": (dict(D=2, onset=1.0, length=2.0, t_total=10.0), [
        ("onset", 9.0, ValueError), ("length", 20.0, ValueError), ("S", 0.0, ValueError),
        ("p0", -1.0, ValueError), ("n_out", 1, ValueError), ("t_total", np.nan, ValueError),
        ("D", "2", TypeError)]),
    "critical_period_curve": (dict(depths=(2,), onsets=[0.0], length=1.0, t_total=10.0), [
        ("depths", [0], ValueError), ("depths", 2, TypeError), ("onsets", [-1.0], ValueError),
        ("onsets", [20.0], ValueError), ("length", np.nan, ValueError)]),
    "deficit_length_curve": (dict(depths=(2,), lengths=[1.0], t_total=10.0), [
        ("lengths", [np.nan], ValueError), ("onset", -1.0, ValueError),
        ("t_total", 0.0, ValueError), ("depths", [2.5], TypeError)]),
    "completion_task": (dict(n=4, rank=2), [
        ("n", 0, ValueError), ("rank", 5, ValueError), ("observed", 1.5, ValueError),
        ("keep", np.nan, ValueError), ("seed", -1, ValueError)]),
    "completion_deficit": (dict(D=2, task=_task(), t_total=1.0), [
        ("task", "x", TypeError), ("task", {"target": np.eye(4)}, ValueError),
        ("init", 0.0, ValueError), ("onset", -1.0, ValueError), ("length", 5.0, ValueError),
        ("D", 0, ValueError)]),
    "completion_deficit_curve": (dict(depths=(2,), onsets=(0.0,), length=0.5, t_total=1.0,
                                      seeds=(0,), n=4, rank=1), [
        ("seeds", [-1], ValueError), ("seeds", 0, TypeError), ("onsets", [2.0], ValueError),
        ("bogus", 1, TypeError), ("depths", [], ValueError), ("observed", -0.5, ValueError)]),
    "rank_task": (dict(d=4, singular_values=(2.0, 1.0)), [
        ("d", 0, ValueError), ("singular_values", [np.nan], ValueError),
        ("singular_values", (1.0,) * 5, ValueError), ("d_out", 0, ValueError),
        ("seed", "x", TypeError)]),
    "random_start": (dict(d_in=3, h=2, d_out=3, scale=0.3), [
        ("start", "gaussian", ValueError), ("start", 1, TypeError), ("scale", 0.0, ValueError),
        ("h", 0, ValueError), ("seed", -1, ValueError)]),
    "rank_study": (dict(task=np.diag([2.0, 1.0]), h=2, ranks=[1], seeds=[0], t_final=1.0), [
        ("ranks", [3], ValueError), ("ranks", 1, TypeError), ("seeds", [-1], ValueError),
        ("t_final", 0.0, ValueError), ("scale", np.nan, ValueError),
        ("task", [[np.nan]], ValueError), ("task", "x", TypeError), ("start", "x", ValueError)]),
    "train": (dict(Sigma=_SIGMA, weights=[_W1, _W2], t=[0.0, 1.0], method="exact"), [
        ("Sigma", _NAN_SIGMA, ValueError), ("Sigma", np.full((3, 3), "a"), TypeError),
        ("Sigma", np.eye(2), ValueError), ("weights", [_W1], ValueError),
        ("t", [0.0, np.nan], ValueError), ("t", [-1.0, 0.0], ValueError),
        ("t", [0.0, 2.0, 1.0], ValueError), ("tau", np.nan, ValueError),
        ("tau", 0.0, ValueError), ("method", "euler", ValueError), ("method", 1, TypeError),
        ("mask", np.ones((3, 3)), ValueError), ("rtol", 1e-8, ValueError),
        ("bogus", 1, TypeError)]),
    "lazy_rich": (dict(), [("quick", "yes", TypeError)]),
    "low_rank": (dict(), [("quick", 1, TypeError)]),
    "critical_periods": (dict(), [("quick", None, TypeError)]),
}


def _linear_functions():
    """Every public function of odesolve.linear and its modules (their __all__ lists)."""
    import importlib
    import inspect

    found = {}
    for module in ("exact", "measures", "critical", "deep", "network", "rank", "trajectory",
                   "scenarios"):
        mod = importlib.import_module(f"odesolve.linear.{module}")
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isfunction(obj):
                found[name] = obj
    return found


def test_every_public_linear_function_checks_its_arguments():
    assert sorted(ARGUMENT_CASES) == sorted(_linear_functions())


@pytest.mark.parametrize("function, argument, value, error", [
    pytest.param(f, a, v, e, id=f"{f}-{a}-{i}")
    for f, (_, bad) in ARGUMENT_CASES.items() for i, (a, v, e) in enumerate(bad)])
def test_linear_api_refuses_a_bad_argument_naming_it(function, argument, value, error):
    """A wrong type raises TypeError, a wrong value ValueError, before any work, and the
    message names the argument in backticks (`t`, `weights[1]`, `task['mask']`). A valid
    value (error None) is accepted."""
    import re
    import time

    valid, _ = ARGUMENT_CASES[function]
    call = _linear_functions()[function]
    kwargs = {**valid, argument: value}
    if error is None:
        call(**kwargs)
        return
    tic = time.perf_counter()
    with pytest.raises(error) as info:
        call(**kwargs)
    assert type(info.value) is error, repr(info.value)
    assert re.search(rf"`{re.escape(argument)}(`|\[)", str(info.value)), str(info.value)
    assert time.perf_counter() - tic < 5.0


def test_exact_solution_accepts_a_scalar_time_and_repeated_times():
    X = exact_QQT(_SIGMA, _W1, _W2, [0.0, 1.0, 1.0, 2.0])
    np.testing.assert_array_equal(X[1], X[2])
    np.testing.assert_allclose(exact_QQT(_SIGMA, _W1, _W2, 2.0), X[3], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(X[0], np.concatenate([_W1.T, _W2]) @ np.concatenate([_W1.T, _W2]).T,
                               atol=1e-15)


@pytest.mark.parametrize("where", ["exact_QQT", "train-exact", "train-gradient_flow",
                                   "chain_gradient_flow"])
def test_nan_in_sigma_is_a_value_error_naming_sigma(where):
    """Not numpy's LinAlgError ('Eigenvalues did not converge') and not a solver run that
    rejects steps: the check comes first."""
    from odesolve.linear import chain_gradient_flow, train

    calls = {"exact_QQT": lambda: exact_QQT(_NAN_SIGMA, _W1, _W2, [0.0, 1.0]),
             "train-exact": lambda: train(_NAN_SIGMA, [_W1, _W2], [0.0, 1.0], method="exact"),
             "train-gradient_flow": lambda: train(_NAN_SIGMA, [_W1, _W2], [0.0, 1.0]),
             "chain_gradient_flow": lambda: chain_gradient_flow(_NAN_SIGMA, [_W1, _W2],
                                                                [0.0, 1.0])}
    with pytest.raises(ValueError, match="`Sigma` must be finite"):
        calls[where]()


def test_saxe_mode_at_late_times_and_for_a_zero_singular_value():
    """The closed form is evaluated without overflow (it gave NaN once 2 s t / tau > 709),
    and s = 0 (du/dt = -2 u^2) is u0 / (1 + 2 u0 t); both against the compiled depth-2 mode
    integration."""
    from odesolve.linear.critical import depth_mode

    t = np.linspace(0.0, 1000.0, 11)
    np.testing.assert_allclose(saxe_mode(t, 2.0, 1e-3), depth_mode(t, 2.0, 1e-3, 2),
                               rtol=1e-8)
    assert saxe_mode(1000.0, 2.0, 1e-3) == 2.0
    np.testing.assert_allclose(saxe_mode(t, 0.0, 0.5, tau=2.0), depth_mode(t / 2.0, 0.0, 0.5, 2),
                               rtol=1e-8)


def test_low_rank_of_zero_weights_is_zero():
    np.testing.assert_array_equal(low_rank_weights(np.zeros((3, 2)), 1), np.zeros((3, 2)))


def test_completion_deficit_needs_an_unobserved_entry():
    from odesolve.linear import completion_deficit

    task = _task()
    task = {**task, "mask": np.ones_like(task["mask"])}
    with pytest.raises(ValueError, match="`task` has no unobserved entry"):
        completion_deficit(2, task, t_total=1.0)
