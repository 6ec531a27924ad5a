"""Deep linear beta-VAE (odesolve.networks.vae): closed-form ELBO against Monte Carlo,
hand-written gradients against central finite differences, the closed-form optimum against
gradient descent, the lambda-balanced starts, the disentanglement scores on hand-built maps,
and the quick scenario."""
from __future__ import annotations

import json

import numpy as np
import pytest

from odesolve.networks.vae import (dci_disentanglement, factor_completeness, factor_data,
                                   factor_map, latent_imbalance, latent_purity, negative_elbo,
                                   negative_elbo_gradients, optimal_negative_elbo,
                                   optimal_parameters, train_vae, vae_chain)
from odesolve.networks.vae_scenarios import VAE_SCENARIOS, vae_imbalance_scan

VAR = [6.0, 3.0, 1.5]


@pytest.fixture(scope="module")
def data():
    return factor_data(8, VAR, 0.5, seed=0)


def _central_differences(S, enc, dec, log_var, beta, sigma2, h=1e-5):
    params = enc + dec + [log_var]
    out = []
    for P in params:
        g = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            old = P[idx]
            P[idx] = old + h
            up = negative_elbo(S, enc, dec, log_var, beta, sigma2)
            P[idx] = old - h
            down = negative_elbo(S, enc, dec, log_var, beta, sigma2)
            P[idx] = old
            g[idx] = (up - down) / (2 * h)
        out.append(g)
    return out


@pytest.mark.parametrize("depths", [(1, 1), (2, 2), (3, 3), (1, 3)])
def test_gradients_equal_central_finite_differences(data, depths, validation):
    A, S = data
    enc, dec = vae_chain(8, 3, *depths, lam=0.7, scale=0.6, seed=3)
    log_var = np.array([0.2, -0.4, 0.1])
    beta, sigma2 = 1.7, 0.6
    g_enc, g_dec, g_v = negative_elbo_gradients(S, enc, dec, log_var, beta, sigma2)
    fd = _central_differences(S, enc, dec, log_var, beta, sigma2)
    rel = max(np.abs(f - g).max() / np.abs(f).max() for f, g in zip(fd, g_enc + g_dec + [g_v]))
    validation(f"vae.gradients.depth{depths[0]}+{depths[1]}", area="Deep linear VAE",
               claim=f"hand-written gradients of the closed-form negative ELBO, encoder depth "
                     f"{depths[0]}, decoder depth {depths[1]}, all layers and log-variances",
               method="central finite differences (h = 1e-5), largest error relative to the "
                      "largest entry, per parameter array",
               measured=rel, bound=1e-6, unit="relative error")
    assert rel < 1e-6


def test_closed_form_elbo_equals_monte_carlo_average(data, validation):
    A, S = data
    enc, dec = vae_chain(8, 3, 2, 1, lam=0.5, scale=0.8, seed=1)
    log_var = np.array([-0.3, 0.0, 0.4])
    beta, sigma2 = 2.0, 0.7
    rng = np.random.default_rng(11)
    n = 400_000
    # x = A z + noise from the factors themselves (not from S), then z_q = E x + sqrt(v) eps
    x = ((rng.standard_normal((n, 3)) * np.sqrt(VAR)) @ A.T
         + np.sqrt(0.5) * rng.standard_normal((n, 8)))
    E, W = enc[1] @ enc[0], dec[0]
    v = np.exp(log_var)
    mu = x @ E.T
    zq = mu + np.sqrt(v) * rng.standard_normal((n, 3))
    nll = ((x - zq @ W.T) ** 2).sum(1) / (2 * sigma2) + 4 * np.log(2 * np.pi * sigma2)
    kl = 0.5 * (v + mu ** 2 - 1 - log_var).sum(1)
    samples = nll + beta * kl
    mc, se = samples.mean(), samples.std() / np.sqrt(n)
    closed = float(negative_elbo(S, enc, dec, log_var, beta, sigma2))
    validation("vae.elbo.monte-carlo", area="Deep linear VAE",
               claim="the closed-form expected negative ELBO equals the average over data "
                     "and reparameterised noise",
               method="Monte Carlo over 400000 data points drawn from the factors and mixing",
               measured=abs(closed - mc) / se, bound=4.0, unit="standard errors")
    assert abs(closed - mc) < 4 * se


