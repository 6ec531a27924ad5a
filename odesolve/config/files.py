"""Configuration files: TOML files read and checked, and the shipped example configurations.

:func:`load_config` reads a file (and checks it for a command); the annotated examples are
package data: ``odesolve/data/default.toml`` (run, also :func:`default_config`),
``compare.toml``, ``sweep.toml`` and ``optimise.toml``.
"""
from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._checks import check_choice
from .validate import ConfigError, validate_config

if TYPE_CHECKING:
    import os

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["load_config", "default_config"]


def default_config() -> dict[str, Any]:
    """The built-in default configuration (``odesolve/data/default.toml``)."""
    return tomllib.loads(example_text("default"))


def example_text(name: str) -> str:
    """Text of a shipped example configuration: ``"default"``, ``"compare"``, ``"sweep"`` or
    ``"optimise"``."""
    check_choice("name", name, ("default", "compare", "sweep", "optimise"))
    return resources.files("odesolve").joinpath(f"data/{name}.toml").read_text()


def load_config(path: os.PathLike[str] | str, command: str | None = None) -> dict[str, Any]:
    """Read a TOML configuration file, and validate it for ``command`` when given.

    Parameters
    ----------
    path : str or Path
        The TOML file.
    command : {"run", "compare", "sweep", "optimise"}, optional
        Validate for this command.

    Returns
    -------
    dict
        The parsed configuration.

    Raises
    ------
    ConfigError
        The file is missing, unreadable or not valid TOML, or (with ``command``) does not
        satisfy the schema (:func:`~odesolve.config.validate.validate_config`).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist.") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {str(path)!r} is a directory.") from None
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise ConfigError(f"cannot read config file {str(path)!r}: {reason}.") from None
    try:
        config = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    if command is not None:
        try:
            validate_config(config, command)
        except ConfigError as err:
            raise ConfigError(f"{path.name}: {err}") from None
    return config
