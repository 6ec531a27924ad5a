"""Command line: ``odesolve run``, ``derive``, ``compare``, ``sweep``, ``plot``, ``scenario``,
``stability`` (``odesolve COMMAND --help`` shows each command's examples).

Exit codes (also in ``odesolve --help``)::

  0    success
  1    a check failed (compare FAIL or INCONCLUSIVE, derive --check stale, scenario
       --validate FAIL)
  2    bad input: arguments, configuration, a missing or corrupt input file, an output path
       that cannot be written (all detected before any work starts)
  3    finished with diverged members (results and figures are written, with status and
       t_fail per member)
  4    file-system error after work started (writing a result failed)
  130  interrupted by Ctrl-C (what was computed is written where the command can)

An expected failure prints one line ``odesolve <command>: error: <message>`` on stderr and
returns its code; only a bug shows a Python traceback.

Output files (also in ``odesolve --help``)::

  run, compare and sweep name their files from one base: -o, else [output] path, else
  odesolve-out/<config name>. run writes <base>.npz and <base>.png; compare
  <base>-compare.json and <base>-compare.png; sweep <base>-sweep.npz and
  <base>-sweep-<observable>.png, <base>-sweep-eps_g.png. A path with the command's own
  suffix (.npz for run and sweep, .json for compare) names the result file itself; an
  existing directory receives the files of <config name>. Every output path is checked
  before any work starts.
"""
from __future__ import annotations

import argparse
import contextlib
import inspect
import math
import os
import re
import sys
import time
import warnings
import zipfile
from pathlib import Path

#: the documented exit codes (module docstring, ``odesolve --help``)
EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_FILE_SYSTEM = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130


def _docstring_block(title: str) -> str:
    """The literal block after the paragraph ``title::`` of this module's docstring, headed
    ``title:`` for the help text (empty under ``python -OO``, which strips docstrings)."""
    paragraphs = (__doc__ or "").split("\n\n")
    for head, block in zip(paragraphs, paragraphs[1:]):
        if head.startswith(title):
            return f"{title.lower()}:\n{block}\n"
    return ""


EPILOG = """examples:
  odesolve run                      integrate the built-in default (erf, K = M = 2) and plot it
  odesolve run --print-default > my_run.toml   start a configuration from the default
  odesolve compare --print-example > cmp.toml  a quick ODE-versus-simulation example
  odesolve compare cmp.toml         simulate at finite N and compare with the ODE
  odesolve sweep --print-example > sweep.toml  start a sweep configuration
  odesolve sweep sweep.toml         run (or resume) a sweep and plot it
  odesolve plot odesolve-out/sweep-sweep.npz --curves   eps_g curves of a sweep result
  odesolve scenario forgetting      reproduce (b) of Jarvis et al. 2025: figure + JSON
  odesolve stability --K 3          plateau, escape rate, eta_max and eta_opt against eta
  odesolve derive --check           exit 1 when the checked-in generated code is stale

""" + _docstring_block("Exit codes") + "\n" + _docstring_block("Output files")

