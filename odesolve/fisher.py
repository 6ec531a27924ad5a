"""Fisher information of the weights of a soft committee machine.

For the Gaussian output model ``y ~ N(f(x), 1)`` with the committee output
``f(x) = sum_k v_k g(lambda_k)``, ``lambda_k = w_k . x / sqrt(N)`` and inputs x ~ N(0, I_N),
the Fisher information of the weights is ``F = E_x[J^T J]`` with J the Jacobian of the output
(the model's Fisher, not the empirical one: it does not depend on the labels):

    d f / d W_kl = v_k g'(lambda_k) x_l / sqrt(N),        d f / d v_k = g(lambda_k).

Because the inputs are isotropic, the traces and the readout block of F depend on the weights
only through the overlaps ``Q = W W^T / N`` and the readouts v
(docs/theory/fisher.md#theory-fisher-committee):

- the first-layer block of unit k has the trace ``v_k^2 E[g'(lambda_k)^2 ||x||^2] / N``;
  splitting ``||x||^2`` into the component along w_k, ``lambda_k^2 / Q_kk``, and the N - 1
  components orthogonal to it (independent of lambda_k, unit variance each),

      tr F_{w_k} = v_k^2 ((N - 1) E[g'(lambda)^2] + E[g'(lambda)^2 z^2]) / N,
      lambda = sqrt(Q_kk) z,  z ~ N(0, 1),

  exactly at every N, and ``v_k^2 E[g'(lambda)^2]`` (= v_k^2 J2(Q_kk, Q_kk, Q_kk)) as
  N -> infinity;
- the readout block is ``F_v = E[g(lambda_k) g(lambda_l)] = I2(Q_kk, Q_kl, Q_ll)``.

:func:`committee_fisher` evaluates these from order parameters (any leading axes: time, batch,
seeds), :func:`trajectory_fisher` along a :class:`~odesolve.Trajectory` (ODE or simulation) or
a :class:`~odesolve.multitask.ProtocolTrajectory` (the head of each phase), and
:func:`fisher_monte_carlo` estimates the same quantities on explicit weights W (K, N), v (K,)
from the analytic Jacobians (:func:`committee_jacobian`) at sampled or given inputs.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._checks import check_int, describe, real_array
from ._typing import Seed
from .activations import Activation, activation_functions, kernels_for
from .model import Overlaps, check_seed
from .multitask.ode import ProtocolTrajectory
from .trajectory import Trajectory

__all__ = ["gradient_moments", "committee_fisher", "trajectory_fisher", "committee_jacobian",
           "committee_output", "fisher_monte_carlo", "simulation_fisher"]


# ----------------------------------------------------------------------------- order parameters

def _checked_activation(activation: Any) -> str | Activation:
    if isinstance(activation, Activation):
        return activation
    if not isinstance(activation, str):
        raise TypeError(f"`activation` must be an activation name or an Activation, got "
                        f"{describe(activation)}.")
    activation_functions(activation)                # ValueError for an unknown name
    return activation


#: trapezoidal rule for E[h(z)], z ~ N(0, 1) (activations without closed-form moments)
_Z_NODES = np.linspace(-12.0, 12.0, 481)
_Z_WEIGHTS = np.exp(-0.5 * _Z_NODES ** 2) / np.exp(-0.5 * _Z_NODES ** 2).sum()


def _moments_closed_form(activation: str, q: np.ndarray):
    """(E[g'^2], E[g'^2 z^2]) for the activations with closed forms, or None."""
    if activation == "erf":                       # g' = sqrt(2/pi) exp(-x^2/2)
        s = 1.0 + 2.0 * q
        return 2.0 / math.pi / np.sqrt(s), 2.0 / math.pi / s ** 1.5
    if activation == "linear":
        return np.ones_like(q), np.ones_like(q)
    if activation == "relu":                      # g'^2 = theta; q = 0 as the limit q -> 0+
        return np.full_like(q, 0.5), np.full_like(q, 0.5)
    return None


def gradient_moments(activation: str | Activation,
                     q: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The two Gaussian averages of the first-layer Fisher, for ``lambda = sqrt(q) z``.

    Parameters
    ----------
    activation : str or Activation
        "erf", "linear", "relu" (closed forms) or any other activation (quadrature).
    q : array_like, shape (...)
        Variances Q_kk >= 0.

    Returns
    -------
    a : ndarray, shape (...)
        ``E[g'(lambda)^2] = J2(q, q, q)``.
    c : ndarray, shape (...)
        ``E[g'(lambda)^2 z^2]``.

        Without closed forms, both by the trapezoidal rule on the standard normal weight
        (nodes ``z`` in [-12, 12], step 0.05): exponentially accurate for activations
        analytic near the real axis (tanh: ~1e-12 for q <= 4), only O(h^2) for kinks.

    Raises
    ------
    TypeError
        ``activation`` not a name or Activation, ``q`` not real numbers.
    ValueError
        an unknown activation name, a negative variance.
    """
    activation = _checked_activation(activation)
    var = real_array("q", q)
    if np.any(var < 0):
        raise ValueError(f"`q` (the variances Q_kk) must be >= 0, got {np.nanmin(var):g}.")
    if isinstance(activation, str):
        closed = _moments_closed_form(activation, var)
        if closed is not None:
            return closed
    _, dg = _numpy_functions(activation)
    d2 = dg(np.sqrt(var)[..., None] * _Z_NODES) ** 2
    return d2 @ _Z_WEIGHTS, (d2 * _Z_NODES ** 2) @ _Z_WEIGHTS


