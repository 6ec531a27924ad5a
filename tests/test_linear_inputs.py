"""Gradient flow of deep linear chains on correlated inputs and with fixed weights
(odesolve.linear.deep.chain_gradient_flow: ``Sigma_xx`` and ``connectivity``), against an
independent NumPy/SciPy integration of the same loss gradient."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from odesolve.linear.deep import chain_gradient_flow, end_to_end, random_chain


def _flow_numpy(Sigma, Sxx, C, shapes):
    """tau = 1 gradient flow of 1/2 E||y - P x||^2 written out with NumPy products:
    dW_l = C_l o [(W_D..W_{l+1})^T (Sigma - P Sxx) (W_{l-1}..W_1)^T]."""
    def f(_, y):
        W, off = [], 0
        for sh in shapes:
            W.append(y[off:off + int(np.prod(sh))].reshape(sh))
            off += int(np.prod(sh))
        E = Sigma - end_to_end(W) @ Sxx
        grads = []
        for l in range(len(W)):
            above = end_to_end(W[l + 1:]) if l + 1 < len(W) else np.eye(W[-1].shape[0])
            below = end_to_end(W[:l]) if l > 0 else np.eye(W[0].shape[1])
            grads.append((C[l] * (above.T @ E @ below.T)).ravel())
        return np.concatenate(grads)
    return f


@pytest.mark.parametrize("D", [1, 2, 3])
def test_correlated_inputs_and_fixed_weights_against_numpy(D, validation):
    rng = np.random.default_rng(10 + D)
    d_in, width, d_out = 5, 3, 4
    A = rng.standard_normal((d_in, d_in - 1))
    Sxx = A @ A.T / d_in                                   # singular: rank d_in - 1
    Sigma = rng.standard_normal((d_out, d_in)) @ Sxx
    W = random_chain(d_in, width, d_out, D, 0.7, seed=D)
    C = [(rng.random(w.shape) < 0.7).astype(float) for w in W]
    t = np.linspace(0, 4, 5)
    ours = chain_gradient_flow(Sigma, W, t, Sigma_xx=Sxx, connectivity=C, rtol=1e-12,
                               atol=1e-14)
    ref = solve_ivp(_flow_numpy(Sigma, Sxx, C, [w.shape for w in W]), (0, 4),
                    np.concatenate([w.ravel() for w in W]), t_eval=t, method="DOP853",
                    rtol=1e-12, atol=1e-14)
    err = np.abs(np.concatenate([w.reshape(t.size, -1) for w in ours], axis=1) - ref.y.T).max()
    validation(f"linear.chain-correlated-inputs.D{D}", area="Deep linear networks",
               claim=f"depth-{D} gradient flow with an input covariance and fixed weights "
                     "equals the NumPy loss gradient integrated by SciPy",
               method="scipy DOP853 of the gradient written with NumPy products",
               measured=err, bound=1e-9, unit="max abs error")
    assert err < 1e-9
    for w, w0, c in zip(ours, W, C):                       # masked weights never move
        np.testing.assert_array_equal(w[:, c == 0], np.broadcast_to(w0[c == 0],
                                                                    w[:, c == 0].shape))


def test_identity_covariance_is_the_whitened_flow():
    W = random_chain(4, 3, 2, 2, 0.5, seed=0)
    Sigma = np.arange(8.0).reshape(2, 4) / 8
    t = [0.0, 1.0, 2.0]
    a = chain_gradient_flow(Sigma, W, t)
    b = chain_gradient_flow(Sigma, W, t, Sigma_xx=np.eye(4),
                            connectivity=[np.ones(w.shape) for w in W])
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_input_errors_name_the_argument():
    W = [np.eye(2)]
    with pytest.raises(ValueError, match=r"`Sigma_xx` must have shape \(2, 2\)"):
        chain_gradient_flow(np.eye(2), W, [0, 1], Sigma_xx=np.eye(3))
    with pytest.raises(ValueError, match="`Sigma_xx` must be symmetric"):
        chain_gradient_flow(np.eye(2), W, [0, 1], Sigma_xx=[[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="`Sigma_xx` must be positive semi-definite"):
        chain_gradient_flow(np.eye(2), W, [0, 1], Sigma_xx=[[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="`mask` .* and `Sigma_xx` .* cannot be combined"):
        chain_gradient_flow(np.eye(2), W, [0, 1], mask=np.ones((2, 2)), Sigma_xx=np.eye(2))
    with pytest.raises(ValueError, match="`connectivity` must have one mask per layer"):
        chain_gradient_flow(np.eye(2), W, [0, 1], connectivity=[np.ones((2, 2))] * 2)
    with pytest.raises(ValueError, match=r"`connectivity\[0\]` must hold only 0"):
        chain_gradient_flow(np.eye(2), W, [0, 1], connectivity=[np.full((2, 2), 0.5)])
    with pytest.raises(TypeError, match="`connectivity` must be a list"):
        chain_gradient_flow(np.eye(2), W, [0, 1], connectivity="all")
