"""Property-based tests of the configuration loader (``odesolve.config``).

* Every configuration drawn from the schema for a command passes :func:`validate_config`,
  survives a round trip through TOML text unchanged, and builds its objects
  (``setup_from_config``, ``state_from_config``, ``solver_options``, ``simulation_options``,
  ``sweep_spec_from_config``) or is refused with a :class:`ConfigError` naming its section --
  never another exception.
* One mutation of a valid configuration (unknown or misplaced section or key, near-misspelling,
  wrong type, out of range, not finite, missing) is refused with a ConfigError whose message
  names the section and the key, from a dict and from a file (``load_config``, the message
  then starts with the file's name).
* Arbitrary text is either a valid configuration or a ConfigError, never a crash.

The strategies are in ``tests/config_strategies.py``.
"""
from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from config_strategies import (COMMANDS, MUTATIONS, SECTIONS, invalid_configs, to_toml,
                               valid_configs)
from odesolve import config as cfg
from odesolve.config import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FAST = settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
FILES = settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])


def _has_nan(x) -> bool:
    if isinstance(x, float):
        return math.isnan(x)
    if isinstance(x, dict):
        return any(_has_nan(v) for v in x.values())
    if isinstance(x, list):
        return any(_has_nan(v) for v in x)
    return False


class TestValidConfigurations:
    @pytest.mark.parametrize("command", COMMANDS)
    @FAST
    @given(data=st.data())
    def test_schema_valid_configuration_passes(self, command, data):
        config = data.draw(valid_configs(command))
        assert cfg.validate_config(config, command) is config

    @pytest.mark.parametrize("command", COMMANDS)
    @FILES
    @given(data=st.data())
    def test_toml_round_trip_is_lossless_and_still_valid(self, command, data):
        config = data.draw(valid_configs(command))
        text = to_toml(config)
        parsed = tomllib.loads(text)
        assert parsed == config, text
        cfg.validate_config(parsed, command)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "drawn.toml"
            path.write_text(text, encoding="utf-8")
            assert cfg.load_config(path, command) == config

    @pytest.mark.parametrize("command", ["run", "compare"])
    @FILES
    @given(data=st.data())
    def test_valid_configuration_builds_its_objects_or_names_the_section(self, command, data):
        """Rules that span keys (v_star of length M, positive semi-definite overlaps) are
        checked when the objects are built: a ConfigError naming [init], nothing else."""
        config = data.draw(valid_configs(command, cheap=True))
        try:
            setup = cfg.setup_from_config(config)
            cfg.state_from_config(config, setup)
        except ConfigError as err:
            event(f"refused when built: {str(err).split('`')[0]}")
            assert str(err).startswith(("[setup] ", "[init] ")), str(err)
        else:
            event("built")
        options = cfg.solver_options(config)
        assert options["t_max"] == config["solver"]["t_max"]
        if command == "compare":
            sim = cfg.simulation_options(config)
            assert len(sim["seeds"]) >= 2 and len(set(sim["seeds"])) == len(sim["seeds"])

    @FILES
    @given(data=st.data())
    def test_valid_sweep_configuration_builds_a_spec_or_names_the_section(self, data):
        config = data.draw(valid_configs("sweep", cheap=data.draw(st.booleans())))
        try:
            spec = cfg.sweep_spec_from_config(config)
        except ConfigError as err:
            event("refused when built")
            assert str(err).startswith("[sweep] "), str(err)
        else:
            event("built")
            assert spec.n_members >= 1


class TestInvalidConfigurations:
    @pytest.mark.parametrize("how", MUTATIONS)
    @pytest.mark.parametrize("command", COMMANDS)
    @settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
    # (one test per command and kind of mutation: a drawn kind would favour the first ones)
    @given(data=st.data())
    def test_one_mutation_is_refused_naming_section_and_key(self, command, how, data):
        config, expected = data.draw(invalid_configs(command, how))
        event(expected.what)
        with pytest.raises(ConfigError) as info:
            cfg.validate_config(config, command)
        expected.check(str(info.value))

    @pytest.mark.parametrize("command", COMMANDS)
    @FILES
    @given(data=st.data())
    def test_mutated_file_is_refused_naming_the_file_section_and_key(self, command, data):
        config, expected = data.draw(invalid_configs(command))
        text = to_toml(config)
        parsed = tomllib.loads(text)
        if not _has_nan(config):
            assert parsed == config, text
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "mutated.toml"
            path.write_text(text, encoding="utf-8")
            with pytest.raises(ConfigError) as info:
                cfg.load_config(path, command)
        message = str(info.value)
        assert message.startswith("mutated.toml: "), message
        expected.check(message.removeprefix("mutated.toml: "))

    @settings(max_examples=100)
    @given(text=st.text(st.sampled_from(list("[]=\"'{}.,#\n \t") + list("abK2.5e")),
                        max_size=60)
           | st.text(max_size=40),
           command=st.sampled_from(COMMANDS))
    def test_arbitrary_text_is_a_configuration_or_a_config_error(self, text, command):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "any.toml"
            path.write_text(text, encoding="utf-8")
            try:
                cfg.load_config(path, command)
            except ConfigError as err:
                event("not valid TOML" if "not valid TOML" in str(err) else "schema")
                assert "any.toml" in str(err), str(err)      # the message names the file

    @settings(max_examples=50)
    @given(name=st.sampled_from(SECTIONS), command=st.sampled_from(COMMANDS))
    def test_validate_config_refuses_a_non_mapping_section_value(self, name, command):
        with pytest.raises(ConfigError, match=rf"^\[{name}\] must be a table"):
            cfg.validate_config({name: [1, 2]}, command)