def _order_parameters(Q, v):
    Q = real_array("Q", Q)
    v = real_array("v", v)
    if Q.ndim < 2 or Q.shape[-1] != Q.shape[-2] or Q.shape[-1] == 0:
        raise ValueError(f"`Q` must have shape (..., K, K), got {Q.shape}.")
    K = Q.shape[-1]
    if v.ndim < 1 or v.shape[-1] != K:
        raise ValueError(f"`v` must have shape (..., K) with K = {K} (that of `Q`), got "
                         f"{v.shape}.")
    try:
        np.broadcast_shapes(Q.shape[:-2], v.shape[:-1])
    except ValueError:
        raise ValueError(f"the leading axes of `Q` {Q.shape[:-2]} and `v` {v.shape[:-1]} must "
                         "broadcast together.") from None
    return Q, v


def _readout_block(activation, Q):
    """I2(Q_kk, Q_kl, Q_ll), shape (..., K, K); NaN where Q is not finite."""
    I2 = kernels_for(activation)["I2"]
    diag = np.diagonal(Q, axis1=-2, axis2=-1)
    a = np.broadcast_to(diag[..., :, None], Q.shape)
    b = np.broadcast_to(diag[..., None, :], Q.shape)
    out = np.full(Q.shape, np.nan)
    for idx in zip(*np.nonzero(np.isfinite(a) & np.isfinite(b) & np.isfinite(Q))):
        out[idx] = I2(a[idx], Q[idx], b[idx])
    return out


def committee_fisher(activation: str | Activation, Q: ArrayLike, v: ArrayLike,
                     N: int | None = None) -> dict[str, np.ndarray]:
    """Fisher information of a committee machine's weights from its order parameters.

    Parameters
    ----------
    activation : str or Activation
    Q : array_like, shape (..., K, K)
        Student-student overlaps ``W W^T / N``; leading axes (time, batch, seeds) allowed.
    v : array_like, shape (..., K)
        Readouts; leading axes broadcast with those of ``Q``.
    N : int, optional
        Input dimension for the exact finite-N first-layer trace; None (default): the limit
        N -> infinity.

    Returns
    -------
    dict with
        ``"first_layer"`` (..., K): trace of the block of each unit's weights w_k;
        ``"readout"`` (..., K, K): the readout block ``I2(Q)``;
        ``"per_layer"`` (..., 2): the traces of the first layer and of the readouts;
        ``"trace"`` (...,): the total trace.

    Raises
    ------
    TypeError, ValueError
        ``activation`` unknown or of the wrong type; ``Q``, ``v`` of wrong shapes or not
        real; a negative ``Q_kk``; ``N`` not an integer >= 1.
    """
    activation = _checked_activation(activation)
    Qa, va = _order_parameters(Q, v)
    if N is not None:
        N = check_int("N", N, minimum=1)
    q = np.diagonal(Qa, axis1=-2, axis2=-1)
    if np.any(q < 0):
        raise ValueError(f"`Q` must have non-negative diagonal entries Q_kk (squared norms "
                         f"/ N), got {np.nanmin(q):g}.")
    finite = np.isfinite(q)
    a, c = gradient_moments(activation, np.where(finite, q, 0.0))
    a, c = np.where(finite, a, np.nan), np.where(finite, c, np.nan)
    per_unit = a if N is None else ((N - 1) * a + c) / N
    first = va ** 2 * per_unit
    readout = _readout_block(activation, Qa)
    per_layer = np.stack(np.broadcast_arrays(first.sum(-1),
                                             np.trace(readout, axis1=-2, axis2=-1)), axis=-1)
    return {"first_layer": first, "readout": readout, "per_layer": per_layer,
            "trace": per_layer.sum(-1)}


