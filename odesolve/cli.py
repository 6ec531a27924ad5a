"""Command line: ``odesolve run``, ``derive``, ``compare``, ``sweep``, ``plot``."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

EPILOG = """examples:
  odesolve run                      integrate the built-in default (erf, K = M = 2) and plot it
  odesolve run my_run.toml          integrate the setup, initial state and solver of a config
  odesolve run --print-default > my_run.toml   start a config from the default
  odesolve derive                   re-derive the ODEs and kernels, regenerate code and Markdown
  odesolve derive --check           exit 1 when the checked-in generated code is stale
  odesolve compare cmp.toml         simulate at finite N ([simulation]) and compare with the ODE;
                                    exit 0 when within tolerance, 1 when not, 2 on bad input
  odesolve sweep --print-example > sweep.toml   start a sweep config from the example
  odesolve sweep sweep.toml         run a sweep (resumes an interrupted one), plot it
  odesolve sweep sweep.toml --scheduler tcp://10.0.0.1:8786   the same on a Dask cluster
  odesolve plot odesolve-out/sweep.npz --observable eps_g_final --x eta --y readout_std
  odesolve scenario forgetting      reproduce (b) of Jarvis et al. 2025: figure + JSON
  odesolve scenario ewc --validate  also check a few of its points against N = 10 000 simulations
  odesolve scenario critical_periods   deep linear networks: critical-period curves per depth
  odesolve stability --K 3          plateau, escape rate, eta_max and eta_opt against eta
