"""Hypothesis strategies for configuration files of ``odesolve run``, ``compare`` and ``sweep``,
built from :data:`odesolve.config.SCHEMA`, and a small TOML writer for them.

* :func:`valid_configs` draws configurations that satisfy the schema for one command: the
  required sections and keys, a random subset of the optional ones, values of the right type
  inside their ranges (integers where a real is expected too: TOML ``t_max = 100`` is a real).
  With ``cheap=True`` the sizes and times are small enough to *run* the configuration in a
  second or two (a command-line test that finds a configuration accepted by mistake then runs
  it instead of hanging).
* :func:`invalid_configs` draws a valid configuration and applies one mutation (an unknown or
  misplaced section or key, a near-misspelling of a real name, a value of the wrong type, out of
  range or not finite, a missing required key or section). It returns the configuration and
  what the error message must contain: the section and the key (:class:`Expected`).
* :func:`to_toml` writes a configuration as TOML text (tables, sub-tables, arrays of tables,
  inline values; ``inf``/``nan`` included), so that tests can go through real files.

The rules a mutation breaks are stated here independently of the loader: a count is an
integer (a float, even 2.0, is not), a flag is true or false (not 0/1 or "yes"), a real number
is finite, a name is one the schema declares.
"""
from __future__ import annotations

import math
import string
from dataclasses import dataclass

from hypothesis import strategies as st

from odesolve import config as cfg
from odesolve.observables import OBSERVABLES

COMMANDS = ("run", "compare", "sweep")
SECTIONS = ("setup", "init", "solver", "simulation", "sweep", "output")
#: sections each command reads: (required, optional) -- the documented table of odesolve.config
READS = {"run": (("setup", "solver"), ("init", "simulation", "output")),
         "compare": (("setup", "solver"), ("init", "simulation", "output")),
         "sweep": (("sweep", "solver"), ("setup", "init", "output"))}
#: [init] keys a sweep may fix or sweep, besides the [setup] keys
SWEEP_INIT_KEYS = ("N", "student_std", "readout_std", "teacher_std", "readout_mean", "v_star")
#: heat-map observables of a sweep result: the solver's flags and the observables
SOLVER_FIELDS = ("status", "t_fail", "n_rhs")
PROTOCOL_OBSERVABLES = ("forgetting", "specialisation_switch")

SECTION = {s.name: s for s in cfg.SCHEMA if s.name != "init"}
INIT = {s.variant: s for s in cfg.SCHEMA if s.name == "init"}

#: small values for keys that set the amount of work, used with ``cheap=True``
_CHEAP = {
    "K": st.integers(1, 2), "M": st.integers(1, 2), "P": st.integers(1, 2),
    "N": st.integers(20, 200), "batch": st.integers(1, 3), "replicas": st.integers(1, 2),
    "seeds": st.one_of(st.integers(2, 3), st.lists(st.integers(0, 99), min_size=2, max_size=3,
                                                   unique=True)),
    "test_set": st.integers(0, 5), "n_out": st.integers(2, 6), "chunk_size": st.integers(1, 64),
    "max_steps": st.integers(1000, 100_000), "t_max": st.floats(0.05, 1.0),
    "duration": st.floats(0.05, 0.5), "dt": st.floats(1e-3, 0.01),
    "rtol": st.floats(1e-8, 1e-3), "atol": st.floats(1e-12, 1e-6),
    "eta": st.floats(0.0, 2.0), "eta_v": st.floats(0.0, 2.0), "sigma": st.floats(0.0, 1.0),
    "weight_decay": st.floats(0.0, 1.0), "ewc": st.floats(0.0, 5.0),
    "student_std": st.floats(0.0, 1.0), "readout_std": st.floats(0.0, 1.0),
    "teacher_std": st.floats(0.1, 2.0), "readout_mean": st.floats(-1.0, 1.0),
    "v_star": st.floats(-2.0, 2.0), "seed": st.integers(0, 2**32),
    "tolerance_k": st.floats(0.0, 10.0), "tolerance_c": st.floats(0.0, 1.0),
}

# -- plain values ----------------------------------------------------------------------------
#: text without surrogates (TOML strings are Unicode scalar values)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
NAME_CHARS = string.ascii_letters + string.digits + "_-"
#: any TOML value that is not a number (for "a number was expected")
NOT_A_NUMBER = st.one_of(TEXT, st.booleans(), st.lists(st.integers(-3, 3), max_size=3),
                         st.dictionaries(st.sampled_from("abc"), st.integers(0, 3), max_size=2))