def _trajectory_parts(traj: Any, head: int | None):
    """Activation, Q (..., n, K, K) and the readouts in use v (..., n, K) of a trajectory."""
    if isinstance(traj, Trajectory):
        if head is not None:
            raise ValueError("`head` applies to a ProtocolTrajectory (several heads); a "
                             "Trajectory has one readout.")
        return traj.setup.activation, traj.Q, traj.v
    if isinstance(traj, ProtocolTrajectory):
        H = traj.V.shape[-2]
        if head is None:
            heads = np.array([traj.protocol.head(traj.setup, int(k)) for k in traj.phase])
        else:
            head = check_int("head", head, minimum=0, maximum=H - 1)
            heads = np.full(traj.t.size, head)
        v = traj.V[..., np.arange(traj.t.size), heads, :]            # (..., n, K)
        return traj.setup.activation, traj.Q, v
    raise TypeError(f"`traj` must be a Trajectory or a ProtocolTrajectory, got "
                    f"{type(traj).__name__}.")


def trajectory_fisher(traj: Trajectory | ProtocolTrajectory, N: int | None = None,
                      head: int | None = None) -> dict[str, np.ndarray]:
    """Fisher information along a committee trajectory, from its order parameters.

    Parameters
    ----------
    traj : Trajectory or ProtocolTrajectory
        From :func:`odesolve.integrate`, :func:`odesolve.simulate`,
        :func:`odesolve.multitask.integrate_protocol` or
        :func:`odesolve.multitask.simulate_protocol` (batch or seed axes are kept).
    N : int, optional
        Input dimension of the exact finite-N first-layer trace (e.g. ``traj.info["N"]`` of a
        simulation); None: the limit N -> infinity.
    head : int, optional
        ProtocolTrajectory only: the head whose Fisher information to give at every time;
        default the head trained in the phase of each output time.

    Returns
    -------
    dict
        ``"t"`` (n,) and the entries of :func:`committee_fisher` with the trajectory's axes
        (``"trace"`` (..., n), ``"per_layer"`` (..., n, 2), ``"first_layer"`` (..., n, K),
        ``"readout"`` (..., n, K, K)); NaN after a failure.

    Raises
    ------
    TypeError
        ``traj`` of another type; ``N`` or ``head`` not an integer.
    ValueError
        ``head`` given for a Trajectory or out of range; ``N`` < 1.
    """
    activation, Q, v = _trajectory_parts(traj, head)
    out = committee_fisher(activation, Q, v, N=N)
    out["t"] = np.asarray(traj.t)
    return out


# ----------------------------------------------------------------------------- explicit weights

def _numpy_functions(activation) -> tuple[Callable[[np.ndarray], np.ndarray],
                                          Callable[[np.ndarray], np.ndarray]]:
    """Vectorised (g, g') of an activation."""
    if activation == "erf":
        from scipy.special import erf  # type: ignore[import-untyped]
        return (lambda x: erf(x / math.sqrt(2.0)),
                lambda x: math.sqrt(2.0 / math.pi) * np.exp(-0.5 * x * x))
    if activation == "linear":
        return (lambda x: x), (lambda x: np.ones_like(x))
    if activation == "relu":
        return (lambda x: np.maximum(x, 0.0)), (lambda x: (x > 0.0).astype(float))
    if activation == "tanh":
        return np.tanh, (lambda x: 1.0 - np.tanh(x) ** 2)
    g, dg = activation_functions(activation)
    return np.vectorize(g, otypes=[float]), np.vectorize(dg, otypes=[float])


def _weights(W, v):
    W = real_array("W", W)
    v = real_array("v", v)
    if W.ndim != 2 or W.size == 0:
        raise ValueError(f"`W` must have shape (K, N), got {W.shape}.")
    if v.shape != (W.shape[0],):
        raise ValueError(f"`v` must have shape ({W.shape[0]},) (K of `W`), got {v.shape}.")
    if not (np.all(np.isfinite(W)) and np.all(np.isfinite(v))):
        raise ValueError("`W` and `v` must be finite (they hold NaN or inf).")
    return W, v


