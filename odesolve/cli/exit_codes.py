"""The exit codes of the command line: the table in the docstring of :mod:`odesolve.cli`,
which ``odesolve --help`` shows too."""
from __future__ import annotations

__all__ = ["EXIT_OK", "EXIT_CHECK_FAILED", "EXIT_BAD_INPUT", "EXIT_DIVERGED", "EXIT_FILE_SYSTEM",
           "EXIT_INTERRUPTED"]

#: the documented exit codes (the table of :mod:`odesolve.cli`, ``odesolve --help``)
EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_FILE_SYSTEM = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
