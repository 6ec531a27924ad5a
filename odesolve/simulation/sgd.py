"""Compiled online SGD of the soft committee machine, one activation at a time.

The update is that of docs/theory/committee.md#theory-committee-sgd (Saad & Solla 1995;
Goldt et al. 2019). One step draws a
fresh input x ~ N(0, I_N) and output noise zeta ~ N(0, 1), and with the local fields
lambda_i = w_i . x / sqrt(N), nu_n = w*_n . x / sqrt(N):

    y      = sum_n v*_n g(nu_n) + sigma zeta,    yhat = sum_i v_i g(lambda_i),   Delta = y - yhat
    w_i   += (eta / sqrt(N)) v_i g'(lambda_i) Delta x - (kappa / N) w_i
    v_i   += (eta_v / N) g(lambda_i) Delta - (kappa / N) v_i          (only when train_v)

Both layers are updated from the same sample, the first layer with the readouts from before
the step. Time advances by 1/N per step.

With mini-batches of b samples (docs/theory/committee.md#theory-committee-minibatch) one
update draws b fresh samples (x^mu, zeta^mu), all evaluated with the weights from before the
update, and averages the gradient over them:

    w_i   += (eta / sqrt(N)) (1/b) sum_mu v_i g'(lambda_i^mu) Delta^mu x^mu - (kappa / N) w_i
    v_i   += (eta_v / N) (1/b) sum_mu g(lambda_i^mu) Delta^mu - (kappa / N) v_i

Time advances by 1/N per update. b = 1 runs the single-sample step, bit for bit the online
SGD code path.

The functions here are templates calling the global names ``g`` and ``dg`` (the activation and
its derivative) and ``sgd_step``; :func:`compiled` binds them with :func:`odesolve._jit.specialise`,
so each activation gets its own cached machine code.
"""
from __future__ import annotations

import functools
import math
import sys

import numba
import numpy as np

from .._jit import source_tag, specialise
from ..activations import activation_functions
from . import rng
from .rng import fill_normal, standard_normal

__all__ = ["compiled", "pack_params", "N_PARAMS", "ewc_pull", "no_ewc"]

#: Layout of the parameter vector ``params``: eta, eta_v, sigma, kappa, b (mini-batch size),
#: train_v (1.0 when the readouts train and decay, 0.0 when they stay fixed).
N_PARAMS = 6

# reassociation lets LLVM vectorise the dot products (a reduction); results stay deterministic
_DOT_MATH = {"reassoc", "nsz", "contract"}


def pack_params(setup, train_v: bool | None = None) -> np.ndarray:
    """``params`` (6,) = [eta, eta_v, sigma, kappa, b, train_v] of a
    :class:`~odesolve.TeacherStudent` (b: ``setup.batch_size``; train_v: ``train_v`` if given,
    else whether ``setup.eta_readout`` > 0)."""
    train = setup.eta_readout > 0.0 if train_v is None else bool(train_v)
    return np.array([setup.eta, setup.eta_readout, setup.sigma, setup.weight_decay,
                     setup.batch_size, 1.0 if train else 0.0], dtype=np.float64)


@numba.njit(cache=True, nogil=True, fastmath=_DOT_MATH)
def _dot(a, b):
    acc = 0.0
    for j in range(a.shape[0]):
        acc += a[j] * b[j]
    return acc


def _sgd_step_template(W, W_star, v, v_star, x, zeta, params, lam, nu):
    """One online SGD step on the sample (x, zeta), in place
    (docs/theory/simulation.md#theory-simulation-sgd).

    Parameters
    ----------
    W : ndarray, shape (K, N)
        Student first-layer weights, updated in place.
    W_star : ndarray, shape (M, N)
        Teacher first-layer weights (read only).
    v : ndarray, shape (K,)
        Student readouts, updated in place when train_v (``params[5]``) is set.
    v_star : ndarray, shape (M,)
        Teacher readouts.
    x : ndarray, shape (N,)
        The input.
    zeta : float
        Standard normal output noise (scaled by sigma).
    params : ndarray, shape (6,)
        [eta, eta_v, sigma, kappa, b, train_v], see :func:`pack_params`; b is not used here
        (one sample, the online update).
    lam : ndarray, shape (K,)
        Output: student local fields lambda_i = w_i . x / sqrt(N) before the step.
    nu : ndarray, shape (M,)
        Output: teacher local fields nu_n = w*_n . x / sqrt(N).

    Returns
    -------
    float
        The error Delta = y - yhat of the sample.
    """
    K, N = W.shape
    M = W_star.shape[0]
    eta, eta_v, sigma, kappa = params[0], params[1], params[2], params[3]
    inv_sqrt_n = 1.0 / math.sqrt(N)
    y = sigma * zeta
    for n in range(M):
        nu[n] = _dot(W_star[n], x) * inv_sqrt_n
        y += v_star[n] * g(nu[n])  # noqa: F821  (bound by specialise)
    yhat = 0.0
    for i in range(K):
        lam[i] = _dot(W[i], x) * inv_sqrt_n
        yhat += v[i] * g(lam[i])  # noqa: F821
    delta = y - yhat
    decay = 1.0 - kappa / N
    for i in range(K):
        c = eta * inv_sqrt_n * v[i] * dg(lam[i]) * delta  # noqa: F821  (pre-update v_i)
        w = W[i]
        for j in range(N):
            w[j] = decay * w[j] + c * x[j]
    if params[5] > 0.0:
        for i in range(K):
            v[i] = decay * v[i] + eta_v / N * g(lam[i]) * delta  # noqa: F821
    return delta


