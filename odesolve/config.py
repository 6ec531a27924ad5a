"""TOML configurations of ``odesolve run``, ``compare`` and ``sweep``: one schema, checked first.

Every section and every key a configuration may hold is declared once, in :data:`SCHEMA`
(name, type, range, default, one-line description). :func:`validate_config` checks a whole
file against it for one command before any work starts. Errors name the section and the key,
and an unknown name gets the nearest known one::

    [solver] `t_max` must be a real number, got the string '100'.
    unknown section [simulaton]; did you mean [simulation]?
    [output] unknown key `pth`; did you mean `path`?

Sections read by each command (:data:`COMMAND_SECTIONS`):

=======  ==================================================================================
run      ``[setup]`` ``[init]`` ``[solver]`` ``[output]``; ``[simulation]`` is accepted (and
         checked) so that one file serves ``run`` and ``compare``
compare  ``[setup]`` ``[init]`` ``[solver]`` ``[simulation]`` ``[output]``
sweep    ``[setup]`` ``[init]`` ``[sweep]`` (with ``[sweep.axes]`` or ``[[sweep.points]]``
         and, for multi-task sweeps, ``[[sweep.protocol]]``) ``[solver]`` ``[output]``
=======  ==================================================================================

``odesolve/data/default.toml`` (run), ``compare.toml`` and ``sweep.toml`` are annotated
examples; :func:`describe_schema` prints the whole table.
"""
from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._checks import check_bool, check_choice, check_int, check_real, describe
from .model import ACTIVATIONS, Overlaps, TeacherStudent

if TYPE_CHECKING:
    import os

    from .sweeps import SweepSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["load_config", "default_config", "validate_config", "setup_from_config",
           "state_from_config", "solver_options", "simulation_options",
           "sweep_spec_from_config", "describe_schema", "ConfigError", "Key", "Section",
           "SCHEMA", "COMMAND_SECTIONS"]

COMMANDS = ("run", "compare", "sweep")


class ConfigError(ValueError):
    """A configuration file is malformed; the message names the section and key."""


@dataclass(frozen=True)
class Key:
    """One key of a configuration section.

    Parameters
    ----------
    name : str
    kind : str
        How the value is checked: ``"int"``, ``"real"``, ``"bool"``, ``"choice"``, ``"str"``,
        ``"real_or_reals"`` (a number or a non-empty list of numbers), ``"array"`` (nested
        lists of numbers with at least ``minimum`` dimensions), ``"times"`` (increasing
        numbers >= 0), ``"seeds"`` (a count or a list of distinct seeds), ``"axes"`` (a table of parameter
        = [values]), ``"points"`` (an array of tables of parameters) or ``"phases"`` (an
        array of ``[sweep.protocol]`` tables).
    default : object
        Value used when the key is absent; None when absence has a meaning stated in ``doc``.
    doc : str
        One line: what the key means.
    minimum, maximum : float, optional
        Inclusive range of a number.
    positive : bool
        The number must be > 0.
    choices : tuple of str
        Allowed strings of a ``"choice"``.
    required : bool or tuple of str
        The key must be given (by every command, or by the commands listed).
    commands : tuple of str
        Commands that read the key; another command refuses it (naming ``note``).
    needs_protocol : bool
        Only read by a sweep with ``[[sweep.protocol]]`` phases.
    note : str
        Said when a command that does not read the key finds it.
    """

    name: str
    kind: str
    default: object
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False
    choices: tuple[str, ...] = ()
    required: bool | tuple[str, ...] = False
    commands: tuple[str, ...] = COMMANDS
    needs_protocol: bool = False
    note: str = ""

    def required_by(self, command: str) -> bool:
        """True when ``command`` needs the key."""
        return self.required is True or (isinstance(self.required, tuple)
                                          and command in self.required)


@dataclass(frozen=True)
class Section:
    """A section (TOML table) of a configuration: its keys, and for ``[init]`` the ``kind``
    (``variant``) the keys belong to."""

    name: str
    doc: str
    keys: tuple[Key, ...]
    variant: str | None = None

    def key(self, name: str) -> Key | None:
        """The key ``name`` (None when the section has none)."""
        return next((k for k in self.keys if k.name == name), None)