#: examples shown by each command's --help (only that command)
EXAMPLES = {
    "run": """examples:
  odesolve run                       integrate the built-in default (erf, K = M = 2):
                                     odesolve-out/default.npz and odesolve-out/default.png
  odesolve run my_run.toml           integrate a configuration: odesolve-out/my_run.npz, .png
  odesolve run my_run.toml -o out/a  the same into out/a.npz and out/a.png
  odesolve run --print-default > my_run.toml   start a configuration from the default
""",
    "derive": """examples:
  odesolve derive                    re-derive the ODEs and kernels, regenerate code and Markdown
  odesolve derive --check            exit 1 when the checked-in generated code is stale
""",
    "compare": """examples:
  odesolve compare --print-example > cmp.toml   an annotated quick example (under a minute)
  odesolve compare cmp.toml          simulate at finite N, compare with the ODE:
                                     odesolve-out/cmp-compare.json and .png;
                                     exit 0 PASS, 1 FAIL or INCONCLUSIVE
  odesolve compare cmp.toml -o out/cmp.json -q   report to out/cmp.json (figure out/cmp.png)
""",
    "sweep": """examples:
  odesolve sweep --print-example > sweep.toml   start a sweep configuration from the example
  odesolve sweep sweep.toml          run (or resume) it: odesolve-out/sweep-sweep.npz
                                     and two figures beside it
  odesolve sweep sweep.toml --overwrite   replace a finished result of a different sweep
  odesolve sweep sweep.toml --scheduler tcp://10.0.0.1:8786   the same on a Dask cluster
""",
    "plot": """examples:
  odesolve plot odesolve-out/sweep-sweep.npz --observable eps_g_final --x eta --y readout_std
  odesolve plot odesolve-out/sweep-sweep.npz --curves --colour-by readout_std
""",
    "scenario": """examples:
  odesolve scenario forgetting       reproduce (b) of Jarvis et al. 2025: figure + JSON
  odesolve scenario all --quick      every scenario with fewer points (minutes)
  odesolve scenario ewc --validate   also check a few points against N = 10 000 simulations
  odesolve scenario critical_periods -o figs   deep linear networks, into figs/
""",
    "stability": """examples:
  odesolve stability --K 3           plateau, escape rate, eta_max and eta_opt against eta
  odesolve stability --K 2 --train-v --sigma 0.1   trained readouts, noisy teacher
""",
}

#: result suffix and name tail of each command's files (module docstring, "output files")
_RESULT_NAMES = {"run": (".npz", ""), "compare": (".json", "-compare"),
                 "sweep": (".npz", "-sweep")}
_KNOWN_SUFFIXES = (".npz", ".json", ".png", ".toml")


def result_path(command: str, output=None, config_path=None, config_file=None) -> Path:
    """The result file of ``command`` (see "output files" in the module docstring).

    Parameters
    ----------
    command : {"run", "compare", "sweep"}
    output : str, optional
        The ``-o`` option.
    config_path : str, optional
        ``[output] path`` of the configuration.
    config_file : str, optional
        The configuration file (its name is the default base); None for the built-in default.

    Returns
    -------
    Path
    """
    suffix, tail = _RESULT_NAMES[command]
    stem = Path(config_file).stem if config_file else "default"
    given = output if output is not None else config_path
    if given is None:
        base = Path("odesolve-out") / stem
    else:
        p = Path(given).expanduser()
        if p.is_dir():
            base = p / stem
        elif p.suffix == suffix:
            return p
        else:
            base = p.with_suffix("") if p.suffix in _KNOWN_SUFFIXES else p
    return base.with_name(base.name + tail + suffix)


def _check_outputs(paths):
    """Refuse (exit 2) before any work when one of ``paths`` cannot be written."""
    from .io import check_writable

    for p in paths:
        check_writable(p)


def _sweep_figures(path: Path, observable: str) -> list:
    """Files :func:`odesolve.sweeps.plots.plot_sweep` writes beside ``path``."""
    base = path.with_suffix("")
    return [base.with_name(f"{base.name}-{observable}.png"),
            base.with_name(f"{base.name}-eps_g.png")]


def _interrupted_status():
    """The solvers' INTERRUPTED status code, or None before the solvers have one."""
    from . import solvers

    return getattr(solvers, "INTERRUPTED", None)


def _status_message(code: int) -> str:
    from . import solvers

    return getattr(solvers, "STATUS_MESSAGES", {}).get(int(code), f"status {int(code)}")