def _batch_step_template(W, W_star, v, v_star, x, params, lam, nu, stream, G, gv):
    """One mini-batch SGD update, in place: b samples drawn from ``stream``, the gradient
    averaged over them (module docstring); all fields use the weights from before the update.

    Parameters
    ----------
    W, W_star, v, v_star
        As in :func:`_sgd_step_template`.
    x : ndarray, shape (N,)
        Scratch for one input.
    params : ndarray, shape (6,)
        [eta, eta_v, sigma, kappa, b, train_v], see :func:`pack_params`.
    lam, nu : ndarray, shapes (K,), (M,)
        Scratch: the local fields of the current sample.
    stream : ndarray of uint64, shape (4,)
        xoshiro256++ state of the sample stream; each sample draws x then zeta, as the
        online loop does.
    G : ndarray, shape (K, N)
        Scratch: the first-layer step accumulated over the batch.
    gv : ndarray, shape (K,)
        Scratch: sum_mu g(lambda_i^mu) Delta^mu.
    """
    K, N = W.shape
    M = W_star.shape[0]
    eta, eta_v, sigma, kappa = params[0], params[1], params[2], params[3]
    b = int(params[4])
    inv_sqrt_n = 1.0 / math.sqrt(N)
    G[:, :] = 0.0
    gv[:] = 0.0
    for _ in range(b):
        fill_normal(stream, x)
        zeta = standard_normal(stream)
        y = sigma * zeta
        for n in range(M):
            nu[n] = _dot(W_star[n], x) * inv_sqrt_n
            y += v_star[n] * g(nu[n])  # noqa: F821  (bound by specialise)
        yhat = 0.0
        for i in range(K):
            lam[i] = _dot(W[i], x) * inv_sqrt_n
            yhat += v[i] * g(lam[i])  # noqa: F821
        delta = y - yhat
        for i in range(K):
            c = eta * inv_sqrt_n * v[i] * dg(lam[i]) * delta / b  # noqa: F821
            gi = G[i]
            for j in range(N):
                gi[j] += c * x[j]
            gv[i] += g(lam[i]) * delta  # noqa: F821
    decay = 1.0 - kappa / N
    for i in range(K):
        w = W[i]
        gi = G[i]
        for j in range(N):
            w[j] = decay * w[j] + gi[j]
    if params[5] > 0.0:
        for i in range(K):
            v[i] = decay * v[i] + eta_v / N * gv[i] / b


@numba.njit(cache=True, nogil=True)
def ewc_pull(W, v, A, coef):
    """The EWC step (odesolve/derive/ewc.py), after an SGD step, in place.

    ``w_i += e_i (a_i - w_i)`` and ``v_i += ev_i (va_i - v_i)`` with ``coef = [e (K), ev (K),
    va (K)]``, ``e_i = eta lam F_i / N``, ``ev_i = eta_v lam Fv_i / N``. Applying it after the
    gradient step instead of together with it changes the weights by O(N^-3/2) per step,
    below the order the ODEs keep.
    """
    K, N = W.shape
    for i in range(K):
        e = coef[i]
        if e != 0.0:
            w = W[i]
            a = A[i]
            for j in range(N):
                w[j] += e * (a[j] - w[j])
        v[i] += coef[K + i] * (coef[2 * K + i] - v[i])