NON_FINITE = st.sampled_from([math.inf, -math.inf, math.nan])


def below(x: float) -> float:
    """The largest float below ``x`` (explicit bounds, not a filter: Hypothesis rewrites a
    filter such as ``x < 0`` into bounds, and that rewrite let 0.0 through)."""
    return math.nextafter(x, -math.inf)


def above(x: float) -> float:
    return math.nextafter(x, math.inf)


def _finite(lo=None, hi=None, exclude_min=False):
    lo = -1e6 if lo is None else lo
    hi = 1e6 if hi is None else hi
    return st.floats(lo, hi, exclude_min=exclude_min, allow_nan=False, allow_infinity=False)


def real_value(key, cheap=False):
    """A valid value of a ``"real"`` key: a float in range, or an integer in range."""
    if cheap and key.name in _CHEAP:
        return _CHEAP[key.name]
    lo = key.minimum
    if key.positive:
        lo = 0.0 if lo is None else max(lo, 0.0)
    floats = _finite(lo, key.maximum, exclude_min=key.positive)
    ilo = None if lo is None else math.floor(lo) + (1 if key.positive or lo != math.floor(lo)
                                                     else 0)
    ihi = None if key.maximum is None else math.floor(key.maximum)
    ilo, ihi = (-10**6 if ilo is None else ilo), (10**6 if ihi is None else ihi)
    return floats | st.integers(ilo, ihi) if ilo <= ihi else floats


def int_value(key, cheap=False):
    if cheap and key.name in _CHEAP:
        return _CHEAP[key.name]
    lo = -10**6 if key.minimum is None else int(key.minimum)
    hi = lo + 10**6 if key.maximum is None else int(key.maximum)
    return st.integers(lo, hi)


def _arrays(min_dims, max_dims=3):
    @st.composite
    def build(draw):
        ndim = draw(st.integers(min_dims, max_dims))
        shape = draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim))

        def fill(dims):
            if not dims:
                return draw(_finite(-10, 10) | st.integers(-10, 10))
            return [fill(dims[1:]) for _ in range(dims[0])]

        return fill(shape)

    return build()


def value_of(key, cheap=False, t_max=None):
    """A valid value of ``key`` (a :class:`odesolve.config.Key`)."""
    kind = key.kind
    if kind == "int":
        return int_value(key, cheap)
    if kind == "real":
        return real_value(key, cheap)
    if kind == "bool":
        return st.booleans()
    if kind == "choice":
        return st.sampled_from(key.choices)
    if kind == "str":
        return st.text(st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=10)
    if kind == "real_or_reals":
        one = _CHEAP["v_star"] if cheap else _finite() | st.integers(-100, 100)
        return one | st.lists(one, min_size=1, max_size=4)
    if kind == "array":
        return _arrays(int(key.minimum))
    if kind == "times":
        top = 1e6 if t_max is None else t_max
        return (st.lists(st.floats(0.0, top), min_size=1, max_size=6, unique=True)
                .map(sorted))
    if kind == "seeds":
        if cheap:
            return _CHEAP["seeds"]
        return st.integers(2, 10**6) | st.lists(st.integers(0, 2**63 - 1), min_size=2,
                                                  max_size=6, unique=True)
    raise AssertionError(f"no strategy for kind {kind!r}")  # axes, points, phases: below


def _readable(key, command, protocol):
    return command in key.commands and (protocol or not key.needs_protocol)


@st.composite
def _table(draw, section, command, protocol, cheap, fixed=()):
    """Required keys, and a random subset of the optional keys, with valid values."""
    table = {}
    for key in section.keys:
        if key.kind in ("axes", "points", "phases") or not _readable(key, command, protocol):
            continue
        if key.name in fixed:
            continue
        if key.required_by(command) or draw(st.booleans()):
            table[key.name] = draw(value_of(key, cheap))
    return table


def parameter_keys(protocol):
    """Keys of the parameters a sweep may fix or sweep (name -> Key)."""
    keys = [k for k in SECTION["setup"].keys if protocol or not k.needs_protocol]
    keys += [INIT["random"].key(n) for n in SWEEP_INIT_KEYS]
    return {k.name: k for k in keys}


