"""An ODE problem: compiled right-hand side, validity check, work size and cache tag."""
from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from typing import Callable, Union

import numba
import numpy as np

from .._jit import source_tag

__all__ = ["Problem", "always_valid"]


@numba.njit(cache=True)
def always_valid(t: float, y: np.ndarray, p: np.ndarray, work: np.ndarray) -> bool:
    """Default ``is_valid``: every state is admissible."""
    return True


def _is_jitted(func) -> bool:
    return hasattr(func, "py_func") and hasattr(func, "compile")


@dataclass(eq=False)
class Problem:
    """An ODE system ``y' = rhs(t, y; p)`` in the form the compiled solvers need.

    Parameters
    ----------
    rhs : numba dispatcher
        ``rhs(t, y (n,), p (n_p,), work (n_work,), out (n,)) -> None``; writes dy/dt into
        ``out`` and allocates nothing (contract in ARCHITECTURE.md).
    is_valid : numba dispatcher, optional
        ``is_valid(t, y (n,), p (n_p,), work (n_work,)) -> bool``; False stops the member with
        status ``INVALID``. Default: always True.
    n_work : int or callable, default 0
        Length of the scratch array ``work``, or a callable ``n_work(p) -> int`` receiving the
        whole parameter array, shape (B, n_p), and returning the size needed by every member
        (an int, or per-member sizes of shape (B,) of which the maximum is used). It is called
        once per :func:`solve`, never per member.
    name : str
        Label for messages and reports; also part of :attr:`tag`.
    depends_on : tuple
        Further objects (modules, functions, strings) the callees depend on, e.g. modules of
        kernels they call; they enter :attr:`tag`, so that changing them recompiles the solver
        instead of reusing a stale Numba cache entry.
    """

    rhs: Callable
    is_valid: Callable | None = None
    n_work: Union[int, Callable] = 0
    name: str = ""
    depends_on: tuple = field(default=())

    def __post_init__(self):
        if self.is_valid is None:
            self.is_valid = always_valid
        if not _is_jitted(self.rhs):
            raise TypeError("`rhs` must be a Numba-jitted function (numba.njit).")
        if not _is_jitted(self.is_valid):
            raise TypeError("`is_valid` must be a Numba-jitted function (numba.njit).")
        if not callable(self.n_work):
            self.n_work = _check_work_size(self.n_work)
        self.depends_on = tuple(self.depends_on)

    @functools.cached_property
    def tag(self) -> str:
        """Cache tag of the solvers specialised for this problem.

        Hash of the source of ``rhs`` and ``is_valid`` and of the modules defining them, of
        their qualified names (a specialised function shares its template's source, but not
        its name), of :attr:`name` and of ``depends_on``.
        """
        funcs = (self.rhs.py_func, self.is_valid.py_func)
        names = [f"{f.__module__}.{f.__qualname__}" for f in funcs]
        modules = [sys.modules[f.__module__] for f in funcs if f.__module__ in sys.modules]
        return source_tag(self.rhs, self.is_valid, *modules, *names, self.name,
                          *self.depends_on)

    def work_size(self, p: np.ndarray) -> int:
        """Size of ``work`` for parameter rows ``p``, shape (B, n_p)."""
        if not callable(self.n_work):
            return self.n_work
        return _check_work_size(np.max(np.asarray(self.n_work(p))))


def _check_work_size(value) -> int:
    try:
        size = int(value)
        ok = size == value and size >= 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"`n_work` must be a non-negative integer, got {value!r}.")
    return size
