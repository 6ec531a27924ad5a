"""``python -m odesolve.cli``: the command line, as ``python -m odesolve``."""
import sys

from . import main

sys.exit(main())