@st.composite
def _solver(draw, command, cheap):
    table = draw(_table(SECTION["solver"], command, False, cheap, fixed=("times", "log_times")))
    if cheap:
        table.pop("dt", None)              # a cheap run keeps the default step
    if draw(st.booleans()):
        table["times"] = draw(value_of(SECTION["solver"].key("times"), cheap, table["t_max"]))
        if cheap:
            table["times"] = sorted(set(table["times"]) | {table["t_max"]})
            table.pop("n_out", None)
    elif draw(st.booleans()):
        table["log_times"] = draw(st.booleans())
    return table


@st.composite
def _sweep(draw, cheap, protocol):
    table = draw(_table(SECTION["sweep"], "sweep", protocol, cheap))
    params = parameter_keys(protocol)
    names = sorted(params)
    if cheap:                              # K, M structural: one group keeps a sweep quick
        names = [n for n in names if n not in ("K", "M", "P", "N")]
    swept = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
    if draw(st.booleans()):
        table["axes"] = {n: draw(st.lists(value_of(params[n], cheap), min_size=1, max_size=2))
                         for n in swept}
    else:
        table["points"] = draw(st.lists(
            st.fixed_dictionaries({n: value_of(params[n], cheap) for n in swept}),
            min_size=1, max_size=3))
    if protocol:
        phase = SECTION["sweep.protocol"]
        phases = draw(st.lists(_table(phase, "sweep", True, cheap), min_size=1, max_size=3))
        phases[0].pop("ewc", None)         # EWC needs an earlier phase to anchor to
        for ph in phases:
            if cheap:                      # teachers and heads that a P <= 2 setup has
                ph["teacher"] = ph.get("teacher", 0) % 1
                ph.pop("head", None)
        table["protocol"] = phases
    return table


@st.composite
def valid_configs(draw, command, cheap=False):
    """A configuration that satisfies the schema for ``command``."""
    protocol = command == "sweep" and draw(st.booleans())
    required, optional = READS[command]
    config = {}
    for name in required + optional:
        if name not in required and not draw(st.booleans()):
            continue
        if name == "solver":
            config[name] = draw(_solver(command, cheap))
        elif name == "sweep":
            config[name] = draw(_sweep(cheap, protocol))
        elif name == "init":
            variant = "random" if command == "sweep" else draw(st.sampled_from(sorted(INIT)))
            table = draw(_table(INIT[variant], command, protocol, cheap, fixed=("kind",)))
            if variant == "overlaps" or draw(st.booleans()):
                table = {"kind": variant, **table}
            config[name] = table
        elif name == "output":
            table = draw(_table(SECTION["output"], command, protocol, cheap,
                                fixed=("observable", "path")))
            if command == "sweep" and draw(st.booleans()):
                known = SOLVER_FIELDS + (PROTOCOL_OBSERVABLES if protocol else tuple(OBSERVABLES))
                table["observable"] = draw(st.sampled_from(known))
            if not cheap and draw(st.booleans()):
                table["path"] = draw(value_of(SECTION["output"].key("path")))
            config[name] = table
        else:
            config[name] = draw(_table(SECTION[name], command, protocol, cheap))
    if cheap and command == "sweep" and "setup" in config:
        config["setup"] = {k: v for k, v in config["setup"].items()
                           if k not in _swept(config["sweep"])}
    if cheap and command == "sweep":
        config.setdefault("setup", {})
        for k in ("K", "M"):
            config["setup"].setdefault(k, 1 + draw(st.integers(0, 1)))
    return config


def _swept(sweep):
    names = set(sweep.get("axes", {}))
    for p in sweep.get("points", []):
        names |= set(p)
    return names


# -- where values live: slots ----------------------------------------------------------------
@dataclass(frozen=True)
class Slot:
    """A value of a configuration: its path in the nested dict, the section label of the
    messages (``setup``, ``sweep.axes``, ``sweep.protocol 2``), its name in the messages and
    its Key."""

    path: tuple
    label: str
    name: str
    key: object


def slots(config, command):
    """Every value of ``config`` that the schema checks, as :class:`Slot` objects."""
    protocol = command == "sweep" and "protocol" in config.get("sweep", {})
    out = []
    for name, table in config.items():
        if name == "init":
            section = INIT[table.get("kind", "random")]
        elif name in SECTION:
            section = SECTION[name]
        else:
            continue
        for k, value in table.items():
            key = section.key(k)
            out.append(Slot((name, k), name, k, key))
            if k == "axes":
                params = parameter_keys(protocol)
                for p, values in value.items():
                    out += [Slot((name, k, p, i), "sweep.axes", f"{p}[{i}]", params[p])
                            for i in range(len(values))]
            elif k == "points":
                params = parameter_keys(protocol)
                out += [Slot((name, k, i, p), f"sweep.points {i + 1}", p, params[p])
                        for i, point in enumerate(value) for p in point]
            elif k == "protocol":
                phase = SECTION["sweep.protocol"]
                out += [Slot((name, k, i, p), f"sweep.protocol {i + 1}", p, phase.key(p))
                        for i, ph in enumerate(value) for p in ph]
    return out


