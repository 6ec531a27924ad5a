"""Small neuroscience-style tasks for rate RNNs, generated in the package from a seed.

Each generator returns a :class:`TaskBatch` of ``n_trials`` trials of ``n_steps`` time steps
(default 40): inputs ``x`` (n_trials, n_steps, n_in), targets ``z`` (n_trials, n_steps, n_out),
a loss mask ``mask`` (n_trials, n_steps) that is 1 in the response epoch and 0 elsewhere, and the
correct choice ``label`` (n_trials,) in 0 .. n_out - 1. Targets are one-hot (1 on the correct
output, 0 on the others) in the response epoch; a trial counts as correct when the readout
averaged over the response epoch is largest on the correct output (:func:`choice_accuracy`).

Every task has a fixation input (channel 0) that is 1 until the response epoch starts and 0
during it, and Gaussian input noise of standard deviation ``noise`` on every channel. The epochs,
as fractions of ``n_steps`` (40 steps: fixation 0-4, stimulus 5-19, ... response 30-39):

- ``"decision"`` -- perceptual decision making with a delay (as neurogym's
  PerceptualDecisionMakingDelayResponse): channel 1 carries a noisy evidence stream of mean
  ``coherence`` (drawn from +-{0.1, 0.2, 0.4}) during the stimulus epoch (steps 5-19), then a
  delay (20-29); the answer (30-39) is the sign of the coherence (2 outputs).
- ``"match"`` -- delayed match-to-sample: a sample (one of two stimuli, one-hot on channels 1-2,
  steps 5-11), a delay (12-21), a test stimulus (22-28); the answer (30-39) is match / non-match
  (2 outputs). The answer is the XOR of sample and test, so it needs the nonlinearity.
- ``"context"`` -- context-dependent integration (Mante et al. 2013): two noisy evidence streams
  (channels 1-2, coherences drawn independently from +-{0.1, 0.2, 0.4}) during steps 5-24 and a
  one-hot context cue (channels 3-4) from step 0 to the end of the stimulus; the answer (30-39)
  is the sign of the coherence of the cued stream (2 outputs).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .._checks import check_choice, check_int, check_real
from .._typing import Seed
from ..model import check_seed

__all__ = ["TaskBatch", "perceptual_decision", "delayed_match_to_sample",
           "context_integration", "RNN_TASKS", "task_batch", "choice_accuracy"]

_COHERENCES = np.array([0.1, 0.2, 0.4])


class TaskBatch(NamedTuple):
    """One batch of trials: x (B, T, n_in), z (B, T, n_out), mask (B, T), label (B,)."""

    x: np.ndarray
    z: np.ndarray
    mask: np.ndarray
    label: np.ndarray


def _epoch(n_steps, start, stop):
    """Step indices [round(start n_steps / 40), round(stop n_steps / 40)) of a 40-step plan."""
    return slice(int(round(start * n_steps / 40)), int(round(stop * n_steps / 40)))


def _frame(n_trials, n_steps, n_in, noise, seed):
    n_trials = check_int("n_trials", n_trials, minimum=1)
    n_steps = check_int("n_steps", n_steps, minimum=20)
    noise = check_real("noise", noise, minimum=0.0)
    rng = np.random.default_rng(check_seed("seed", seed))
    x = np.zeros((n_trials, n_steps, n_in))
    x[:, _epoch(n_steps, 0, 30), 0] = 1.0
    return rng, x, n_trials, n_steps, noise


def _finish(rng, x, label, n_steps, noise, n_out=2):
    x += noise * rng.standard_normal(x.shape)
    resp = _epoch(n_steps, 30, 40)
    mask = np.zeros(x.shape[:2])
    mask[:, resp] = 1.0
    z = np.zeros(x.shape[:2] + (n_out,))
    z[np.arange(x.shape[0])[:, None], np.arange(resp.start, resp.stop)[None, :],
      label[:, None]] = 1.0
    return TaskBatch(x, z, mask, label)


def _signed_coherence(rng, n):
    return rng.choice(_COHERENCES, n) * rng.choice([-1.0, 1.0], n)


def perceptual_decision(n_trials: int, seed: Seed = None, n_steps: int = 40,
                        noise: float = 0.3) -> TaskBatch:
    """Perceptual decision making with a delay (module docstring), n_in = 2, n_out = 2.

    Parameters
    ----------
    n_trials : int
        Number of trials, positive.
    seed : int, sequence of int, Generator or None
    n_steps : int
        Time steps per trial, at least 20.
    noise : float
        Standard deviation of the input noise, non-negative.

    Returns
    -------
    TaskBatch
        x (n_trials, n_steps, 2), z (n_trials, n_steps, 2), mask (n_trials, n_steps),
        label (n_trials,): 1 for positive coherence.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    rng, x, n, T, noise = _frame(n_trials, n_steps, 2, noise, seed)
    c = _signed_coherence(rng, n)
    x[:, _epoch(T, 5, 20), 1] = c[:, None]
    return _finish(rng, x, (c > 0).astype(int), T, noise)