def _rate(name, doc, default=0.0):
    return Key(name, "real", default, doc, minimum=0.0)


_SETUP = Section("setup", "the model: TeacherStudent(K, M, activation, eta, eta_v, sigma, "
                          "weight_decay)", (
    Key("K", "int", None, "student hidden units", minimum=1, required=("run", "compare")),
    Key("M", "int", None, "teacher hidden units", minimum=1, required=("run", "compare")),
    Key("activation", "choice", "erf", "activation of both networks", choices=ACTIVATIONS),
    _rate("eta", "first-layer learning rate (update eta/sqrt(N))", 1.0),
    _rate("eta_v", "readout learning rate (update eta_v/N); absent: eta, 0: fixed readouts",
          None),
    _rate("sigma", "standard deviation of the teacher's output noise"),
    _rate("weight_decay", "kappa: each step subtracts kappa/N times the weights"),
    Key("P", "int", 2, "number of teachers (tasks)", minimum=1, commands=("sweep",),
        needs_protocol=True),
    Key("heads", "choice", "multi", "one readout head per task, or one shared head",
        choices=("multi", "single"), commands=("sweep",), needs_protocol=True),
    Key("feature_similarity", "real", 0.0, "feature similarity of consecutive teachers",
        minimum=-1.0, maximum=1.0, commands=("sweep",), needs_protocol=True),
    Key("ewc", "real", None, "EWC strength of every protocol phase that sets `ewc`",
        minimum=0.0, commands=("sweep",), needs_protocol=True),
))

_NO_SWEEP_SEED = "a sweep draws its initial states from [sweep] seed"
_INIT_RANDOM = Section("init", "random initial state drawn as at input dimension N "
                               "(Overlaps.random)", (
    Key("kind", "choice", "random", "'random' (these keys) or 'overlaps' (explicit Q, R, T, "
                                    "v, v_star)", choices=("random", "overlaps")),
    Key("N", "int", 10_000, "input dimension whose finite-N fluctuations the overlaps carry",
        minimum=1),
    _rate("student_std", "standard deviation of the student first-layer weights", 1e-3),
    _rate("readout_std", "standard deviation of the student readouts", 1e-3),
    Key("teacher_std", "real", 1.0, "standard deviation of the teacher first-layer weights",
        positive=True),
    Key("readout_mean", "real", 0.0, "mean of the student readouts"),
    Key("v_star", "real_or_reals", 1.0, "teacher readouts: one number for all, or M numbers"),
    Key("seed", "int", None, "seed of the draw (absent: fresh entropy)", minimum=0,
        commands=("run", "compare"), note=_NO_SWEEP_SEED),
    Key("batch", "int", None, "number of independent states (a batch)", minimum=1,
        commands=("run", "compare"), note="a sweep sets the replicas in [sweep] replicas"),
), variant="random")

_INIT_OVERLAPS = Section("init", "explicit initial overlaps (Overlaps(Q, R, T, v, v_star))", (
    Key("kind", "choice", "random", "'overlaps' (these keys) or 'random'",
        choices=("random", "overlaps")),
    Key("Q", "array", None, "student-student overlaps, K x K", minimum=2, required=True),
    Key("R", "array", None, "student-teacher overlaps, K x M", minimum=2, required=True),
    Key("T", "array", None, "teacher-teacher overlaps, M x M", minimum=2, required=True),
    Key("v", "array", None, "student readouts, K numbers", minimum=1, required=True),
    Key("v_star", "array", None, "teacher readouts, M numbers", minimum=1, required=True),
), variant="overlaps")

