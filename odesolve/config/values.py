"""Checks of one configuration value against its :class:`~odesolve.config.schema.Key`.

A checker takes ``(key, value, ctx, name)`` and returns the value or raises TypeError (a wrong
type) or ValueError (a wrong value) with a message naming ``name``;
:mod:`odesolve.config.validate` turns these into a ConfigError naming the section, and checks
the kinds whose values hold further keys (``axes``, ``points``, ``phases``) itself.
"""
from __future__ import annotations

import numpy as np

from .._checks import check_bool, check_choice, check_int, check_real, describe
from .schema import Key

__all__ = ["VALUE_CHECKERS"]


def _check_str(key: Key, value, ctx, name):
    if not isinstance(value, str) or not value:
        raise TypeError(f"`{name}` must be a non-empty string, got {describe(value)}.")
    return value


def _check_reals(key: Key, value, ctx, name):
    if not isinstance(value, list) or not value:
        raise TypeError(f"`{name}` must be a non-empty list of numbers, got {describe(value)}.")
    return [check_real(f"{name}[{i}]", x) for i, x in enumerate(value)]


def _check_real_or_reals(key: Key, value, ctx, name):
    if isinstance(value, list):
        return _check_reals(key, value, ctx, name)
    return check_real(name, value)


def _check_array(key: Key, value, ctx, name):
    """Nested lists of numbers, rectangular, with at least ``key.minimum`` dimensions (a
    leading batch axis is allowed)."""
    def leaves(x, label):
        if isinstance(x, list):
            if not x:
                raise ValueError(f"`{label}` must not be empty.")
            for i, item in enumerate(x):
                leaves(item, f"{label}[{i}]")
        else:
            check_real(label, x)

    if not isinstance(value, list):
        raise TypeError(f"`{name}` must be an array (nested lists of numbers), got "
                        f"{describe(value)}.")
    leaves(value, name)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except ValueError:
        raise ValueError(f"`{name}` must be rectangular (rows of equal length).") from None
    if arr.ndim < key.minimum:
        what = "a matrix (a list of rows)" if key.minimum == 2 else "a list of numbers"
        raise ValueError(f"`{name}` must be {what}, got shape {arr.shape}.")
    return value


def _check_times(key: Key, value, ctx, name):
    times = _check_reals(key, value, ctx, name)
    if times[0] < 0 or any(b <= a for a, b in zip(times, times[1:])):
        raise ValueError(f"`{name}` must be strictly increasing numbers >= 0, got "
                         f"{describe(value)}.")
    return times


def _check_seeds(key: Key, value, ctx, name):
    if isinstance(value, list):
        seeds = [check_int(f"{name}[{i}]", s, minimum=0) for i, s in enumerate(value)]
        if len(seeds) < key.minimum:
            raise ValueError(f"`{name}` must hold at least {key.minimum:g} seeds (the "
                             f"standard error needs them), got {len(seeds)}.")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"`{name}` must hold distinct seeds, got {seeds}.")
        return seeds
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"`{name}` must be a count or a list of seeds, got "
                        f"{describe(value)}.")
    return check_int(name, value, minimum=key.minimum)



def _check_names(key: Key, value, ctx, name):
    """A non-empty list of distinct names, each one of ``key.choices``."""
    if not isinstance(value, (list, tuple)) or not value:
        raise TypeError(f"`{name}` must be a non-empty list of names out of "
                        f"{list(key.choices)}, got {describe(value)}.")
    names = [check_choice(f"{name}[{i}]", x, key.choices) for i, x in enumerate(value)]
    if len(set(names)) != len(names):
        raise ValueError(f"`{name}` must hold distinct names, got {names}.")
    return names


def _check_start(key: Key, value, ctx, name):
    """One of ``key.choices`` or a real number >= 0."""
    if isinstance(value, str):
        return check_choice(name, value, key.choices)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` must be one of {list(key.choices)} or a number >= 0, got "
                        f"{describe(value)}.")
    return check_real(name, value, 0.0)


def _check_int(key, value, ctx, name):
    return check_int(name, value, key.minimum, key.maximum)


def _check_real(key, value, ctx, name):
    return check_real(name, value, key.minimum, key.maximum, positive=key.positive)


#: the checker of each kind of key whose value is checked on its own
VALUE_CHECKERS = {
    "int": _check_int,
    "real": _check_real,
    "bool": lambda key, value, ctx, name: check_bool(name, value),
    "choice": lambda key, value, ctx, name: check_choice(name, value, key.choices),
    "str": _check_str,
    "real_or_reals": _check_real_or_reals,
    "array": _check_array,
    "times": _check_times,
    "seeds": _check_seeds,
    "names": _check_names,
    "start": _check_start,
}
