"""The commands: one function ``_cmd_<command>(args)`` each, returning its exit code.

Each checks its input and its output paths before any work, sets ``args.started`` when the
work begins, prints what it does and what it wrote, and says a divergence or an interruption
in one line (:mod:`odesolve.cli` turns the exceptions into the documented exit codes).
"""
from __future__ import annotations

import inspect
import math
import os
import sys
import time
import warnings
from pathlib import Path

from .exit_codes import EXIT_CHECK_FAILED, EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_OK
from .inputs import _load, _read_sweep, _reading
from .outputs import (_check_outputs, _failure_note, _interrupted_status, _note, _save_report,
                      _sweep_figures, optimise_base, result_path)

__all__ = ["expected_compare_duration"]


def _cmd_run(args) -> int:
    import numpy as np

    from .. import config as cfg
    from ..integration import integrate
    from ..io import save_npz
    from ..plotting import plot_trajectory

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
    from ..derive import generate

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
    from .. import comparison

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
    from .. import config as cfg
    from ..comparison import compare

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


def _accepts(func, name: str) -> bool:
    return name in inspect.signature(func).parameters


def _cmd_sweep(args) -> int:
    from .. import config as cfg
    from ..sweeps import run_spec
    from ..sweeps.plots import plot_sweep

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


def _cmd_plot(args) -> int:
    from ..sweeps.plots import plot_curves, plot_heatmap

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

    from ..io import atomic_path
    from ..scenarios import SCENARIOS, run_scenario, validate

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

    from ..io import atomic_path
    from ..model import TeacherStudent
    from ..plotting import _pyplot, save_figure
    from ..stability import plot_stability_curves, stability_curves

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



def _cmd_optimise(args) -> int:
    from .. import config as cfg
    from ..optimise_run import (StartDiverged, optimise_config, output_paths, quick_config,
                                save_result)

    if args.print_example:
        sys.stdout.write(cfg.example_text("optimise"))
        return EXIT_OK
    conf = _load(args, "optimise")
    run_conf = quick_config(conf) if args.quick else conf
    with _reading(args):                            # every rule checked before any work
        setup = cfg.setup_from_config(run_conf)
        cfg.state_from_config(run_conf, setup)
        opts = cfg.optimise_options(run_conf, setup)
    out = conf.get("output", {})
    base = optimise_base(args.output, out.get("path"), args.config)
    plot = out.get("plot", True) and not args.no_plot
    paths = output_paths(base)
    if not plot:
        del paths["figure"]
    _check_outputs(list(paths.values()))
    print(f"optimise {', '.join(opts['schedules'])} of {setup.activation_name} K={setup.K} "
          f"M={setup.M} sigma={setup.sigma:g}: {opts['n_pieces']} pieces, t_final = "
          f"{opts['t_final']:g}, objective {opts['objective']}"
          f"{' (--quick)' if args.quick else ''}; Ctrl-C stops and keeps the best schedule "
          "so far ...", flush=True)
    args.started = True
    try:
        with warnings.catch_warnings():             # said below, in the command's own words
            warnings.filterwarnings("ignore", message="optimise: interrupted",
                                    category=RuntimeWarning)
            result = optimise_config(run_conf, progress=not args.quiet, log=print)
    except StartDiverged as err:
        _note(args, f"error: {err}")
        return EXIT_DIVERGED
    written = save_result(result, base, plot=plot)
    print(result.summary())
    print(f"done in {result.seconds:.1f} s (including compilation on a first run)")
    for name, path in written.items():
        print(f"{name + ':':11s} {path.resolve()}")
    if result.interrupted:
        _note(args, "interrupted (Ctrl-C): the best schedule found so far and the baselines "
                    "finished are written")
        return EXIT_INTERRUPTED
    failed = [k for k, p in result.protocols.items() if (p.status != 0).any()]
    if failed:
        _note(args, f"warning: the run of {', '.join(failed)} diverged (status and t_fail in "
                    "the files)")
        return EXIT_DIVERGED if "optimal" in failed else EXIT_OK
    return EXIT_OK
