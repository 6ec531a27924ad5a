"""The argument parser: the commands, their options, examples and help texts.

An argument error is one line, ``odesolve <command>: error: <message>`` (exit 2), and a bad
number names the option and the rule (the checks of ``odesolve._checks``).
"""
from __future__ import annotations

import argparse
import re
import sys

from .commands import (_cmd_compare, _cmd_derive, _cmd_optimise, _cmd_plot, _cmd_run,
                       _cmd_scenario, _cmd_stability, _cmd_sweep)
from .exit_codes import EXIT_BAD_INPUT
from .outputs import _one_line

__all__ = ["build_parser", "EPILOG", "EXAMPLES"]


def _docstring_block(title: str) -> str:
    """The literal block after the paragraph ``title::`` of the docstring of
    :mod:`odesolve.cli` (the package, imported before this module), headed ``title:`` for the
    help text (empty under ``python -OO``, which strips docstrings)."""
    paragraphs = (sys.modules[__package__].__doc__ or "").split("\n\n")
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
  odesolve optimise --print-example > opt.toml  an optimal learning-rate schedule example
  odesolve optimise opt.toml        optimise it against constant and 1/t schedules
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
    "optimise": """examples:
  odesolve optimise --print-example > opt.toml  an annotated example (seconds)
  odesolve optimise opt.toml         the optimal eta(t) against the best constant, the
                                     [setup] rate and the best 1/t annealing:
                                     odesolve-out/opt-schedule.json, opt-trajectory.npz
                                     and opt.png
  odesolve optimise opt.toml --quick -o out/   a quick look (10 pieces, 30 iterations)
""",
    "stability": """examples:
  odesolve stability --K 3           plateau, escape rate, eta_max and eta_opt against eta
  odesolve stability --K 2 --train-v --sigma 0.1   trained readouts, noisy teacher
""",
}


# -- argument types ------------------------------------------------------------------------
def _number_type(kind: str, option: str, **rule):
    """An argparse ``type=`` that parses a number and checks it with odesolve._checks, so a
    bad value is refused in one line naming the option and the rule."""
    from .._checks import check_int, check_real

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



def _subparser(sub, name: str, help: str):
    parser = sub.add_parser(name, help=help, epilog=EXAMPLES[name],
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(command_parser=parser)     # reports the command's own argument errors
    return parser


_OUTPUT_HELP = ("output base name ({0}); a name ending in {1} is the result file itself, "
                "an existing directory gets <config name>{2}{1}")


def build_parser() -> argparse.ArgumentParser:
    from ..model import ACTIVATIONS

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
    sc = _subparser(sub, "scenario", "reproduce a study of the papers behind odesolve "
                                     "(figure + JSON)")
    sc.add_argument("name", help="committee machines: specialisation, forgetting, ewc, "
                                 "scm_deficit, committee_plasticity, specialisation_levers; "
                                 "deep linear networks: lazy_rich, low_rank, critical_periods, "
                                 "linear_continual, reversal, transfer, information_plasticity, "
                                 "deficit_kinds; trained networks: digits_forgetting, "
                                 "vae_imbalance, rnn_rank; optimal protocols: optimal_lr, "
                                 "optimal_replay; or all")
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
    op = _subparser(sub, "optimise", "optimise a learning-rate schedule against constant and "
                                     "standard schedules (schedule JSON, trajectories, figure)")
    op.add_argument("config", nargs="?", help="TOML file ([setup], [init], [optimise], "
                                              "[baselines], [output]; [replay] for two "
                                              "tasks)")
    op.add_argument("-o", "--output", type=_nonempty("--output"),
                    help="output base name: writes <base>-schedule.json, "
                         "<base>-trajectory.npz and <base>.png; an existing directory gets "
                         "<config name>-schedule.json, ...")
    op.add_argument("--quick", action="store_true",
                    help="at most 10 pieces, 10 steps per unit of time, 30 iterations")
    op.add_argument("--no-plot", action="store_true", help="do not write the figure")
    op.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    op.add_argument("--print-example", action="store_true",
                    help="print an annotated example configuration and exit")
    op.set_defaults(func=_cmd_optimise)
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

