"""Argument checks shared by the public API and the configuration loader.

Every check names the argument and the rule it breaks, and raises before any work starts:

* :class:`TypeError` when the value has the wrong type (a string where a number is expected,
  a float where an integer is expected, a number where a flag is expected);
* :class:`ValueError` when the type is right but the value is not allowed (out of range,
  not finite, not one of the choices).

Booleans are never accepted as numbers (``True`` is not a count), and integral floats are not
accepted as integers (``n_out = 2.5`` and ``n_out = 2.0`` are both refused: a count is written
as an integer). NumPy scalars are accepted like their Python counterparts.

Examples
--------
>>> from odesolve._checks import check_int, check_real
>>> check_int("n_out", 201, minimum=2)
201
>>> check_real("t_max", "100", positive=True)
Traceback (most recent call last):
...
TypeError: `t_max` must be a real number, got the string '100'.
"""
from __future__ import annotations

import numbers
import operator
from typing import Any, Iterable

__all__ = ["check_int", "check_real", "check_bool", "check_choice", "real_array", "describe"]


def describe(value: Any) -> str:
    """Short description of a value for error messages (type for the odd ones)."""
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, (numbers.Number,)) or value is None:
        return repr(value)
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def check_int(name: str, value: Any, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """``value`` as a Python int, checked to be an integer in [minimum, maximum].

    Raises
    ------
    TypeError
        ``value`` is not an integer (booleans, floats and strings are refused).
    ValueError
        ``value`` is outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer, got {describe(value)}.")
    value = operator.index(value)
    _check_range(name, value, minimum, maximum, "an integer")
    return value


def check_real(name: str, value: Any, minimum: float | None = None,
               maximum: float | None = None, *, positive: bool = False,
               allow_inf: bool = False) -> float:
    """``value`` as a Python float, checked to be a finite real number in range.

    Parameters
    ----------
    name : str
        Argument name used in the message.
    value : object
    minimum, maximum : float, optional
        Inclusive bounds.
    positive : bool
        Require ``value > 0`` (strictly).
    allow_inf : bool
        Accept +-inf (NaN is never accepted).

    Raises
    ------
    TypeError
        ``value`` is not a real number (booleans and strings are refused).
    ValueError
        ``value`` is NaN, infinite (unless allowed) or outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, got {describe(value)}.")
    value = float(value)
    if value != value:
        raise ValueError(f"`{name}` must be a number, got NaN.")
    if not allow_inf and value in (float("inf"), float("-inf")):
        raise ValueError(f"`{name}` must be finite, got {value}.")
    if positive and not value > 0:
        raise ValueError(f"`{name}` must be positive, got {value:g}.")
    _check_range(name, value, minimum, maximum, "a number")
    return value


def check_bool(name: str, value: Any) -> bool:
    """``value`` checked to be a boolean (``True``/``False``, also NumPy's; no strings or 0/1).

    Raises
    ------
    TypeError
    """
    if isinstance(value, bool):
        return value
    if type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"):
        return bool(value)                       # numpy.bool_ without importing numpy
    raise TypeError(f"`{name}` must be true or false, got {describe(value)}.")


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """``value`` checked to be one of the strings ``choices`` (case-sensitive).

    Raises
    ------
    TypeError
        ``value`` is not a string.
    ValueError
        ``value`` is not one of the choices; the message lists them.
    """
    choices = tuple(choices)
    listed = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be one of {listed}, got {describe(value)}.")
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {listed}, got {value!r}.")
    return value


def real_array(name: str, value: Any, copy: bool = True):
    """``value`` as a float64 NumPy array, checked to hold real numbers.

    ``copy=False`` returns a float64 input itself (no copy).

    Raises
    ------
    TypeError
        ``value`` holds strings, booleans or objects.
    ValueError
        ``value`` is ragged (not a rectangular array).
    """
    import numpy as np

    try:
        arr = np.asarray(value)
    except ValueError:
        raise ValueError(f"`{name}` must be a rectangular array of numbers.") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"`{name}` must be an array of real numbers, got dtype {arr.dtype}.")
    return arr.astype(np.float64, copy=copy)


def _check_range(name, value, minimum, maximum, kind):
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        raise ValueError(f"`{name}` must be {kind} in [{minimum:g}, {maximum:g}], got "
                         f"{value:g}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be {kind} >= {minimum:g}, got {value:g}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be {kind} <= {maximum:g}, got {value:g}.")