_SOLVER = Section("solver", "the ODE solver and the output times", (
    Key("method", "choice", None, "'rk4', 'euler' (fixed step dt) or 'dopri5' (adaptive); "
                                  "absent: rk4 for run, dopri5 for compare and sweep",
        choices=("rk4", "euler", "dopri5")),
    Key("t_max", "real", None, "final time (examples / N)", positive=True, required=True),
    Key("dt", "real", None, "step of rk4 and euler (absent: 0.01)", positive=True),
    Key("rtol", "real", None, "relative tolerance of dopri5 (absent: 1e-8 run and compare, "
                              "1e-6 sweep)", positive=True),
    Key("atol", "real", None, "absolute tolerance of dopri5 (absent: 1e-10 run and compare, "
                              "1e-8 sweep)", positive=True),
    Key("n_out", "int", None, "number of output times in [0, t_max] (absent: 201 run, 51 "
                              "compare, 101 sweep)", minimum=2),
    Key("times", "times", None, "explicit output times in [0, t_max], instead of n_out"),
    Key("log_times", "bool", False, "log-spaced output times after 0 (good for plateaus)"),
    Key("max_steps", "int", None, "step limit per member (compare: not used)", minimum=1),
))

_SIMULATION = Section("simulation", "the finite-N simulation of `odesolve compare`", (
    Key("N", "int", 10_000, "input dimension of the simulated networks", minimum=1),
    Key("seeds", "seeds", 8, "number of seeds (0, 1, ...), or a list of seeds; at least 2",
        minimum=2),
    Key("test_set", "int", 0, "size of a fixed test set for a test-error estimate (0: none)",
        minimum=0),
    Key("tolerance_k", "real", 4.0, "standard errors allowed (converted to Student's t)",
        minimum=0.0),
    Key("tolerance_c", "real", 0.05, "finite-size allowance c of c / sqrt(N)", minimum=0.0),
))

_OUTPUT = Section("output", "where results go", (
    Key("path", "str", None, "base of the file names (absent: odesolve-out/<config name>); "
                             "a name with the command's suffix (.npz, compare: .json) is used "
                             "as is"),
    Key("plot", "bool", True, "write the figure(s)"),
    Key("observable", "str", "t_specialise", "observable of the sweep heatmap",
        commands=("sweep",)),
))

_SWEEP = Section("sweep", "the grid (or list) of parameters and the replicas of a sweep", (
    Key("axes", "axes", None, "[sweep.axes] table: parameter = [values] (a grid)"),
    Key("points", "points", None, "[[sweep.points]] tables: a list of settings, instead of axes"),
    Key("replicas", "int", 4, "random initial states per grid point", minimum=1),
    Key("seed", "int", 0, "root seed of the initial states", minimum=0),
    Key("chunk_size", "int", 2048, "members per task (memory holds one chunk)", minimum=1),
    Key("keep", "choice", "eps_g", "keep every eps_g curve, or only the summary observables",
        choices=("eps_g", "summary")),
    Key("specialise_threshold", "real", 0.5, "specialisation index that defines t_specialise",
        positive=True, maximum=1.0),
    Key("learn_fraction", "real", 0.01, "t_learn: eps_g falls below this fraction of eps_g(0)",
        positive=True, maximum=1.0),
    Key("protocol", "phases", None, "[[sweep.protocol]] tables: phases of a multi-task "
                                    "protocol"),
))

_PHASE = Section("sweep.protocol", "one phase of a multi-task protocol (Phase)", (
    Key("duration", "real", None, "length of the phase in t", positive=True, required=True),
    Key("teacher", "int", 0, "index of the teacher that labels the inputs", minimum=0),
    Key("head", "int", None, "student head trained (absent: the teacher's)", minimum=0),
    _rate("eta", "first-layer learning rate (absent: [setup] eta)", None),
    _rate("eta_v", "readout learning rate (absent: [setup] eta_v)", None),
    Key("train_first", "bool", True, "the first layer learns"),
    Key("train_readout", "bool", True, "the readouts learn"),
    _rate("weight_decay", "weight decay (absent: [setup] weight_decay)", None),
    _rate("ewc", "EWC strength around the previous phase's end (absent: no EWC)", None),
))

#: Every section and key of a configuration (the single source of truth).
SCHEMA = (_SETUP, _INIT_RANDOM, _INIT_OVERLAPS, _SOLVER, _SIMULATION, _SWEEP, _PHASE, _OUTPUT)

