"""The schema of the configurations: every section and every key, declared once.

:data:`SCHEMA` declares each key with its type, range, default and a one-line meaning;
:data:`COMMAND_SECTIONS` says which sections each command reads.
:mod:`odesolve.config.validate` checks a configuration against the schema;
:func:`describe_schema` prints the whole table.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..model import ACTIVATIONS

__all__ = ["Key", "Section", "SCHEMA", "COMMAND_SECTIONS", "DEFAULT_N_OUT", "COMMANDS",
           "describe_schema"]

#: the commands that read a configuration
COMMANDS = ("run", "compare", "sweep", "optimise")


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
        numbers >= 0), ``"seeds"`` (a count or a list of distinct seeds), ``"names"`` (a
        non-empty list of distinct ``choices``), ``"start"`` (one of ``choices`` or a number
        >= 0), ``"axes"`` (a table of parameter
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
                          "weight_decay, batch_size)", (
    Key("K", "int", None, "student hidden units", minimum=1,
        required=("run", "compare", "optimise")),
    Key("M", "int", None, "teacher hidden units", minimum=1,
        required=("run", "compare", "optimise")),
    Key("activation", "choice", "erf", "activation of both networks", choices=ACTIVATIONS),
    _rate("eta", "first-layer learning rate (update eta/sqrt(N))", 1.0),
    _rate("eta_v", "readout learning rate (update eta_v/N); absent: eta, 0: fixed readouts",
          None),
    _rate("sigma", "standard deviation of the teacher's output noise"),
    _rate("weight_decay", "kappa: each step subtracts kappa/N times the weights"),
    Key("batch_size", "int", 1, "mini-batch size b: each update averages the gradient over b "
        "fresh samples; t counts updates/N (1: online SGD)", minimum=1,
        commands=("run", "compare", "optimise"), note="sweeps run online SGD (batch size 1)"),
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
        commands=("run", "compare", "optimise"), note=_NO_SWEEP_SEED),
    Key("batch", "int", None, "number of independent states (a batch; optimise: one "
        "schedule for their mean objective)", minimum=1,
        commands=("run", "compare", "optimise"),
        note="a sweep sets the replicas in [sweep] replicas"),
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

_OPTIMISE = Section("optimise", "the schedule optimised by `odesolve optimise` and its "
                                "objective (odesolve.optimise_run)", (
    Key("t_final", "real", None, "horizon of the training run (time, updates / N)",
        positive=True, required=True),
    Key("n_pieces", "int", 50, "pieces of each optimised schedule (its unknowns: n_pieces "
        "values, n_pieces + 1 for kind = 'linear')", minimum=1),
    Key("kind", "choice", "constant", "'constant' (piecewise constant) or 'linear' (piecewise "
        "linear) schedules", choices=("constant", "linear")),
    Key("steps_per_unit", "int", 20, "RK4 steps per unit of time (rounded up so that every "
        "jump of a schedule lies on the grid)", minimum=1),
    Key("n_steps", "int", None, "RK4 steps of the whole run, instead of steps_per_unit (a "
        "multiple of n_pieces)", minimum=1),
    Key("objective", "choice", None, "'final' (eps_g at t_final) or 'integral' (int_0^t_final "
        "eps_g dt); absent: 'final', or the weights below", choices=("final", "integral")),
    Key("w_final", "real", None, "weight of eps_g(t_final) in the objective, instead of "
        "`objective` (absent: 0 when w_integral is given)", minimum=0.0),
    Key("w_integral", "real", None, "weight of int_0^t_final eps_g dt, instead of `objective` "
        "(absent: 0 when w_final is given)", minimum=0.0),
    Key("schedules", "names", ("eta",), "parameters to schedule: 'eta' (first layer), "
        "'eta_v' (readouts), 'mix' (the fraction of samples from task 1, with [replay]); "
        "absent: ['eta'], with [replay] ['mix', 'eta']", choices=("eta", "eta_v", "mix")),
    _rate("eta_min", "lower bound of the eta schedule", 0.0),
    Key("eta_max", "real", 5.0, "upper bound of the eta schedule", positive=True),
    _rate("eta_v_min", "lower bound of the eta_v schedule", 0.0),
    Key("eta_v_max", "real", 5.0, "upper bound of the eta_v schedule", positive=True),
    Key("start", "start", "constant", "starting schedule: 'constant' (the best constant "
        "first), 'setup' (the [setup] rates; mix 0.5) or a number (every piece)",
        choices=("constant", "setup")),
    Key("max_iter", "int", 200, "iterations of the optimiser (L-BFGS-B)", minimum=1),
    Key("n_record", "int", 201, "recorded times of the written trajectories", minimum=2),
))

_BASELINES = Section("baselines", "standard schedules compared with the optimal one", (
    Key("constant", "bool", True, "the best constant values in the bounds (optimised)"),
    Key("annealing", "bool", True, "one task: the best 1/t annealing eta0 t0 / (t0 + t) "
        "(optimised over eta0 and t0)"),
    Key("setup", "bool", True, "one task: the constant rates of [setup]"),
    Key("block", "bool", True, "[replay]: task 0 for the first half, then task 1, at the "
        "[setup] rates"),
    Key("interleaved", "bool", True, "[replay]: half of the samples from each task "
        "throughout, at the [setup] rates"),
))

_REPLAY = Section("replay", "two tasks learnt together (odesolve.control.mixture): the "
                            "schedule `mix` is the fraction of samples from task 1", (
    Key("similarity", "real", 0.5, "feature similarity a of the two teachers", minimum=-1.0,
        maximum=1.0),
    Key("task_weights", "real_or_reals", 1.0, "weights of eps_0 and eps_1 in the cost (one "
        "number for both, or two numbers >= 0)"),
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
SCHEMA = (_SETUP, _INIT_RANDOM, _INIT_OVERLAPS, _SOLVER, _SIMULATION, _SWEEP, _PHASE, _OUTPUT,
          _OPTIMISE, _BASELINES, _REPLAY)

#: Sections each command reads: (required, optional), in the order they are checked.
COMMAND_SECTIONS = {
    "run": (("setup", "solver"), ("init", "simulation", "output")),
    "compare": (("setup", "solver"), ("init", "simulation", "output")),
    "sweep": (("sweep", "solver"), ("setup", "init", "output")),
    "optimise": (("setup", "optimise"), ("init", "baselines", "replay", "output")),
}

_TOP_SECTIONS = ("setup", "init", "solver", "simulation", "sweep", "output", "optimise",
                 "baselines", "replay")
#: output times when [solver] sets no `n_out`: the defaults of odesolve.integrate (run),
#: odesolve.compare and SweepSpec (sweep), as the schema states them
DEFAULT_N_OUT = {"run": 201, "compare": 51, "sweep": 101}
#: [init] keys a sweep may fix or sweep (besides the [setup] keys)
_SWEEP_INIT_KEYS = ("N", "student_std", "readout_std", "teacher_std", "readout_mean", "v_star")


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
    if k.kind == "names":
        return f"list of distinct names in {k.choices}"
    if k.kind == "start":
        return f"one of {k.choices} or a number >= 0"
    if lo is not None and k.maximum is not None:
        return f"{rule} in {lo}, {k.maximum:g}]"
    if lo is not None:
        return f"{rule} {'> 0' if k.positive else f'>= {k.minimum:g}'}"
    return rule + (f" <= {k.maximum:g}" if k.maximum is not None else "")


def _default(k: Key) -> str:
    if k.required:
        return "required" + ("" if k.required is True else f" by {', '.join(k.required)}")
    return "optional" if k.default is None else f"default {k.default!r}"