def _failure_note(status, t_fail) -> str | None:
    """'warning: k of n member(s) diverged (first at t = ...: reason)', or None when every
    member finished (members stopped by Ctrl-C are not counted)."""
    import numpy as np

    status = np.atleast_1d(np.asarray(status)).ravel()
    t_fail = np.atleast_1d(np.asarray(t_fail, dtype=float)).ravel()
    failed = (status != 0) & (status != (_interrupted_status() or -1))
    if not failed.any():
        return None
    idx = np.flatnonzero(failed)
    first = idx[np.argmin(np.where(np.isfinite(t_fail[idx]), t_fail[idx], np.inf))]
    return (f"warning: {failed.sum()} of {status.size} member(s) diverged (first at t = "
            f"{t_fail[first]:.6g}: {_status_message(status[first])})")


# -- commands ------------------------------------------------------------------------------
def _load(args, command: str) -> dict:
    from . import config as cfg

    if args.config is None:
        if command == "run":
            return cfg.validate_config(cfg.default_config(), "run")
        raise cfg.ConfigError(f"give a configuration file (start from `odesolve {command} "
                              "--print-example > my.toml`).")
    return cfg.load_config(args.config, command)


@contextlib.contextmanager
def _reading(args):
    """A :class:`~odesolve.config.ConfigError` of the readers that build objects from a
    loaded configuration (rules that span keys) names the file, as load_config's do."""
    from .config import ConfigError

    try:
        yield
    except ConfigError as err:
        if args.config is None:
            raise
        raise ConfigError(f"{Path(args.config).name}: {err}") from None


def _cmd_run(args) -> int:
    import numpy as np

    from . import config as cfg
    from .integration import integrate
    from .io import save_npz
    from .plotting import plot_trajectory

    if args.print_default:
        sys.stdout.write(cfg.example_text("default"))
        return EXIT_OK
    conf = _load(args, "run")
    with _reading(args):
        setup = cfg.setup_from_config(conf)
        state = cfg.state_from_config(conf, setup)
        opts = cfg.solver_options(conf, "run")
    out = conf.get("output", {})
    path = result_path("run", args.output, out.get("path"), args.config)
    figure = path.with_suffix(".png") if out.get("plot", True) and not args.no_plot else None
    _check_outputs([path] + ([figure] if figure else []))
    print(f"integrating {setup.activation_name} K={setup.K} M={setup.M} eta={setup.eta:g} "
          f"with {opts.get('method', 'rk4')} to t = {opts['t_max']:g} ...", flush=True)
    args.started = True
    start = time.perf_counter()
    with warnings.catch_warnings():                 # said below, in the command's own words
        warnings.filterwarnings("ignore", message="integrate: interrupted",
                                category=RuntimeWarning)
        traj = integrate(setup, state, on_failure="flag", **opts)
    elapsed = time.perf_counter() - start
    save_npz(path, traj.arrays(), config=conf)
    print(f"{'stopped' if traj.interrupted else 'done'} after {elapsed:.2f} s (including "
          "compilation on a first run)")
    eg = traj.eps_g if not traj.is_batched else traj.eps_g[0]
    last = np.flatnonzero(np.isfinite(eg))            # the last time computed (or reached)
    j = int(last[-1]) if last.size else 0
    print(f"eps_g: t=0 {eg[0]:.4g}, t={traj.t[j]:g} {eg[j]:.4g}")
    print(f"results: {path.resolve()}")
    if figure:
        print(f"figure:  {Path(plot_trajectory(traj, figure)).resolve()}")
    status = np.atleast_1d(traj.status)
    code = _interrupted_status()
    if code is not None and np.any(status == code):
        t_stop = np.nanmax(np.atleast_1d(traj.t_fail)[status == code])
        _note(args, f"interrupted (Ctrl-C) at t = {t_stop:.6g}; the partial result"
                    f"{' and figure are' if figure else ' is'} written")
        return EXIT_INTERRUPTED
    note = _failure_note(traj.status, traj.t_fail)
    if note:
        _note(args, f"{note}; results{' and figure' if figure else ''} written with "
                    "status and t_fail")
        return EXIT_DIVERGED
    return EXIT_OK