def _inputs(x, N):
    x = real_array("x", x)
    if x.ndim != 2 or x.shape[1] != N or x.shape[0] == 0:
        raise ValueError(f"`x` must have shape (n, N) with n >= 1 and N = {N} (that of `W`), "
                         f"got {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError("`x` must be finite (it holds NaN or inf).")
    return x


def committee_output(activation: str | Activation, W: ArrayLike, v: ArrayLike,
                     x: ArrayLike) -> np.ndarray:
    """Output ``f(x) = sum_k v_k g(w_k^T x / sqrt(N))`` at the inputs ``x``.

    Parameters
    ----------
    activation : str or Activation
    W : array_like, shape (K, N)
    v : array_like, shape (K,)
    x : array_like, shape (n, N)

    Returns
    -------
    ndarray, shape (n,)

    Raises
    ------
    TypeError, ValueError
        naming the argument: unknown activation, wrong shapes, non-finite entries.
    """
    activation = _checked_activation(activation)
    Wa, va = _weights(W, v)
    xa = _inputs(x, Wa.shape[1])
    g, _ = _numpy_functions(activation)
    return g(xa @ Wa.T / math.sqrt(Wa.shape[1])) @ va


def committee_jacobian(activation: str | Activation, W: ArrayLike, v: ArrayLike,
                       x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Analytic Jacobian of the committee output with respect to W and v.

    Parameters
    ----------
    activation : str or Activation
    W : array_like, shape (K, N)
    v : array_like, shape (K,)
    x : array_like, shape (n, N)

    Returns
    -------
    J_W : ndarray, shape (n, K, N)
        ``d f(x_n) / d W_kl = v_k g'(lambda_k) x_l / sqrt(N)``.
    J_v : ndarray, shape (n, K)
        ``d f(x_n) / d v_k = g(lambda_k)``.

    Raises
    ------
    TypeError, ValueError
        As :func:`committee_output`.
    """
    activation = _checked_activation(activation)
    Wa, va = _weights(W, v)
    xa = _inputs(x, Wa.shape[1])
    g, dg = _numpy_functions(activation)
    sqrt_n = math.sqrt(Wa.shape[1])
    lam = xa @ Wa.T / sqrt_n
    return (va * dg(lam))[:, :, None] * xa[:, None, :] / sqrt_n, g(lam)


def _sample_terms(g, dg, W, v, x):
    """Per-input first-layer traces per unit (n, K) and readout products (n, K, K)."""
    N = W.shape[1]
    lam = x @ W.T / math.sqrt(N)
    x2 = (x * x).sum(axis=1) / N
    gl = g(lam)
    return v ** 2 * dg(lam) ** 2 * x2[:, None], gl[:, :, None] * gl[:, None, :]


def fisher_monte_carlo(activation: str | Activation, W: ArrayLike, v: ArrayLike,
                       n_samples: int = 10_000, seed: Seed = None,
                       x: ArrayLike | None = None, batch: int = 2000) -> dict[str, Any]:
    """Estimate the Fisher information of explicit weights, ``E_x[J^T J]``, from the analytic
    Jacobians at sampled (or given) inputs.

    Parameters
    ----------
    activation : str or Activation
    W : array_like, shape (K, N)
    v : array_like, shape (K,)
    n_samples : int
        Inputs x ~ N(0, I_N) to draw, at least 2 (ignored when ``x`` is given).
    seed : int, Generator, ..., optional
        Randomness of the inputs.
    x : array_like, shape (n, N), optional
        Fixed inputs: the result is then the average over exactly these inputs.
    batch : int
        Inputs per block (memory: ``batch * N`` floats).

    Returns
    -------
    dict
        ``"first_layer"`` (K,), ``"readout"`` (K, K), ``"per_layer"`` (2,), ``"trace"``
        (float): the averages of the per-input ``J^T J`` (as :func:`committee_fisher`);
        ``"sem_first_layer"``, ``"sem_readout"``, ``"sem_per_layer"``, ``"sem_trace"``: their
        standard errors over the inputs; ``"n_samples"``.

    Raises
    ------
    TypeError, ValueError
        As :func:`committee_output`; ``n_samples`` or ``batch`` not an integer >= 2 or >= 1.
    """
    activation = _checked_activation(activation)
    Wa, va = _weights(W, v)
    batch = check_int("batch", batch, minimum=1)
    K, N = Wa.shape
    xa = None if x is None else _inputs(x, N)
    if xa is not None:
        n = xa.shape[0]
    else:
        n = check_int("n_samples", n_samples, minimum=2)
        rng = np.random.default_rng(check_seed("seed", seed))
    g, dg = _numpy_functions(activation)
    # running sums of each per-input quantity and of its square: columns are the K unit
    # traces, the K*K readout products, the two layer traces and the total
    s1 = np.zeros(K + K * K + 3)
    s2 = np.zeros_like(s1)
    for lo in range(0, n, batch):
        xb = xa[lo:lo + batch] if xa is not None else rng.standard_normal((min(batch, n - lo), N))
        first, prod = _sample_terms(g, dg, Wa, va, xb)
        layers = np.stack([first.sum(1), np.trace(prod, axis1=1, axis2=2)], axis=1)
        cols = np.concatenate([first, prod.reshape(len(xb), -1), layers,
                               layers.sum(1, keepdims=True)], axis=1)
        s1 += cols.sum(0)
        s2 += (cols ** 2).sum(0)
    mean = s1 / n
    sem = np.sqrt(np.maximum(s2 / n - mean ** 2, 0.0) / max(n - 1, 1)) if n > 1 else \
        np.full_like(mean, np.nan)

    def split(a):
        return {"first_layer": a[:K], "readout": a[K:K + K * K].reshape(K, K),
                "per_layer": a[K + K * K:K + K * K + 2], "trace": float(a[-1])}

    out: dict[str, Any] = split(mean)
    out.update({f"sem_{k}": val for k, val in split(sem).items()})
    out["n_samples"] = n
    return out


def simulation_fisher(traj: Trajectory | ProtocolTrajectory, n_samples: int = 4000,
                      seed: Seed = None, head: int | None = None) -> dict[str, np.ndarray]:
    """Monte Carlo Fisher information along a simulation, on N-dimensional weights.

    The simulators (:func:`odesolve.simulate`, :func:`odesolve.multitask.simulate_protocol`)
    record the order parameters, not the weights. The Fisher traces of a committee depend
    on the weights only through ``Q = W W^T / N`` and v (the inputs are isotropic), so
    at every record time and seed this builds weights with exactly the recorded overlaps
    (:func:`odesolve.weights_from_overlaps`, dimension ``traj.info["N"]``) and estimates the
    Fisher information on them with :func:`fisher_monte_carlo`: the same distribution of
    estimates as on the simulator's own weights.

    Parameters
    ----------
    traj : Trajectory or ProtocolTrajectory
        A simulation (a seed axis first, ``info["N"]``).
    n_samples : int
        Inputs per record time and seed, at least 2.
    seed : int, Generator, ..., optional
        Randomness of the weights' orientation and of the inputs.
    head : int, optional
        As :func:`trajectory_fisher`.

    Returns
    -------
    dict
        ``"t"`` (n,); ``"trace"``, ``"sem_trace"`` (S, n); ``"per_layer"``,
        ``"sem_per_layer"`` (S, n, 2). NaN where the run had failed.

    Raises
    ------
    TypeError, ValueError
        ``traj`` not a simulation trajectory (no seed axis or no ``info["N"]``), and as
        :func:`fisher_monte_carlo`.
    """
    activation, Q, v = _trajectory_parts(traj, head)
    N = traj.info.get("N") if isinstance(traj.info, dict) else None
    if Q.ndim != 4 or N is None:
        raise ValueError("`traj` must be a simulation (a seed axis and info['N']); use "
                         "trajectory_fisher for ODE trajectories.")
    n_samples = check_int("n_samples", n_samples, minimum=2)
    rng = np.random.default_rng(check_seed("seed", seed))
    S, n, K = Q.shape[:3]
    trace, sem = np.full((S, n), np.nan), np.full((S, n), np.nan)
    per, sem_per = np.full((S, n, 2), np.nan), np.full((S, n, 2), np.nan)
    for s in range(S):
        for j in range(n):
            if not (np.all(np.isfinite(Q[s, j])) and np.all(np.isfinite(v[s, j]))):
                continue
            W = _weights_with_overlaps(Q[s, j], v[s, j], N, rng)
            est = fisher_monte_carlo(activation, W, v[s, j], n_samples, seed=rng)
            trace[s, j], sem[s, j] = est["trace"], est["sem_trace"]
            per[s, j], sem_per[s, j] = est["per_layer"], est["sem_per_layer"]
    return {"t": np.asarray(traj.t), "trace": trace, "sem_trace": sem, "per_layer": per,
            "sem_per_layer": sem_per}


def _weights_with_overlaps(Q, v, N, rng):
    """Weights W (K, N) with W W^T / N = Q (odesolve.weights, with a dummy teacher)."""
    from .weights import weights_from_overlaps

    K = Q.shape[0]
    ov = Overlaps(Q, np.zeros((K, 1)), np.ones((1, 1)), v, np.ones(1), check=False)
    return weights_from_overlaps(ov, N, seed=rng)[0]
