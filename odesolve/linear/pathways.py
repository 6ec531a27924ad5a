"""Two deep linear pathways that share the output, with an input deficit on one of them.

The network of Kleinman, Achille & Soatto (ICLR 2024) with vector inputs: pathway a sees the
input x, pathway b sees ``A x``, both are depth-D linear chains of width h, and their outputs
add, ``f(x) = P_a x + P_b A x``. Normally ``A = I``; a *deficit* on pathway b replaces A by
another matrix during ``[onset, onset + length)``. The whole network is one chain
(:func:`odesolve.linear.chain_gradient_flow`) on the concatenated input ``[x; A x]``:
block-diagonal layers with block connectivity masks (:func:`join_pathways`,
:func:`pathway_masks`), last layer ``[W_D^a, W_D^b]``, input covariance
``[[S, S A^T], [A S, A S A^T]]`` and input-output correlation ``Sigma_yx [I, A^T]``
(:func:`joint_statistics`). See docs/theory/plasticity.md#theory-plasticity-network.

Deficits (:func:`deficit_matrix`) act on a "1-D image" x of d pixels with stationary
correlations ``S_ij = rho^|i - j|`` (:func:`two_pathway_task`):

- removal: ``"remove"`` (A = 0, pathway b sees nothing), ``"drop"`` (A projects out the high
  spatial frequencies: the ``d - keep`` highest cosine modes), ``"blur"`` (A a normalised
  Gaussian smoothing; it shrinks the high frequencies);
- a transform that keeps the input statistics: ``"flip"`` (A = the reversal of the pixel
  order, the analogue of the vertical flip of Achille, Rovere & Soatto, ICLR 2019:
  ``A S A^T = S`` because S is symmetric Toeplitz).

Lasting effect of a deficit (:func:`lasting_effect`), on the normal inputs at the end of
training: the share of the task that pathway b carries, ``tr(P_b S T^T) / tr(T S T^T)`` with
``T = Sigma_yx S^+`` the best linear map; the relative loss of the network and of pathway b
alone (the "deprived eye" tested by itself); the training time lost to reach a relative loss
``threshold``. :func:`window_scan` scans deficit windows (onset, length) per depth, width and
random initialisation.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_choice, check_int, check_real, describe
from .._typing import Seed
from ..model import check_seed
from ._args import (check_counts, check_seeds, check_window, input_covariance, layer_list,
                    real_matrix)
from .deep import chain_gradient_flow, end_to_end, random_chain
from .fisher import pathway_fisher_trace

__all__ = ["DEFICITS", "two_pathway_task", "deficit_matrix", "joint_statistics",
           "join_pathways", "pathway_masks", "two_pathway_start", "PathwayRun", "deficit_run",
           "lasting_effect", "window_scan"]

#: the deficits :func:`deficit_matrix` builds; "none" is the identity (no deficit)
DEFICITS = ("none", "remove", "drop", "blur", "flip")

_RTOL, _ATOL = 1e-9, 1e-12


def two_pathway_task(d: int = 8, d_out: int = 4, rho: float = 0.5,
                     seed: Seed = 0) -> dict[str, np.ndarray]:
    """A regression task on a "1-D image" of d pixels with stationary correlations.

    Parameters
    ----------
    d : int
        Number of input pixels, >= 2.
    d_out : int
        Number of outputs, >= 1.
    rho : float
        Correlation of neighbouring pixels, in [0, 1): ``S_ij = rho^|i - j|``.
    seed : int, sequence of int, Generator or None
        Draws the teacher T with i.i.d. N(0, 1/d) entries.

    Returns
    -------
    dict
        ``Sigma_xx`` (d, d): the input covariance S; ``teacher`` (d_out, d): T;
        ``Sigma_yx`` (d_out, d): ``T S``, the input-output correlation of ``y = T x``.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    d = check_int("d", d, minimum=2)
    d_out = check_int("d_out", d_out, minimum=1)
    rho = check_real("rho", rho, minimum=0.0)
    if rho >= 1.0:
        raise ValueError(f"`rho` must be a number in [0, 1), got {rho:g}.")
    rng = np.random.default_rng(check_seed("seed", seed))
    idx = np.arange(d)
    S = rho ** np.abs(np.subtract.outer(idx, idx))
    T = rng.standard_normal((d_out, d)) / np.sqrt(d)
    return {"Sigma_xx": S, "teacher": T, "Sigma_yx": T @ S}


