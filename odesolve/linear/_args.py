"""Argument checks of :mod:`odesolve.linear`, built on the shared checks of
:mod:`odesolve._checks` (numbers, choices) and :mod:`odesolve.model` (arrays, seeds).

Every check runs before any work and names the argument in backticks: :class:`TypeError` when
the value has the wrong type (strings, booleans, objects where numbers are expected),
:class:`ValueError` when the value is not allowed (NaN or infinite entries, wrong shapes, out of
range). Matrices (tasks, weights, masks) must be finite: a NaN would otherwise surface as
numpy's ``LinAlgError`` or as a NaN result.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .._checks import check_int, check_real, describe
from ..model import real_array

__all__ = ["finite_array", "real_matrix", "layer_list", "check_mask", "check_chain",
           "input_covariance", "connectivity_masks",
           "check_times", "check_counts", "check_seeds", "nonnegative_values", "check_window"]


def finite_array(name: str, value: Any, min_ndim: int = 0) -> np.ndarray:
    """``value`` as a finite float64 array with at least ``min_ndim`` axes.

    Raises
    ------
    TypeError
        ``value`` does not hold real numbers.
    ValueError
        too few axes, or an entry that is NaN or infinite.
    """
    arr = real_array(name, value)
    if arr.ndim < min_ndim:
        raise ValueError(f"`{name}` must have at least {min_ndim} axes, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite (it holds NaN or inf).")
    return arr


def real_matrix(name: str, value: Any, shape: tuple[int, int] | None = None,
                what: str = "") -> np.ndarray:
    """``value`` as a finite, non-empty float64 matrix, of ``shape`` when given.

    Parameters
    ----------
    name : str
        Argument name for the messages.
    value : array_like
    shape : tuple of int, optional
        Required shape.
    what : str
        Where the required shape comes from, for the message (e.g. "(d_out, d_in) of the
        weights").

    Raises
    ------
    TypeError, ValueError
        As :func:`finite_array`; ValueError also for a shape that is not 2-D, empty or not
        ``shape``.
    """
    arr = real_array(name, value)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"`{name}` must be a non-empty 2-D array (a matrix), got shape "
                         f"{arr.shape}.")
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"`{name}` must have shape {tuple(shape)}{' ' + what if what else ''}, "
                         f"got {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite (it holds NaN or inf).")
    return arr


def layer_list(name: str, weights: Any, stacked: bool = False,
               names: Sequence[str] | None = None) -> list[np.ndarray]:
    """Layers ``W_1 .. W_D`` of a chain: a non-empty list or tuple of finite matrices, W_l of
    shape (n_l, n_{l-1}), so that each layer's columns match the rows of the one before.

    Parameters
    ----------
    name : str
        Name of the list (entries are named ``name[l]``).
    weights : list or tuple of array_like
    stacked : bool
        Allow leading axes (e.g. time): shapes (..., n_l, n_{l-1}), chained on the last two.
    names : sequence of str, optional
        Names of the layers when they are separate arguments (e.g. ``("W1", "W2")``).

    Raises
    ------
    TypeError
        ``weights`` is not a list or tuple, or a layer does not hold real numbers.
    ValueError
        no layer, a layer that is not a finite matrix, or layers that do not chain.
    """
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"`{name}` must be a list of 2-D arrays W_1 .. W_D, got "
                        f"{describe(weights)}.")
    if len(weights) == 0:
        raise ValueError(f"`{name}` must hold at least one layer.")
    names = names or [f"{name}[{l}]" for l in range(len(weights))]
    if stacked:
        layers = [finite_array(n, W, min_ndim=2) for n, W in zip(names, weights)]
    else:
        layers = [real_matrix(n, W) for n, W in zip(names, weights)]
    for l in range(1, len(layers)):
        if layers[l].shape[-1] != layers[l - 1].shape[-2]:
            raise ValueError(f"`{names[l]}` has shape {layers[l].shape} but `{names[l - 1]}` "
                             f"has {layers[l - 1].shape[-2]} rows: layers must chain "
                             f"(W_l has as many columns as W_(l-1) has rows).")
    return layers


def check_mask(name: str, mask: Any, shape: tuple[int, int]) -> np.ndarray:
    """A 0/1 matrix of ``shape`` (observed entries).

    Raises
    ------
    TypeError, ValueError
        As :func:`real_matrix`; ValueError for an entry other than 0 or 1.
    """
    mask = real_matrix(name, mask, shape, "(that of `Sigma`)")
    if not np.all((mask == 0.0) | (mask == 1.0)):
        raise ValueError(f"`{name}` must hold only 0 (hidden) and 1 (observed).")
    return mask


def input_covariance(name: str, value: Any, d_in: int) -> np.ndarray:
    """A symmetric positive semi-definite (d_in, d_in) input covariance ``<x x^T>``.

    Symmetry is checked to 1e-10 relative to the largest entry (and the matrix symmetrised);
    an eigenvalue below ``-1e-10`` times the largest is refused.

    Raises
    ------
    TypeError, ValueError
        As :func:`real_matrix`; ValueError naming ``name`` for a matrix that is not symmetric
        or has a negative eigenvalue.
    """
    S = real_matrix(name, value, (d_in, d_in), "(d_in, d_in) of the first layer")
    scale = max(np.abs(S).max(), 1e-300)
    if np.abs(S - S.T).max() > 1e-10 * scale:
        raise ValueError(f"`{name}` must be symmetric (a covariance <x x^T>).")
    S = 0.5 * (S + S.T)
    low = np.linalg.eigvalsh(S).min()
    if low < -1e-10 * scale:
        raise ValueError(f"`{name}` must be positive semi-definite (a covariance <x x^T>), "
                         f"got an eigenvalue {low:.3g}.")
    return S


def connectivity_masks(masks: Any, weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """0/1 masks C_l of the shapes of ``weights`` (all ones when ``masks`` is None).

    Raises
    ------
    TypeError, ValueError
        naming ``connectivity`` (or ``connectivity[l]``): not a list of one matrix per layer,
        a wrong shape, an entry other than 0 or 1.
    """
    if masks is None:
        return [np.ones(W.shape) for W in weights]
    if isinstance(masks, (str, bytes)) or not isinstance(masks, Sequence):
        raise TypeError(f"`connectivity` must be a list of 0/1 matrices, one per layer, got "
                        f"{describe(masks)}.")
    if len(masks) != len(weights):
        raise ValueError(f"`connectivity` must have one mask per layer ({len(weights)}), got "
                         f"{len(masks)}.")
    out = []
    for l, (C, W) in enumerate(zip(masks, weights)):
        C = real_matrix(f"connectivity[{l}]", C, W.shape, f"(that of `weights[{l}]`)")
        if not np.all((C == 0.0) | (C == 1.0)):
            raise ValueError(f"`connectivity[{l}]` must hold only 0 (fixed) and 1 (trained).")
        out.append(C)
    return out


def check_chain(Sigma: Any, weights: Any,
                mask: Any = None) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """A chain and its task: the layers (named ``weights[l]``), then ``Sigma`` of the chain's
    shape (d_out, d_in), then the 0/1 ``mask`` (all ones when None).

    Returns
    -------
    Sigma : ndarray, shape (d_out, d_in)
    weights : list of ndarray
    mask : ndarray, shape (d_out, d_in)

    Raises
    ------
    TypeError, ValueError
        naming the argument (as :func:`layer_list`, :func:`real_matrix`, :func:`check_mask`).
    """
    weights = layer_list("weights", weights)
    shape = (weights[-1].shape[0], weights[0].shape[1])
    Sigma = real_matrix("Sigma", Sigma, shape, "(d_out, d_in) of the weights")
    mask = np.ones(shape) if mask is None else check_mask("mask", mask, shape)
    return Sigma, weights, mask


def check_times(name: str, t: Any, *, from_zero: bool = True,
                allow_scalar: bool = False) -> np.ndarray:
    """Output times: finite and non-negative.

    Parameters
    ----------
    name : str
    t : float or array_like, shape (n,)
    from_zero : bool
        True: a non-empty 1-D array starting at 0 and strictly increasing (the times of a
        numerical run from the initial weights). False: non-decreasing, any start >= 0.
    allow_scalar : bool
        Accept a single time (returned as a 0-d array).

    Returns
    -------
    ndarray of float64, shape (n,) (or () for a scalar)

    Raises
    ------
    TypeError
        ``t`` does not hold real numbers.
    ValueError
        naming ``t`` and the rule it breaks.
    """
    t = real_array(name, t)
    if not (t.ndim == 1 and t.size > 0) and not (allow_scalar and t.ndim == 0):
        kind = "a number or " if allow_scalar else ""
        raise ValueError(f"`{name}` must be {kind}a non-empty 1-D array, got shape {t.shape}.")
    if not np.all(np.isfinite(t)):
        raise ValueError(f"`{name}` must be finite (it holds NaN or inf).")
    if np.any(t < 0):
        raise ValueError(f"`{name}` must be non-negative, got {t.min():g}.")
    steps = np.diff(np.atleast_1d(t))
    if from_zero:
        if t.ndim == 1 and t[0] != 0.0:
            raise ValueError(f"`{name}` must start at 0 (the initial weights), got "
                             f"{t[0]:g}.")
        if np.any(steps <= 0):
            raise ValueError(f"`{name}` must be strictly increasing.")
    elif np.any(steps < 0):
        raise ValueError(f"`{name}` must be non-decreasing.")
    return t


def check_counts(name: str, values: Any, minimum: int = 1,
                 maximum: int | None = None) -> list[int]:
    """A non-empty sequence of integers in [minimum, maximum] (entries named ``name[i]``).

    Raises
    ------
    TypeError
        ``values`` is not a sequence, or an entry is not an integer.
    ValueError
        no entry, or an entry out of range.
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray,
                                                                   range)):
        raise TypeError(f"`{name}` must be a sequence of integers, got {describe(values)}.")
    if len(values) == 0:
        raise ValueError(f"`{name}` must not be empty.")
    return [check_int(f"{name}[{i}]", v, minimum, maximum) for i, v in enumerate(values)]