"""


def _cmd_run(args) -> int:
    from . import config as cfg
    from .integration import integrate
    from .io import save_npz
    from .plotting import plot_trajectory

    if args.print_default:
        from importlib import resources

        sys.stdout.write(resources.files("odesolve").joinpath("data/default.toml").read_text())
        return 0
    conf = cfg.default_config() if args.config is None else cfg.load_config(args.config)
    setup = cfg.setup_from_config(conf)
    state = cfg.state_from_config(conf, setup)
    opts = cfg.solver_options(conf)
    out = conf.get("output", {})
    path = Path(args.output or out.get("path") or
                f"odesolve-out/{Path(args.config or 'default').stem}.npz")
    print(f"integrating {setup.activation_name} K={setup.K} M={setup.M} eta={setup.eta:g} "
          f"with {opts.get('method', 'rk4')} to t = {opts['t_max']:g} ...", flush=True)
    start = time.perf_counter()
    traj = integrate(setup, state, on_failure="flag", **opts)
    elapsed = time.perf_counter() - start
    arrays = traj.arrays()
    save_npz(path, arrays, config=conf)
    print(f"done in {elapsed:.2f} s (including compilation on a first run)")
    if not traj.success.all():
        print(f"warning: {traj.info['messages']} (t_fail = {traj.t_fail})", file=sys.stderr)
    eg = traj.eps_g if not traj.is_batched else traj.eps_g[0]
    print(f"eps_g: t=0 {eg[0]:.4g}, t={traj.t[-1]:g} {eg[-1]:.4g}")
    print(f"results: {path.resolve()}")
    if out.get("plot", True) and not args.no_plot:
        fig = plot_trajectory(traj, path.with_suffix(".png"))
        print(f"figure:  {Path(fig).resolve()}")
    return 0 if traj.success.all() else 3


def _cmd_derive(args) -> int:
    from .derive import generate

    start = time.perf_counter()
    report = generate(check=args.check)
    if args.check:
        if report:
            sys.stdout.write("\n".join(report))
            print(f"\nstale: {len(report)} generated file(s) differ from a fresh derivation; "
                  "run `odesolve derive`.", file=sys.stderr)
            return 1
        print(f"generated code is up to date ({time.perf_counter() - start:.1f} s)")
        return 0
    for path in report:
        print(f"wrote {path}")
    return 0


def _cmd_compare(args) -> int:
    from . import config as cfg
    from .comparison import compare

    conf = cfg.load_config(args.config)
    setup = cfg.setup_from_config(conf)
    state = cfg.state_from_config(conf, setup)
    opts = cfg.solver_options(conf)
    opts.pop("max_steps", None)
    sim = cfg.simulation_options(conf)
    path = Path(args.output or conf.get("output", {}).get("path") or
                f"odesolve-out/{Path(args.config).stem}-compare.json").with_suffix(".json")
    print(f"comparing {setup.activation_name} K={setup.K} M={setup.M} eta={setup.eta:g}: "
          f"N = {sim['N']}, {len(sim['seeds'])} seeds, t <= {opts['t_max']:g} ...", flush=True)
    report = compare(setup, state, out=path, progress=not args.quiet, **sim, **opts)
    print(report.summary())
    json_path, png_path = report.info["paths"]
    print(f"report:  {Path(json_path).resolve()}")
    print(f"figure:  {Path(png_path).resolve()}")
    return 0 if report.passed else 1


def _cmd_sweep(args) -> int:
    from . import config as cfg
    from .sweeps import run_spec
    from .sweeps.plots import plot_sweep

    if args.print_example:
        from importlib import resources

        sys.stdout.write(resources.files("odesolve").joinpath("data/sweep.toml").read_text())
        return 0
    if args.config is None:
        raise cfg.ConfigError("give a sweep configuration (see `odesolve sweep --print-example`).")
    conf = cfg.load_config(args.config)
    spec = cfg.sweep_spec_from_config(conf)
    out = conf.get("output", {})
    path = Path(args.output or out.get("path") or
                f"odesolve-out/{Path(args.config).stem}.npz").with_suffix(".npz")
    print(f"sweep over {dict(zip(spec.dims, spec.shape))} x {spec.replicas} replicas = "
          f"{spec.n_members} members, t <= {spec.t_max:g}, {len(spec.chunks())} chunk(s) on "
          f"{args.scheduler or 'this machine'}", flush=True)
    try:
        result = run_spec(spec, out=path, scheduler=args.scheduler, progress=not args.quiet,
                          restart=args.restart)
    except KeyboardInterrupt:
        return 130
    ok = result.success
    print(f"done in {result.info['wall_s']:.1f} s ({result.info['chunks_resumed']} chunk(s) "
          f"resumed); {int(ok.sum())}/{ok.size} members finished, "
          f"{int((~ok).sum())} flagged (status, t_fail in the file)")
    print(f"results: {path.resolve()}")
    if out.get("plot", True) and not args.no_plot:
        for fig in plot_sweep(result, path, out.get("observable", "t_specialise")):
            print(f"figure:  {Path(fig).resolve()}")
    return 0


def _cmd_plot(args) -> int:
    from .sweeps import load_sweep
    from .sweeps.plots import plot_curves, plot_heatmap

    result = load_sweep(args.results)
    base = Path(args.output or Path(args.results).with_suffix("")).with_suffix("")
    if args.curves:
        fig = plot_curves(result, colour_by=args.colour_by,
                          path=base.with_name(base.name + "-eps_g.png"))
    else:
        fig = plot_heatmap(result, args.observable, args.x, args.y, args.how,
                           path=base.with_name(f"{base.name}-{args.observable}.png"))
    print(f"figure:  {Path(fig).resolve()}")
    return 0


def _cmd_scenario(args) -> int:
    import json

    from .io import atomic_path
    from .scenarios import SCENARIOS, run_scenario, validate

    names = sorted(SCENARIOS) if args.name == "all" else [args.name]
    if any(n not in SCENARIOS for n in names):
        raise ValueError(f"unknown scenario {args.name!r}; choose from {sorted(SCENARIOS)} "
                         "or 'all'.")
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
    return 0 if ok else 1


def _cmd_stability(args) -> int:
    import json

    from .io import atomic_path
    from .model import TeacherStudent
    from .plotting import _pyplot, save_figure
    from .stability import plot_stability_curves, stability_curves

    setup = TeacherStudent(args.K, args.K, args.activation, eta=1.0,
                           eta_v=None if args.train_v else 0.0, sigma=args.sigma)
    print(f"stability: soft committee machine K = M = {args.K}, {args.activation}, readouts "
          f"{'trained' if args.train_v else 'fixed'}, sigma = {args.sigma:g} ...", flush=True)
    d = stability_curves(setup, n_eta=args.n_eta)
    out = Path(args.out)
    stem = (f"stability-K{args.K}-{args.activation}" + ("-trained" if args.train_v else "")
            + (f"-sigma{args.sigma:g}" if args.sigma > 0 else ""))
    js, png = out / f"{stem}.json", out / f"{stem}.png"
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
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="odesolve", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Derive, integrate and check the order-parameter ODEs of online SGD in "
                    "teacher-student soft committee machines.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="integrate a configuration (default: built-in example)",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog=EPILOG)
    run.add_argument("config", nargs="?", help="TOML file ([setup], [init], [solver], [output])")
    run.add_argument("-o", "--output", help="result file (.npz); the figure goes beside it")
    run.add_argument("--no-plot", action="store_true", help="do not write the figure")
    run.add_argument("--print-default", action="store_true",
                     help="print the built-in default configuration and exit")
    run.set_defaults(func=_cmd_run)
    der = sub.add_parser("derive", help="regenerate derived code and Markdown")
    der.add_argument("--check", action="store_true",
                     help="compare with a fresh derivation; exit 1 when stale")
    der.set_defaults(func=_cmd_derive)
    cmp_ = sub.add_parser("compare", help="compare the ODE with a finite-N simulation",
                          formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    cmp_.add_argument("config", help="TOML file ([setup], [init], [solver], [simulation])")
    cmp_.add_argument("-o", "--output", help="JSON report; the figure (.png) goes beside it")
    cmp_.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    cmp_.set_defaults(func=_cmd_compare)
    sw = sub.add_parser("sweep", help="integrate over a grid of parameters and initial states",
                        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    sw.add_argument("config", nargs="?", help="TOML file ([setup], [init], [sweep], [solver])")
    sw.add_argument("-o", "--output", help="result file (.npz); default from [output] path")
    sw.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786")
    sw.add_argument("--restart", action="store_true",
                    help="discard finished chunks of an interrupted run instead of resuming")
    sw.add_argument("--no-plot", action="store_true", help="do not write figures")
    sw.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sw.add_argument("--print-example", action="store_true",
                    help="print an annotated example configuration and exit")
    sw.set_defaults(func=_cmd_sweep)
    pl = sub.add_parser("plot", help="heatmap or eps_g curves of a sweep result file",
                        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    pl.add_argument("results", help="a .npz written by `odesolve sweep`")
    pl.add_argument("--observable", default="t_specialise",
                    help="eps_g_final, eps_g_min, specialisation_final, t_specialise, t_learn, "
                         "... (default t_specialise)")
    pl.add_argument("--x", help="swept parameter on the x axis")
    pl.add_argument("--y", help="swept parameter on the y axis")
    pl.add_argument("--how", default="median",
                    choices=["median", "mean", "min", "max", "fraction_finite"],
                    help="reduction over replicas and other axes (default median)")
    pl.add_argument("--curves", action="store_true", help="overlaid eps_g(t) instead")
    pl.add_argument("--colour-by", help="axis that colours the curves")
    pl.add_argument("-o", "--output", help="figure path stem (default: beside the results)")
    pl.set_defaults(func=_cmd_plot)
    sc = sub.add_parser("scenario", help="reproduce a result of Jarvis et al. 2025 (figure + "
                                         "JSON)",
                        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    sc.add_argument("name", help="specialisation, forgetting, ewc, scm_deficit, lazy_rich, "
                                 "low_rank, critical_periods or all")
    sc.add_argument("-o", "--out", default="odesolve-out/scenarios", help="output folder")
    sc.add_argument("--quick", action="store_true", help="fewer points and replicas")
    sc.add_argument("--validate", action="store_true",
                    help="simulate a few points at finite N and compare with the ODE (slow)")
    sc.add_argument("--N", type=int, default=10_000, help="input dimension of --validate")
    sc.add_argument("--seeds", type=int, default=8, help="seeds of --validate (default 8)")
    sc.set_defaults(func=_cmd_scenario)
    st = sub.add_parser("stability", help="plateau, escape rate, maximal and optimal learning "
                                          "rate against eta (figure + JSON)",
                        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    st.add_argument("--K", type=int, default=2, help="K = M (default 2)")
    st.add_argument("--activation", default="erf",
                    help="erf (default; linear units have neither a plateau nor an isolated "
                         "perfect-learning point)")
    st.add_argument("--train-v", action="store_true",
                    help="train the readouts too (eta_v = eta); default: fixed v = 1")
    st.add_argument("--sigma", type=float, default=0.0, help="teacher output noise")
    st.add_argument("--n-eta", type=int, default=40, help="points on the eta axis")
    st.add_argument("-o", "--out", default="odesolve-out/stability", help="output folder")
    st.set_defaults(func=_cmd_stability)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from .config import ConfigError

    try:
        return args.func(args)
    except (ConfigError, ValueError, TypeError) as err:
        print(f"odesolve {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