def _cosine_basis(d):
    """Orthonormal DCT-II basis, rows ordered from low to high spatial frequency."""
    k, n = np.meshgrid(np.arange(d), np.arange(d), indexing="ij")
    C = np.cos(np.pi * k * (2 * n + 1) / (2 * d))
    return C / np.linalg.norm(C, axis=1, keepdims=True)


def deficit_matrix(kind: str, d: int, keep: int | None = None,
                   blur_width: float = 1.0) -> np.ndarray:
    """The matrix A through which the deprived pathway sees the input x (it sees ``A x``).

    Parameters
    ----------
    kind : {"none", "remove", "drop", "blur", "flip"}
        ``"none"``: the identity; ``"remove"``: 0; ``"drop"``: the orthogonal projection on
        the ``keep`` lowest spatial frequencies (cosine modes); ``"blur"``: Gaussian smoothing
        over ``blur_width`` pixels, rows normalised to sum 1; ``"flip"``: the reversal of the
        pixel order (orthogonal; keeps any symmetric Toeplitz covariance).
    d : int
        Number of pixels, >= 2.
    keep : int, optional
        For ``"drop"``: frequencies kept, in [0, d) (default d // 2).
    blur_width : float
        For ``"blur"``: standard deviation of the Gaussian kernel in pixels, positive.

    Returns
    -------
    ndarray, shape (d, d)

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    kind = check_choice("kind", kind, DEFICITS)
    d = check_int("d", d, minimum=2)
    keep = d // 2 if keep is None else check_int("keep", keep, minimum=0, maximum=d - 1)
    blur_width = check_real("blur_width", blur_width, positive=True)
    if kind == "none":
        return np.eye(d)
    if kind == "remove":
        return np.zeros((d, d))
    if kind == "flip":
        return np.eye(d)[::-1].copy()
    if kind == "drop":
        C = _cosine_basis(d)[:keep]
        return C.T @ C
    idx = np.arange(d)
    K = np.exp(-0.5 * (np.subtract.outer(idx, idx) / blur_width) ** 2)
    return K / K.sum(axis=1, keepdims=True)


def _task(task):
    """(Sigma_yx, Sigma_xx) of a task mapping, checked."""
    if not isinstance(task, Mapping):
        raise TypeError(f"`task` must be a dict with 'Sigma_yx' and 'Sigma_xx' (see "
                        f"two_pathway_task), got {describe(task)}.")
    missing = [k for k in ("Sigma_yx", "Sigma_xx") if k not in task]
    if missing:
        raise ValueError(f"`task` lacks {', '.join(map(repr, missing))} (see "
                         f"two_pathway_task).")
    Syx = real_matrix("task['Sigma_yx']", task["Sigma_yx"])
    S = input_covariance("task['Sigma_xx']", task["Sigma_xx"], Syx.shape[1])
    return Syx, S


def _deficit(name, A, d):
    """A deficit given by name (:func:`deficit_matrix`) or as a (d, d) matrix."""
    if isinstance(A, str):
        return deficit_matrix(check_choice(name, A, DEFICITS), d)
    return real_matrix(name, A, (d, d), "(d, d) with d the number of inputs")


def joint_statistics(Sigma_yx: ArrayLike, Sigma_xx: ArrayLike,
                     A: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Input-output correlation and input covariance of the concatenated input ``[x; A x]``.

    Parameters
    ----------
    Sigma_yx : array_like, shape (d_out, d)
        ``<y x^T>``.
    Sigma_xx : array_like, shape (d, d)
        ``<x x^T>``, symmetric positive semi-definite.
    A : array_like, shape (d, d)
        What pathway b sees (``A x``).

    Returns
    -------
    Sigma_joint : ndarray, shape (d_out, 2 d)
        ``Sigma_yx [I, A^T]``.
    Sxx_joint : ndarray, shape (2 d, 2 d)
        ``[[S, S A^T], [A S, A S A^T]]``.

    Raises
    ------
    TypeError, ValueError
        naming the argument that is not a finite matrix of the right shape, or a
        ``Sigma_xx`` that is not a covariance.
    """
    Syx = real_matrix("Sigma_yx", Sigma_yx)
    d = Syx.shape[1]
    S = input_covariance("Sigma_xx", Sigma_xx, d)
    A = real_matrix("A", A, (d, d), "(d, d) with d the columns of `Sigma_yx`")
    return _joint(Syx, S, A)


