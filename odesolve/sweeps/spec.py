"""What a sweep computes: :class:`SweepSpec` (axes, replicas, solver options) and its chunks.

A sweep is a grid (the product of ``axes``) or a list (``points``) of parameter settings; each
setting gets ``replicas`` random initial states. Member ``m = g * replicas + r`` is replica
``r`` of grid point ``g`` (C order over the axes). Replica states of grid point ``g`` are drawn
with ``Overlaps.random(..., batch=replicas, seed=[seed, g])``, so every number in the result
depends only on the spec, never on the chunking, the number of workers or an interruption.
"""
from __future__ import annotations

import hashlib
import inspect
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._checks import check_bool, check_choice, check_int, check_real, describe
from ..model import Overlaps, TeacherStudent, check_init_scales, check_readouts

if TYPE_CHECKING:
    from ..multitask import MultiTaskSetup, Protocol

__all__ = ["SweepSpec", "SweepPointError", "SETUP_PARAMS", "INIT_PARAMS", "TASK_PARAMS",
           "Chunk"]

#: parameters of :class:`~odesolve.TeacherStudent`
SETUP_PARAMS = ("K", "M", "activation", "eta", "eta_v", "sigma", "weight_decay")
#: parameters of :meth:`~odesolve.Overlaps.random` (the initialisation)
INIT_PARAMS = ("N", "student_std", "readout_std", "teacher_std", "readout_mean", "v_star")
#: parameters of multi-task sweeps (with a ``protocol``): teachers, heads, feature similarity
#: of the teachers, EWC strength of every phase after the first that has EWC
TASK_PARAMS = ("P", "heads", "feature_similarity", "ewc")
#: parameters that change the compiled problem (members are grouped by them)
_STRUCTURAL = ("K", "M", "activation")
_METHODS = ("dopri5", "rk4", "euler")
#: integer fields and their minimum
_COUNTS = {"replicas": 1, "n_out": 2, "max_steps": 1, "seed": 0, "chunk_size": 1}
#: real fields and their rule (``dt`` may also be None)
_REALS = {"t_max": {"positive": True}, "dt": {"positive": True}, "rtol": {"positive": True},
          "atol": {"minimum": 0.0}, "specialise_threshold": {"positive": True, "maximum": 1.0},
          "learn_fraction": {"positive": True, "maximum": 1.0}}


class SweepPointError(ValueError):
    """A grid point of a sweep is refused (by :class:`SweepSpec`, before any work).

    Attributes
    ----------
    index : int
        Flat index of the grid point.
    swept : dict
        The swept parameters of the point.
    name : str or None
        The parameter refused (an :data:`INIT_PARAMS` name, ``"protocol"``), or None when
        the model (:class:`~odesolve.TeacherStudent`) as a whole refused the point.
    reason : str
        The message of the check that failed (it names the parameter in backticks).
    """

    def __init__(self, index: int, swept: Mapping[str, Any], name: str | None,
                 reason: str) -> None:
        self.index, self.swept, self.name, self.reason = index, dict(swept), name, reason
        super().__init__(f"grid point {index} {self.swept}: {reason}")


def _parameter_names(protocol: bool = False) -> set[str]:
    """Names a sweep may fix or sweep: :data:`SETUP_PARAMS`, :data:`INIT_PARAMS` and, for a
    multi-task sweep (with a ``protocol``), :data:`TASK_PARAMS`."""
    return set(SETUP_PARAMS) | set(INIT_PARAMS) | (set(TASK_PARAMS) if protocol else set())


@dataclass(frozen=True)
class Chunk:
    """A piece of work: members ``grid[j], replica[j]`` of one structural group."""

    index: int
    grid: np.ndarray       # (n,) flat grid indices
    replica: np.ndarray    # (n,) replica indices


