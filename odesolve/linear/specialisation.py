"""Specialisation of the hidden units of a two-layer linear network, and its two levers
(lambda, readout entropy) (docs/theory/levers.md#theory-levers-linear).

- :func:`mode_contributions`: what hidden unit i contributes to singular mode alpha of the
  task, ``c_ia = |(U^T W2)_ai (W1 V)_ia|``.
- :func:`mode_specialisation`: the unit-side index (each unit concentrated on one mode;
  :func:`odesolve.specialisation.unit_purity`) and the mode-side index (each mode carried by
  one unit).
- :func:`profile_balanced_weights`: lambda-balanced weights whose units' norms follow a profile
  of prescribed entropy (:func:`odesolve.specialisation.readout_profile`).
- :func:`linear_lever_scan`, :func:`linear_levers`: the indices after numerical gradient flow
  (:func:`odesolve.linear.gradient_flow`) against lambda and the entropy.

Why the weights, not the exact solution: gradient flow commutes with rotations of the hidden
layer (W1 -> O W1, W2 -> W2 O^T), and X = Q Q^T is invariant under them, so X(t) (the exact
lambda-balanced solution) does not say which hidden unit carries which mode. The indices
need the weights themselves, here from the numerical flow.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_bool, check_int, check_real
from .._typing import Seed
from ..model import check_seed
from ._args import check_times, finite_array, real_matrix
from .network import gradient_flow

__all__ = ["task_modes", "mode_contributions", "mode_specialisation",
           "profile_balanced_weights", "linear_lever_scan", "linear_levers"]


def task_modes(Sigma: ArrayLike, rtol: float = 1e-8) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray]:
    """The task's singular modes: ``U`` (d_out, r), ``s`` (r,), ``V`` (d_in, r) for the r
    non-zero singular values of Sigma (``Sigma = U diag(s) V^T``).

    Parameters
    ----------
    Sigma : array_like, shape (d_out, d_in)
        The task (input-output correlation on whitened inputs), finite, non-zero.
    rtol : float
        Relative tolerance, in (0, 1): singular values below ``rtol * s_max`` count as zero,
        and two closer than ``rtol * s_max`` as equal.

    Returns
    -------
    U : ndarray, shape (d_out, r); s : ndarray, shape (r,), decreasing; V : ndarray, shape
    (d_in, r)

    Raises
    ------
    TypeError, ValueError
        ``Sigma`` not a finite matrix; Sigma zero; two non-zero singular values equal to
        ``rtol`` relative (the modes of a degenerate pair are not defined, only their plane);
        ``rtol`` not a number in (0, 1).
    """
    Sigma = real_matrix("Sigma", Sigma)
    rtol = check_real("rtol", rtol, positive=True, maximum=1.0)
    U, s, Vt = np.linalg.svd(Sigma)
    keep = s > rtol * max(s.max(initial=0.0), 1e-300)
    if not np.any(keep):
        raise ValueError("`Sigma` is zero: the task has no modes.")
    s = s[keep]
    if s.size > 1 and np.any(-np.diff(s) <= rtol * s[0]):
        raise ValueError(f"`Sigma` has (nearly) equal non-zero singular values {s}: the "
                         "modes of a degenerate pair are defined only up to a rotation, so a "
                         "unit's concentration on one of them is not defined.")
    return U[:, keep], s, Vt[keep].T


def mode_contributions(W1: ArrayLike, W2: ArrayLike, Sigma: ArrayLike) -> np.ndarray:
    """``c_ia = |(U^T W2)_ai (W1 V)_ia|``: hidden unit i's part of mode alpha of the network
    function (``sum_i (U^T W2)_ai (W1 V)_ia`` is the network's strength on mode alpha,
    ``u_a^T W2 W1 v_a``).

    Parameters
    ----------
    W1 : array_like, shape (..., h, d_in)
    W2 : array_like, shape (..., d_out, h)
    Sigma : array_like, shape (d_out, d_in)
        Distinct non-zero singular values (:func:`task_modes`).

    Returns
    -------
    ndarray, shape (..., h, r)

    Raises
    ------
    TypeError, ValueError
        Non-finite weights, shapes that do not chain with Sigma, a degenerate Sigma.
    """
    W1 = finite_array("W1", W1, min_ndim=2)
    W2 = finite_array("W2", W2, min_ndim=2)
    U, _, V = task_modes(Sigma)
    if W1.shape[-1] != V.shape[0] or W2.shape[-2] != U.shape[0] \
            or W2.shape[-1] != W1.shape[-2]:
        raise ValueError(f"`W1` (..., h, d_in) of shape {W1.shape} and `W2` (..., d_out, h) "
                         f"of shape {W2.shape} do not fit `Sigma` (d_out, d_in) = "
                         f"{(U.shape[0], V.shape[0])}.")
    a = W1 @ V                                       # (..., h, r)
    b = np.swapaxes(U.T @ W2, -1, -2)                # (..., h, r)
    return np.abs(a * b)


def mode_specialisation(W1: ArrayLike, W2: ArrayLike,
                        Sigma: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Specialisation of the hidden units on the task's singular modes.

    With c = :func:`mode_contributions`:

    - unit side (the index reported): :func:`odesolve.specialisation.unit_purity` of c, 1 when
      every hidden unit that carries anything carries one mode, 0 when every unit carries all
      modes equally (1 by definition for a rank-1 task);
    - mode side: ``mean_a (max_i p_ia - 1/h) / (1 - 1/h)`` with ``p_ia = c_ia / sum_j c_ja``
      (the formula of :func:`odesolve.observables.teacher_specialisation`), 1 when each mode is
      carried by one unit, 0 when all units carry it equally.

    Parameters
    ----------
    W1 : array_like, shape (..., h, d_in)
    W2 : array_like, shape (..., d_out, h)
    Sigma : array_like, shape (d_out, d_in)
        Distinct non-zero singular values (:func:`task_modes`).

    Returns
    -------
    unit_side, mode_side : ndarray, shape W1.shape[:-2]

    Raises
    ------
    TypeError, ValueError
        As :func:`mode_contributions`; ``h`` = 1 (a single unit: nothing to specialise).
    """
    from ..specialisation import unit_purity

    c = mode_contributions(W1, W2, Sigma)
    h = c.shape[-2]
    if h < 2:
        raise ValueError("`W1` has one hidden unit: specialisation needs h >= 2.")
    with np.errstate(invalid="ignore", divide="ignore"):
        p = c / c.sum(axis=-2, keepdims=True)
        mode_side = ((p.max(axis=-2) - 1.0 / h) / (1.0 - 1.0 / h)).mean(axis=-1)
    return unit_purity(c), mode_side