@pytest.mark.parametrize("beta", [1.0, 5.0])
def test_gradient_descent_reaches_the_closed_form_optimum(data, beta, validation):
    """beta = 5 (beta sigma2 = 2.5 > the third eigenvalue 2.0) collapses one latent."""
    A, S = data
    sigma2 = 0.5
    L_opt = optimal_negative_elbo(S, 3, beta, sigma2)
    E, W, lv = optimal_parameters(S, 3, beta, sigma2)
    assert float(negative_elbo(S, [E], [W], lv, beta, sigma2)) == pytest.approx(L_opt,
                                                                                abs=1e-12)
    grads = negative_elbo_gradients(S, [E], [W], lv, beta, sigma2)
    assert max(np.abs(g).max() for g in grads[0] + grads[1] + [grads[2]]) < 1e-10
    chains = [vae_chain(8, 3, 1, 1, 0.0, 0.5, seed=s) for s in range(6)]
    enc = [np.stack([c[0][0] for c in chains])]
    dec = [np.stack([c[1][0] for c in chains])]
    res = train_vae(S, enc, dec, np.zeros((6, 3)), 600.0, 0.02, beta, sigma2, n_record=20)
    gap = res["loss"] - L_opt
    validation(f"vae.optimum.beta{beta:g}", area="Deep linear VAE",
               claim=f"the closed-form global minimum of the negative ELBO (beta = {beta:g}, "
                     "sigma2 = 0.5, eigenvalues 6.5, 3.5, 2.0, 0.5 x5)",
               method="gradient descent from 6 random starts (depth 1+1, t = 600): the "
                      "largest final gap to the formula",
               measured=np.abs(gap[-1]).max(), bound=1e-8, unit="nats")
    assert gap.min() > -1e-10                   # never below the optimum
    assert np.abs(gap[-1]).max() < 1e-8
    n_active = int(np.sum(np.exp(res["log_var"][0]) < 1 - 1e-6))
    assert n_active == (3 if beta == 1.0 else 2)


def _lbfgs_minimum(S, k, beta, sigma2, p0):
    """Minimise the negative ELBO over (E, W, log_var) of depth 1 + 1 from a general start."""
    from scipy.optimize import minimize
    d = S.shape[0]

    def split(p):
        return p[:k * d].reshape(k, d), p[k * d:2 * k * d].reshape(d, k), p[2 * k * d:]

    def f(p):
        E, W, lv = split(p)
        g = negative_elbo_gradients(S, [E], [W], lv, beta, sigma2)
        return (float(negative_elbo(S, [E], [W], lv, beta, sigma2)),
                np.concatenate([g[0][0].ravel(), g[1][0].ravel(), g[2]]))

    r = minimize(f, p0, jac=True, method="L-BFGS-B",
                 options={"maxiter": 5000, "ftol": 1e-14, "gtol": 1e-9})
    return r.fun, split(r.x)


