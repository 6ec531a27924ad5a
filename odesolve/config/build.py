"""Objects built from a configuration: the model, the initial state, the options of
:func:`~odesolve.integration.integrate` and :func:`~odesolve.comparison.compare`, and the spec
of a sweep.

Each builder checks its sections against the schema and then the rules that span keys
(explicit overlaps of the model's K and M, ``times`` inside [0, t_max], a ``dt`` no longer than
the spacing of the output times, a grid point the model refuses): all before any work, each
error a ConfigError naming the section and the key.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import check_choice
from ..model import Overlaps, TeacherStudent
from .schema import (_BASELINES, _OPTIMISE, _REPLAY, _SETUP, _SIMULATION, COMMAND_SECTIONS,
                     DEFAULT_N_OUT)
from .validate import (ConfigError, _Context, _validate_section, _validate_solver_times,
                       validate_config)

if TYPE_CHECKING:
    from ..sweeps import SweepSpec

__all__ = ["setup_from_config", "state_from_config", "solver_options", "simulation_options",
           "sweep_spec_from_config", "optimise_options"]


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
    from ..integration import output_times
    from ..solvers import check_fixed_step

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
        (:func:`~odesolve.config.validate.validate_config`), ``K`` or ``M`` is neither set
        nor swept, or the spec refuses it; a grid point whose model or initialisation is
        refused (e.g. a ``v_star`` list whose length is not M) is named with its swept values
        and the section of the parameter (``[init]``, ``[setup]``, ``[sweep.axes]``). All
        before any work.
    """
    from ..sweeps import SweepSpec
    from ..sweeps.spec import SweepPointError

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