def _haar_columns(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    Q, R = np.linalg.qr(rng.standard_normal((n, k)))
    return Q * np.sign(np.diag(R))


def profile_balanced_weights(d_in: int, h: int, d_out: int, lam: float, scale: float,
                             entropy: float, seed: Seed = None) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """lambda-balanced weights ``W2^T W2 - W1 W1^T = lam I_h`` whose hidden units' norms
    follow a profile of prescribed entropy.

    Unit i gets readout norm ``n_i`` and input norm ``m_i`` with

        n_i^2 = max(lam, 0) + h scale^2 p_i,     m_i^2 = max(-lam, 0) + h scale^2 p_i,

    p = :func:`odesolve.specialisation.readout_profile` (h, entropy), so ``n_i^2 - m_i^2 = lam``
    for every unit; ``W2 = U diag(n)``, ``W1 = diag(m) V^T`` with U (d_out, h) and V (d_in, h)
    independent Haar-random orthonormal columns. At lam = 0 the readout entropy
    (:func:`odesolve.observables.readout_entropy` of the column norms) is ``entropy``; at
    lam != 0 the floor max(lam, 0) raises it. With ``entropy = 1`` the distribution of the
    weights is invariant under rotations of the hidden layer.

    Parameters
    ----------
    d_in, h, d_out : int
        Widths, h >= 2 and h <= min(d_in, d_out).
    lam : float
        The balance, finite.
    scale : float
        Root mean square of the profile's part of the unit norms, positive.
    entropy : float
        In [0, 1].
    seed : int, SeedSequence or Generator, optional

    Returns
    -------
    W1 : ndarray, shape (h, d_in); W2 : ndarray, shape (d_out, h)

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    from ..specialisation import readout_profile

    d_in, d_out = check_int("d_in", d_in, minimum=1), check_int("d_out", d_out, minimum=1)
    h = check_int("h", h, minimum=2)
    if h > min(d_in, d_out):
        raise ValueError(f"`h` must be <= min(d_in, d_out) = {min(d_in, d_out)} (orthonormal "
                         f"unit directions), got {h}.")
    lam = check_real("lam", lam)
    scale = check_real("scale", scale, positive=True)
    p = readout_profile(h, entropy)
    rng = np.random.default_rng(check_seed("seed", seed))
    base = h * scale ** 2 * p
    n = np.sqrt(max(lam, 0.0) + base)
    m = np.sqrt(max(-lam, 0.0) + base)
    U = _haar_columns(d_out, h, rng)
    V = _haar_columns(d_in, h, rng)
    return m[:, None] * V.T, U * n[None, :]


def _task(d: int, s: list[float], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    U = _haar_columns(d, d, rng)
    V = _haar_columns(d, d, rng)
    return U[:, :len(s)] @ np.diag(s) @ V[:, :len(s)].T


def linear_lever_scan(Sigma: ArrayLike, h: int, lams: ArrayLike, entropies: ArrayLike,
                      scale: float, t: ArrayLike, n_init: int = 32,
                      seed: int = 0) -> dict[str, Any]:
    """Gradient flow (:func:`odesolve.linear.gradient_flow`) from ``n_init`` starts of
    :func:`profile_balanced_weights` at each (lambda, entropy); the indices of
    :func:`mode_specialisation` and the loss at the times ``t``.

    A *rotated control* is measured too: the same weights with the hidden layer rotated by an
    independent Haar-random O (W1 -> O W1, W2 -> W2 O^T), which leaves X = Q Q^T, the loss and
    the dynamics unchanged and so shows the index a start without preferred hidden directions
    would give.

    Parameters
    ----------
    Sigma : array_like, shape (d_out, d_in)
        Task with distinct non-zero singular values.
    h : int
        Hidden units, 2 <= h <= min(d_in, d_out).
    lams, entropies : array_like, shape (n_lam,), (n_H,)
        The grid.
    scale : float
        Profile scale of :func:`profile_balanced_weights`.
    t : array_like, shape (n_t,)
        Output times, strictly increasing from 0.
    n_init : int
        Starts per point, at least 1; point (a, b) uses seed ``[seed, a, b]``.
    seed : int
        Non-negative base seed.

    Returns
    -------
    dict
        ``unit_side``, ``mode_side``, ``unit_side_rotated``, ``loss``: arrays
        (n_lam, n_H, n_init, n_t); ``readout_entropy`` (n_lam, n_H) of the start's column
        norms.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    from ..observables import readout_entropy

    Sigma = real_matrix("Sigma", Sigma)
    task_modes(Sigma)
    lams = finite_array("lams", lams).ravel()
    ents = finite_array("entropies", entropies).ravel()
    n_init = check_int("n_init", n_init, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    t = check_times("t", t)
    d_out, d_in = Sigma.shape
    shape = (lams.size, ents.size, n_init, t.size)
    unit, mode, rot, loss = (np.full(shape, np.nan) for _ in range(4))
    h_read = np.full(lams.size * ents.size, np.nan).reshape(lams.size, ents.size)
    for a, lam in enumerate(lams):
        for b, H in enumerate(ents):
            rng = np.random.default_rng([seed, a, b])
            for k in range(n_init):
                W1, W2 = profile_balanced_weights(d_in, h, d_out, float(lam), scale, float(H),
                                                  seed=rng)
                if k == 0:
                    h_read[a, b] = readout_entropy(np.linalg.norm(W2, axis=0))
                A1, A2 = gradient_flow(Sigma, W1, W2, t)
                unit[a, b, k], mode[a, b, k] = mode_specialisation(A1, A2, Sigma)
                O = _haar_columns(h, h, rng)
                rot[a, b, k] = mode_specialisation(O @ A1, A2 @ O.T, Sigma)[0]
                E = Sigma - A2 @ A1
                loss[a, b, k] = 0.5 * (E ** 2).sum(axis=(-2, -1))
    return {"unit_side": unit, "mode_side": mode, "unit_side_rotated": rot, "loss": loss,
            "readout_entropy": h_read}


def linear_levers(quick: bool = False) -> dict[str, Any]:
    """The deep linear half of ``specialisation_levers``: a 4-4-4 network (h = 4) on a task
    with singular values (3, 2, 1, 0.5), lambda-balanced starts at profile scale 0.05, the
    indices after gradient flow against lambda and the entropy of the unit norms.

    Parameters
    ----------
    quick : bool
        Fewer points and 16 starts per point.

    Returns
    -------
    dict
        JSON-serialisable: the grid, quartiles over the starts of each index at each time.
    """
    quick = check_bool("quick", quick)
    s = [3.0, 2.0, 1.0, 0.5]
    Sigma = _task(4, s, seed=7)
    lams = [-1.0, 0.0, 1.0] if quick else [-4.0, -1.0, -0.25, 0.0, 0.25, 1.0, 4.0]
    ents = [0.5, 0.9, 1.0] if quick else [0.25, 0.5, 0.75, 0.9, 0.97, 1.0]
    t = [0.0, 5.0, 40.0] if quick else [0.0, 2.0, 5.0, 10.0, 40.0, 100.0]
    n_init = 16 if quick else 32
    res = linear_lever_scan(Sigma, 4, lams, ents, 0.05, t, n_init=n_init)
    out: dict[str, Any] = {"dims": [4, 4, 4], "singular_values": s, "scale": 0.05,
                           "lambda": lams, "entropy": ents, "t": t, "n_init": n_init,
                           "readout_entropy": res["readout_entropy"].tolist()}
    for key in ("unit_side", "mode_side", "unit_side_rotated", "loss"):
        q = np.nanpercentile(res[key], [25, 50, 75], axis=2)
        out[key] = {"q25": q[0].tolist(), "median": q[1].tolist(), "q75": q[2].tolist()}
    return out


def _plot_linear_levers(d: dict[str, Any], ax_entropy: Any, ax_lambda: Any) -> None:
    """Unit-side index at the last time: against the entropy (one line per lambda) and against
    lambda (one line per entropy), with the rotated control dashed."""
    med = np.asarray(d["unit_side"]["median"])[..., -1]          # (n_lam, n_H)
    q25 = np.asarray(d["unit_side"]["q25"])[..., -1]
    q75 = np.asarray(d["unit_side"]["q75"])[..., -1]
    rot = np.asarray(d["unit_side_rotated"]["median"])[..., -1]
    lams, ents = np.asarray(d["lambda"]), np.asarray(d["entropy"])
    for a, lam in enumerate(lams):
        line, = ax_entropy.plot(ents, med[a], "o-", ms=3, label=f"lambda = {lam:g}")
        ax_entropy.fill_between(ents, q25[a], q75[a], color=line.get_color(), alpha=0.12)
    ax_entropy.plot(ents, rot.mean(axis=0), "k--", lw=1,
                    label="hidden layer rotated at random")
    ax_entropy.set(xlabel="entropy of the units' norm profile (1: equal)",
                   ylabel=f"unit-side mode specialisation at t = {d['t'][-1]:g}",
                   ylim=(-0.05, 1.05), title="deep linear 4-4-4: entropy lever")
    ax_entropy.legend(fontsize=7)
    for b, H in enumerate(ents):
        line, = ax_lambda.plot(lams, med[:, b], "o-", ms=3, label=f"entropy {H:g}")
        ax_lambda.fill_between(lams, q25[:, b], q75[:, b], color=line.get_color(), alpha=0.12)
    ax_lambda.plot(lams, rot.mean(axis=1), "k--", lw=1, label="rotated control")
    ax_lambda.set(xlabel="lambda (W2^T W2 - W1 W1^T = lambda I)",
                  ylabel=f"unit-side mode specialisation at t = {d['t'][-1]:g}",
                  ylim=(-0.05, 1.05), title="deep linear 4-4-4: imbalance lever")
    ax_lambda.legend(fontsize=7)