def _advance_template(W, W_star, v, v_star, params, states, x, fields, active, n_steps,
                      A, ewc_coef):
    """``n_steps`` SGD updates of every active seed, seeds in parallel (``prange``).

    With a mini-batch size b = ``params[4]`` > 1 each update is :func:`_batch_step_template`
    on b samples; its scratch (K N + K numbers per seed) is allocated once per call, outside
    the loop over updates. b = 1 is the single-sample step.

    Parameters
    ----------
    W : ndarray, shape (S, K, N)
    W_star : ndarray, shape (S, M, N)
    v : ndarray, shape (S, K)
    v_star : ndarray, shape (S, M)
    params : ndarray, shape (6,)
    states : ndarray of uint64, shape (S, 4)
        xoshiro256++ state of each seed's sample stream, advanced in place.
    x : ndarray, shape (S, N)
        Scratch for the inputs.
    fields : ndarray, shape (S, K + M)
        Scratch for the local fields.
    active : ndarray of bool, shape (S,)
        Seeds to advance (diverged seeds are skipped).
    n_steps : int
    A : ndarray, shape (S, K, N) or (S, K, 0)
        EWC anchors of the first layer; an empty last axis means no EWC.
    ewc_coef : ndarray, shape (S, 3 K)
        EWC coefficients per seed (:func:`ewc_pull`); ignored without anchors.
    """
    S, K, N = W.shape
    ewc = A.shape[2] > 0
    batch = int(params[4]) > 1
    for s in numba.prange(S):
        if not active[s]:
            continue
        lam = fields[s, :K]
        nu = fields[s, K:]
        G = np.empty((K, N) if batch else (0, 0))
        gv = np.empty(K)
        for _ in range(n_steps):
            if batch:
                batch_step(W[s], W_star[s], v[s], v_star[s], x[s], params,  # noqa: F821
                           lam, nu, states[s], G, gv)
            else:
                fill_normal(states[s], x[s])
                zeta = standard_normal(states[s])
                sgd_step(W[s], W_star[s], v[s], v_star[s], x[s], zeta, params,  # noqa: F821
                         lam, nu)
            if ewc:
                ewc_pull(W[s], v[s], A[s], ewc_coef[s])


def no_ewc(S: int, K: int):
    """The ``A, ewc_coef`` arguments of ``advance`` without EWC."""
    return np.zeros((S, K, 0)), np.zeros((S, 3 * K))


def _test_error_template(W, W_star, v, v_star, states, n_test, x, fields, out):
    """Test-set estimate 1/2 mean (yhat - y_teacher)^2 over n_test noise-free inputs per seed.

    The test inputs of seed s are regenerated from ``states[s]`` (copied, not advanced), so each
    seed keeps one fixed test set without storing n_test x N numbers. Writes ``out`` (S,).
    """
    S, K = W.shape[0], W.shape[1]
    M = W_star.shape[1]
    for s in numba.prange(S):
        stream = states[s].copy()
        inv_sqrt_n = 1.0 / math.sqrt(x.shape[1])
        acc = 0.0
        for _ in range(n_test):
            fill_normal(stream, x[s])
            err = 0.0
            for i in range(K):
                err += v[s, i] * g(_dot(W[s, i], x[s]) * inv_sqrt_n)  # noqa: F821
            for n in range(M):
                err -= v_star[s, n] * g(_dot(W_star[s, n], x[s]) * inv_sqrt_n)  # noqa: F821
            acc += err * err
        out[s] = 0.5 * acc / n_test


class Compiled:
    """The compiled functions of one activation: ``sgd_step``, ``batch_step``, ``advance``,
    ``test_error``."""

    def __init__(self, g, dg, tag):
        self.g, self.dg, self.tag = g, dg, tag
        self.sgd_step = specialise(_sgd_step_template, tag, g=g, dg=dg)
        self.batch_step = specialise(_batch_step_template, tag, g=g, dg=dg)

    @functools.cached_property
    def advance(self):
        return specialise(_advance_template, self.tag, {"parallel": True},
                          sgd_step=self.sgd_step, batch_step=self.batch_step)

    @functools.cached_property
    def test_error(self):
        return specialise(_test_error_template, self.tag, {"parallel": True}, g=self.g)


@functools.lru_cache(maxsize=None)
def compiled(activation) -> Compiled:
    """Compiled SGD functions of a named activation or an :class:`~odesolve.Activation`."""
    g, dg = activation_functions(activation)
    # the callees' module names too: a cached entry refers to them by module (a user's
    # activation defined in a script and imported under another name must not reuse it)
    names = [f"{f.py_func.__module__}.{f.py_func.__qualname__}" for f in (g, dg)]
    tag = "sim_" + source_tag(g, dg, *names, rng, sys.modules[__name__])
    return Compiled(g, dg, tag)