def _cmd_derive(args) -> int:
    from .derive import generate

    start = time.perf_counter()
    report = generate(check=args.check)
    if args.check:
        if report:
            sys.stdout.write("\n".join(report))
            print(f"\nstale: {len(report)} generated file(s) differ from a fresh derivation; "
                  "run `odesolve derive`.", file=sys.stderr)
            return EXIT_CHECK_FAILED
        print(f"generated code is up to date ({time.perf_counter() - start:.1f} s)")
        return EXIT_OK
    for path in report:
        print(f"wrote {path}")
    return EXIT_OK


def expected_compare_duration(setup, N: int, n_seeds: int, t_max: float) -> float:
    """Seconds ``odesolve compare`` is expected to take.

    Uses :func:`odesolve.comparison.estimate_duration` when it exists; otherwise a rough
    figure: about 50 000 SGD steps/s per core at N = 10 000 and K + M = 4, the cost of a step
    growing like N (K + M), ``t_max * N`` steps per seed and the seeds spread over the cores.
    """
    from . import comparison

    estimate = getattr(comparison, "estimate_duration", None)
    if estimate is not None:
        return float(estimate(setup, N, n_seeds, t_max))
    steps_per_s = 50_000 * (10_000 / N) * (4 / (setup.K + setup.M))
    rounds = math.ceil(n_seeds / (os.cpu_count() or 1))
    return rounds * t_max * N / steps_per_s


def _duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _cmd_compare(args) -> int:
    from . import config as cfg
    from .comparison import compare

    if args.print_example:
        sys.stdout.write(cfg.example_text("compare"))
        return EXIT_OK
    conf = _load(args, "compare")
    with _reading(args):
        setup = cfg.setup_from_config(conf)
        state = cfg.state_from_config(conf, setup)
        opts = cfg.solver_options(conf, "compare")
        sim = cfg.simulation_options(conf)
    opts.pop("max_steps", None)
    out = conf.get("output", {})
    path = result_path("compare", args.output, out.get("path"), args.config)
    plot = out.get("plot", True)
    _check_outputs([path] + ([path.with_suffix(".png")] if plot else []))
    t_max = opts["t_max"]
    seconds = expected_compare_duration(setup, sim["N"], len(sim["seeds"]), t_max)
    print(f"comparing {setup.activation_name} K={setup.K} M={setup.M} eta={setup.eta:g}: "
          f"N = {sim['N']}, {len(sim['seeds'])} seeds, t <= {t_max:g}; expected duration "
          f"about {_duration_text(seconds)} (Ctrl-C stops it and keeps what was simulated)"
          " ...", flush=True)
    args.started = True
    report = compare(setup, state, progress=not args.quiet, **sim, **opts)
    print(report.summary())
    json_path, png_path = _save_report(report, path, plot)
    print(f"report:  {json_path.resolve()}")
    if png_path:
        print(f"figure:  {png_path.resolve()}")
    if report.info.get("interrupted"):
        _note(args, "interrupted (Ctrl-C): the report of what was simulated is written "
                    "(verdict FAIL)")
        return EXIT_INTERRUPTED
    return EXIT_OK if report.passed else EXIT_CHECK_FAILED


def _save_report(report, path: Path, plot: bool):
    """Write the comparison report (and its figure unless ``plot`` is false)."""
    import json

    from .io import _jsonable, atomic_path

    if plot:
        return tuple(Path(p) for p in report.save(path))
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(report.to_dict(), indent=1, default=_jsonable,
                                  allow_nan=True))
    return path, None


def _accepts(func, name: str) -> bool:
    return name in inspect.signature(func).parameters


