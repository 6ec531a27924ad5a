"""A whole configuration checked for one command before any work starts.

:func:`validate_config` stops at the first problem: an unknown or misplaced section or key
gets the nearest known name, a missing required one is named, and every value is checked
against its key (by :mod:`odesolve.config.values`, and here the tables of a sweep:
``[sweep.axes]``, ``[[sweep.points]]``, ``[[sweep.protocol]]``). Every error is a
:class:`ConfigError` naming the section and the key.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from .._checks import check_choice, describe
from .schema import (_INIT_OVERLAPS, _INIT_RANDOM, _PHASE, _SETUP, _SWEEP_INIT_KEYS,
                     _TOP_SECTIONS, COMMAND_SECTIONS, COMMANDS, SCHEMA, Key, Section)
from .values import VALUE_CHECKERS

__all__ = ["ConfigError", "validate_config"]


class ConfigError(ValueError):
    """A configuration file is malformed; the message names the section and key."""


@dataclass(frozen=True)
class _Context:
    command: str
    protocol: bool = False


# -- the tables of a sweep ---------------------------------------------------------------------
def _parameter_key(name: str, ctx: _Context, where: str) -> Key:
    """The Key of a parameter a sweep fixes or sweeps (its checks apply to every value)."""
    known = [k for k in _SETUP.keys if not k.needs_protocol or ctx.protocol]
    known += [_INIT_RANDOM.key(n) for n in _SWEEP_INIT_KEYS]
    by_name = {k.name: k for k in known}
    if name not in by_name:
        task = _SETUP.key(name)
        if task is not None:
            raise ConfigError(f"[{where}] `{name}` needs [[sweep.protocol]] phases "
                              "(a multi-task sweep).")
        raise ConfigError(f"[{where}] unknown parameter `{name}`{_suggest(name, by_name)}")
    return by_name[name]


def _check_axes(key: Key, value, ctx, name):
    if not isinstance(value, dict) or not value:
        raise TypeError(f"`{name}` must be a table of parameter = [values], got "
                        f"{describe(value)}.")
    for param, values in value.items():
        pkey = _parameter_key(param, ctx, "sweep.axes")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"[sweep.axes] `{param}` must be a non-empty list of values, "
                              f"got {describe(values)}.")
        for i, x in enumerate(values):
            _check_value(pkey, x, "sweep.axes", ctx, f"{param}[{i}]")
    return value


def _check_tables(value, name):
    if not isinstance(value, list) or not value or not all(isinstance(t, dict) for t in value):
        raise TypeError(f"`{name}` must be an array of tables ([[sweep.{name}]]), got "
                        f"{describe(value)}.")


def _check_points(key: Key, value, ctx, name):
    _check_tables(value, name)
    for i, point in enumerate(value):
        where = f"sweep.points {i + 1}"
        if not point:
            raise ConfigError(f"[[{where}]] is empty; give the parameters of this point.")
        for param, x in point.items():
            _check_value(_parameter_key(param, ctx, where), x, where, ctx)
    return value


def _check_phases(key: Key, value, ctx, name):
    _check_tables(value, name)
    for i, phase in enumerate(value):
        _validate_table(_PHASE, phase, ctx, where=f"sweep.protocol {i + 1}")
    return value


_CHECKERS = {**VALUE_CHECKERS, "axes": _check_axes, "points": _check_points,
             "phases": _check_phases}


def _check_value(key: Key, value, where: str, ctx: _Context, name: str | None = None):
    """``value`` checked against ``key``; TypeError/ValueError become a ConfigError naming
    the section."""
    try:
        return _CHECKERS[key.kind](key, value, ctx, name or key.name)
    except (TypeError, ValueError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"[{where}] {err}") from None


# -- sections ----------------------------------------------------------------------------------
def _suggest(name: str, known) -> str:
    """'; did you mean `x`?' for the nearest known name, else the list of known names."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if close:
        return f"; did you mean `{close[0]}`?"
    return f"; known: {', '.join(sorted(known))}."


def _home_of(name: str, command: str, exclude: str = "") -> str:
    """Sections (read by ``command``) that declare a key ``name``."""
    wanted = set(sum(COMMAND_SECTIONS[command], ()))
    homes = [s.name for s in SCHEMA if s.name in wanted and s.name != exclude and s.key(name)
             and command in s.key(name).commands]
    return " or ".join(f"[{h}]" for h in dict.fromkeys(homes))


def _unknown_key(section: Section, name: str, ctx: _Context, where: str) -> str:
    if section.name == "init":
        other = _INIT_OVERLAPS if section.variant == "random" else _INIT_RANDOM
        if other.key(name) is not None:
            return (f"[init] `{name}` is a key of kind = '{other.variant}', but this [init] "
                    f"has kind = '{section.variant}'.")
    home = _home_of(name, ctx.command, exclude=section.name)
    if home and not difflib.get_close_matches(name, [k.name for k in section.keys], 1, 0.8):
        return f"[{where}] unknown key `{name}`; it belongs in {home}."
    return f"[{where}] unknown key `{name}`{_suggest(name, [k.name for k in section.keys])}"


def _validate_table(section: Section, table, ctx: _Context, where: str | None = None):
    where = where or section.name
    if not isinstance(table, dict):
        raise ConfigError(f"[{where}] must be a table of keys, got {describe(table)}.")
    for name, value in table.items():
        key = section.key(name)
        if key is None:
            raise ConfigError(_unknown_key(section, name, ctx, where))
        if ctx.command not in key.commands:
            note = f" ({key.note})" if key.note else ""
            raise ConfigError(f"[{where}] `{name}` is not read by `odesolve {ctx.command}`"
                              f"{note}; remove it.")
        if key.needs_protocol and not ctx.protocol:
            raise ConfigError(f"[{where}] `{name}` needs [[sweep.protocol]] phases (a "
                              "multi-task sweep).")
        _check_value(key, value, where, ctx)
    missing = [k.name for k in section.keys if k.required_by(ctx.command) and k.name not in table]
    if missing:
        key = section.key(missing[0])
        raise ConfigError(f"[{where}] is missing `{missing[0]}` ({key.doc}).")