def check_seeds(name: str, seeds: Any) -> list[int]:
    """A non-empty iterable of non-negative integer seeds (a range, a list, ...).

    Raises
    ------
    TypeError, ValueError
        As :func:`check_counts` with minimum 0.
    """
    if isinstance(seeds, Iterable) and not isinstance(seeds, (str, bytes, Sequence,
                                                               np.ndarray)):
        seeds = list(seeds)                  # a generator: consumed once, here
    return check_counts(name, seeds, minimum=0)


def nonnegative_values(name: str, values: Any) -> np.ndarray:
    """A non-empty, finite, non-negative 1-D array (onsets, lengths, singular values).

    Raises
    ------
    TypeError
        ``values`` does not hold real numbers.
    ValueError
        wrong shape, NaN, infinite or negative entries.
    """
    arr = finite_array(name, values)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"`{name}` must be a non-empty 1-D array, got shape {arr.shape}.")
    if np.any(arr < 0):
        raise ValueError(f"`{name}` must be non-negative, got {arr.min():g}.")
    return arr


def check_window(onset: Any, length: Any, t_total: Any, onset_name: str = "onset",
                 length_name: str = "length") -> tuple[Any, Any, float]:
    """A deficit window [onset, onset + length] inside [0, t_total] (onset, length may be
    arrays of several windows).

    Returns
    -------
    onset, length : float or ndarray of shape (n,)
        Floats when given as numbers, arrays when given as sequences.
    t_total : float

    Raises
    ------
    TypeError, ValueError
        naming the argument; ValueError when a window ends after ``t_total``.
    """
    t_total = check_real("t_total", t_total, positive=True)
    onset = _nonnegative(onset_name, onset)
    length = _nonnegative(length_name, length)
    end = np.add(onset, length)
    if np.any(end > t_total):
        raise ValueError(f"the deficit window must end by `t_total` = {t_total:g}: "
                         f"`{onset_name}` + `{length_name}` reaches {end.max():g}.")
    return onset, length, t_total


def _nonnegative(name, value):
    """A number >= 0 (as float) or a sequence of them (as array)."""
    if isinstance(value, (list, tuple, range, np.ndarray)):
        return nonnegative_values(name, value)
    return check_real(name, value, minimum=0.0)