#: Sections each command reads: (required, optional), in the order they are checked.
COMMAND_SECTIONS = {
    "run": (("setup", "solver"), ("init", "simulation", "output")),
    "compare": (("setup", "solver"), ("init", "simulation", "output")),
    "sweep": (("sweep", "solver"), ("setup", "init", "output")),
}

_TOP_SECTIONS = ("setup", "init", "solver", "simulation", "sweep", "output")
#: output times when [solver] sets no `n_out`: the defaults of odesolve.integrate (run),
#: odesolve.compare and SweepSpec (sweep), as the schema states them
DEFAULT_N_OUT = {"run": 201, "compare": 51, "sweep": 101}
#: [init] keys a sweep may fix or sweep (besides the [setup] keys)
_SWEEP_INIT_KEYS = ("N", "student_std", "readout_std", "teacher_std", "readout_mean", "v_star")


@dataclass(frozen=True)
class _Context:
    command: str
    protocol: bool = False


# -- value checks ------------------------------------------------------------------------------
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


def _check_int(key, value, ctx, name):
    return check_int(name, value, key.minimum, key.maximum)


def _check_real(key, value, ctx, name):
    return check_real(name, value, key.minimum, key.maximum, positive=key.positive)


_CHECKERS = {
    "int": _check_int,
    "real": _check_real,
    "bool": lambda key, value, ctx, name: check_bool(name, value),
    "choice": lambda key, value, ctx, name: check_choice(name, value, key.choices),
    "str": _check_str,
    "real_or_reals": _check_real_or_reals,
    "array": _check_array,
    "times": _check_times,
    "seeds": _check_seeds,
    "axes": _check_axes,
    "points": _check_points,
    "phases": _check_phases,
}


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
    """Check a whole configuration against :data:`SCHEMA` for ``command``.

    Parameters
    ----------
    config : dict
        A parsed TOML file.
    command : {"run", "compare", "sweep"}

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
    from .observables import OBSERVABLES

    known = _SOLVER_FIELDS + (_PROTOCOL_OBSERVABLES if ctx.protocol else tuple(OBSERVABLES))
    if name not in known:
        raise ConfigError(f"[output] unknown observable `{name}`{_suggest(name, known)}")


def _listed(sections) -> str:
    return ", ".join(f"[{s}]" for s in sections)


# -- files -------------------------------------------------------------------------------------
def default_config() -> dict[str, Any]:
    """The built-in default configuration (``odesolve/data/default.toml``)."""
    return tomllib.loads(example_text("default"))


def example_text(name: str) -> str:
    """Text of a shipped example configuration: ``"default"``, ``"compare"`` or ``"sweep"``."""
    check_choice("name", name, ("default", "compare", "sweep"))
    return resources.files("odesolve").joinpath(f"data/{name}.toml").read_text()


def load_config(path: os.PathLike[str] | str, command: str | None = None) -> dict[str, Any]:
    """Read a TOML configuration file, and validate it for ``command`` when given.

    Parameters
    ----------
    path : str or Path
        The TOML file.
    command : {"run", "compare", "sweep"}, optional
        Validate for this command.

    Returns
    -------
    dict
        The parsed configuration.

    Raises
    ------
    ConfigError
        The file is missing, unreadable or not valid TOML, or (with ``command``) does not
        satisfy :data:`SCHEMA` (:func:`validate_config`).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist.") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {str(path)!r} is a directory.") from None
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise ConfigError(f"cannot read config file {str(path)!r}: {reason}.") from None
    try:
        config = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    if command is not None:
        try:
            validate_config(config, command)
        except ConfigError as err:
            raise ConfigError(f"{path.name}: {err}") from None
    return config


def describe_schema() -> str:
    """The schema as text: every section and key with its type, range, default and meaning."""
    lines = []
    for sec in SCHEMA:
        title = f"[{sec.name}]" + (f" kind = '{sec.variant}'" if sec.variant else "")
        lines.append(f"{title}: {sec.doc}")
        for k in sec.keys:
            lines.append(f"  {k.name:22s} {_rule(k)}; {_default(k)}: {k.doc}")
    return "\n".join(lines)