def _joint(Syx, S, A):
    B = np.vstack([np.eye(S.shape[0]), A])          # [x; A x] = B x
    return Syx @ B.T, B @ S @ B.T


def _pathway(name, weights):
    """A pathway's layers, checked: a list of matrices that chain."""
    return layer_list(name, weights)


def join_pathways(weights_a: Sequence[ArrayLike],
                  weights_b: Sequence[ArrayLike]) -> list[np.ndarray]:
    """One chain from two parallel pathways that share the output.

    Parameters
    ----------
    weights_a, weights_b : list of array_like
        The layers of each pathway, W_1 (h, d), ..., W_D (d_out, h); the same depth, input
        and output dimensions (the widths may differ).

    Returns
    -------
    list of ndarray
        Block-diagonal layers ``diag(W_l^a, W_l^b)`` for l < D and ``[W_D^a, W_D^b]`` (for
        D = 1: ``[W_1^a, W_1^b]``), acting on the input ``[x_a; x_b]``.

    Raises
    ------
    TypeError, ValueError
        naming the argument: not a list of finite matrices that chain, different depths,
        input or output dimensions.
    """
    wa = _pathway("weights_a", weights_a)
    wb = _pathway("weights_b", weights_b)
    if len(wa) != len(wb):
        raise ValueError(f"`weights_b` must have as many layers as `weights_a` ({len(wa)}), "
                         f"got {len(wb)}.")
    if wa[0].shape[1] != wb[0].shape[1] or wa[-1].shape[0] != wb[-1].shape[0]:
        raise ValueError(f"`weights_b` must map the same input dimension to the same output "
                         f"dimension as `weights_a` ({wa[0].shape[1]} -> {wa[-1].shape[0]}), "
                         f"got {wb[0].shape[1]} -> {wb[-1].shape[0]}.")
    return _join(wa, wb)


def _join(wa, wb):
    out = []
    for l, (a, b) in enumerate(zip(wa, wb)):
        if l == len(wa) - 1:
            out.append(np.hstack([a, b]))
        else:
            out.append(np.block([[a, np.zeros((a.shape[0], b.shape[1]))],
                                 [np.zeros((b.shape[0], a.shape[1])), b]]))
    return out