def _cmd_sweep(args) -> int:
    from . import config as cfg
    from .sweeps import run_spec
    from .sweeps.plots import plot_sweep

    if args.print_example:
        sys.stdout.write(cfg.example_text("sweep"))
        return EXIT_OK
    conf = _load(args, "sweep")
    with _reading(args):
        spec = cfg.sweep_spec_from_config(conf)
    out = conf.get("output", {})
    path = result_path("sweep", args.output, out.get("path"), args.config)
    observable = out.get("observable", "t_specialise")
    plot = out.get("plot", True) and not args.no_plot
    _check_outputs([path] + (_sweep_figures(path, observable) if plot else []))
    if args.scheduler:
        import importlib.util

        if importlib.util.find_spec("distributed") is None:
            raise ValueError("--scheduler needs dask.distributed: pip install "
                             "'odesolve[dask]'.")
    print(f"sweep over {dict(zip(spec.dims, spec.shape))} x {spec.replicas} replicas = "
          f"{spec.n_members} members, t <= {spec.t_max:g}, {len(spec.chunks())} chunk(s) on "
          f"{args.scheduler or 'this machine'}", flush=True)
    options = {"overwrite": args.overwrite} if _accepts(run_spec, "overwrite") else {}
    args.started = True
    try:
        result = run_spec(spec, out=path, scheduler=args.scheduler, progress=not args.quiet,
                          restart=args.restart, **options)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED           # the runner has said which chunks are kept
    ok = result.success
    if result.info.get("reused"):
        print(f"{path} already holds the finished result of this sweep: not recomputed "
              "(--restart recomputes it)")
    print(f"done in {result.info.get('wall_s', 0.0):.1f} s "
          f"({result.info.get('chunks_resumed', 0)} chunk(s) resumed); "
          f"{int(ok.sum())}/{ok.size} members finished, {int((~ok).sum())} flagged "
          "(status, t_fail in the file)")
    print(f"results: {path.resolve()}")
    if plot:
        for fig in plot_sweep(result, path, observable):
            print(f"figure:  {Path(fig).resolve()}")
    note = _failure_note(result["status"], result["t_fail"])
    if note:
        _note(args, f"{note}; results{' and figures' if plot else ''} written with status "
                    "and t_fail")
        return EXIT_DIVERGED
    return EXIT_OK


class InputFileError(ValueError):
    """An input file is missing, corrupt, truncated or of the wrong kind."""


def _read_sweep(path):
    """A sweep result file, or an InputFileError saying what is wrong with it."""
    import json

    from .sweeps import load_sweep

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"result file {str(path)!r} "
                             f"{'is a directory' if path.is_dir() else 'does not exist'}.")
    try:
        return load_sweep(path)
    except (zipfile.BadZipFile, EOFError) as err:
        raise InputFileError(f"{path} is not a readable .npz file (truncated or corrupt: "
                             f"{err}).") from None
    except json.JSONDecodeError:
        raise InputFileError(f"{path}: its embedded configuration is corrupt.") from None
    except KeyError as err:
        raise InputFileError(f"{path} is not an odesolve sweep result (no {err} entry); "
                             "give a file written by `odesolve sweep`.") from None
    except ValueError as err:
        if str(path) in str(err):                   # already names the file and the way out
            raise
        raise InputFileError(f"cannot read {path} as a sweep result: {err}") from None


def _cmd_plot(args) -> int:
    from .sweeps.plots import plot_curves, plot_heatmap

    result = _read_sweep(args.results)
    base = Path(args.output or Path(args.results).with_suffix("")).with_suffix("")
    if args.curves:
        path = base.with_name(base.name + "-eps_g.png")
        _check_outputs([path])
        fig = plot_curves(result, colour_by=args.colour_by, path=path)
    else:
        path = base.with_name(f"{base.name}-{args.observable}.png")
        _check_outputs([path])
        fig = plot_heatmap(result, args.observable, args.x, args.y, args.how, path=path)
    print(f"figure:  {Path(fig).resolve()}")
    return EXIT_OK