def delayed_match_to_sample(n_trials: int, seed: Seed = None, n_steps: int = 40,
                            noise: float = 0.3) -> TaskBatch:
    """Delayed match-to-sample (module docstring), n_in = 3, n_out = 2.

    Parameters
    ----------
    n_trials, seed, n_steps, noise
        As :func:`perceptual_decision`.

    Returns
    -------
    TaskBatch
        x (n_trials, n_steps, 3), z (n_trials, n_steps, 2), mask (n_trials, n_steps),
        label (n_trials,): 1 for a match.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    rng, x, n, T, noise = _frame(n_trials, n_steps, 3, noise, seed)
    sample = rng.integers(0, 2, n)
    test = rng.integers(0, 2, n)
    rows = np.arange(n)
    for (a, b), stim in (((5, 12), sample), ((22, 29), test)):
        ep = _epoch(T, a, b)
        x[rows[:, None], np.arange(ep.start, ep.stop)[None, :], 1 + stim[:, None]] = 1.0
    return _finish(rng, x, (sample == test).astype(int), T, noise)


def context_integration(n_trials: int, seed: Seed = None, n_steps: int = 40,
                        noise: float = 0.3) -> TaskBatch:
    """Context-dependent integration (module docstring), n_in = 5, n_out = 2.

    Parameters
    ----------
    n_trials, seed, n_steps, noise
        As :func:`perceptual_decision`.

    Returns
    -------
    TaskBatch
        x (n_trials, n_steps, 5), z (n_trials, n_steps, 2), mask (n_trials, n_steps),
        label (n_trials,): 1 when the cued stream's coherence is positive.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    rng, x, n, T, noise = _frame(n_trials, n_steps, 5, noise, seed)
    c = np.stack([_signed_coherence(rng, n), _signed_coherence(rng, n)], axis=1)
    context = rng.integers(0, 2, n)
    stim = _epoch(T, 5, 25)
    x[:, stim, 1:3] = c[:, None, :]
    x[np.arange(n)[:, None], np.arange(0, stim.stop)[None, :], 3 + context[:, None]] = 1.0
    return _finish(rng, x, (c[np.arange(n), context] > 0).astype(int), T, noise)


#: task name -> generator ``(n_trials, seed, n_steps, noise) -> TaskBatch``
RNN_TASKS: dict[str, Callable[..., TaskBatch]] = {
    "decision": perceptual_decision,
    "match": delayed_match_to_sample,
    "context": context_integration,
}


def task_batch(task: str, n_trials: int, seed: Seed = None, n_steps: int = 40,
               noise: float = 0.3) -> TaskBatch:
    """A batch of the task named ``task`` (one of :data:`RNN_TASKS`).

    Raises
    ------
    TypeError, ValueError
        ``task`` not one of the names, or another argument as :func:`perceptual_decision`.
    """
    task = check_choice("task", task, RNN_TASKS)
    return RNN_TASKS[task](n_trials, seed, n_steps, noise)


def choice_accuracy(y: np.ndarray, batch: TaskBatch) -> float:
    """Fraction of trials whose readout, averaged over the response epoch, is largest on the
    correct output.

    Parameters
    ----------
    y : ndarray, shape (B, T, n_out)
        Readout of the network on ``batch``.
    batch : TaskBatch

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    TypeError
        ``batch`` is not a :class:`TaskBatch`.
    ValueError
        ``y`` does not have the shape of ``batch.z``.
    """
    if not isinstance(batch, TaskBatch):
        raise TypeError(f"`batch` must be a TaskBatch, got {type(batch).__name__}.")
    y = np.asarray(y, dtype=float)
    if y.shape != batch.z.shape:
        raise ValueError(f"`y` must have the shape of the batch's targets {batch.z.shape}, "
                         f"got {y.shape}.")
    mean = (y * batch.mask[:, :, None]).sum(axis=1) / batch.mask.sum(axis=1)[:, None]
    return float(np.mean(mean.argmax(axis=1) == batch.label))