@pytest.mark.parametrize("beta", [2.0, 5.0])
def test_quasi_newton_from_general_starts_ends_at_the_closed_form_optimum(data, beta):
    """Starts that are neither balanced nor small (Gaussian entries of scale 0.3 or 2), on a
    generic covariance (k = 4 of d = 6, eigenvalues 3.5, 1.0, 0.88, 0.42, ...) and on the
    factor data (6.5, 3.5, 2.0, 0.5, ...). With sigma2 = 0.7, beta sigma2 = 1.4 or 3.5: latents
    collapse, and 3.5 is exactly the factor data's second eigenvalue (the boundary case). On
    the factor data every minimiser found must be disentangled (identifiability)."""
    rng = np.random.default_rng(4)
    B = rng.standard_normal((6, 6))
    A, S_f = data
    for S, k in ((B @ B.T / 6, 4), (S_f, 3)):
        d = S.shape[0]
        L_opt = optimal_negative_elbo(S, k, beta, 0.7)
        for _ in range(2):
            p0 = np.concatenate([rng.standard_normal(2 * k * d) * rng.choice([0.3, 2.0]),
                                 rng.standard_normal(k)])
            L, (E, W, lv) = _lbfgs_minimum(S, k, beta, 0.7, p0)
            assert L > L_opt - 1e-10                    # nothing below the formula
            assert L == pytest.approx(L_opt, abs=1e-8)  # and the formula is reached
            if S is S_f:
                assert latent_purity(factor_map([E], A, VAR)) > 1 - 1e-4


def test_optimum_latents_are_the_factors(data):
    """With orthonormal mixing and distinct variances the principal directions are the
    factors, so the optimum's factor map is a signed permutation times a diagonal."""
    A, S = data
    E, W, lv = optimal_parameters(S, 3, 1.0, 0.5)
    M = factor_map([E], A, VAR)
    off = np.abs(M) - np.diag(np.abs(np.diag(M)))
    assert np.abs(off).max() < 1e-12
    assert latent_purity(M) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("lam", [-1.5, 0.0, 2.0])
@pytest.mark.parametrize("depths", [(1, 1), (2, 3), (3, 2)])
def test_vae_chain_has_the_stated_balance(depths, lam):
    enc, dec = vae_chain(8, 3, *depths, lam=lam, scale=0.4, seed=5)
    assert [W.shape for W in enc] == [(3, 8)] + [(3, 3)] * (depths[0] - 1)
    assert [W.shape for W in dec] == [(3, 3)] * (depths[1] - 1) + [(8, 3)]
    np.testing.assert_allclose(dec[0].T @ dec[0] - enc[-1] @ enc[-1].T, lam * np.eye(3),
                               atol=1e-12)
    np.testing.assert_allclose(latent_imbalance(enc, dec), lam * np.eye(3), atol=1e-12)
    for layers in (enc, dec):
        for lo, hi in zip(layers[:-1], layers[1:]):
            np.testing.assert_allclose(hi.T @ hi, lo @ lo.T, atol=1e-12)


def test_scores_on_hand_built_maps():
    perm = np.array([[0.0, -2.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 3.0]])
    uniform = np.ones((3, 3))
    # row 1 splits two factors equally (purity (1/2 - 1/3) / (2/3) = 1/4, weight 2/3),
    # row 2 carries one factor (1, weight 1/3); DCI: 1 - log 2 / log 3 and 1
    half = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    for f in (latent_purity, factor_completeness, dci_disentanglement):
        assert f(perm) == pytest.approx(1.0)
        assert f(uniform) == pytest.approx(0.0, abs=1e-12)
    assert latent_purity(half) == pytest.approx(2 / 3 * 0.25 + 1 / 3)
    assert dci_disentanglement(half) == pytest.approx(2 / 3 * (1 - np.log(2) / np.log(3))
                                                      + 1 / 3)
    # a Haar rotation of a disentangled map is (almost surely) not disentangled
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))
    assert latent_purity(Q @ perm) < 0.9


