"""TOML configurations of ``odesolve run``, ``compare``, ``sweep`` and ``optimise``: one
schema, checked first.

Every section and every key a configuration may hold is declared once, in :data:`SCHEMA`
(name, type, range, default, one-line description).
:func:`~odesolve.config.validate.validate_config` checks a whole file against it for one
command before any work starts. Errors name the section and the key,
and an unknown name gets the nearest known one::

    [solver] `t_max` must be a real number, got the string '100'.
    unknown section [simulaton]; did you mean [simulation]?
    [output] unknown key `pth`; did you mean `path`?

Sections read by each command (:data:`COMMAND_SECTIONS`):

========  ==================================================================================
run       ``[setup]`` ``[init]`` ``[solver]`` ``[output]``; ``[simulation]`` is accepted (and
          checked) so that one file serves ``run`` and ``compare``
compare   ``[setup]`` ``[init]`` ``[solver]`` ``[simulation]`` ``[output]``
sweep     ``[setup]`` ``[init]`` ``[sweep]`` (with ``[sweep.axes]`` or ``[[sweep.points]]``
          and, for multi-task sweeps, ``[[sweep.protocol]]``) ``[solver]`` ``[output]``
optimise  ``[setup]`` ``[optimise]`` ``[init]`` ``[baselines]`` ``[replay]`` (two tasks)
          ``[output]``
========  ==================================================================================

``odesolve/data/default.toml`` (run), ``compare.toml``, ``sweep.toml`` and
``optimise.toml`` are annotated examples; :func:`~odesolve.config.schema.describe_schema`
prints the whole table.

The names below are importable from here; each is documented on the page of its module:

- :mod:`odesolve.config.schema`: :class:`~odesolve.config.schema.Key`,
  :class:`~odesolve.config.schema.Section`, ``SCHEMA``, ``COMMAND_SECTIONS``,
  :func:`~odesolve.config.schema.describe_schema`;
- :mod:`odesolve.config.values`: the check of one value against its key;
- :mod:`odesolve.config.validate`: :func:`~odesolve.config.validate.validate_config`,
  :class:`~odesolve.config.validate.ConfigError`;
- :mod:`odesolve.config.files`: :func:`~odesolve.config.files.load_config`,
  :func:`~odesolve.config.files.default_config`;
- :mod:`odesolve.config.build`: :func:`~odesolve.config.build.setup_from_config`,
  :func:`~odesolve.config.build.state_from_config`,
  :func:`~odesolve.config.build.solver_options`,
  :func:`~odesolve.config.build.simulation_options`,
  :func:`~odesolve.config.build.sweep_spec_from_config`,
  :func:`~odesolve.config.build.optimise_options`.
"""
from __future__ import annotations

from .build import (optimise_options, setup_from_config, simulation_options, solver_options,
                    state_from_config, sweep_spec_from_config)
from .files import default_config, load_config
from .schema import COMMAND_SECTIONS, SCHEMA, Key, Section, describe_schema
from .validate import ConfigError, validate_config

# also reachable here, as before the package was split: the shipped examples' text, the
# defaults and the commands of the schema, the TOML reader, and the checks the tests inspect
from .files import example_text, tomllib  # noqa: F401
from .schema import COMMANDS, DEFAULT_N_OUT  # noqa: F401
from .validate import _CHECKERS, _check_value, _Context  # noqa: F401

__all__ = ["load_config", "default_config", "validate_config", "setup_from_config",
           "state_from_config", "solver_options", "simulation_options",
           "sweep_spec_from_config", "optimise_options", "describe_schema", "ConfigError",
           "Key", "Section", "SCHEMA", "COMMAND_SECTIONS"]
