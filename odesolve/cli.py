"""Command line: ``odesolve run``, ``odesolve derive``."""
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