def _cmd_scenario(args) -> int:
    import json

    from .io import atomic_path
    from .scenarios import SCENARIOS, run_scenario, validate

    names = sorted(SCENARIOS) if args.name == "all" else [args.name]
    if any(n not in SCENARIOS for n in names):
        raise ValueError(f"unknown scenario {args.name!r}; choose from {sorted(SCENARIOS)} "
                         "or 'all'.")
    out = Path(args.out)
    _check_outputs([out / f"{n}{suffix}" for n in names for suffix in (".json", ".png")])
    args.started = True
    ok = True
    for name in names:
        print(f"scenario {name}: {SCENARIOS[name][3]} ...", flush=True)
        data, js, png = run_scenario(name, args.out, quick=args.quick)
        print(f"  done in {data['wall_s']:.1f} s\n  numbers: {js.resolve()}\n"
              f"  figure:  {png.resolve()}")
        if args.validate and name in ("specialisation", "forgetting", "ewc"):
            reports = validate(name, N=args.N, seeds=range(args.seeds))
            path = js.with_name(f"{name}-validation.json")
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(reports, indent=1))
            for rep in reports:
                worst = max(s["worst"] for s in rep["stats"].values())
                print(f"  N = {rep['N']}, {len(rep['seeds'])} seeds, {rep['point']}: "
                      f"worst deviation / tolerance {worst:.2f} -> "
                      f"{'PASS' if rep['passed'] else 'FAIL'}")
                ok = ok and rep["passed"]
            print(f"  validation: {path.resolve()}")
    return EXIT_OK if ok else EXIT_CHECK_FAILED


def _cmd_stability(args) -> int:
    import json

    from .io import atomic_path
    from .model import TeacherStudent
    from .plotting import _pyplot, save_figure
    from .stability import plot_stability_curves, stability_curves

    setup = TeacherStudent(args.K, args.K, args.activation, eta=1.0,
                           eta_v=None if args.train_v else 0.0, sigma=args.sigma)
    out = Path(args.out)
    stem = (f"stability-K{args.K}-{args.activation}" + ("-trained" if args.train_v else "")
            + (f"-sigma{args.sigma:g}" if args.sigma > 0 else ""))
    js, png = out / f"{stem}.json", out / f"{stem}.png"
    _check_outputs([js, png])
    print(f"stability: soft committee machine K = M = {args.K}, {args.activation}, readouts "
          f"{'trained' if args.train_v else 'fixed'}, sigma = {args.sigma:g} ...", flush=True)
    args.started = True
    d = stability_curves(setup, n_eta=args.n_eta)
    with atomic_path(js) as tmp:
        tmp.write_text(json.dumps(d, indent=1))
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4), constrained_layout=True)
    plot_stability_curves(d, axes)
    save_figure(fig, png)
    print(f"  eta_max = {d['eta_max']:.6g}   eta_opt = {d['eta_opt']:.6g} "
          f"(decay rate {d['decay_rate_opt']:.4g}; noise-free)\n"
          f"  plateau eps_g (eta -> 0) = {d['plateau_eps_g_small_eta']:.8g}, escape rate per "
          f"unit eta = {d['escape_rate_per_eta_small_eta']:.6g}\n"
          f"  numbers: {js.resolve()}\n  figure:  {png.resolve()}")
    return EXIT_OK


# -- argument types ------------------------------------------------------------------------
def _number_type(kind: str, option: str, **rule):
    """An argparse ``type=`` that parses a number and checks it with odesolve._checks, so a
    bad value is refused in one line naming the option and the rule."""
    from ._checks import check_int, check_real

    parse, check, what = ((int, check_int, "an integer") if kind == "int"
                          else (float, check_real, "a number"))

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"`{option}` must be {what}, got "
                                             f"{text!r}.") from None
        try:
            return check(option, value, **rule)
        except (TypeError, ValueError) as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    convert.__name__ = kind
    return convert


