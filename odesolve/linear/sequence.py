"""Sequences of tasks: continual, reversal and transfer learning in linear networks
(docs/theory/sequences.md#theory-sequences).

A *phase* (:class:`TaskPhase`) trains the network for a duration on one regression task, given
by its input-output correlation ``Sigma_yx = <y x^T>`` (d_out, d_in) and its input covariance
``Sigma_xx = <x x^T>`` (None: whitened inputs). :func:`train_sequence` trains through a list of
phases and returns one :class:`~odesolve.linear.trajectory.LinearTrajectory` that records the
loss of every task of the sequence at every time.

Two routes give the same run:

- ``method="exact"``: two lambda-balanced layers on whitened inputs. Gradient flow conserves
  ``W2^T W2 - W1 W1^T = lambda I`` under any task, so after a switch the network is still
  lambda-balanced with the same lambda and the exact Riccati solution
  (:mod:`odesolve.linear.exact`) continues from the current ``Q = [W1^T; W2]``. The solution is
  carried as Q (exact sub-steps of the flow map), not rebuilt from X = Q Q^T, so that no digits
  are lost at a switch.
- ``method="gradient_flow"``: any depth and any input covariance, integrated numerically
  (:func:`~odesolve.linear.deep.chain_gradient_flow`) phase by phase.

Tasks for the studies (:func:`rotated_task`, :func:`reversed_task`) and analyses returning
plain numbers (:func:`learning_time`, :func:`forgetting`, :func:`continual_study`,
:func:`reversal_study`, :func:`transfer_study`) follow.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_choice, check_int, check_real, describe
from ._args import (check_counts, check_times, finite_array, input_covariance, layer_list,
                    nonnegative_values, real_matrix)
from .deep import chain_gradient_flow, random_chain
from .exact import balance, riccati_flow
from .network import balanced_weights
from .rank import rank_task
from .trajectory import LinearTrajectory

__all__ = ["TaskPhase", "train_sequence", "rotated_task", "reversed_task", "learning_time",
           "forgetting", "continual_study", "reversal_study", "transfer_study"]

_RANK_TOL = 1e-10          # relative: singular values (eigenvalues) below this count as zero


@dataclass(frozen=True, eq=False)
class TaskPhase:
    """One phase of a task sequence: train for ``duration`` on the task (Sigma_yx, Sigma_xx).

    Parameters
    ----------
    Sigma_yx : array_like, shape (d_out, d_in)
        Input-output correlation ``<y x^T>``, finite. Its rows must lie in the range of
        ``Sigma_xx`` (a correlation the inputs can carry).
    Sigma_xx : array_like, shape (d_in, d_in), or None
        Input covariance ``<x x^T>``, symmetric positive semi-definite; None for whitened
        inputs (the identity).
    duration : float
        Training time of the phase, positive.

    Raises
    ------
    TypeError, ValueError
        naming the argument: a matrix that is not finite or of the wrong shape, a
        ``Sigma_xx`` that is not a covariance, a ``Sigma_yx`` outside its range, a
        ``duration`` that is not a positive number.
    """

    Sigma_yx: np.ndarray
    Sigma_xx: np.ndarray | None
    duration: float

    def __post_init__(self) -> None:
        S = real_matrix("Sigma_yx", self.Sigma_yx)
        d_in = S.shape[1]
        C = None if self.Sigma_xx is None else input_covariance("Sigma_xx", self.Sigma_xx, d_in)
        duration = check_real("duration", self.duration, positive=True)
        if C is not None:
            w, V = np.linalg.eigh(C)
            null = V[:, w <= _RANK_TOL * max(w.max(), 1e-300)]
            leak = np.abs(S @ null).max() if null.size else 0.0
            if leak > 1e-8 * max(np.abs(S).max(), 1.0):
                raise ValueError(f"`Sigma_yx` must have its rows in the range of `Sigma_xx` "
                                 f"(a correlation <y x^T> of inputs with covariance Sigma_xx): "
                                 f"it has {leak:.3g} along an input direction of zero "
                                 f"variance.")
            C.setflags(write=False)
        S.setflags(write=False)
        object.__setattr__(self, "Sigma_yx", S)
        object.__setattr__(self, "Sigma_xx", C)
        object.__setattr__(self, "duration", duration)

    @property
    def whitened(self) -> bool:
        """Whether the inputs are white (``Sigma_xx`` None or the identity to 1e-12)."""
        return self.Sigma_xx is None or bool(
            np.abs(self.Sigma_xx - np.eye(self.Sigma_xx.shape[0])).max() <= 1e-12)

    @property
    def target(self) -> np.ndarray:
        """The best linear predictor ``P* = Sigma_yx Sigma_xx^+``, shape (d_out, d_in)."""
        if self.Sigma_xx is None:
            return self.Sigma_yx.copy()
        return self.Sigma_yx @ np.linalg.pinv(self.Sigma_xx, rcond=_RANK_TOL, hermitian=True)

    def excess_loss(self, P: ArrayLike) -> np.ndarray:
        """Loss of the network map(s) ``P`` on this task above that of the best linear
        predictor: ``1/2 tr(P Sxx P^T) - tr(P Syx^T) + 1/2 tr(Syx Sxx^+ Syx^T)``, evaluated as
        ``1/2 tr(D Sxx D^T)`` with ``D = P - P*`` (non-negative); ``1/2 ||Syx - P||_F^2`` for
        whitened inputs.

        Parameters
        ----------
        P : array_like, shape (..., d_out, d_in)

        Returns
        -------
        ndarray, shape (...)

        Raises
        ------
        TypeError, ValueError
            ``P`` not a finite array of matrices of the task's shape.
        """
        P = finite_array("P", P, min_ndim=2)
        if P.shape[-2:] != self.Sigma_yx.shape:
            raise ValueError(f"`P` must hold matrices of shape {self.Sigma_yx.shape} (d_out, "
                             f"d_in) of the task, got {P.shape}.")
        D = P - self.target
        if self.Sigma_xx is None:
            return 0.5 * (D ** 2).sum(axis=(-2, -1))
        return 0.5 * ((D @ self.Sigma_xx) * D).sum(axis=(-2, -1))


def _phase_list(phases: Any) -> tuple[TaskPhase, ...]:
    """``phases`` as TaskPhase objects (tuples (Sigma_yx, Sigma_xx, duration) converted);
    errors name ``phases[k]``."""
    if isinstance(phases, (str, bytes, TaskPhase)) or not isinstance(phases, Sequence):
        raise TypeError(f"`phases` must be a list of TaskPhase (or of tuples (Sigma_yx, "
                        f"Sigma_xx, duration)), got {describe(phases)}.")
    if len(phases) == 0:
        raise ValueError("`phases` must hold at least one phase.")
    out: list[TaskPhase] = []
    for k, ph in enumerate(phases):
        if not isinstance(ph, TaskPhase):
            if not isinstance(ph, (tuple, list)) or len(ph) != 3:
                raise TypeError(f"`phases[{k}]` must be a TaskPhase or a tuple (Sigma_yx, "
                                f"Sigma_xx, duration), got {describe(ph)}.")
            try:
                ph = TaskPhase(*ph)
            except (TypeError, ValueError) as err:
                raise type(err)(f"`phases[{k}]`: {err}") from None
        out.append(ph)
    return tuple(out)


def _output_times(t: Any, n_out: int, ends: np.ndarray) -> np.ndarray:
    starts = np.concatenate([[0.0], ends[:-1]])
    if t is None:
        n_out = check_int("n_out", n_out, minimum=2)
        return np.concatenate([[0.0]] + [np.linspace(a, b, n_out)[1:]
                                         for a, b in zip(starts, ends)])
    t = check_times("t", t)
    if t[-1] > ends[-1]:
        raise ValueError(f"`t` must end by the end of the last phase, {ends[-1]:g}, got "
                         f"{t[-1]:g}.")
    return t


def train_sequence(phases: Sequence[TaskPhase | tuple[ArrayLike, ArrayLike | None, float]],
                   weights: Sequence[ArrayLike],
                   method: Literal["exact", "gradient_flow"] = "exact",
                   t: ArrayLike | None = None, n_out: int = 101, tau: float = 1.0,
                   **solver_kw: float) -> LinearTrajectory:
    """Train a linear network through a sequence of tasks, one phase after the other.

    Parameters
    ----------
    phases : sequence of TaskPhase or of tuples (Sigma_yx, Sigma_xx, duration)
        The tasks in training order, all of shape (d_out, d_in).
    weights : sequence of array_like
        Initial layers W_1 (n_1, d_in), ..., W_D (d_out, n_{D-1}); for ``method="exact"`` two
        lambda-balanced layers [W1, W2].
    method : {"exact", "gradient_flow"}
        ``"exact"``: the lambda-balanced Riccati solution restarted from the current
        Q = [W1^T; W2] at each switch (whitened inputs in every phase). ``"gradient_flow"``:
        numerical integration (any depth, any Sigma_xx).
    t : array_like, shape (n,), optional
        Output times over the whole sequence: finite, strictly increasing, from 0 to at most
        the end of the last phase. Default: ``n_out`` points per phase, the switch times
        included.
    n_out : int
        Points per phase (ends included) when ``t`` is None, at least 2.
    tau : float
        Time constant of the gradient flow, positive.
    **solver_kw
        ``rtol``, ``atol`` of :func:`~odesolve.linear.deep.chain_gradient_flow`
        (``method="gradient_flow"`` only; defaults 1e-10 and 1e-12).

    Returns
    -------
    LinearTrajectory
        With ``phases`` and ``phase`` set: ``task_losses()`` (n, n_phases) is the excess loss
        of every task at every time; ``X`` for exact runs, ``weights`` for numerical ones.

    Raises
    ------
    TypeError
        An argument has the wrong type, or an unknown solver option is given.
    ValueError
        naming the argument: a phase that is not a valid task or does not fit the weights'
        shape (``phases[k]``), times outside the sequence, ``tau`` <= 0, an unknown
        ``method``; for ``method="exact"``: not two layers, weights that are not
        lambda-balanced, a phase with non-white inputs, or a solver option.
    odesolve.solvers.SolverError
        If a numerical integration fails.
    """
    method = check_choice("method", method, ("exact", "gradient_flow"))
    tau = check_real("tau", tau, positive=True)
    unknown = sorted(set(solver_kw) - {"rtol", "atol"})
    if unknown:
        raise TypeError(f"`{unknown[0]}` is not an option of train_sequence (solver options: "
                        f"`rtol`, `atol`).")
    phases = _phase_list(phases)
    layers = layer_list("weights", weights)
    shape = (layers[-1].shape[0], layers[0].shape[1])
    for k, ph in enumerate(phases):
        if ph.Sigma_yx.shape != shape:
            raise ValueError(f"`phases[{k}]` has Sigma_yx of shape {ph.Sigma_yx.shape}, the "
                             f"weights need (d_out, d_in) = {shape}.")
    ends = np.cumsum([ph.duration for ph in phases])
    times = _output_times(t, n_out, ends)
    if method == "exact":
        if len(layers) != 2:
            raise ValueError(f"`weights` must be two layers [W1, W2] for method='exact' (the "
                             f"two-layer lambda-balanced solution), got {len(layers)}.")
        for k, ph in enumerate(phases):
            if not ph.whitened:
                raise ValueError(f"`phases[{k}]` has non-white inputs (Sigma_xx is not the "
                                 f"identity): method='exact' solves whitened inputs only; use "
                                 f"method='gradient_flow'.")
        if solver_kw:
            raise ValueError(f"`{sorted(solver_kw)[0]}` applies to method='gradient_flow' "
                             f"only: method='exact' has no solver.")
        lam = balance("weights", *layers)
    phase = np.minimum(np.searchsorted(ends, times, side="left"), len(phases) - 1)
    state: Any = (np.concatenate([layers[0].T, layers[1]]) if method == "exact" else layers)
    pieces: list[Any] = []
    start = 0.0
    for k, ph in enumerate(phases):
        if start >= times[-1] and k > 0:
            break
        here = times[phase == k] - start
        rel = np.unique(np.concatenate([here, [ends[k] - start]]))
        if method == "exact":
            state, X = riccati_flow(state, ph.Sigma_yx, lam, rel / tau)
            pieces.append(X[np.searchsorted(rel, here)])
        else:
            grid = np.unique(np.concatenate([[0.0], rel]))
            W = chain_gradient_flow(ph.Sigma_yx, state, grid, tau=tau, Sigma_xx=ph.Sigma_xx,
                                    **solver_kw)
            idx = np.searchsorted(grid, here)
            pieces.append([w[idx] for w in W])
            state = [w[-1] for w in W]
        start = ends[k]
    common = dict(t=times, Sigma=phases[0].Sigma_yx.copy(), phases=phases, phase=phase)
    if method == "exact":
        return LinearTrajectory(method="exact", X=np.concatenate(pieces), **common)
    return LinearTrajectory(method="gradient_flow", **common,
                            weights=[np.concatenate([p[l] for p in pieces])
                                     for l in range(len(layers))])


def _svd_rank(Sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    U, s, Vt = np.linalg.svd(Sigma)
    r = int((s > _RANK_TOL * max(s.max(initial=0.0), 1e-300)).sum())
    return U, s, Vt.T, r


def rotated_task(Sigma: ArrayLike, angle: float,
                 side: Literal["input", "output", "both"] = "input") -> np.ndarray:
    """The task ``Sigma = U S V^T`` with its input (or output) singular vectors rotated by
    ``angle`` out of the task's subspace: ``v_a -> cos(angle) v_a + sin(angle) w_a``, the
    partner w_a being the a-th singular direction beyond the rank (the next columns of the
    full SVD basis), so that the singular values are kept.

    angle = 0 gives Sigma, pi/2 a task on input (output) directions orthogonal to Sigma's
    (disjoint modes), pi gives -Sigma (reversal); ``||Sigma - B||_F^2 = 2 (1 - cos angle)
    ||Sigma||_F^2`` for one side.

    Parameters
    ----------
    Sigma : array_like, shape (d_out, d_in)
        Finite, non-zero; its rank r must leave r free directions on the rotated side
        (d_in >= 2 r for "input", d_out >= 2 r for "output").
    angle : float
        Rotation angle in radians, finite.
    side : {"input", "output", "both"}

    Returns
    -------
    ndarray, shape (d_out, d_in)

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or value; ``Sigma`` when its rank leaves too few
        free directions.
    """
    Sigma = real_matrix("Sigma", Sigma)
    angle = check_real("angle", angle)
    side = check_choice("side", side, ("input", "output", "both"))
    U, s, V, r = _svd_rank(Sigma)
    if r == 0:
        raise ValueError("`Sigma` must not be zero (it has no singular vectors to rotate).")
    c, sn = np.cos(angle), np.sin(angle)
    left, right = U[:, :r], V[:, :r]
    for name, basis, rotate in (("d_in", V, side in ("input", "both")),
                                ("d_out", U, side in ("output", "both"))):
        if not rotate:
            continue
        if basis.shape[0] < 2 * r:
            raise ValueError(f"`Sigma` has rank {r}: rotating its {name.split('_')[1]}put "
                             f"singular vectors out of its subspace needs {name} >= {2 * r}, "
                             f"got {basis.shape[0]}.")
        new = c * basis[:, :r] + sn * basis[:, r:2 * r]
        if name == "d_in":
            right = new
        else:
            left = new
    return (left * s[:r]) @ right.T


def reversed_task(Sigma: ArrayLike, modes: Sequence[int] | None = None) -> np.ndarray:
    """Reversal of the singular modes ``modes`` of ``Sigma`` (indices in the order of
    decreasing singular value): ``Sigma - 2 sum_{a in modes} s_a u_a v_a^T``; all modes
    (``-Sigma``) by default.

    Parameters
    ----------
    Sigma : array_like, shape (d_out, d_in)
    modes : sequence of int, optional
        Distinct indices in [0, min(d_out, d_in) - 1].

    Returns
    -------
    ndarray, shape (d_out, d_in)

    Raises
    ------
    TypeError, ValueError
        naming the argument: ``Sigma`` not a finite matrix, ``modes`` not distinct integers in
        range.
    """
    Sigma = real_matrix("Sigma", Sigma)
    if modes is None:
        return -Sigma
    k = min(Sigma.shape)
    modes = check_counts("modes", modes, minimum=0, maximum=k - 1)
    if len(set(modes)) != len(modes):
        raise ValueError(f"`modes` must be distinct, got {modes}.")
    U, s, Vt = np.linalg.svd(Sigma)
    flip = np.zeros(k)
    flip[modes] = 2.0 * s[modes]
    return Sigma - (U[:, :k] * flip) @ Vt[:k]


def _sequence_run(traj: Any) -> LinearTrajectory:
    if not isinstance(traj, LinearTrajectory) or traj.phases is None:
        raise TypeError(f"`traj` must be a LinearTrajectory from train_sequence, got "
                        f"{describe(traj)}.")
    return traj


def _phase_index(name: str, value: Any, n: int) -> int:
    k = check_int(name, value, minimum=-n, maximum=n - 1)
    return k % n


def _time_index(traj: LinearTrajectory, time: float, what: str) -> int:
    j = int(np.searchsorted(traj.t, time))
    if j >= traj.t.size or abs(traj.t[j] - time) > 1e-12 * max(1.0, time):
        raise ValueError(f"`traj` has no output at {what} (t = {time:g}): use the default "
                         f"output times of train_sequence (they include every switch).")
    return j


def _crossing(t: np.ndarray, loss: np.ndarray, level: float) -> float | None:
    """First time at which ``loss`` falls to ``level``, by linear interpolation of log(loss)
    between output times (of the loss itself where it reaches 0); None if it never does."""
    below = np.nonzero(loss <= level)[0]
    if below.size == 0:
        return None
    j = int(below[0])
    if j == 0:
        return float(t[0])
    a, b = loss[j - 1], loss[j]
    if b > 0.0 and level > 0.0:
        frac = np.log(a / level) / np.log(a / b)
    else:
        frac = (a - level) / (a - b)
    return float(t[j - 1] + frac * (t[j] - t[j - 1]))


def learning_time(traj: LinearTrajectory, phase: int = -1, fraction: float | None = 0.1,
                  level: float | None = None) -> float | None:
    """Time from the start of ``phase`` until the loss of its task first falls to
    ``fraction`` times its value at the start of the phase, or to the absolute ``level``.

    The crossing is interpolated linearly in log(loss) between output times, so its accuracy
    is set by the output spacing.

    Parameters
    ----------
    traj : LinearTrajectory
        A run of :func:`train_sequence` whose output times include the start of ``phase``.
    phase : int
        Index of the phase (negative counts from the end).
    fraction : float or None
        In (0, 1]; ignored when ``level`` is given.
    level : float, optional
        Absolute loss level, >= 0.

    Returns
    -------
    float or None
        None when the loss does not reach the level within the phase's output times.

    Raises
    ------
    TypeError, ValueError
        naming the argument: ``traj`` not a sequence run or without an output at the phase
        start, ``phase`` out of range, ``fraction`` not in (0, 1], ``level`` negative.
    """
    traj = _sequence_run(traj)
    k = _phase_index("phase", phase, len(traj.phases))
    if level is None:
        if fraction is None:
            raise ValueError("`fraction` or `level` must be given.")
        fraction = check_real("fraction", fraction, positive=True, maximum=1.0)
    else:
        level = check_real("level", level, minimum=0.0)
    ends = traj.phase_ends
    start = 0.0 if k == 0 else float(ends[k - 1])
    j0 = _time_index(traj, start, f"the start of phase {k}")
    sel = np.arange(j0, traj.t.size)[traj.t[j0:] <= ends[k] * (1 + 1e-14)]
    loss = traj.task_losses()[sel, k]
    threshold = fraction * loss[0] if level is None else level
    hit = _crossing(traj.t[sel], loss, threshold)
    return None if hit is None else hit - start


def forgetting(traj: LinearTrajectory, learned: int = 0, then: int = 1,
               fraction: float = 0.1) -> dict[str, float | None]:
    """Forgetting of the task of phase ``learned`` while phase ``then`` trains.

    Parameters
    ----------
    traj : LinearTrajectory
        A run of :func:`train_sequence` whose output times include the ends of both phases
        (the default output times do).
    learned, then : int
        Phase indices (negative counts from the end), ``then`` after ``learned``.
    fraction : float
        In (0, 1]: the progress on ``then``'s task at which ``forgetting_at_fraction`` is read
        (its loss at ``fraction`` of its value at the start of the phase).

    Returns
    -------
    dict
        ``loss_learned``: that task's loss at the end of phase ``learned``; ``loss_after``: at
        the end of phase ``then``; ``forgetting``: their difference; ``time_to_fraction``: the
        :func:`learning_time` of phase ``then`` at ``fraction``; ``forgetting_at_fraction``:
        the forgetting at that moment (None if not reached); ``loss_if_converged``: the
        learned task's loss at the best linear predictor of phase ``then``'s task (where its
        loss tends when that task is learned fully by a wide enough network; None when that
        task's inputs do not span the input space).

    Raises
    ------
    TypeError, ValueError
        As :func:`learning_time`; ``then`` must come after ``learned``.
    """
    traj = _sequence_run(traj)
    n = len(traj.phases)
    i = _phase_index("learned", learned, n)
    j = _phase_index("then", then, n)
    if j <= i:
        raise ValueError(f"`then` must be a later phase than `learned`, got {then} and "
                         f"{learned}.")
    fraction = check_real("fraction", fraction, positive=True, maximum=1.0)
    ends = traj.phase_ends
    losses = traj.task_losses()[:, i]
    before = float(losses[_time_index(traj, float(ends[i]), f"the end of phase {i}")])
    after = float(losses[_time_index(traj, float(ends[j]), f"the end of phase {j}")])
    t_frac = learning_time(traj, j, fraction)
    at = None
    if t_frac is not None:
        at = float(np.interp(ends[j - 1] + t_frac, traj.t, losses)) - before
    return {"loss_learned": before, "loss_after": after, "forgetting": after - before,
            "time_to_fraction": t_frac, "forgetting_at_fraction": at,
            "loss_if_converged": _loss_if_converged(traj.phases[i], traj.phases[j])}


def _loss_if_converged(task: TaskPhase, then: TaskPhase) -> float | None:
    """Loss of ``task`` at the best linear predictor of ``then``; None when ``then``'s inputs
    do not span the input space (the network is then not determined by ``then``)."""
    C = then.Sigma_xx
    if C is not None and np.linalg.eigvalsh(C).min() <= _RANK_TOL * np.abs(C).max():
        return None
    return float(task.excess_loss(then.target))


def _study_setup(lams: Any, d: int, singular_values: Any, scale: float, seed: int,
                 rotated: bool = False):
    """Checked study arguments and the task A; ``rotated``: A's singular vectors will be
    rotated out of its subspace (:func:`rotated_task`), which needs d >= 2 rank."""
    lams = [check_real(f"lams[{i}]", v) for i, v in enumerate(_values("lams", lams))]
    d = check_int("d", d, minimum=2)
    singular_values = nonnegative_values("singular_values", singular_values)
    rank = int(np.count_nonzero(singular_values))
    if rotated and d < 2 * rank:
        raise ValueError(f"`d` must be >= 2 * {rank} = {2 * rank} for tasks with {rank} "
                         f"non-zero `singular_values` (rotating the singular vectors out of "
                         f"the task's subspace needs as many free directions), got {d}.")
    scale = check_real("scale", scale, positive=True)
    seed = check_int("seed", seed, minimum=0)
    return lams, rank_task(d, singular_values, seed=seed), scale, seed


def _values(name: str, values: Any) -> list[Any]:
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"`{name}` must be a sequence of numbers, got {describe(values)}.")
    if len(values) == 0:
        raise ValueError(f"`{name}` must not be empty.")
    return list(values)


def _angles(angles: Any) -> list[float]:
    return [check_real(f"angles[{i}]", v) for i, v in enumerate(_values("angles", angles))]


def continual_study(lams: Sequence[float] = (-2.0, -0.5, 0.0, 0.5, 2.0),
                    angles: Sequence[float] = (0.25 * np.pi, 0.5 * np.pi, 0.75 * np.pi),
                    side: Literal["input", "output"] = "input",
                    inputs: Literal["white", "own"] = "white", d: int = 4,
                    singular_values: Sequence[float] = (2.0, 1.0), scale: float = 0.1,
                    duration: float = 30.0, fraction: float = 0.1, seed: int = 0,
                    n_out: int = 1001) -> dict[str, Any]:
    """Forgetting of a task A after training on B = :func:`rotated_task` (A, angle, side),
    against lambda and the angle, for a d-d-d network from lambda-balanced weights of
    ``scale`` (each phase lasts ``duration``).

    ``inputs="white"``: both tasks on whitened inputs (exact solution). ``inputs="own"``: each
    task presents only its own inputs, ``Sigma_xx`` the projector on its input singular
    vectors (numerical gradient flow), so that a rotation of the *input* vectors by pi/2 gives
    tasks on disjoint inputs. An angle of pi is the reversal B = -A, which at lambda = 0 the
    exact solution does not learn in exact arithmetic (:func:`reversal_study`).

    Parameters
    ----------
    lams : sequence of float, shape (n_lam,)
        Balances lambda of the initial weights (:func:`~odesolve.linear.balanced_weights`).
    angles : sequence of float, shape (n_angle,)
        Rotation angles in radians.
    side : {"input", "output"}
        Which singular vectors of A are rotated.
    inputs : {"white", "own"}
        Input covariance of each task (above).
    d : int
        Width of every layer, at least 2 and at least twice the number of non-zero
        ``singular_values``.
    singular_values : sequence of float
        Of task A (:func:`~odesolve.linear.rank.rank_task` with ``seed``), non-negative.
    scale : float
        Scale of the initial weights, positive.
    duration : float
        Length of each phase, positive.
    fraction : float
        In (0, 1]: ``forgetting_at_fraction`` is read when B's loss is at this fraction of its
        value at the switch.
    seed : int
        Non-negative; the task and the initial weights.
    n_out : int
        Output times per phase, at least 2 (sets the accuracy of the interpolated times).

    Returns
    -------
    dict
        ``lambda``, ``angle``, and per (lambda, angle) lists of lists: ``forgetting`` (at the
        end of B), ``forgetting_at_fraction`` (when B's loss has fallen to ``fraction`` of its
        start), ``time_to_fraction``, ``forgetting_if_converged`` (B learned to its best
        linear predictor); plus the settings.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    lams, A, scale, seed = _study_setup(lams, d, singular_values, scale, seed, rotated=True)
    angles = _angles(angles)
    side = check_choice("side", side, ("input", "output"))
    inputs = check_choice("inputs", inputs, ("white", "own"))
    duration = check_real("duration", duration, positive=True)
    fraction = check_real("fraction", fraction, positive=True, maximum=1.0)
    n_out = check_int("n_out", n_out, minimum=2)
    keys = ("forgetting", "forgetting_at_fraction", "time_to_fraction", "forgetting_if_converged")
    out: dict[str, Any] = {k: [] for k in keys}
    for lam in lams:
        rows: dict[str, list[Any]] = {k: [] for k in keys}
        W = list(balanced_weights(d, d, d, lam, scale=scale, seed=seed))
        for angle in angles:
            B = rotated_task(A, angle, side)
            phases = [TaskPhase(S, _own_inputs(S) if inputs == "own" else None, duration)
                      for S in (A, B)]
            run = train_sequence(phases, W, method="exact" if inputs == "white"
                                 else "gradient_flow", n_out=n_out)
            f = forgetting(run, 0, 1, fraction)
            rows["forgetting"].append(f["forgetting"])
            rows["forgetting_at_fraction"].append(f["forgetting_at_fraction"])
            rows["time_to_fraction"].append(f["time_to_fraction"])
            conv = f["loss_if_converged"]
            rows["forgetting_if_converged"].append(None if conv is None
                                                   else conv - f["loss_learned"])
        for k in keys:
            out[k].append(rows[k])
    return {"lambda": lams, "angle": angles, "side": side, "inputs": inputs, "d": d,
            "singular_values": [float(v) for v in singular_values], "scale": scale,
            "duration": duration, "fraction": fraction, **out}


def _own_inputs(S: np.ndarray) -> np.ndarray:
    """Projector on the input singular vectors of S (the inputs a task presents)."""
    _, _, V, r = _svd_rank(S)
    return V[:, :r] @ V[:, :r].T


def _aligned_mode_start(sigma: float, s0: float, lam: float) -> list[np.ndarray]:
    """One hidden unit on a 1-1 task, lambda-balanced with strength s0 > 0."""
    root = np.sqrt(lam ** 2 + 4 * s0 ** 2)
    return [np.array([[np.sqrt((root - lam) / 2)]]), np.array([[np.sqrt((root + lam) / 2)]])]


def reversal_study(lams: Sequence[float] = (-2.0, -1.0, -0.3, -0.1, -0.03, 0.0, 0.03, 0.1,
                                            0.3, 1.0, 2.0),
                   scales: Sequence[float] = (1e-1, 1e-2, 1e-3),
                   d: int = 4, singular_values: Sequence[float] = (2.0, 1.0),
                   pretrain: float = 30.0, duration: float = 60.0, fraction: float = 0.1,
                   seed: int = 0, n_out: int = 3001) -> dict[str, Any]:
    """Reversal learning B = -A after pre-training on A for ``pretrain``: the time from the
    switch until B's loss falls to ``fraction`` of its value at the switch (None: not within
    ``duration``).

    Three settings on a random d x d task with ``singular_values`` (sigma_1 the largest):

    1. ``time_aligned`` (per lambda): one aligned mode of strength sigma_1 (d = h = 1) from the
       learned s = sigma_1; it must pass through s = 0 (exact solution).
    2. ``time_balanced`` (per lambda, per scale): a d-d-d network from random lambda-balanced
       weights of each of ``scales`` (exact solution). At lambda = 0 the runs are repeated
       with twice the output density (``time_balanced_dense``): the exact solution is marched
       in steps that depend on the output times, so a difference shows an escape seeded by
       rounding, not by the model.
    3. ``time_independent`` (per scale): independent Gaussian layers of each scale
       (:func:`~odesolve.linear.deep.random_chain`; gradient flow), whose conserved imbalance
       ``W2^T W2 - W1 W1^T`` is a random matrix of size ``scale^2`` (``imbalance``: its
       largest eigenvalue in modulus) instead of lambda I. ``slope_independent`` is the
       least-squares slope of the time against ln(1 / scale), to compare with
       ``2 / sigma_1`` (``slope_predicted``) from t ~ ln(1 / ``|lambda|``) / sigma_1 at
       lambda ~ scale^2.

    Parameters
    ----------
    lams : sequence of float, shape (n_lam,)
        Balances of settings 1 and 2.
    scales : sequence of float, shape (n_scale,)
        Initial weight scales of settings 2 and 3, positive.
    d : int
        Width of every layer, at least 2.
    singular_values : sequence of float
        Of task A (:func:`~odesolve.linear.rank.rank_task` with ``seed``), non-negative.
    pretrain, duration : float
        Lengths of the phase on A and of the phase on -A, positive.
    fraction : float
        In (0, 1]: the reversal time is read when -A's loss is at this fraction of its value
        at the switch.
    seed : int
        Non-negative; the task and the initial weights.
    n_out : int
        Output times per phase, at least 2 (sets the accuracy of the interpolated times).

    Returns
    -------
    dict
        The quantities above, ``lambda``, ``scale``, ``sigma`` (sigma_1), and the settings.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    lams, A, _, seed = _study_setup(lams, d, singular_values, 1.0, seed)
    scales = [check_real(f"scales[{i}]", v, positive=True)
              for i, v in enumerate(_values("scales", scales))]
    pretrain = check_real("pretrain", pretrain, positive=True)
    duration = check_real("duration", duration, positive=True)
    fraction = check_real("fraction", fraction, positive=True, maximum=1.0)
    n_out = check_int("n_out", n_out, minimum=2)
    sigma = float(np.linalg.svd(A, compute_uv=False)[0])
    phases = [(A, None, pretrain), (-A, None, duration)]
    aligned, balanced, dense = [], [], []
    for lam in lams:
        run = train_sequence([(np.array([[-sigma]]), None, duration)],
                             _aligned_mode_start(sigma, sigma, lam), n_out=n_out)
        aligned.append(learning_time(run, 0, fraction))
        row, row_dense = [], []
        for sc in scales:
            W = list(balanced_weights(d, d, d, lam, scale=sc, seed=seed))
            row.append(learning_time(train_sequence(phases, W, n_out=n_out), 1, fraction))
            if lam == 0.0:
                row_dense.append(learning_time(train_sequence(phases, W, n_out=2 * n_out - 1),
                                               1, fraction))
        balanced.append(row)
        dense.append(row_dense or None)
    independent, imbalance = [], []
    for sc in scales:
        W = random_chain(d, d, d, 2, sc, seed=seed)
        imbalance.append(float(np.abs(np.linalg.eigvalsh(W[1].T @ W[1] - W[0] @ W[0].T)).max()))
        run = train_sequence(phases, W, method="gradient_flow", n_out=n_out)
        independent.append(learning_time(run, 1, fraction))
    ok = [(np.log(1 / sc), t) for sc, t in zip(scales, independent) if t is not None]
    slope = (float(np.polyfit(*zip(*ok), 1)[0]) if len(ok) >= 2 else None)
    return {"lambda": lams, "scale": scales, "sigma": sigma, "fraction": fraction,
            "time_aligned": aligned, "time_balanced": balanced, "time_balanced_dense": dense,
            "time_independent": independent, "imbalance": imbalance,
            "slope_independent": slope, "slope_predicted": 2.0 / sigma, "d": d,
            "singular_values": [float(v) for v in singular_values], "pretrain": pretrain,
            "duration": duration}


def transfer_study(lams: Sequence[float] = (-2.0, -0.5, 0.0, 0.5, 2.0),
                   angles: Sequence[float] = tuple(np.linspace(0.1, 0.9, 5) * np.pi),
                   side: Literal["input", "output"] = "input", d: int = 4,
                   singular_values: Sequence[float] = (2.0, 1.0), scale: float = 0.01,
                   pretrain: float = 30.0, duration: float = 60.0, fraction: float = 0.01,
                   seed: int = 0, n_out: int = 3001) -> dict[str, Any]:
    """Transfer: pre-train on A, then learn B = :func:`rotated_task` (A, angle, side);
    compare with learning B from the same initial weights (exact solution, whitened inputs).

    Both are timed to the same absolute loss level ``fraction * 1/2 ||B||_F^2`` (that is,
    ``fraction`` of B's loss at the zero network); the **speed-up** is
    ``time_scratch / time_transfer`` (> 1: pre-training on A helps). An angle of pi is the
    reversal B = -A: at lambda = 0 its time is not set by the model (the exact solution
    stalls at the zero network and escapes on rounding errors; :func:`reversal_study`).

    Parameters
    ----------
    lams : sequence of float, shape (n_lam,)
        Balances lambda of the initial weights.
    angles : sequence of float, shape (n_angle,)
        Rotation angles in radians.
    side : {"input", "output"}
        Which singular vectors of A are rotated.
    d : int
        Width of every layer, at least 2 and at least twice the number of non-zero
        ``singular_values``.
    singular_values : sequence of float
        Of task A (:func:`~odesolve.linear.rank.rank_task` with ``seed``), non-negative.
    scale : float
        Scale of the initial weights, positive.
    pretrain, duration : float
        Lengths of the phase on A and of the phase on B, positive.
    fraction : float
        In (0, 1]: the level, as a fraction of 1/2 ``||B||_F^2``.
    seed : int
        Non-negative; the task and the initial weights.
    n_out : int
        Output times per phase, at least 2 (sets the accuracy of the interpolated times).

    Returns
    -------
    dict
        ``lambda``, ``angle``, ``time_scratch``, ``time_transfer`` and ``speedup`` (per
        lambda, per angle; None where the level is not reached within ``duration``, and a
        ``speedup`` of None also where ``time_transfer`` is 0, the pre-trained network being
        below the level already at the switch), and the settings.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    lams, A, scale, seed = _study_setup(lams, d, singular_values, scale, seed, rotated=True)
    angles = _angles(angles)
    side = check_choice("side", side, ("input", "output"))
    pretrain = check_real("pretrain", pretrain, positive=True)
    duration = check_real("duration", duration, positive=True)
    fraction = check_real("fraction", fraction, positive=True, maximum=1.0)
    n_out = check_int("n_out", n_out, minimum=2)
    level = fraction * 0.5 * float((A ** 2).sum())       # rotations keep ||B|| = ||A||
    scratch, transfer, speedup = [], [], []
    for lam in lams:
        W = list(balanced_weights(d, d, d, lam, scale=scale, seed=seed))
        row_0, row_t, row_s = [], [], []
        for angle in angles:
            B = rotated_task(A, angle, side)
            t0 = learning_time(train_sequence([(B, None, duration)], W, n_out=n_out),
                               0, level=level)
            t1 = learning_time(train_sequence([(A, None, pretrain), (B, None, duration)], W,
                                              n_out=n_out), 1, level=level)
            row_0.append(t0)
            row_t.append(t1)
            row_s.append(None if t0 is None or not t1 else t0 / t1)
        scratch.append(row_0)
        transfer.append(row_t)
        speedup.append(row_s)
    return {"lambda": lams, "angle": angles, "side": side, "level": level,
            "fraction": fraction, "time_scratch": scratch, "time_transfer": transfer,
            "speedup": speedup, "d": d, "singular_values": [float(v) for v in singular_values],
            "scale": scale, "pretrain": pretrain, "duration": duration}