def optimise_options(config: dict[str, Any], setup: TeacherStudent) -> dict[str, Any]:
    """The settings of ``odesolve optimise`` from ``[optimise]`` and ``[baselines]``, with the
    rules that span keys checked (before any work).

    Parameters
    ----------
    config : dict
        A configuration (checked against the schema for ``optimise``).
    setup : TeacherStudent
        The model of ``[setup]`` (its rates are the ``setup`` baseline and start).

    Returns
    -------
    dict
        ``t_final``, ``n_pieces``, ``kind``, ``n_steps`` (a multiple of ``n_pieces`` for
        piecewise-constant schedules), ``w_final``, ``w_integral``, ``objective`` (a label),
        ``schedules`` (list of names), ``bounds`` (name -> (low, high); ``mix`` in [0, 1]),
        ``start`` ("constant", "setup" or a number), ``max_iter``, ``n_record``,
        ``baselines`` (name -> bool, the baselines of one task or of [replay]) and
        ``replay`` (None, or ``similarity`` and ``task_weights`` (w_0, w_1)).

    Raises
    ------
    ConfigError
        naming the section and the key: ``objective`` given with the weights, both weights
        0, ``n_steps`` with ``steps_per_unit`` or not a multiple of ``n_pieces``, a lower
        bound not below its upper bound, a bound of a parameter that is not scheduled,
        ``eta_v`` scheduled with fixed readouts, ``mix`` without [replay], a starting value
        outside the bounds, a baseline of the other mode, and with [replay]: task weights
        that are not two numbers >= 0 (not both 0), explicit overlaps, a batch of states or
        a mini-batch size other than 1.
    """
    validate_config(config, "optimise")
    sec = {k.name: k.default for k in _OPTIMISE.keys}
    sec.update(config["optimise"])
    given = config["optimise"]
    replay = _replay_options(config, setup)
    if replay is not None and "schedules" not in given:
        sec["schedules"] = ("mix", "eta")
    applicable = ("constant", "block", "interleaved") if replay else ("constant", "setup",
                                                                      "annealing")
    for name in config.get("baselines", {}):
        if name not in applicable:
            mode = "one task" if replay is None else "[replay] (two tasks)"
            raise ConfigError(f"[baselines] `{name}` is not a baseline of {mode}; the "
                              f"baselines are {', '.join(applicable)}.")
    base = {k.name: k.default for k in _BASELINES.keys if k.name in applicable}
    base.update(config.get("baselines", {}))
    weights = [k for k in ("w_final", "w_integral") if k in given]
    if weights and "objective" in given:
        raise ConfigError(f"[optimise] give `objective` or the weights `w_final`/`w_integral`, "
                          f"not both (found `objective` and `{weights[0]}`).")
    if weights:
        w_final, w_integral = float(given.get("w_final", 0.0)), float(given.get("w_integral",
                                                                                  0.0))
        if w_final == 0.0 and w_integral == 0.0:
            raise ConfigError("[optimise] `w_final` and `w_integral` are both 0: the objective "
                              "would be 0; give a positive weight.")
        objective = f"{w_final:g} eps_g(t_final) + {w_integral:g} int eps_g dt"
    else:
        objective = given.get("objective", "final")
        w_final, w_integral = (1.0, 0.0) if objective == "final" else (0.0, 1.0)
    n_pieces, kind, t_final = int(sec["n_pieces"]), sec["kind"], float(sec["t_final"])
    if "n_steps" in given:
        if "steps_per_unit" in given:
            raise ConfigError("[optimise] give `n_steps` or `steps_per_unit`, not both.")
        n_steps = int(given["n_steps"])
        if kind == "constant" and n_steps % n_pieces:
            raise ConfigError(f"[optimise] `n_steps` must be a multiple of `n_pieces` = "
                              f"{n_pieces} (every jump of the schedule on the step grid), got "
                              f"{n_steps}.")
    else:
        n_steps = max(1, int(np.ceil(t_final * int(sec["steps_per_unit"]) - 1e-9)))
        n_steps += (-n_steps) % n_pieces
    schedules = list(sec["schedules"])
    if "mix" in schedules and replay is None:
        raise ConfigError("[optimise] `schedules` holds 'mix', the task mixture of two tasks; "
                          "add a [replay] section or remove it.")
    if replay is not None and "mix" not in schedules:
        raise ConfigError("[optimise] `schedules` must hold 'mix' with [replay]: the task "
                          "mixture is what a replay protocol chooses.")
    bounds = {"mix": (0.0, 1.0)} if "mix" in schedules else {}
    for name in ("eta", "eta_v"):
        lo, hi = float(sec[f"{name}_min"]), float(sec[f"{name}_max"])
        if name not in schedules:
            extra = [k for k in (f"{name}_min", f"{name}_max") if k in given]
            if extra:
                raise ConfigError(f"[optimise] `{extra[0]}` bounds the schedule of {name}, "
                                  f"but `schedules` = {schedules}; add {name!r} or remove it.")
            continue
        if lo >= hi:
            raise ConfigError(f"[optimise] `{name}_min` must be below `{name}_max`, got "
                              f"{lo:g} >= {hi:g}.")
        bounds[name] = (lo, hi)
    if "eta_v" in schedules and setup.eta_readout == 0.0:
        raise ConfigError("[optimise] `schedules` holds 'eta_v', but [setup] eta_v = 0 keeps "
                          "the readouts fixed; set [setup] eta_v > 0 to train them.")
    start = sec["start"]
    rates = {"eta": setup.eta, "eta_v": setup.eta_readout, "mix": 0.5}
    for name, (lo, hi) in bounds.items():
        value, where = ((rates[name], f"[setup] `{name}`") if start == "setup" else
                        (start, "[optimise] `start`") if not isinstance(start, str) else
                        (None, ""))
        if value is not None and not lo <= value <= hi:
            keys = ("a fraction" if name == "mix" else
                    f"[optimise] `{name}_min`, `{name}_max`")
            raise ConfigError(f"{where} = {value:g} must lie in the bounds of the {name} "
                              f"schedule [{lo:g}, {hi:g}] ({keys}) to start from it.")
    return {"t_final": t_final, "n_pieces": n_pieces, "kind": kind, "n_steps": n_steps,
            "w_final": w_final, "w_integral": w_integral, "objective": objective,
            "schedules": schedules, "bounds": bounds, "start": start,
            "max_iter": int(sec["max_iter"]), "n_record": int(sec["n_record"]),
            "baselines": {k: bool(v) for k, v in base.items()}, "replay": replay}


def _replay_options(config: dict[str, Any], setup: TeacherStudent) -> dict[str, Any] | None:
    """``similarity`` and ``task_weights`` of [replay] (None without it), with its rules."""
    if "replay" not in config:
        return None
    sec = {k.name: k.default for k in _REPLAY.keys}
    sec.update(config["replay"])
    weights = sec["task_weights"]
    weights = [weights, weights] if not isinstance(weights, list) else list(weights)
    if len(weights) != 2 or min(weights) < 0 or max(weights) == 0:
        raise ConfigError(f"[replay] `task_weights` must be one number or two numbers >= 0, "
                          f"not both 0, got {config['replay'].get('task_weights')!r}.")
    init = config.get("init", {})
    if init.get("kind", "random") != "random":
        raise ConfigError("[init] `kind` must be 'random' with [replay]: the two-task state is "
                          "drawn (MultiTaskState.random), explicit overlaps are not read.")
    if "batch" in init:
        raise ConfigError("[init] `batch` is not read with [replay] (one initial state).")
    if setup.batch_size != 1:
        raise ConfigError("[setup] `batch_size` must be 1 with [replay] (the two-task "
                          "mixture ODE is that of online SGD).")
    return {"similarity": float(sec["similarity"]),
            "task_weights": (float(weights[0]), float(weights[1]))}
