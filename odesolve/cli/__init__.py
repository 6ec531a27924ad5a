"""Command line: ``odesolve run``, ``derive``, ``compare``, ``sweep``, ``plot``, ``scenario``,
``stability``, ``optimise`` (``odesolve COMMAND --help`` shows each command's examples).

Exit codes (also in ``odesolve --help``)::

  0    success
  1    a check failed (compare FAIL or INCONCLUSIVE, derive --check stale, scenario
       --validate FAIL)
  2    bad input: arguments, configuration, a missing or corrupt input file, an output path
       that cannot be written (all detected before any work starts)
  3    finished with diverged members (results and figures are written, with status and
       t_fail per member); optimise: the run from the starting rates diverges
  4    file-system error after work started (writing a result failed)
  130  interrupted by Ctrl-C (what was computed is written where the command can)

An expected failure prints one line ``odesolve <command>: error: <message>`` on stderr and
returns its code; only a bug shows a Python traceback.

Output files (also in ``odesolve --help``)::

  run, compare, sweep and optimise name their files from one base: -o, else [output]
  path, else odesolve-out/<config name>. run writes <base>.npz and <base>.png; compare
  <base>-compare.json and <base>-compare.png; sweep <base>-sweep.npz and
  <base>-sweep-<observable>.png, <base>-sweep-eps_g.png; optimise <base>-schedule.json,
  <base>-trajectory.npz and <base>.png. A path with the command's own suffix (.npz for run
  and sweep, .json for compare) names the result file itself (optimise drops the suffix
  and takes the rest as the base); an existing directory receives the files of <config
  name>. Every output path is checked before any work starts.
"""
from __future__ import annotations

import warnings
import zipfile

# the exit codes of the table above
from .exit_codes import (EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_DIVERGED,  # noqa: F401
                         EXIT_FILE_SYSTEM, EXIT_INTERRUPTED, EXIT_OK)
from .outputs import _note, _os_error_text
from .parser import build_parser

# the command line's other public names, importable from here as before the package was split
from .commands import expected_compare_duration  # noqa: F401
from .inputs import InputFileError  # noqa: F401
from .outputs import result_path  # noqa: F401
from .parser import EPILOG, EXAMPLES  # noqa: F401


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