def test_bad_arguments_name_the_argument(data):
    A, S = data
    with pytest.raises(ValueError, match="variances"):
        factor_data(8, [2.0, 2.0], 0.1)
    with pytest.raises(ValueError, match="`d`"):
        factor_data(2, [3.0, 2.0, 1.0], 0.1)
    with pytest.raises(TypeError, match="lam"):
        vae_chain(8, 3, 1, 1, "0", 0.1)
    with pytest.raises(ValueError, match="depth_enc"):
        vae_chain(8, 3, 0, 1, 0.0, 0.1)
    enc, dec = vae_chain(8, 3, 1, 1, 0.0, 0.1, seed=0)
    with pytest.raises(ValueError, match="log_var"):
        negative_elbo(S, enc, dec, np.zeros(2))
    with pytest.raises(ValueError, match="sigma2"):
        negative_elbo(S, enc, dec, np.zeros(3), sigma2=0.0)
    with pytest.raises(ValueError, match="lr"):
        train_vae(S, enc, dec, np.zeros(3), 1.0, -0.1)
    with pytest.raises(ValueError, match="times"):
        vae_imbalance_scan([0.0], [(1, 1)], 2, [1.0, 2.0])
    with pytest.raises(ValueError, match="depths"):
        vae_imbalance_scan([0.0], [(0, 1)], 2, [0.0, 1.0])
    with pytest.raises(TypeError, match="depths"):
        vae_imbalance_scan([0.0], [1], 2, [0.0, 1.0])
    with pytest.raises(ValueError, match="`S`.*positive definite"):
        optimal_negative_elbo(np.diag([1.0, -1.0]), 2)
    with pytest.raises(ValueError, match="`S`"):
        optimal_parameters(np.array([[1.0, 2.0], [0.0, 1.0]]), 1)
    with pytest.raises(ValueError, match="variances"):
        factor_map(enc, A, [1.0, -2.0, 3.0])
    with pytest.raises(TypeError, match="quick"):
        VAE_SCENARIOS["vae_imbalance"][0](quick="yes")


def test_vae_imbalance_quick_runs_and_plots():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run, plot, n_axes, title = VAE_SCENARIOS["vae_imbalance"]
    d = run(quick=True)
    json.dumps(d, allow_nan=False)
    assert d["scenario"] == "vae_imbalance"
    per = d["results"][0]
    assert len(per["purity"]) == len(d["lambda"]) and d["n_seeds"] >= 8
    assert all(n == 0 for n in per["n_diverged"])
    fig, axes = plt.subplots(1, n_axes)
    plot(d, axes)
    plt.close(fig)


@pytest.mark.parametrize("lam", [-1.0, 1.0])
def test_latent_imbalance_relaxes_to_the_optimum_value(data, lam):
    """The start's latent imbalance is not conserved: after training it is the optimum's,
    diag(a^(1/Dd) - (a / l^2)^(1/De)) with a = l - beta sigma2, because the zero balance inside
    the encoder and the decoder is conserved by the flow and the optimum fixes E and W.
    Gradient descent conserves the inside balance only to O(lr) (the largest deviation from
    the formula here is 1.4e-2 at lr = 5e-3, 2.6e-3 at lr = 1e-3), hence the 3 % tolerance."""
    A, S = data
    l = np.linalg.eigvalsh(S)[::-1][:3]
    a = l - 0.5
    expected = np.sort(np.sqrt(a) - np.sqrt(a / l ** 2))
    chains = [vae_chain(8, 3, 2, 2, lam, 0.5, seed=s) for s in range(3)]
    enc = [np.stack([c[0][j] for c in chains]) for j in range(2)]
    dec = [np.stack([c[1][j] for c in chains]) for j in range(2)]
    res = train_vae(S, enc, dec, np.zeros((3, 3)), 200.0, 0.005, 1.0, 0.5, n_record=2)
    imb = latent_imbalance(res["enc"], res["dec"])
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(imb), axis=-1),
                               np.broadcast_to(expected, (3, 3)), rtol=3e-2)
    inside = res["dec"][1].swapaxes(-1, -2) @ res["dec"][1] - res["dec"][0] @ \
        res["dec"][0].swapaxes(-1, -2)
    assert np.abs(inside).max() < 1e-1


def test_training_flags_divergence_and_keeps_finite_parameters(data):
    A, S = data
    enc, dec = vae_chain(8, 3, 2, 2, 0.0, 1.0, seed=0)
    res = train_vae(S, enc, dec, np.zeros(3), 5.0, 1.0, n_record=5)
    assert bool(res["diverged"])
    assert all(np.all(np.isfinite(W)) for W in res["enc"] + res["dec"])
    assert np.isnan(res["loss"][-1])