def _rule(k: Key) -> str:
    """Type and range of a key, in words."""
    if k.kind == "array":
        return "array of numbers, " + ("matrix" if k.minimum == 2 else "vector")
    rule = k.kind + (f" in {k.choices}" if k.choices else "")
    lo = "(0" if k.positive else None if k.minimum is None else f"[{k.minimum:g}"
    if k.kind == "seeds":
        return f"count >= {k.minimum:g} or list of seeds"
    if lo is not None and k.maximum is not None:
        return f"{rule} in {lo}, {k.maximum:g}]"
    if lo is not None:
        return f"{rule} {'> 0' if k.positive else f'>= {k.minimum:g}'}"
    return rule + (f" <= {k.maximum:g}" if k.maximum is not None else "")


def _default(k: Key) -> str:
    if k.required:
        return "required" + ("" if k.required is True else f" by {', '.join(k.required)}")
    return "optional" if k.default is None else f"default {k.default!r}"


# -- readers -----------------------------------------------------------------------------------
def _section(config: dict, name: str, command: str) -> dict:
    """The table ``name`` checked against the schema (an absent optional section is {})."""
    if name not in config:
        if name in COMMAND_SECTIONS[command][0]:
            raise ConfigError(f"missing section [{name}].")
        return {}
    sweep = config.get("sweep")
    ctx = _Context(command, isinstance(sweep, dict) and "protocol" in sweep)
    _validate_section(config, name, ctx)
    return dict(config[name])


def setup_from_config(config: dict[str, Any]) -> TeacherStudent:
    """The :class:`~odesolve.TeacherStudent` of ``[setup]``."""
    sec = _section(config, "setup", "run")
    try:
        return TeacherStudent(**sec)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"[setup] {err}") from None


def state_from_config(config: dict[str, Any], setup: TeacherStudent) -> Overlaps:
    """The initial :class:`~odesolve.Overlaps` of ``[init]`` (random by default).

    Raises
    ------
    ConfigError
        Naming [init]: a value :meth:`~odesolve.Overlaps.random` or
        :class:`~odesolve.Overlaps` refuses (e.g. ``v_star`` whose length is not M), or
        explicit overlaps whose K and M are not those of ``setup``.
    """
    init = _section(config, "init", "run")
    kind = init.pop("kind", "random")
    try:
        if kind == "random":
            return Overlaps.random(setup.K, setup.M, **init)
        state = Overlaps(*(np.asarray(init[k], dtype=float) for k in ("Q", "R", "T", "v",
                                                                      "v_star")))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"[init] {err}") from None
    if (state.K, state.M) != (setup.K, setup.M):
        raise ConfigError(f"[init] `Q`, `R`, `T`, `v`, `v_star` are overlaps of K = {state.K}, "
                          f"M = {state.M} but [setup] has K = {setup.K}, M = {setup.M}.")
    return state


def solver_options(config: dict[str, Any], command: str = "run") -> dict[str, Any]:
    """Keyword arguments for :func:`odesolve.integrate` (``run``) or the solver options of
    :func:`odesolve.compare` (``compare``) from ``[solver]``, checked as those functions
    check them: the rules that span keys are applied here, before any work.

    Parameters
    ----------
    config : dict
        A configuration (checked against the schema for ``command``).
    command : {"run", "compare"}
        The command whose defaults apply (``n_out`` absent: that of :func:`odesolve.integrate`
        or :func:`odesolve.compare`).

    Returns
    -------
    dict
        ``t_max``, ``method``, ``dt``, ``rtol``, ``atol``, ``n_out``, ``max_steps`` as given;
        ``log_times`` becomes explicit ``times`` (``n_out`` of them).

    Raises
    ------
    ConfigError
        naming [solver] and the key: a value the schema refuses, ``times`` that do not end at
        ``t_max``, or a ``dt`` longer than the spacing of the output times (the fixed-step
        solver would shorten every step; :func:`odesolve.solvers.check_fixed_step`).
    """
    check_choice("command", command, ("run", "compare"))
    sec = _section(config, "solver", command)
    _validate_solver_times(sec)
    n_out = sec.get("n_out", DEFAULT_N_OUT[command])
    if sec.pop("log_times", False):
        t_max = float(sec["t_max"])
        start = min(1e-2, t_max / 10)
        logs = np.geomspace(start, t_max, n_out - 1) if n_out > 2 else np.array([t_max])
        sec["times"] = np.concatenate([[0.0], logs])
    _check_output_times(sec, n_out)
    return sec