def pathway_masks(weights_a: Sequence[ArrayLike],
                  weights_b: Sequence[ArrayLike]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """0/1 masks of the weights of each pathway in the chain :func:`join_pathways` builds;
    their sum is the connectivity mask that keeps the pathways separate.

    Parameters
    ----------
    weights_a, weights_b : list of array_like
        As :func:`join_pathways` (only the shapes are used).

    Returns
    -------
    mask_a, mask_b : list of ndarray
        One mask per layer, of the joint layer's shape.

    Raises
    ------
    TypeError, ValueError
        As :func:`join_pathways`.
    """
    wa = _pathway("weights_a", weights_a)
    wb = _pathway("weights_b", weights_b)
    join_pathways(wa, wb)
    return _masks(wa, wb)


def _masks(wa, wb):
    ones = [np.ones(w.shape) for w in wa], [np.ones(w.shape) for w in wb]
    zeros = [np.zeros(w.shape) for w in wa], [np.zeros(w.shape) for w in wb]
    return _join(ones[0], zeros[1]), _join(zeros[0], ones[1])


def two_pathway_start(d: int, width: int, d_out: int, D: int, scale: float = 0.3,
                      seed: Seed = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Random starts of the two pathways, each as :func:`odesolve.linear.random_chain`
    (entries N(0, scale^2 / fan_in)), drawn from one random stream (a first, then b).

    Parameters
    ----------
    d, width, d_out, D : int
        Input dimension, width of each pathway, output dimension, depth; positive.
    scale : float
        Per-layer scale, positive.
    seed : int, sequence of int, Generator or None

    Returns
    -------
    weights_a, weights_b : list of ndarray
        W_1 (width, d), ..., W_D (d_out, width) of each pathway.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    rng = np.random.default_rng(check_seed("seed", seed))
    wa = random_chain(d, width, d_out, D, scale, seed=rng)
    return wa, random_chain(d, width, d_out, D, scale, seed=rng)


@dataclass
class PathwayRun:
    """Two pathways through a deficit window (:func:`deficit_run`).

    Attributes
    ----------
    t : ndarray, shape (n,)
    weights : list of ndarray, shapes (n, n_l, n_{l-1})
        The joint chain (:func:`join_pathways`) at the times ``t``.
    Sigma_yx : ndarray, shape (d_out, d)
    Sigma_xx : ndarray, shape (d, d)
    A : ndarray, shape (d, d)
        The deficit: pathway b sees ``A x`` during ``[onset, onset + length)``, x otherwise.
    onset, length : float
    mask_a, mask_b : list of ndarray
        The pathways' weights in the joint chain (:func:`pathway_masks`).
    """

    t: np.ndarray
    weights: list[np.ndarray]
    Sigma_yx: np.ndarray
    Sigma_xx: np.ndarray
    A: np.ndarray
    onset: float
    length: float
    mask_a: list[np.ndarray]
    mask_b: list[np.ndarray]

    @property
    def teacher(self) -> np.ndarray:
        """The best linear map ``T = Sigma_yx S^+``, shape (d_out, d)."""
        return self.Sigma_yx @ np.linalg.pinv(self.Sigma_xx)

    def maps(self) -> tuple[np.ndarray, np.ndarray]:
        """End-to-end maps of the pathways, ``P_a`` and ``P_b``, each of shape (n, d_out, d)."""
        P = end_to_end(self.weights)
        d = self.Sigma_xx.shape[0]
        return P[..., :d], P[..., d:]

    def _relative(self, M):
        """``tr(M S M^T) / tr(T S T^T)`` per time: a map's squared output relative to the
        task's."""
        T, S = self.teacher, self.Sigma_xx
        return np.einsum("...ij,jk,...ik->...", M, S, M) / np.trace(T @ S @ T.T)

    def relative_loss(self) -> np.ndarray:
        """Loss of the network on the normal inputs (both pathways see x), relative to that
        of the zero map: ``E||(T - P_a - P_b) x||^2 / E||T x||^2``, shape (n,)."""
        Pa, Pb = self.maps()
        return self._relative(self.teacher - Pa - Pb)

    def loss_alone(self) -> np.ndarray:
        """Relative loss of each pathway by itself on the normal inputs,
        ``E||(T - P_i) x||^2 / E||T x||^2``, shape (n, 2) (a, b)."""
        return np.stack([self._relative(self.teacher - P) for P in self.maps()], axis=-1)

    def share(self) -> np.ndarray:
        """Share of the task each pathway carries on the normal inputs,
        ``E<P_i x, T x> / E||T x||^2``, shape (n, 2) (a, b); the shares add up to 1 when
        the network has learned the task."""
        T, S = self.teacher, self.Sigma_xx
        norm = np.trace(T @ S @ T.T)
        return np.stack([np.einsum("...ij,jk,ik->...", P, S, T) / norm for P in self.maps()],
                        axis=-1)

    def in_window(self) -> np.ndarray:
        """True at the times of the deficit, ``onset <= t < onset + length``; shape (n,)."""
        return (self.t >= self.onset) & (self.t < self.onset + self.length)

    def fisher(self, inputs: str = "training") -> np.ndarray:
        """Trace of the Fisher information of the weights (Gaussian output model,
        :mod:`odesolve.linear.fisher`), total and per pathway: shape (n, 3), columns
        (total, pathway a, pathway b).

        The total is the sum of the pathways': the zero blocks of the joint chain that keep
        the pathways apart are not weights of the network (the full chain's
        :func:`~odesolve.linear.fisher.fisher_trace` would count them).

        Parameters
        ----------
        inputs : {"training", "normal"}
            The input distribution: the one the network is trained on at each time (pathway
            b sees ``A x`` inside the window), or the normal one (both see x).

        Raises
        ------
        TypeError, ValueError
            ``inputs`` not one of the choices.
        """
        inputs = check_choice("inputs", inputs, ("training", "normal"))
        d = self.Sigma_xx.shape[0]
        out = np.empty((self.t.size, 3))
        win = self.in_window() if inputs == "training" else np.zeros(self.t.size, bool)
        for sel, A in ((win, self.A), (~win, np.eye(d))):
            if not sel.any():
                continue
            Sxx = _joint(self.Sigma_yx, self.Sigma_xx, A)[1]
            W = [w[sel] for w in self.weights]
            out[sel, 1] = pathway_fisher_trace(W, self.mask_a, Sxx)
            out[sel, 2] = pathway_fisher_trace(W, self.mask_b, Sxx)
        out[:, 0] = out[:, 1] + out[:, 2]
        return out


def _phase_runs(Syx, S, W0, C, phases, t_grid, rtol, atol):
    """Integrate the joint chain through ``phases`` = [(lo, hi, A), ...] (contiguous),
    returning the layers at ``t_grid`` (sorted; inside [phases[0].lo, phases[-1].hi], its
    first entry the start)."""
    W = list(W0)
    out = [np.empty((t_grid.size,) + w.shape) for w in W0]
    for w, o in zip(W, out):
        o[0] = w
    for lo, hi, A in phases:
        if hi <= lo:
            continue
        sel = np.flatnonzero((t_grid > lo) & (t_grid <= hi))
        t_eval = np.concatenate([[0.0], t_grid[sel] - lo])
        if t_eval[-1] < hi - lo:
            t_eval = np.append(t_eval, hi - lo)
        Sj, Sxx = _joint(Syx, S, A)
        res = chain_gradient_flow(Sj, W, t_eval, Sigma_xx=Sxx, connectivity=C, rtol=rtol,
                                  atol=atol)
        for r, o in zip(res, out):
            o[sel] = r[1:1 + sel.size]
        W = [r[-1] for r in res]
    return out


def _grid(t_total, n_out, extra):
    return np.unique(np.concatenate([np.linspace(0.0, t_total, n_out), extra]))


def deficit_run(task: Mapping[str, ArrayLike], weights_a: Sequence[ArrayLike],
                weights_b: Sequence[ArrayLike], deficit: str | ArrayLike = "remove",
                onset: float = 0.0, length: float = 0.0, t_total: float = 200.0,
                n_out: int = 201) -> PathwayRun:
    """Train two pathways by gradient flow with a deficit on pathway b during
    ``[onset, onset + length)``.

    Parameters
    ----------
    task : mapping
        ``Sigma_yx`` (d_out, d) and ``Sigma_xx`` (d, d), as :func:`two_pathway_task` returns.
    weights_a, weights_b : list of array_like
        Starts of the pathways, W_1 (h, d), ..., W_D (d_out, h) (:func:`two_pathway_start`).
    deficit : str or array_like, shape (d, d)
        A name of :data:`DEFICITS` (:func:`deficit_matrix` with its defaults) or the matrix A
        itself.
    onset, length : float
        The window, inside [0, t_total]; ``length`` > 0 unless ``deficit="none"``.
    t_total : float
        Training time, positive.
    n_out : int
        Equally spaced output times, >= 2 (the window's ends are added).

    Returns
    -------
    PathwayRun

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range, before any training.
    odesolve.solvers.SolverError
        If an integration fails.
    """
    Syx, S = _task(task)
    wa, wb = _start(Syx, weights_a, weights_b)
    A = _deficit("deficit", deficit, S.shape[0])
    onset, length, t_total = check_window(onset, length, t_total)
    if length == 0.0 and not (isinstance(deficit, str) and deficit == "none"):
        raise ValueError(f"`length` must be positive for the deficit {deficit!r} (a window of "
                         f"length 0 is no deficit; give deficit='none' for the control run).")
    n_out = check_int("n_out", n_out, minimum=2)
    return _run(Syx, S, wa, wb, A, onset, length, t_total, n_out)


def _start(Syx, weights_a, weights_b):
    """The pathways' starts, checked against the task's dimensions."""
    W = join_pathways(weights_a, weights_b)
    wa, wb = layer_list("weights_a", weights_a), layer_list("weights_b", weights_b)
    if (W[-1].shape[0], W[0].shape[1] // 2) != Syx.shape:
        raise ValueError(f"the pathways map {wa[0].shape[1]} inputs to {wa[-1].shape[0]} "
                         f"outputs but `task` is {Syx.shape[1]} -> {Syx.shape[0]}.")
    return wa, wb


def _run(Syx, S, wa, wb, A, onset, length, t_total, n_out):
    mask_a, mask_b = _masks(wa, wb)
    C = [ma + mb for ma, mb in zip(mask_a, mask_b)]
    end = onset + length
    t = _grid(t_total, n_out, [onset, end])
    eye = np.eye(S.shape[0])
    phases = [(0.0, onset, eye), (onset, end, A), (end, t_total, eye)]
    W = _phase_runs(Syx, S, _join(wa, wb), C, phases, t, _RTOL, _ATOL)
    return PathwayRun(t, W, Syx, S, A, onset, length, mask_a, mask_b)


def _time_to(t, loss, threshold):
    """First time after which ``loss`` stays below ``threshold`` (linear interpolation in
    log loss); NaN when it ends above."""
    above = np.flatnonzero(loss >= threshold)
    if above.size == 0:
        return float(t[0])
    k = above[-1]
    if k == t.size - 1:
        return float("nan")
    l0, l1 = np.log(loss[k]), np.log(max(loss[k + 1], 1e-300))
    return float(t[k] + (t[k + 1] - t[k]) * (l0 - np.log(threshold)) / (l0 - l1))


def lasting_effect(run: PathwayRun, control: PathwayRun,
                   threshold: float = 1e-2) -> dict[str, float]:
    """What a deficit leaves at the end of training, against a run without it.

    Parameters
    ----------
    run, control : PathwayRun
        The same start and task with and without the deficit (:func:`deficit_run`).
    threshold : float
        Relative loss (:meth:`PathwayRun.relative_loss`) that counts as learned, in (0, 1).

    Returns
    -------
    dict
        ``share_b``, ``control_share_b`` (pathway b's final share, :meth:`PathwayRun.share`),
        ``loss``, ``control_loss`` (final relative loss), ``loss_b_alone``,
        ``control_loss_b_alone`` (pathway b tested alone), ``t_learned``,
        ``control_t_learned`` (the time after which the relative loss stays below
        ``threshold``; NaN when a run ends above it), ``time_lost``: ``t_learned`` minus
        ``control_t_learned``, and ``relearn_time``: how long after the end of the window the
        network is learned for good (0 when it already is).

    Raises
    ------
    TypeError, ValueError
        ``run`` or ``control`` not a :class:`PathwayRun`; different final times, tasks or
        starting weights; a bad ``threshold``.
    """
    for name, r in (("run", run), ("control", control)):
        if not isinstance(r, PathwayRun):
            raise TypeError(f"`{name}` must be a PathwayRun (see deficit_run), got "
                            f"{describe(r)}.")
    if run.t[-1] != control.t[-1]:
        raise ValueError(f"`control` must end when `run` does ({run.t[-1]:g}), got "
                         f"{control.t[-1]:g}.")
    same_start = all(a.shape[1:] == b.shape[1:] and np.array_equal(a[0], b[0])
                     for a, b in zip(run.weights, control.weights))
    if not (same_start and len(run.weights) == len(control.weights)
            and np.array_equal(run.Sigma_yx, control.Sigma_yx)
            and np.array_equal(run.Sigma_xx, control.Sigma_xx)):
        raise ValueError("`control` must be trained on the task of `run` from the same start "
                         "(the same weights at t = 0): the effect of a deficit is measured "
                         "against the same start without it.")
    threshold = check_real("threshold", threshold, positive=True, maximum=1.0)
    return _effect(run, control, threshold)


def _effect(run, control, threshold):
    out = {}
    for prefix, r in (("", run), ("control_", control)):
        out[prefix + "share_b"] = float(r.share()[-1, 1])
        out[prefix + "loss"] = float(r.relative_loss()[-1])
        out[prefix + "loss_b_alone"] = float(r.loss_alone()[-1, 1])
        out[prefix + "t_learned"] = _time_to(r.t, r.relative_loss(), threshold)
    out["time_lost"] = out["t_learned"] - out["control_t_learned"]
    out["relearn_time"] = max(out["t_learned"] - (run.onset + run.length), 0.0)
    return out


def _control(Syx, S, wa, wb, t):
    """The run without a deficit, at the times ``t`` (from 0)."""
    mask_a, mask_b = _masks(wa, wb)
    C = [ma + mb for ma, mb in zip(mask_a, mask_b)]
    eye = np.eye(S.shape[0])
    W = _phase_runs(Syx, S, _join(wa, wb), C, [(0.0, t[-1], eye)], t, _RTOL, _ATOL)
    return PathwayRun(t, W, Syx, S, eye, 0.0, 0.0, mask_a, mask_b)


def _window_runs(control, A, windows):
    """One run per window (onset, length) with the deficit A; each starts from the control's
    state at its onset (the two are the same run until then; onsets are output times of the
    control)."""
    c, t = control, control.t
    C = [ma + mb for ma, mb in zip(c.mask_a, c.mask_b)]
    eye = np.eye(c.Sigma_xx.shape[0])
    runs = []
    for on, ln in windows:
        k = int(np.searchsorted(t, on))
        tail = _phase_runs(c.Sigma_yx, c.Sigma_xx, [w[k] for w in c.weights], C,
                           [(on, on + ln, A), (on + ln, t[-1], eye)], t[k:], _RTOL, _ATOL)
        W = [np.concatenate([w[:k], tl]) for w, tl in zip(c.weights, tail)]
        runs.append(PathwayRun(t, W, c.Sigma_yx, c.Sigma_xx, A, on, ln, c.mask_a, c.mask_b))
    return runs


_MEASURES = ("share_b", "loss", "loss_b_alone", "time_lost", "relearn_time")


def window_scan(task: Mapping[str, ArrayLike] | None = None,
                deficits: Sequence[str] = ("remove", "flip"),
                windows: Sequence[tuple[float, float]] = ((0.0, 20.0),),
                depths: Sequence[int] = (2, 3, 4), widths: Sequence[int] = (8,),
                seeds: Sequence[int] = (0, 1, 2, 3), scale: float = 0.3,
                t_total: float = 400.0, n_out: int = 201,
                threshold: float = 1e-2) -> dict[str, Any]:
    """Lasting effect of deficits on pathway b against the window, per depth, width and
    random start.

    Parameters
    ----------
    task : mapping, optional
        As :func:`deficit_run` (default :func:`two_pathway_task` with its defaults).
    deficits : sequence of str
        Names of :data:`DEFICITS`.
    windows : sequence of (onset, length)
        Deficit windows, each inside [0, t_total].
    depths, widths : sequence of int
        Depths and widths (of each pathway), positive.
    seeds : sequence of int
        Non-negative; seed s draws the start with :func:`two_pathway_start` (seed s).
    scale : float
        Per-layer scale of the starts, positive.
    t_total : float
        Training time, positive.
    n_out : int
        Output times per run, >= 2.
    threshold : float
        As :func:`lasting_effect`.

    Returns
    -------
    dict (JSON-ready)
        The arguments, and under ``"effect"`` a dict per deficit of the measures
        ``share_b``, ``loss``, ``loss_b_alone``, ``time_lost``, ``relearn_time`` of
        :func:`lasting_effect`,
        each a nested list of shape (depths, widths, seeds, windows); under ``"control"`` the
        control's ``share_b``, ``loss``, ``loss_b_alone``, ``t_learned``, shape (depths,
        widths, seeds).

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range, before any training.
    """
    Syx, S = _task(two_pathway_task() if task is None else task)
    if isinstance(deficits, str) or not isinstance(deficits, Sequence) or not deficits:
        raise TypeError(f"`deficits` must be a non-empty list of names ({', '.join(DEFICITS)}"
                        f"), got {describe(deficits)}.")
    kinds = [check_choice(f"deficits[{i}]", k, DEFICITS) for i, k in enumerate(deficits)]
    win = _windows(windows, t_total)
    t_total = check_real("t_total", t_total, positive=True)
    depths = check_counts("depths", depths, minimum=1)
    widths = check_counts("widths", widths, minimum=1)
    seeds = check_seeds("seeds", seeds)
    scale = check_real("scale", scale, positive=True)
    n_out = check_int("n_out", n_out, minimum=2)
    threshold = check_real("threshold", threshold, positive=True, maximum=1.0)
    d, d_out = S.shape[0], Syx.shape[0]
    shape = (len(depths), len(widths), len(seeds))
    effect = {k: {m: np.empty(shape + (len(win),)) for m in _MEASURES} for k in kinds}
    control = {m: np.empty(shape) for m in ("share_b", "loss", "loss_b_alone", "t_learned")}
    t = _grid(t_total, n_out, [x for on, ln in win for x in (on, on + ln)])
    for i, D in enumerate(depths):
        for j, h in enumerate(widths):
            for s, seed in enumerate(seeds):
                ctrl = _control(Syx, S, *two_pathway_start(d, h, d_out, D, scale, seed=seed), t)
                for kind in kinds:
                    for w, r in enumerate(_window_runs(ctrl, deficit_matrix(kind, d), win)):
                        e = _effect(r, ctrl, threshold)
                        for m in _MEASURES:
                            effect[kind][m][i, j, s, w] = e[m]
                for m in control:
                    control[m][i, j, s] = e["control_" + m]
    return {"depths": depths, "widths": widths, "seeds": seeds,
            "windows": [list(w) for w in win], "deficits": kinds, "scale": scale,
            "t_total": t_total, "threshold": threshold, "d": d, "d_out": d_out,
            "effect": {k: {m: v.tolist() for m, v in e.items()} for k, e in effect.items()},
            "control": {m: v.tolist() for m, v in control.items()}}


def _windows(windows, t_total):
    """A non-empty list of (onset, length) pairs inside [0, t_total]."""
    if isinstance(windows, (str, bytes)) or not isinstance(windows, (Sequence, np.ndarray)):
        raise TypeError(f"`windows` must be a list of (onset, length) pairs, got "
                        f"{describe(windows)}.")
    if len(windows) == 0:
        raise ValueError("`windows` must not be empty.")
    out = []
    for i, w in enumerate(windows):
        if isinstance(w, (str, bytes)) or not isinstance(w, (Sequence, np.ndarray)) \
                or len(w) != 2:
            raise ValueError(f"`windows[{i}]` must be a pair (onset, length), got "
                             f"{describe(w)}.")
        on, ln, _ = check_window(w[0], w[1], t_total, onset_name=f"windows[{i}][0]",
                                 length_name=f"windows[{i}][1]")
        out.append((on, ln))
    return out
