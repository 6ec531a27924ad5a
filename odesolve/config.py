"""TOML run configurations: ``[setup]``, ``[init]``, ``[solver]``, ``[output]``.

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
           "solver_options", "ConfigError"]

_SETUP_KEYS = {"K", "M", "activation", "eta", "eta_v", "sigma", "weight_decay"}
_RANDOM_KEYS = {"kind", "N", "student_std", "readout_std", "teacher_std", "v_star", "seed",
                "batch", "readout_mean"}
_OVERLAP_KEYS = {"kind", "Q", "R", "T", "v", "v_star"}
_SOLVER_KEYS = {"method", "t_max", "dt", "rtol", "atol", "n_out", "times", "log_times",
                "max_steps"}


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
