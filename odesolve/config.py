"""TOML run configurations: ``[setup]``, ``[init]``, ``[solver]``, ``[output]`` and, for
``odesolve compare``, ``[simulation]`` (N, seeds, test_set, tolerance_k, tolerance_c).

See ``odesolve/data/default.toml`` for an annotated example (the built-in default run).
"""
from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import numpy as np

from .model import Overlaps, TeacherStudent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["load_config", "default_config", "setup_from_config", "state_from_config",
           "solver_options", "simulation_options", "sweep_spec_from_config", "ConfigError"]

_SETUP_KEYS = {"K", "M", "activation", "eta", "eta_v", "sigma", "weight_decay"}
_RANDOM_KEYS = {"kind", "N", "student_std", "readout_std", "teacher_std", "v_star", "seed",
                "batch", "readout_mean"}
_OVERLAP_KEYS = {"kind", "Q", "R", "T", "v", "v_star"}
_SOLVER_KEYS = {"method", "t_max", "dt", "rtol", "atol", "n_out", "times", "log_times",
                "max_steps"}
_SIMULATION_KEYS = {"N", "seeds", "test_set", "tolerance_k", "tolerance_c"}


class ConfigError(ValueError):
    """A configuration file is malformed; the message names the section and key."""


def default_config() -> dict:
    """The built-in default configuration (``odesolve/data/default.toml``)."""
    text = resources.files("odesolve").joinpath("data/default.toml").read_text()
    return tomllib.loads(text)


def load_config(path) -> dict:
    """Read a TOML configuration file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {str(path)!r} does not exist.")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: {err}") from None


def _section(config, name, allowed, required=()):
    sec = config.get(name)
    if sec is None:
        raise ConfigError(f"missing section [{name}].")
    unknown = set(sec) - allowed
    if unknown:
        raise ConfigError(f"[{name}] has unknown key(s) {sorted(unknown)}; allowed: "
                          f"{sorted(allowed)}.")
    missing = [k for k in required if k not in sec]
    if missing:
        raise ConfigError(f"[{name}] is missing {missing}.")
    return sec


def setup_from_config(config: dict) -> TeacherStudent:
    sec = _section(config, "setup", _SETUP_KEYS, ("K", "M"))
    try:
        return TeacherStudent(**sec)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"[setup]: {err}") from None


def state_from_config(config: dict, setup: TeacherStudent) -> Overlaps:
    init = config.get("init", {})
    kind = init.get("kind", "random")
    try:
        if kind == "random":
            _section(config, "init", _RANDOM_KEYS)
            kw = {k: init[k] for k in init if k != "kind"}
            return Overlaps.random(setup.K, setup.M, **kw)
        if kind == "overlaps":
            sec = _section(config, "init", _OVERLAP_KEYS, ("Q", "R", "T", "v", "v_star"))
            return Overlaps(*(np.asarray(sec[k], dtype=float)
                              for k in ("Q", "R", "T", "v", "v_star")))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"[init]: {err}") from None
    raise ConfigError(f"[init] kind must be 'random' or 'overlaps', got {kind!r}.")


def solver_options(config: dict) -> dict:
    """Keyword arguments for :func:`odesolve.integrate` from ``[solver]``."""
    sec = dict(_section(config, "solver", _SOLVER_KEYS, ("t_max",)))
    if sec.pop("log_times", False) and "times" not in sec:
        n = int(sec.get("n_out", 201))
        t_max = float(sec["t_max"])
        sec["times"] = np.concatenate([[0.0], np.geomspace(min(1e-2, t_max / 10), t_max,
                                                           n - 1)])
    return sec


def simulation_options(config: dict) -> dict:
    """Keyword arguments for :func:`odesolve.compare` from ``[simulation]``.

    ``N`` (default 10 000), ``seeds`` (a count, meaning ``range(seeds)``, or a list of seeds;
    default 8), ``test_set`` (default 0), ``tolerance_k`` and ``tolerance_c`` (optional).
    """
    sec = dict(_section(config, "simulation", _SIMULATION_KEYS)) if "simulation" in config else {}
    seeds = sec.get("seeds", 8)
    if isinstance(seeds, bool) or not isinstance(seeds, (int, list)):
        raise ConfigError(f"[simulation] seeds must be a count or a list of integers, got "
                          f"{seeds!r}.")
    if isinstance(seeds, int):
        if seeds < 2:
            raise ConfigError(f"[simulation] seeds must be at least 2, got {seeds}.")
        seeds = list(range(seeds))
    sec["seeds"] = seeds
    N = sec.get("N", 10_000)
    if isinstance(N, bool) or not isinstance(N, int) or N < 1:
        raise ConfigError(f"[simulation] N must be a positive integer, got {N!r}.")
    sec["N"] = N
    return sec


_SWEEP_KEYS = {"axes", "points", "replicas", "seed", "chunk_size", "keep",
               "specialise_threshold", "learn_fraction", "protocol"}
_TASK_KEYS = {"P", "heads", "feature_similarity", "ewc"}


def sweep_spec_from_config(config: dict):
    """A :class:`~odesolve.sweeps.SweepSpec` from ``[setup]`` (fixed model parameters; K and M
    may instead be swept), ``[init]`` (fixed ``Overlaps.random`` parameters), ``[solver]`` and
    ``[sweep]`` (``axes`` table or ``points`` array of tables, ``replicas``, ``seed``,
    ``chunk_size``, ``keep``, ``specialise_threshold``, ``learn_fraction``, and for
    multi-task sweeps ``[[sweep.protocol]]`` phase tables; then ``[setup]`` may also hold
    ``P``, ``heads``, ``feature_similarity`` and ``ewc``).

    See ``odesolve/data/sweep.toml`` for an annotated example.
    """
    from .sweeps import SweepSpec

    sec = dict(_section(config, "sweep", _SWEEP_KEYS))
    setup = dict(config.get("setup", {}))
    unknown = set(setup) - _SETUP_KEYS - (_TASK_KEYS if "protocol" in sec else set())
    if unknown:
        raise ConfigError(f"[setup] has unknown key(s) {sorted(unknown)}; allowed: "
                          f"{sorted(_SETUP_KEYS)}.")
    init = dict(config.get("init", {}))
    if init.pop("kind", "random") != "random":
        raise ConfigError("[init] of a sweep must be random initialisation parameters "
                          "(kind = 'random').")
    bad = set(init) - (_RANDOM_KEYS - {"kind", "seed", "batch"})
    if bad:
        raise ConfigError(f"[init] of a sweep has unknown key(s) {sorted(bad)} (the seed of a "
                          "sweep is [sweep] seed).")
    solver = dict(_section(config, "solver", _SOLVER_KEYS, ("t_max",)))
    swept = set(sec.get("axes", {})) | {k for p in sec.get("points", []) for k in p}
    base = {k: v for k, v in {**setup, **init}.items() if k not in swept}
    try:
        return SweepSpec(base=base, axes=sec.pop("axes", {}), points=sec.pop("points", None),
                         **sec, **solver)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"[sweep]: {err}") from None