def _get(config, path):
    for p in path:
        config = config[p]
    return config


def _set(config, path, value):
    _get(config, path[:-1])[path[-1]] = value


def _copy(x):
    if isinstance(x, dict):
        return {k: _copy(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_copy(v) for v in x]
    return x


# -- bad values ------------------------------------------------------------------------------
def wrong_type(key):
    """Values of the wrong type for ``key`` (each is refused whatever its size)."""
    kind = key.kind
    floats = _finite(-100, 100)
    table = st.dictionaries(st.sampled_from("ab"), st.integers(0, 2), max_size=2)
    numbers = floats | st.integers(-100, 100)
    if kind == "int":
        return st.one_of(TEXT, st.booleans(), floats, st.lists(st.integers(0, 3), max_size=2),
                         table)
    if kind == "real":
        return NOT_A_NUMBER
    if kind == "bool":
        return st.one_of(TEXT, numbers, st.lists(st.booleans(), max_size=2), table)
    if kind == "choice":
        return st.one_of(numbers, st.booleans(), st.lists(st.sampled_from(key.choices),
                                                          max_size=2), table)
    if kind == "str":
        return st.one_of(numbers, st.booleans(), st.lists(TEXT, max_size=2), table,
                         st.just(""))
    if kind == "real_or_reals":
        bad_item = st.one_of(TEXT, st.booleans(), table, st.lists(floats, max_size=2))
        return st.one_of(TEXT, st.booleans(), table, st.just([]),
                         st.tuples(st.lists(floats, max_size=2), bad_item)
                         .map(lambda t: t[0] + [t[1]]))
    if kind == "array":
        leaf = st.one_of(TEXT, st.booleans(), table)
        return st.one_of(TEXT, numbers, st.booleans(), table,
                         leaf.map(lambda x: [[1.0, x]]),        # a leaf that is not a number
                         st.just([[1.0, 2.0], [3.0]]),           # ragged
                         st.just([]), st.just([[]]))             # empty
    if kind == "times":
        return st.one_of(TEXT, numbers, table, st.just([]),
                         NOT_A_NUMBER.map(lambda x: [0.0, x]))
    if kind == "seeds":
        return st.one_of(TEXT, floats, st.booleans(), table,
                         st.tuples(st.integers(0, 5), st.one_of(TEXT, floats, st.booleans()))
                         .map(lambda t: [t[0] + 10, t[1]]))
    if kind in ("axes", "points", "phases"):
        return st.one_of(TEXT, numbers, st.booleans(), st.just([]), st.just({}),
                         st.lists(st.integers(0, 3), min_size=1, max_size=2))
    raise AssertionError(kind)


def wrong_value(key, t_max=None):
    """Values of the right type that break the key's rule (range, finiteness, choices)."""
    kind = key.kind
    options = []
    if kind == "int":
        if key.minimum is not None:
            options.append(st.integers(int(key.minimum) - 10**6, int(key.minimum) - 1))
        if key.maximum is not None:
            options.append(st.integers(int(key.maximum) + 1, int(key.maximum) + 10**6))
    elif kind == "real":
        options.append(NON_FINITE)
        if key.positive:
            options.append(st.sampled_from([0.0, -0.0, 0]) | _finite(-1e6, 0.0))
        if key.minimum is not None:
            options.append(_finite(key.minimum - 1e6, below(key.minimum)))
        if key.maximum is not None:
            options.append(_finite(above(key.maximum), key.maximum + 1e6))
    elif kind == "choice":
        options.append(TEXT.filter(lambda s: s not in key.choices))
    elif kind == "real_or_reals":
        options += [NON_FINITE, st.lists(_finite(), max_size=2).flatmap(
            lambda xs: NON_FINITE.map(lambda bad: xs + [bad]))]
    elif kind == "array":
        options.append(NON_FINITE.map(lambda bad: [[1.0, bad], [0.0, 1.0]]))
        if key.minimum == 2:
            options.append(st.lists(_finite(-1, 1), min_size=1, max_size=3))  # 1-D
    elif kind == "times":
        options += [NON_FINITE.map(lambda bad: [0.0, bad]),
                    _finite(-100, below(0.0)).map(lambda x: [x, 1.0]),  # negative
                    st.floats(0.0, 1.0).map(lambda x: [x, x]),   # not increasing
                    st.floats(0.5, 1.0).map(lambda x: [x, x / 2])]
        if t_max is not None:
            options.append(_finite(above(t_max), t_max + 1e6)
                           .map(lambda x: [x]))                  # beyond t_max
    elif kind == "seeds":
        options += [st.integers(-10**6, 1),                      # fewer than 2
                    st.integers(0, 99).map(lambda s: [s]),        # one seed
                    st.integers(0, 99).map(lambda s: [s, s]),     # repeated
                    st.integers(-10**6, -1).map(lambda s: [0, s])]  # negative
    elif kind == "str" and key.name == "observable":
        options.append(st.text(NAME_CHARS, min_size=1, max_size=12)
                       .filter(lambda s: s not in SOLVER_FIELDS + PROTOCOL_OBSERVABLES
                               + tuple(OBSERVABLES)))
    return st.one_of(options) if options else None


def near_misses(names):
    """Names one edit away from one of ``names`` (a deletion, insertion, swap or change)."""
    names = sorted(names)

    @st.composite
    def edit(draw):
        name = draw(st.sampled_from(names))
        i = draw(st.integers(0, len(name)))
        char = draw(st.sampled_from(string.ascii_lowercase + "_"))
        how = draw(st.sampled_from(("delete", "insert", "swap", "change")))
        if how == "delete" and len(name) > 1:
            return name[:i] + name[i + 1:]
        if how == "swap" and 0 < i < len(name):
            return name[:i - 1] + name[i] + name[i - 1] + name[i + 1:]
        if how == "change" and i < len(name):
            return name[:i] + char + name[i + 1:]
        return name[:i] + char + name[i:]

    return edit()


#: unknown names: identifiers, near-misspellings of real names, and odd strings
def unknown_names(known, real):
    return st.one_of(st.text(NAME_CHARS, min_size=1, max_size=12), near_misses(real),
                     TEXT.filter(bool)).filter(lambda s: s not in known)


# -- mutations -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expected:
    """What the ConfigError message of a mutated configuration must say.

    ``prefix``: the message starts with it (``[solver] `t_max``` for a bad value);
    ``contains``: fragments that must all appear (the section and the key)."""

    what: str
    prefix: str = ""
    contains: tuple = ()

    def check(self, message: str):
        assert message.startswith(self.prefix), (self.what, message)
        for fragment in self.contains:
            assert fragment in message, (self.what, fragment, message)


ALL_KEYS = sorted({k.name for s in cfg.SCHEMA for k in s.keys})


#: the kinds of mutation of :func:`invalid_configs`
MUTATIONS = ("unknown_section", "misplaced_section", "top_level_key", "section_not_a_table",
             "unknown_key", "misplaced_key", "wrong_type", "wrong_value", "missing_key",
             "missing_section")


@st.composite
def invalid_configs(draw, command, how=None, cheap=False):
    """(config, Expected): a valid configuration with one mutation that the schema refuses
    (of kind ``how``, one of :data:`MUTATIONS`; drawn when None)."""
    config = _copy(draw(valid_configs(command, cheap)))
    protocol = command == "sweep" and "protocol" in config.get("sweep", {})
    how = how or draw(st.sampled_from(MUTATIONS))
    if how == "unknown_section":
        name = draw(unknown_names(SECTIONS, SECTIONS))
        value = draw(st.one_of(st.just({}), st.dictionaries(st.sampled_from(ALL_KEYS),
                                                            st.integers(0, 3), max_size=2),
                               st.just([{"a": 1}])))
        config[name] = value
        brackets = "[[{}]]" if isinstance(value, list) else "[{}]"
        return config, Expected(how, "unknown section " + brackets.format(name))
    if how == "misplaced_section":
        others = [s for s in SECTIONS if s not in sum(READS[command], ())]
        name = draw(st.sampled_from(others))
        config[name] = {}
        return config, Expected(how, f"section [{name}] is not read by `odesolve {command}`")
    if how == "top_level_key":
        name = draw(unknown_names(SECTIONS, ALL_KEYS))
        config = {name: draw(st.integers(0, 9) | TEXT | st.floats(0, 9)), **config}
        return config, Expected(how, f"unknown top-level key `{name}`")
    if how == "section_not_a_table":
        name = draw(st.sampled_from(sorted(config)))
        config[name] = draw(st.one_of(st.integers(0, 9), TEXT, st.lists(st.integers(0, 3),
                                                                         max_size=2)))
        return config, Expected(how, f"[{name}] must be a table")
    if how == "missing_section":
        name = draw(st.sampled_from(READS[command][0]))
        del config[name]
        return config, Expected(how, f"missing section [{name}]")
    if how == "missing_key":
        candidates = [s for s in slots(config, command)
                      if len(s.path) == 2 and s.key.required_by(command)
                      or s.label.startswith("sweep.protocol") and s.name == "duration"]
        if not candidates:
            how = "wrong_type"
        else:
            slot = draw(st.sampled_from(candidates))
            del _get(config, slot.path[:-1])[slot.path[-1]]
            return config, Expected(how, f"[{slot.label}] is missing `{slot.name}`")
    if how in ("unknown_key", "misplaced_key"):
        tables = _tables(config, command, protocol)
        label, path, known, misplaced = draw(st.sampled_from(tables))
        if how == "misplaced_key" and misplaced:
            key = draw(st.sampled_from(misplaced))
            name, value = key.name, draw(value_of(key))
        else:
            name = draw(unknown_names(known, ALL_KEYS + sorted(known)))
            value = draw(st.integers(0, 3) | st.floats(0, 1) | TEXT)
        target = _get(config, path)
        if label == "sweep.axes":
            value = [value]
        target[name] = value
        return config, Expected(how, contains=(f"[{label}]", f"`{name}`"))
    slot = draw(st.sampled_from(slots(config, command)))
    t_max = config.get("solver", {}).get("t_max")
    bad = wrong_value(slot.key, t_max) if how == "wrong_value" else None
    if bad is None:
        how, bad = "wrong_type", wrong_type(slot.key)
    value = draw(bad)
    _set(config, slot.path, value)
    if slot.key.name == "observable" and how == "wrong_value":
        return config, Expected(how, f"[{slot.label}] unknown observable `{value}`")
    if slot.path[0] == "init" and slot.name == "kind":
        return config, Expected(how, "[init] `kind` must be one of")
    return config, Expected(how, f"[{slot.label}] `{slot.name}")


def _tables(config, command, protocol):
    """(label, path, known names, misplaced keys) of every table of ``config``."""
    out = []
    for name, table in config.items():
        if not isinstance(table, dict):
            continue
        if name == "init":
            kind = table.get("kind", "random")
            section = INIT[kind]
            known = {k.name for s in INIT.values() for k in s.keys}
        else:
            section = SECTION[name]
            known = {k.name for k in section.keys}
        misplaced = [k for k in section.keys if not _readable(k, command, protocol)
                     and k.name not in table and k.kind not in ("axes", "points", "phases")]
        out.append((name, (name,), known, misplaced))
        if name == "sweep":
            if "axes" in table:
                out.append(("sweep.axes", ("sweep", "axes"), set(parameter_keys(protocol)),
                            []))
            for i, ph in enumerate(table.get("protocol", [])):
                out.append((f"sweep.protocol {i + 1}", ("sweep", "protocol", i),
                            {k.name for k in SECTION["sweep.protocol"].keys}, []))
    return out


# -- TOML ------------------------------------------------------------------------------------
def _key(name: str) -> str:
    if name and all(c in NAME_CHARS for c in name):
        return name
    return _string(name)


def _string(text: str) -> str:
    out = []
    for c in text:
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c.isprintable():
            out.append(c)
        else:
            out.append(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
    return '"' + "".join(out) + '"'


def _inline(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_inline(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {type(value).__name__}")


def _is_tables(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table_lines(path, table):
    lines = [f"{_key(k)} = {_inline(v)}" for k, v in table.items()
             if not isinstance(v, dict) and not _is_tables(v)]
    for k, v in table.items():
        sub = path + (k,)
        if isinstance(v, dict):
            lines += ["", "[" + ".".join(map(_key, sub)) + "]"] + _table_lines(sub, v)
        elif _is_tables(v):
            for item in v:
                lines += ["", "[[" + ".".join(map(_key, sub)) + "]]"]
                lines += [f"{_key(a)} = {_inline(b)}" for a, b in item.items()]
    return lines


def to_toml(config: dict) -> str:
    """TOML text of a configuration (top-level keys first, then tables and arrays of
    tables)."""
    return "\n".join(_table_lines((), config)) + "\n"