def _init_section(table, ctx: _Context) -> Section:
    """The [init] variant selected by ``kind`` (a sweep only draws random states)."""
    kind = table.get("kind", "random") if isinstance(table, dict) else "random"
    choices = ("random",) if ctx.command == "sweep" else ("random", "overlaps")
    try:
        check_choice("kind", kind, choices)
    except (TypeError, ValueError) as err:
        extra = " (a sweep draws random initial states)" if ctx.command == "sweep" else ""
        raise ConfigError(f"[init] {err}{extra}") from None
    return _INIT_RANDOM if kind == "random" else _INIT_OVERLAPS


def _validate_section(config: dict, name: str, ctx: _Context):
    table = config[name]
    section = _init_section(table, ctx) if name == "init" else \
        next(s for s in SCHEMA if s.name == name)
    _validate_table(section, table, ctx)


def _validate_solver_times(solver: dict):
    if "times" in solver:
        if solver.get("log_times"):
            raise ConfigError("[solver] give `times` or `log_times`, not both.")
        if solver["times"][-1] > solver["t_max"]:
            raise ConfigError(f"[solver] `times` must lie in [0, t_max] = [0, "
                              f"{solver['t_max']:g}], got a last time {solver['times'][-1]:g}.")


def validate_config(config: dict[str, Any], command: str) -> dict[str, Any]:
    """Check a whole configuration against :data:`~odesolve.config.schema.SCHEMA` for ``command``.

    Parameters
    ----------
    config : dict
        A parsed TOML file.
    command : {"run", "compare", "sweep", "optimise"}

    Returns
    -------
    dict
        ``config`` itself (unchanged).

    Raises
    ------
    ConfigError
        An unknown or misplaced section or key (with the nearest known name), a missing
        required section or key, or a value of the wrong type or out of range; the message
        names the section and the key.
    """
    check_choice("command", command, COMMANDS)
    required, optional = COMMAND_SECTIONS[command]
    readable = required + optional
    for name, value in config.items():
        if name in _TOP_SECTIONS and not isinstance(value, dict):
            raise ConfigError(f"[{name}] must be a table (a [{name}] header followed by keys), "
                              f"got {describe(value)}.")
        if isinstance(value, dict) or (isinstance(value, list) and value
                                       and all(isinstance(v, dict) for v in value)):
            if name not in _TOP_SECTIONS:
                brackets = "[[{}]]" if isinstance(value, list) else "[{}]"
                close = difflib.get_close_matches(name, _TOP_SECTIONS, n=1, cutoff=0.6)
                hint = (f"; did you mean [{close[0]}]?" if close else
                        f"; `odesolve {command}` reads {_listed(readable)}.")
                raise ConfigError(f"unknown section {brackets.format(name)}{hint}")
            if name not in readable:
                raise ConfigError(f"section [{name}] is not read by `odesolve {command}` (it "
                                  f"reads {_listed(readable)}); remove it or use the command "
                                  "that reads it.")
        else:
            home = _home_of(name, command)
            hint = f"; did you mean {home} {name}?" if home else \
                f"; `odesolve {command}` reads {_listed(readable)}."
            raise ConfigError(f"unknown top-level key `{name}` (keys belong in a section)"
                              f"{hint}")
    missing = [s for s in required if s not in config]
    if missing:
        raise ConfigError(f"missing section [{missing[0]}] (`odesolve {command}` needs "
                          f"{_listed(required)}).")
    sweep = config.get("sweep")
    ctx = _Context(command, isinstance(sweep, dict) and "protocol" in sweep)
    for name in readable:
        if name in config:
            _validate_section(config, name, ctx)
    if "solver" in readable:
        _validate_solver_times(config["solver"])
    if command == "sweep":
        _validate_sweep_structure(config, ctx)
    return config


def _validate_sweep_structure(config: dict, ctx: _Context):
    sweep = config["sweep"]
    if "axes" in sweep and "points" in sweep:
        raise ConfigError("[sweep] give either [sweep.axes] (a grid) or [[sweep.points]] (a "
                          "list), not both.")
    if "axes" not in sweep and "points" not in sweep:
        raise ConfigError("[sweep] needs a [sweep.axes] table (parameter = [values]) or "
                          "[[sweep.points]] tables.")
    if "observable" in config.get("output", {}):
        _check_observable(config["output"]["observable"], ctx)


#: Per-member scalar observables of a sweep result (heatmap candidates): the solver's flags,
#: odesolve.observables.OBSERVABLES, and those of a multi-task protocol sweep
#: (odesolve.sweeps.chunk.protocol_observables).
_SOLVER_FIELDS = ("status", "t_fail", "n_rhs")
_PROTOCOL_OBSERVABLES = ("forgetting", "specialisation_switch")


def _check_observable(name: str, ctx: _Context):
    from ..observables import OBSERVABLES

    known = _SOLVER_FIELDS + (_PROTOCOL_OBSERVABLES if ctx.protocol else tuple(OBSERVABLES))
    if name not in known:
        raise ConfigError(f"[output] unknown observable `{name}`{_suggest(name, known)}")


def _listed(sections) -> str:
    return ", ".join(f"[{s}]" for s in sections)
