"""What the commands read: a configuration (the built-in default for ``run``) and a sweep
result file; a problem with either is a one-line error naming the file.
"""
from __future__ import annotations

import contextlib
import zipfile
from pathlib import Path

__all__ = ["InputFileError"]


def _load(args, command: str) -> dict:
    from .. import config as cfg

    if args.config is None:
        if command == "run":
            return cfg.validate_config(cfg.default_config(), "run")
        raise cfg.ConfigError(f"give a configuration file (start from `odesolve {command} "
                              "--print-example > my.toml`).")
    return cfg.load_config(args.config, command)


@contextlib.contextmanager
def _reading(args):
    """A :class:`~odesolve.config.validate.ConfigError` of the readers that build objects from a
    loaded configuration (rules that span keys) names the file, as load_config's do."""
    from ..config import ConfigError

    try:
        yield
    except ConfigError as err:
        if args.config is None:
            raise
        raise ConfigError(f"{Path(args.config).name}: {err}") from None


class InputFileError(ValueError):
    """An input file is missing, corrupt, truncated or of the wrong kind."""


def _read_sweep(path):
    """A sweep result file, or an InputFileError saying what is wrong with it."""
    import json

    from ..sweeps import load_sweep

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