@dataclass
class SweepSpec:
    """A validated sweep description (plain data; JSON round-trip via :meth:`to_dict`).

    Parameters
    ----------
    base : dict
        Fixed parameters: any of :data:`SETUP_PARAMS` and :data:`INIT_PARAMS`.
    axes : dict of name -> list
        Swept parameters, in order (a grid over their product).
    points : list of dict, optional
        Instead of ``axes``: an explicit list of settings (one axis named ``point``).
    replicas : int
        Random initial states per grid point.
    t_max, n_out, log_times, times :
        Output times: ``times`` if given, else ``n_out`` points in [0, t_max] (log-spaced
        after 0 with ``log_times``).
    method, rtol, atol, dt, max_steps :
        Solver options (:func:`odesolve.integrate`).
    seed : int
        Root seed of the initial states.
    chunk_size : int
        Members per task (memory holds one chunk's trajectories at a time).
    protocol : list of dict, optional
        Phases (keyword arguments of :class:`odesolve.multitask.Phase`) of a multi-task
        protocol; then the parameters of :data:`TASK_PARAMS` may be fixed or swept, every
        member is integrated through the protocol (:func:`odesolve.multitask.integrate_protocol`)
        and the observables are those of :func:`odesolve.sweeps.chunk.protocol_observables`.
    keep : {"eps_g", "summary"}
        Keep each member's eps_g curve, or only the summary observables.
    specialise_threshold, learn_fraction : float
        Definitions of ``t_specialise`` and ``t_learn`` (:mod:`odesolve.observables`), in
        (0, 1].

    Raises
    ------
    TypeError
        A field has the wrong type (e.g. ``n_out=2.0``, ``log_times="no"``, ``axes="eta"``).
    ValueError
        A field is out of range (``replicas``, ``chunk_size``, ``max_steps`` >= 1, ``n_out``
        >= 2, ``seed`` >= 0, ``t_max``, ``dt``, ``rtol`` > 0, ``atol`` >= 0, finite), an
        unknown or missing parameter; :class:`SweepPointError` when the model or the
        initialisation of a grid point is refused (checked for every point when the spec is
        built, before any work).
    """

    base: dict[str, Any] = field(default_factory=dict)
    axes: dict[str, Sequence[Any] | np.ndarray] = field(default_factory=dict)
    points: list[dict[str, Any]] | None = None
    replicas: int = 4
    t_max: float = 100.0
    n_out: int = 101
    log_times: bool = False
    times: list[float] | None = None
    method: str = "dopri5"
    rtol: float = 1e-6
    atol: float = 1e-8
    dt: float | None = None
    max_steps: int = 10**7
    seed: int = 0
    chunk_size: int = 2048
    protocol: list[dict[str, Any]] | None = None
    keep: Literal["eps_g", "summary"] = "eps_g"
    specialise_threshold: float = 0.5
    learn_fraction: float = 0.01

    def __post_init__(self) -> None:
        self._check_options()
        known = _parameter_names(self.protocol is not None)
        if self.protocol is not None:
            self.protocol = _phases(self.protocol)
        self.base = _parameters("base", self.base, known)
        if self.points is not None:
            if self.axes:
                raise ValueError("give either `axes` (a grid) or `points` (a list), not both.")
            self.points = _points(self.points, known)
        else:
            self.axes = _axes(self.axes, known, self.base)
        for k in ("K", "M"):
            if k not in self.base and k not in self.axes and not self._in_points(k):
                raise ValueError(f"`{k}` must be given, in `base`, `axes` or `points`.")
        # every grid point's model and initialisation once: bad values fail here, before any
        # work, with the point named
        self._points = self._expand()
        self._setups = [self._check_point(g, params) for g, params in enumerate(self._points)]
        if self.protocol is not None:
            for g in range(len(self._points)):
                try:
                    setup, protocol, _ = self.task_setup(g)
                    protocol.check(setup)
                except (TypeError, ValueError) as err:
                    raise SweepPointError(g, self.swept(self._points[g]), "protocol",
                                          f"protocol: {err}") from None
        self._check_times()

    def _check_options(self) -> None:
        """The solver, output and bookkeeping fields, checked with odesolve._checks (values
        are kept as given, so that the fingerprint of a valid spec does not change)."""
        for name, minimum in _COUNTS.items():
            setattr(self, name, check_int(name, getattr(self, name), minimum=minimum))
        for name, rule in _REALS.items():
            value = getattr(self, name)
            if name == "dt" and value is None:
                continue                                 # the method's default, set below
            setattr(self, name, _number(value, check_real(name, value, **rule)))
        self.log_times = check_bool("log_times", self.log_times)
        method = self.method.lower() if isinstance(self.method, str) else self.method
        self.method = check_choice("method", method, _METHODS)
        self.keep = check_choice("keep", self.keep, ("eps_g", "summary"))
        if self.method != "dopri5" and self.dt is None:
            self.dt = 0.01

    def _check_point(self, g: int, params: Mapping[str, Any]) -> TeacherStudent:
        """The model of grid point ``g``, and its initialisation checked as
        :meth:`~odesolve.Overlaps.random` checks it (without drawing states).

        Raises
        ------
        SweepPointError
        """
        try:
            setup = TeacherStudent(**self.setup_params(params))
        except (TypeError, ValueError) as err:
            raise SweepPointError(g, self.swept(params), None, str(err)) from None
        for name, value in self.init_params(params).items():
            try:
                _check_init_param(name, value, setup.M, self.protocol is not None)
            except (TypeError, ValueError) as err:
                raise SweepPointError(g, self.swept(params), name, str(err)) from None
        return setup

    def _check_times(self) -> None:
        """``times`` (and its agreement with ``t_max``) checked as integrate checks them."""
        if self.times is None:
            return
        from ..integration import check_times

        check_times(self.times)
        if self.protocol is None:
            self.output_times()

    def _in_points(self, key) -> bool:
        return self.points is not None and all(key in p for p in self.points)

    # -- the grid ------------------------------------------------------------------------
    @property
    def dims(self) -> tuple[str, ...]:
        """Names of the grid axes (``("point",)`` for a list of settings)."""
        return ("point",) if self.points is not None else tuple(self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        """Grid shape (without the replica axis)."""
        if self.points is not None:
            return (len(self.points),)
        return tuple(len(v) for v in self.axes.values())

    @property
    def n_grid(self) -> int:
        """Number of grid points."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def n_members(self) -> int:
        """Number of members: grid points times replicas."""
        return self.n_grid * self.replicas

    def grid_points(self) -> list[dict[str, Any]]:
        """Parameters of every grid point (base + swept), flat C order."""
        return self._points

    def _expand(self) -> list:
        if self.points is not None:
            return [{**self.base, **p} for p in self.points]
        names = list(self.axes)
        return [{**self.base, **dict(zip(names, combo))}
                for combo in itertools.product(*self.axes.values())]

    def swept(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The swept part of a grid point's parameters."""
        keys = set().union(*self.points) if self.points is not None else set(self.axes)
        return {k: params[k] for k in params if k in keys}

    @staticmethod
    def setup_params(params: Mapping[str, Any]) -> dict[str, Any]:
        """The :class:`~odesolve.TeacherStudent` part of a grid point's parameters."""
        return {k: params[k] for k in SETUP_PARAMS if k in params}

    @staticmethod
    def init_params(params: Mapping[str, Any]) -> dict[str, Any]:
        """The initialisation part (:meth:`~odesolve.Overlaps.random`) of a grid point's
        parameters."""
        return {k: params[k] for k in INIT_PARAMS if k in params}

    def task_setup(self, g: int) -> tuple[MultiTaskSetup, Protocol, float]:
        """Grid point ``g`` as (MultiTaskSetup, Protocol, feature similarity) (protocol mode)."""
        from ..multitask import MultiTaskSetup, Phase, Protocol

        params = self._points[g]
        s = self._setups[g]
        setup = MultiTaskSetup(s.K, s.M, P=int(params.get("P", 2)),
                               heads=params.get("heads", "multi"), activation=s.activation,
                               eta=s.eta, eta_v=s.eta_v, sigma=s.sigma,
                               weight_decay=s.weight_decay)
        phases = []
        for ph in self.protocol:
            ph = dict(ph)
            if "ewc" in params and ph.get("ewc") is not None:
                ph["ewc"] = float(params["ewc"])
            phases.append(Phase(**ph))
        return setup, Protocol(tuple(phases)), float(params.get("feature_similarity", 0.0))

    def setup(self, g: int) -> TeacherStudent:
        """The :class:`~odesolve.TeacherStudent` of grid point ``g``."""
        return self._setups[g]

    def output_times(self) -> np.ndarray:
        """The output times of every member, shape (n,)."""
        from ..integration import output_times

        if self.protocol is not None:
            from ..multitask.ode import _phase_times

            return _phase_times(self.task_setup(0)[1], self.n_out, self.times)
        if self.times is not None:
            return output_times(self.t_max, self.times)
        if self.log_times:
            if self.n_out == 2:
                return np.array([0.0, float(self.t_max)])
            first = min(1e-2, self.t_max / 10)
            return np.concatenate([[0.0], np.geomspace(first, self.t_max, self.n_out - 1)])
        return np.linspace(0.0, self.t_max, self.n_out)

    def structural_key(self, g: int) -> tuple[int, int, str]:
        """``(K, M, activation name)`` of grid point ``g``: members sharing it share the
        compiled problem."""
        s = self._setups[g]
        return (s.K, s.M, s.activation_name)

    @property
    def fixed_shapes(self) -> bool:
        """True when K and M are the same at every grid point (final states can be stored)."""
        if self.protocol is not None:
            return False
        return len({self.structural_key(g)[:2] for g in range(self.n_grid)}) == 1

    def chunks(self) -> list[Chunk]:
        """The work split into chunks of at most ``chunk_size`` members of one group."""
        groups: dict = {}
        for g in range(self.n_grid):
            groups.setdefault(self.structural_key(g), []).append(g)
        out = []
        for gs in groups.values():
            members = np.array([(g, r) for g in gs for r in range(self.replicas)],
                               dtype=np.int64).reshape(-1, 2)
            for lo in range(0, members.shape[0], self.chunk_size):
                part = members[lo:lo + self.chunk_size]
                out.append(Chunk(len(out), part[:, 0].copy(), part[:, 1].copy()))
        return out

    # -- identity ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fields as plain data (:meth:`from_dict` inverts it)."""
        return {"base": self.base, "axes": self.axes, "points": self.points,
                "replicas": self.replicas, "t_max": self.t_max, "n_out": self.n_out,
                "log_times": self.log_times, "times": self.times, "method": self.method,
                "rtol": self.rtol, "atol": self.atol, "dt": self.dt,
                "max_steps": self.max_steps, "seed": self.seed, "chunk_size": self.chunk_size,
                "protocol": self.protocol,
                "keep": self.keep, "specialise_threshold": self.specialise_threshold,
                "learn_fraction": self.learn_fraction}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SweepSpec:
        """The spec of :meth:`to_dict`'s output."""
        return cls(**d)

    def fingerprint(self) -> str:
        """Hash of everything that determines the results (resume refuses a different one)."""
        text = json.dumps(self.to_dict(), sort_keys=True, default=_plain)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _scalar(x):
    """numpy scalars as Python ones (exact JSON round trip of the spec)."""
    return x.item() if isinstance(x, np.generic) else x


def _number(value, checked: float):
    """A checked real as stored: a Python int or float as given (an int ``t_max`` stays an
    int, so the fingerprint of a valid spec is unchanged), anything else as the float."""
    value = _scalar(value)
    return value if type(value) in (int, float) else checked


def _check_names(where: str, names, known) -> None:
    """Refuse parameter names that a sweep does not know, naming ``where`` they came from."""
    unknown = sorted(set(names) - set(known), key=str)
    if unknown:
        raise ValueError(f"unknown sweep parameter(s) {unknown} in `{where}`; known: "
                         f"{sorted(known)}.")


def _parameters(where: str, params, known) -> dict[str, Any]:
    """A dict of fixed parameters (``base`` or one of ``points``), checked and plain."""
    if not isinstance(params, Mapping):
        raise TypeError(f"`{where}` must be a dict of parameter name -> value, got "
                        f"{describe(params)}.")
    _check_names(where, params, known)
    return {k: _scalar(x) for k, x in params.items()}


def _axes(axes, known, base) -> dict[str, list]:
    """``axes`` as {name: list of plain values}, checked."""
    if not isinstance(axes, Mapping):
        raise TypeError(f"`axes` must be a dict of parameter name -> list of values, got "
                        f"{describe(axes)}.")
    out = {}
    for k, v in axes.items():
        k = str(k)
        if k not in known:
            raise ValueError(f"unknown swept parameter {k!r}; known: {sorted(known)}.")
        if isinstance(v, np.ndarray):
            v = v.tolist()
        if isinstance(v, (str, bytes)) or not isinstance(v, Sequence):
            raise TypeError(f"`axes[{k!r}]` must be a list of values, got {describe(v)}.")
        if len(v) == 0:
            raise ValueError(f"axis {k!r} has no values.")
        if k in base:
            raise ValueError(f"{k!r} is both fixed in `base` and swept in `axes`.")
        out[k] = [_scalar(x) for x in v]
    return out


def _points(points, known) -> list[dict[str, Any]]:
    """``points`` as a list of plain dicts, checked."""
    if isinstance(points, (str, bytes, Mapping)) or not isinstance(points, Sequence):
        raise TypeError(f"`points` must be a list of dicts of parameters, got "
                        f"{describe(points)}.")
    if not points:
        raise ValueError("`points` must be a non-empty list of dicts of parameters.")
    return [_parameters(f"points[{i}]", p, known) for i, p in enumerate(points)]


def _phases(protocol) -> list[dict[str, Any]]:
    """``protocol`` as a list of plain dicts (the keyword arguments of the phases)."""
    if isinstance(protocol, (str, bytes, Mapping)) or not isinstance(protocol, Sequence) \
            or not all(isinstance(ph, Mapping) for ph in protocol):
        raise TypeError(f"`protocol` must be a list of dicts (keyword arguments of "
                        f"odesolve.multitask.Phase), got {describe(protocol)}.")
    return [dict(ph) for ph in protocol]


_RANDOM_DEFAULTS = {n: p.default for n, p in
                    inspect.signature(Overlaps.random).parameters.items()}
_SCALES = ("student_std", "readout_std", "teacher_std", "readout_mean")


def _check_init_param(name: str, value, M: int, protocol: bool) -> None:
    """One :data:`INIT_PARAMS` value checked by the checks of :meth:`Overlaps.random` (a
    multi-task sweep gives every teacher unit the same readout, a number)."""
    if name == "N":
        check_int("N", value, minimum=1)
    elif name == "v_star":
        if protocol:
            check_real("v_star", value)
        else:
            check_readouts("v_star", value, M)
    else:
        check_init_scales(**{**{k: _RANDOM_DEFAULTS[k] for k in _SCALES}, name: value})


def _plain(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if hasattr(x, "g") and hasattr(x, "dg"):          # a custom odesolve.Activation
        return f"activation:{getattr(x, 'name', 'custom')}"
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")