def _nonempty(option: str):
    def convert(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"`{option}` must not be empty.")
        return text

    convert.__name__ = "text"
    return convert


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line: ``odesolve <command>: error: <message>`` (exit 2)."""

    def error(self, message):
        message = re.sub(r"^argument ([^:]+): (`\1` )", r"\2", _one_line(message))
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message.rstrip('.')}; see "
                                  f"`{self.prog} --help`.\n")


def _one_line(text) -> str:
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _subparser(sub, name: str, help: str):
    parser = sub.add_parser(name, help=help, epilog=EXAMPLES[name],
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(command_parser=parser)     # reports the command's own argument errors
    return parser


_OUTPUT_HELP = ("output base name ({0}); a name ending in {1} is the result file itself, "
                "an existing directory gets <config name>{2}{1}")


def build_parser() -> argparse.ArgumentParser:
    from .model import ACTIVATIONS

    parser = _Parser(
        prog="odesolve", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Derive, integrate and check the order-parameter ODEs of online SGD in "
                    "teacher-student soft committee machines.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = _subparser(sub, "run", "integrate a configuration (default: built-in example)")
    run.add_argument("config", nargs="?", help="TOML file ([setup], [init], [solver], "
                                               "[output]); default: the built-in one")
    run.add_argument("-o", "--output", type=_nonempty("--output"),
                     help=_OUTPUT_HELP.format("writes <base>.npz and <base>.png", ".npz", ""))
    run.add_argument("--no-plot", action="store_true", help="do not write the figure")
    run.add_argument("--print-default", action="store_true",
                     help="print the built-in default configuration and exit")
    run.set_defaults(func=_cmd_run)
    der = _subparser(sub, "derive", "regenerate derived code and Markdown")
    der.add_argument("--check", action="store_true",
                     help="compare with a fresh derivation; exit 1 when stale")
    der.set_defaults(func=_cmd_derive)
    cmp_ = _subparser(sub, "compare", "compare the ODE with a finite-N simulation")
    cmp_.add_argument("config", nargs="?",
                      help="TOML file ([setup], [init], [solver], [simulation], [output])")
    cmp_.add_argument("-o", "--output", type=_nonempty("--output"),
                      help=_OUTPUT_HELP.format("writes <base>-compare.json and .png", ".json",
                                               "-compare"))
    cmp_.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    cmp_.add_argument("--print-example", action="store_true",
                      help="print an annotated quick example configuration and exit")
    cmp_.set_defaults(func=_cmd_compare)
    sw = _subparser(sub, "sweep", "integrate over a grid of parameters and initial states")
    sw.add_argument("config", nargs="?", help="TOML file ([setup], [init], [sweep], [solver], "
                                              "[output])")
    sw.add_argument("-o", "--output", type=_nonempty("--output"),
                    help=_OUTPUT_HELP.format("writes <base>-sweep.npz and its figures", ".npz",
                                             "-sweep"))
    sw.add_argument("--scheduler", type=_nonempty("--scheduler"),
                    help="Dask scheduler address, e.g. tcp://host:8786")
    sw.add_argument("--restart", action="store_true",
                    help="discard finished chunks of an interrupted run instead of resuming")
    sw.add_argument("--overwrite", action="store_true",
                    help="replace a finished result of a different sweep at the output path")
    sw.add_argument("--no-plot", action="store_true", help="do not write figures")
    sw.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sw.add_argument("--print-example", action="store_true",
                    help="print an annotated example configuration and exit")
    sw.set_defaults(func=_cmd_sweep)
    pl = _subparser(sub, "plot", "heatmap or eps_g curves of a sweep result file")
    pl.add_argument("results", help="a .npz written by the sweep command")
    pl.add_argument("--observable", default="t_specialise", type=_nonempty("--observable"),
                    help="eps_g_final, eps_g_min, specialisation_final, t_specialise, t_learn, "
                         "... (default t_specialise)")
    pl.add_argument("--x", type=_nonempty("--x"), help="swept parameter on the x axis")
    pl.add_argument("--y", type=_nonempty("--y"), help="swept parameter on the y axis")
    pl.add_argument("--how", default="median",
                    choices=["median", "mean", "min", "max", "fraction_finite"],
                    help="reduction over replicas and other axes (default median)")
    pl.add_argument("--curves", action="store_true", help="overlaid eps_g(t) instead")
    pl.add_argument("--colour-by", type=_nonempty("--colour-by"),
                    help="axis that colours the curves")
    pl.add_argument("-o", "--output", type=_nonempty("--output"),
                    help="figure path stem (default: beside the results)")
    pl.set_defaults(func=_cmd_plot)
    sc = _subparser(sub, "scenario", "reproduce a result of Jarvis et al. 2025 (figure + JSON)")
    sc.add_argument("name", help="specialisation, forgetting, ewc, scm_deficit, lazy_rich, "
                                 "low_rank, critical_periods or all")
    sc.add_argument("-o", "--out", default="odesolve-out/scenarios", type=_nonempty("--out"),
                    help="output folder")
    sc.add_argument("--quick", action="store_true", help="fewer points and replicas")
    sc.add_argument("--validate", action="store_true",
                    help="simulate a few points at finite N and compare with the ODE (slow)")
    sc.add_argument("--N", type=_number_type("int", "--N", minimum=1), default=10_000,
                    help="input dimension of --validate")
    sc.add_argument("--seeds", type=_number_type("int", "--seeds", minimum=2), default=8,
                    help="seeds of --validate (default 8, at least 2)")
    sc.set_defaults(func=_cmd_scenario)
    st = _subparser(sub, "stability", "plateau, escape rate, maximal and optimal learning "
                                      "rate against eta (figure + JSON)")
    st.add_argument("--K", type=_number_type("int", "--K", minimum=1), default=2,
                    help="K = M (default 2)")
    st.add_argument("--activation", default="erf", choices=ACTIVATIONS,
                    help="erf (default; linear units have neither a plateau nor an isolated "
                         "perfect-learning point)")
    st.add_argument("--train-v", action="store_true",
                    help="train the readouts too (eta_v = eta); default: fixed v = 1")
    st.add_argument("--sigma", type=_number_type("real", "--sigma", minimum=0.0), default=0.0,
                    help="teacher output noise (>= 0)")
    st.add_argument("--n-eta", type=_number_type("int", "--n-eta", minimum=2), default=40,
                    help="points on the eta axis (at least 2)")
    st.add_argument("-o", "--out", default="odesolve-out/stability", type=_nonempty("--out"),
                    help="output folder")
    st.set_defaults(func=_cmd_stability)
    return parser


def _note(args, text: str):
    print(f"odesolve {args.command}: {_one_line(text)}", file=sys.stderr)


def _os_error_text(err: OSError) -> str:
    if err.strerror and err.filename:
        return f"{err.strerror}: {err.filename}"
    return str(err)


def main(argv=None) -> int:
    """Run the command line; returns the exit code (module docstring, "exit codes")."""
    parser = build_parser()
    try:
        args, extras = parser.parse_known_args(argv)
        if extras:                              # said by the command's parser, in its name
            getattr(args, "command_parser", parser).error(
                f"unrecognized arguments: {' '.join(extras)}")
    except SystemExit as stop:                  # --help, or an argument error (one line)
        return stop.code if isinstance(stop.code, int) else EXIT_OK
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    args.started = False                        # set by a command when its work begins

    def error(text, code):
        _note(args, f"error: {text}")
        return code

    try:
        with warnings.catch_warnings():
            warnings.showwarning = lambda message, *rest, **kw: _note(args, f"warning: "
                                                                            f"{message}")
            return args.func(args)
    except KeyboardInterrupt:
        return error("interrupted (Ctrl-C)" + ("" if args.started else
                                               " before any work started"), EXIT_INTERRUPTED)
    except (ValueError, TypeError, zipfile.BadZipFile, EOFError) as err:
        return error(err, EXIT_BAD_INPUT)
    except OSError as err:
        if args.started:
            return error(f"file-system error after the work started: "
                         f"{_os_error_text(err)}", EXIT_FILE_SYSTEM)
        return error(_os_error_text(err), EXIT_BAD_INPUT)


if __name__ == "__main__":
    sys.exit(main())
