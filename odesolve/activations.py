"""Activation functions and how their Gaussian kernels are obtained.

``erf`` (g(x) = erf(x/sqrt 2)), ``linear`` and ``relu`` have kernels derived in closed form by
``odesolve derive`` (ReLU's I4 numerically); every other activation, ``tanh`` included, gets its
kernels by tensor-product quadrature from Numba-compiled g and g' (a truncated trapezoidal rule on
the normal weight, :mod:`odesolve.kernels.quadrature`; slower, but correct).
"""
from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numba

__all__ = ["Activation", "kernels_for", "activation_functions"]


@dataclass(frozen=True)
class Activation:
    """A user-supplied activation for the quadrature path.

    Parameters
    ----------
    name : str
        Label used in results and file names.
    g, dg : Numba-jitted functions float -> float
        The activation and its derivative, e.g. ``numba.njit(lambda x: math.tanh(x))``.
        Define them in a module (a file) so Numba can cache the compiled code.
    n_nodes : int
        Quadrature nodes per dimension (default: the module's choice).

    Examples
    --------
    >>> import math, numba
    >>> softsign = Activation("softsign", numba.njit(lambda x: x / (1 + abs(x))),
    ...                       numba.njit(lambda x: 1 / (1 + abs(x)) ** 2))
    """

    name: str
    g: Callable[[float], float]
    dg: Callable[[float], float]
    n_nodes: int | None = None

    def __post_init__(self) -> None:
        for attr in ("g", "dg"):
            f = getattr(self, attr)
            if not isinstance(f, numba.core.registry.CPUDispatcher):
                raise TypeError(f"`{attr}` of Activation {self.name!r} must be a Numba-jitted "
                                f"function (numba.njit), got {type(f).__name__}.")


@numba.njit(cache=True)
def _erf(x):
    return math.erf(x / math.sqrt(2.0))


@numba.njit(cache=True)
def _erf_prime(x):
    return math.sqrt(2.0 / math.pi) * math.exp(-0.5 * x * x)


@numba.njit(cache=True)
def _linear(x):
    return x


@numba.njit(cache=True)
def _one(x):
    return 1.0


@numba.njit(cache=True)
def _relu(x):
    return x if x > 0.0 else 0.0


@numba.njit(cache=True)
def _step(x):
    return 1.0 if x > 0.0 else 0.0


@numba.njit(cache=True)
def _tanh(x):
    return math.tanh(x)


@numba.njit(cache=True)
def _tanh_prime(x):
    t = math.tanh(x)
    return 1.0 - t * t


_BUILTIN = {"erf": (_erf, _erf_prime), "linear": (_linear, _one), "relu": (_relu, _step),
            "tanh": (_tanh, _tanh_prime)}


def activation_functions(
        activation: str | Activation) -> tuple[Callable[[float], float], Callable[[float], float]]:
    """Numba-compiled (g, g') of a named or user-supplied activation (for the simulator)."""
    if isinstance(activation, Activation):
        return activation.g, activation.dg
    try:
        return _BUILTIN[activation]
    except KeyError:
        raise ValueError(f"`activation` must be one of {tuple(_BUILTIN)} or an Activation; "
                         f"got {activation!r}.") from None


def kernels_for(activation: str | Activation) -> dict[str, Callable[..., float]]:
    """Compiled kernels ``{"I2", "J2", "I3", "I4"}`` of an activation.

    Closed-form activations use the generated modules in ``odesolve/kernels/_generated``;
    the others are tensor-product quadratures of their g and g' (trapezoidal rule).
    """
    from .derive import CLOSED_FORM_ACTIVATIONS

    if isinstance(activation, str) and activation in CLOSED_FORM_ACTIVATIONS:
        mod = importlib.import_module(f"odesolve.kernels._generated.{activation}")
        return {name: getattr(mod, name) for name in ("I2", "J2", "I3", "I4")}
    from .kernels.quadrature import quadrature_kernels

    g, dg = activation_functions(activation)
    n_nodes = getattr(activation, "n_nodes", None)
    return quadrature_kernels(g, dg) if n_nodes is None else quadrature_kernels(g, dg, n_nodes)