def _check_output_times(solver: dict, n_out: int) -> None:
    """The output times of [solver] and its fixed step ``dt`` (when given) checked as
    :func:`odesolve.integrate` checks them."""
    from .integration import output_times
    from .solvers import check_fixed_step

    try:
        t_eval = output_times(solver["t_max"], solver.get("times"), n_out)
        if solver.get("dt") is not None:
            check_fixed_step(solver["dt"], t_eval)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"[solver] {err}") from None


def simulation_options(config: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for :func:`odesolve.compare` from ``[simulation]``.

    ``N`` (default 10 000), ``seeds`` (a count, meaning ``range(seeds)``, or a list of seeds;
    default 8), ``test_set`` (default 0), ``tolerance_k`` and ``tolerance_c`` (optional).
    """
    sec = _section(config, "simulation", "compare")
    seeds = sec.get("seeds", _SIMULATION.key("seeds").default)
    sec["seeds"] = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    sec["N"] = sec.get("N", _SIMULATION.key("N").default)
    return sec


def sweep_spec_from_config(config: dict[str, Any]) -> SweepSpec:
    """A :class:`~odesolve.sweeps.SweepSpec` from ``[setup]`` (fixed model parameters; K and M
    may instead be swept), ``[init]`` (fixed ``Overlaps.random`` parameters), ``[solver]`` and
    ``[sweep]`` (``axes`` table or ``points`` array of tables, ``replicas``, ``seed``,
    ``chunk_size``, ``keep``, ``specialise_threshold``, ``learn_fraction``, and for
    multi-task sweeps ``[[sweep.protocol]]`` phase tables; then ``[setup]`` may also hold
    ``P``, ``heads``, ``feature_similarity`` and ``ewc``).

    See ``odesolve/data/sweep.toml`` for an annotated example.

    Raises
    ------
    ConfigError
        Starting with ``[sweep]``: the schema refuses the configuration
        (:func:`validate_config`), ``K`` or ``M`` is neither set nor swept, or the spec
        refuses it; a grid point whose model or initialisation is refused (e.g. a ``v_star``
        list whose length is not M) is named with its swept values and the section of the
        parameter (``[init]``, ``[setup]``, ``[sweep.axes]``). All before any work.
    """
    from .sweeps import SweepSpec
    from .sweeps.spec import SweepPointError

    validate_config(config, "sweep")
    sec = dict(config["sweep"])
    setup = dict(config.get("setup", {}))
    init = dict(config.get("init", {}))
    init.pop("kind", None)
    solver = dict(config["solver"])
    axes, points = sec.pop("axes", {}), sec.pop("points", None)
    for k in ("K", "M"):
        if k not in setup and k not in axes and not (points and all(k in p for p in points)):
            raise ConfigError(f"[sweep] needs `{k}` ({_SETUP.key(k).doc}): set it in [setup] "
                              "or sweep it in [sweep.axes] (or in every [[sweep.points]]).")
    swept = set(axes) | {k for p in points or [] for k in p}
    base = {k: v for k, v in {**setup, **init}.items() if k not in swept}
    try:
        return SweepSpec(base=base, axes=axes, points=points, **sec, **solver)
    except SweepPointError as err:
        where = ("sweep.axes" if err.name in axes else
                 "[sweep.points]" if err.name in swept else
                 "setup" if err.name in setup else "init" if err.name in init else None)
        section = f"[{where}] " if where else ""
        raise ConfigError(f"[sweep] grid point {err.index} {err.swept}: {section}"
                          f"{err.reason}") from None
    except (TypeError, ValueError) as err:
        raise ConfigError(f"[sweep] {err}") from None
