"""What a sweep computes: :class:`SweepSpec` (axes, replicas, solver options) and its chunks.

A sweep is a grid (the product of ``axes``) or a list (``points``) of parameter settings; each
setting gets ``replicas`` random initial states. Member ``m = g * replicas + r`` is replica
``r`` of grid point ``g`` (C order over the axes). Replica states of grid point ``g`` are drawn
with ``Overlaps.random(..., batch=replicas, seed=[seed, g])``, so every number in the result
depends only on the spec, never on the chunking, the number of workers or an interruption.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..model import TeacherStudent

if TYPE_CHECKING:
    from ..multitask import MultiTaskSetup, Protocol

__all__ = ["SweepSpec", "SETUP_PARAMS", "INIT_PARAMS", "TASK_PARAMS", "Chunk"]

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
        Definitions of ``t_specialise`` and ``t_learn`` (:mod:`odesolve.observables`).
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
        known = set(SETUP_PARAMS) | set(INIT_PARAMS)
        if self.protocol is not None:
            known |= set(TASK_PARAMS)
            self.protocol = [dict(ph) for ph in self.protocol]
        self.base = {k: _scalar(x) for k, x in self.base.items()}
        unknown = set(self.base) - known
        if unknown:
            raise ValueError(f"unknown sweep parameter(s) {sorted(unknown)} in `base`; known: "
                             f"{sorted(known)}.")
        for k in ("K", "M"):
            if k not in self.base and k not in self.axes and not self._in_points(k):
                raise ValueError(f"`{k}` must be given, in `base`, `axes` or `points`.")
        if self.points is not None:
            if self.axes:
                raise ValueError("give either `axes` (a grid) or `points` (a list), not both.")
            if not self.points or not all(isinstance(p, dict) for p in self.points):
                raise ValueError("`points` must be a non-empty list of dicts of parameters.")
            self.points = [{k: _scalar(x) for k, x in p.items()} for p in self.points]
            for p in self.points:
                bad = set(p) - known
                if bad:
                    raise ValueError(f"unknown sweep parameter(s) {sorted(bad)} in `points`; "
                                     f"known: {sorted(known)}.")
        else:
            self.axes = {str(k): [_scalar(x) for x in (v.tolist() if isinstance(v, np.ndarray)
                                                        else v)]
                         for k, v in self.axes.items()}
            for k, v in self.axes.items():
                if k not in known:
                    raise ValueError(f"unknown swept parameter {k!r}; known: {sorted(known)}.")
                if len(v) == 0:
                    raise ValueError(f"axis {k!r} has no values.")
                if k in self.base:
                    raise ValueError(f"{k!r} is both fixed in `base` and swept in `axes`.")
        for name in ("replicas", "n_out", "chunk_size", "max_steps"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {val!r}.")
        if not (math.isfinite(self.t_max) and self.t_max > 0):
            raise ValueError(f"`t_max` must be a positive finite number, got {self.t_max!r}.")
        if self.method not in _METHODS:
            raise ValueError(f"`method` must be one of {_METHODS}, got {self.method!r}.")
        if self.keep not in ("eps_g", "summary"):
            raise ValueError(f"`keep` must be 'eps_g' or 'summary', got {self.keep!r}.")
        if self.method != "dopri5" and self.dt is None:
            self.dt = 0.01
        for name in ("rtol", "atol"):
            if not getattr(self, name) > 0:
                raise ValueError(f"`{name}` must be positive.")
        # build every grid point's setup once: bad values fail here, with the point named
        self._points = self._expand()
        self._setups = []
        for g, params in enumerate(self._points):
            try:
                self._setups.append(TeacherStudent(**self.setup_params(params)))
            except (TypeError, ValueError) as err:
                raise ValueError(f"grid point {g} {self.swept(params)}: {err}") from None
        if self.protocol is not None:
            for g in range(len(self._points)):
                try:
                    setup, protocol, _ = self.task_setup(g)
                    protocol.check(setup)
                except (TypeError, ValueError) as err:
                    raise ValueError(f"grid point {g}: protocol: {err}") from None

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


def _plain(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if hasattr(x, "g") and hasattr(x, "dg"):          # a custom odesolve.Activation
        return f"activation:{getattr(x, 'name', 'custom')}"
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")
