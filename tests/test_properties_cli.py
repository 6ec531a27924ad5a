"""Property-based tests of the command line: bad input gets the documented exit code 2 and one
line ``odesolve <command>: error: <message>`` on stderr, never a traceback, and no work.

* Configuration files with one mutation (``tests/config_strategies.py``) given to ``run``,
  ``compare`` and ``sweep``: exit 2, the one line names the file, the section and the key,
  nothing is printed on stdout and nothing is written.
* Small valid configurations: ``run`` finishes (0) or reports diverged members (3), ``sweep``
  the same, ``compare`` gives a verdict (0 or 1), or a rule that spans keys refuses them (2,
  one line) -- never a traceback.
* Invalid option values (numbers that are not numbers, out of range, not finite; empty
  paths; unknown choices, options and commands) and unreadable input files: exit 2, one line
  naming the option or the file.
* A sample of the same through a real subprocess (``python -m odesolve``), which also sees
  what the interpreter prints at exit.

Most examples run in-process through :func:`odesolve.cli.main` (fast); the subprocess ones are
a few per property (each starts an interpreter).
"""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase as Stage, event, given, settings
from hypothesis import strategies as st

from config_strategies import COMMANDS, MUTATIONS, invalid_configs, to_toml, valid_configs
from odesolve.cli import main

SUBPROCESS = settings(max_examples=4, suppress_health_check=[HealthCheck.too_slow])


def run_main(argv):
    """Exit code, stdout and stderr of ``odesolve.cli.main(argv)``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def run_subprocess(argv, cwd):
    proc = subprocess.run([sys.executable, "-m", "odesolve", *map(str, argv)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def assert_one_error_line(stderr: str, command: str | None) -> str:
    """The single stderr line of an expected failure (``odesolve <command>: error: ...``)."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and stderr.endswith("\n"), stderr
    prog = f"odesolve {command}" if command else "odesolve"
    assert lines[0].startswith(f"{prog}: error: "), lines[0]
    return lines[0]


def _files(folder: Path) -> list:
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))


def refuse_config(command, config, expected, runner):
    """Write ``config``, give it to ``command``; check exit 2, the line, and that no work was
    done (nothing on stdout, nothing written)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = tmp / "bad.toml"
        path.write_text(to_toml(config), encoding="utf-8")
        out = tmp / "out"
        if runner == "subprocess":
            code, stdout, stderr = run_subprocess([command, path, "-o", out / "r"], tmp)
        else:
            code, stdout, stderr = run_main([command, path, "-o", out / "r"])
        assert code == 2, (code, stdout, stderr)
        line = assert_one_error_line(stderr, command)
        message = line.removeprefix(f"odesolve {command}: error: ")
        assert message.startswith("bad.toml: "), message
        expected.check(message.removeprefix("bad.toml: "))
        assert stdout == "" and not out.exists(), (stdout, _files(tmp))


# -- configurations --------------------------------------------------------------------------
class TestConfigFiles:
    @pytest.mark.parametrize("how", MUTATIONS)
    @pytest.mark.parametrize("command", COMMANDS)
    @settings(max_examples=8, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def test_mutated_configuration_exits_2_with_one_line_naming_section_and_key(self, command,
                                                                              how, data):
        config, expected = data.draw(invalid_configs(command, how, cheap=True))
        expected = _as_printed(expected)
        event(how)
        refuse_config(command, config, expected, "main")

    @pytest.mark.parametrize("command", COMMANDS)
    @SUBPROCESS
    @given(data=st.data())
    def test_mutated_configuration_in_a_subprocess(self, command, data):
        how = data.draw(st.sampled_from(("wrong_type", "wrong_value", "unknown_key",
                                         "unknown_section")))
        config, expected = data.draw(invalid_configs(command, how, cheap=True))
        refuse_config(command, config, _as_printed(expected), "subprocess")

    @settings(max_examples=10, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def test_small_valid_run_finishes_or_flags_or_is_refused_in_one_line(self, data):
        config = data.draw(valid_configs("run", cheap=True))
        config.setdefault("output", {})["plot"] = False
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "ok.toml"
            path.write_text(to_toml(config), encoding="utf-8")
            code, stdout, stderr = run_main(["run", path, "-o", Path(tmp) / "r"])
            event(f"exit {code}")
            assert "Traceback" not in stderr, stderr
            if code == 2:
                assert_one_error_line(stderr, "run")
                assert stdout == "" and not (Path(tmp) / "r.npz").exists()
            else:
                assert code in (0, 3), (code, stderr)
                assert (Path(tmp) / "r.npz").is_file()
                if code == 3:
                    assert "member(s) diverged" in stderr
                else:
                    assert stderr == ""

    @settings(max_examples=5, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def test_small_valid_sweep_finishes_or_flags_or_is_refused_in_one_line(self, data):
        config = data.draw(valid_configs("sweep", cheap=True))
        config.setdefault("output", {})["plot"] = False
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "ok.toml"
            path.write_text(to_toml(config), encoding="utf-8")
            code, stdout, stderr = run_main(["sweep", path, "-q", "-o", Path(tmp) / "r"])
            event(f"exit {code}")
            assert "Traceback" not in stderr, stderr
            if code == 2:
                assert_one_error_line(stderr, "sweep")
            else:
                assert code in (0, 3), (code, stderr)
                assert (Path(tmp) / "r-sweep.npz").is_file()

    @settings(max_examples=3, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def test_small_valid_compare_gives_a_verdict_or_is_refused_in_one_line(self, data):
        config = data.draw(valid_configs("compare", cheap=True))
        config.setdefault("output", {})["plot"] = False
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "ok.toml"
            path.write_text(to_toml(config), encoding="utf-8")
            code, stdout, stderr = run_main(["compare", path, "-q", "-o", Path(tmp) / "r"])
            event(f"exit {code}")
            assert "Traceback" not in stderr, stderr
            if code == 2:
                assert_one_error_line(stderr, "compare")
            else:
                assert code in (0, 1), (code, stderr)
                assert (Path(tmp) / "r-compare.json").is_file()


class TestRulesAcrossKeys:
    """Rules that involve two keys are checked before any work too (exit 2, one line naming
    the section and the key, nothing printed on stdout, nothing written)."""

    @settings(max_examples=6, phases=[Stage.explicit, Stage.generate],
              report_multiple_bugs=False)
    @given(M=st.integers(1, 3), extra=st.integers(1, 2), where=st.sampled_from(["init",
                                                                              "axes"]))
    def test_sweep_v_star_of_the_wrong_length_is_refused_before_the_sweep_starts(
            self, M, extra, where):
        v_star = [1.0] * (M + extra)
        config = {"setup": {"K": 2, "M": M}, "sweep": {"replicas": 1},
                  "solver": {"t_max": 0.5, "n_out": 3}}
        if where == "init":
            config["init"] = {"v_star": v_star}
            config["sweep"]["axes"] = {"eta": [0.5]}
        else:
            config["sweep"]["axes"] = {"v_star": [v_star]}
        self._refused(config, "sweep", "v_star", section="init" if where == "init"
                      else "sweep.axes")

    @settings(max_examples=6, phases=[Stage.explicit, Stage.generate],
              report_multiple_bugs=False)
    @given(n_out=st.integers(5, 50), factor=st.floats(1.5, 10.0),
           method=st.sampled_from(["rk4", "euler"]))
    def test_run_step_longer_than_the_output_spacing_is_refused_naming_the_section(
            self, n_out, factor, method):
        spacing = 1.0 / (n_out - 1)
        config = {"setup": {"K": 2, "M": 2},
                  "solver": {"method": method, "t_max": 1.0, "n_out": n_out,
                             "dt": spacing * factor}}
        self._refused(config, "run", "dt", section="solver")

    @staticmethod
    def _refused(config, command, key, section=None):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            path = tmp / "cfg.toml"
            path.write_text(to_toml(config), encoding="utf-8")
            code, stdout, stderr = run_main([command, path, "-q" if command == "sweep"
                                             else "--no-plot", "-o", tmp / "out" / "r"])
            written = _files(tmp)
        assert code == 2, (code, stderr)
        line = assert_one_error_line(stderr, command)
        assert line.startswith(f"odesolve {command}: error: cfg.toml: "), line
        assert f"`{key}`" in line and (section is None or f"[{section}]" in line), line
        assert stdout == "" and written == [Path("cfg.toml")], (stdout, written)


def _as_printed(expected):
    """The command line prints a message on one line: fragments with line breaks (a key
    named with a newline) appear with the break replaced by a space."""
    from dataclasses import replace

    def flat(text):
        return " ".join(part.strip() for part in text.splitlines() if part.strip())

    return replace(expected, prefix=flat(expected.prefix),
                   contains=tuple(flat(c) for c in expected.contains))


# -- options ---------------------------------------------------------------------------------
WORDS = st.text("abcxyzK_", min_size=1, max_size=6)
#: text that is not an integer / not a number for Python's int() and float()
NOT_AN_INT = st.one_of(WORDS, st.floats(-1e3, 1e3).map(repr).filter(lambda s: "." in s
                                                                    or "e" in s),
                       st.sampled_from(["nan", "inf", "-inf", "1e3", "2.0", "0x10", "", " "]))
# ("--opt=--" is left out: Python 3.11's argparse passes [] for it, unconverted)
NOT_A_REAL = st.one_of(WORDS.filter(lambda s: s.lower() not in ("inf", "nan")),
                       st.sampled_from(["", " ", "1,5", "0x1", "- 1"]))

#: (command line before the value, option, strategy of invalid values)
OPTION_CASES = [
    (["stability"], "--K", NOT_AN_INT | st.integers(-10**6, 0).map(str)),
    (["stability"], "--n-eta", NOT_AN_INT | st.integers(-10**6, 1).map(str)),
    (["stability"], "--sigma", NOT_A_REAL | st.floats(max_value=-1e-300).map(repr)
     | st.sampled_from(["nan", "inf", "-inf", "NaN", "Infinity"])),
    (["stability"], "--activation", WORDS.filter(lambda s: s not in ("erf", "linear", "relu",
                                                                      "tanh"))),
    (["scenario", "forgetting"], "--N", NOT_AN_INT | st.integers(-10**6, 0).map(str)),
    (["scenario", "forgetting"], "--seeds", NOT_AN_INT | st.integers(-10**6, 1).map(str)),
    (["scenario", "forgetting"], "--out", st.sampled_from(["", " ", "\t"])),
    (["run"], "--output", st.sampled_from(["", " ", "  "])),
    (["compare", "x.toml"], "--output", st.sampled_from(["", " "])),
    (["sweep", "x.toml"], "--scheduler", st.sampled_from(["", " "])),
    (["plot", "x.npz"], "--how", WORDS),
    (["plot", "x.npz"], "--observable", st.sampled_from(["", " "])),
]


class TestOptions:
    @pytest.mark.parametrize("before, option, values", OPTION_CASES,
                             ids=[f"{c[0][0]}{c[1]}" for c in OPTION_CASES])
    @settings(max_examples=20)
    @given(data=st.data())
    def test_invalid_option_value_exits_2_with_one_line_naming_the_option(self, before,
                                                                         option, values,
                                                                         data):
        value = data.draw(values)
        with tempfile.TemporaryDirectory() as tmp:
            cwd = os.getcwd()
            os.chdir(tmp)
            try:
                code, stdout, stderr = run_main(before + [f"{option}={value}"])
            finally:
                os.chdir(cwd)
            assert _files(Path(tmp)) == []
        assert code == 2, (value, code, stderr)
        line = assert_one_error_line(stderr, before[0])
        assert f"`{option}`" in line or option in line, line

    @settings(max_examples=30)
    @given(command=st.text("abcdefghijklmnopqrstuvwxyz-_", min_size=1, max_size=10)
           .filter(lambda s: s not in ("run", "derive", "compare", "sweep", "plot", "scenario",
                                       "stability") and not s.startswith("-")))
    def test_unknown_command_exits_2_with_one_line(self, command):
        code, stdout, stderr = run_main([command])
        assert code == 2
        assert command in assert_one_error_line(stderr, None)

    @pytest.mark.parametrize("command", ["run", "compare", "sweep", "stability", "derive"])
    @settings(max_examples=10, phases=[Stage.explicit, Stage.generate],
              report_multiple_bugs=False)
    @given(flag=st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=10)
           .map(lambda s: "--" + s.strip("-") + "x"))
    def test_unknown_option_exits_2_with_one_line(self, command, flag):
        code, stdout, stderr = run_main([command, flag])
        assert code == 2
        assert flag in assert_one_error_line(stderr, command)

    @pytest.mark.parametrize("command", ["stability", "scenario"])
    @SUBPROCESS
    @given(data=st.data())
    def test_invalid_option_value_in_a_subprocess(self, command, data):
        before, option, values = next(c for c in OPTION_CASES if c[0][0] == command)
        value = data.draw(values)
        with tempfile.TemporaryDirectory() as tmp:
            code, stdout, stderr = run_subprocess(before + [f"{option}={value}"], tmp)
            assert _files(Path(tmp)) == []
        assert code == 2, (code, stderr)
        assert option in assert_one_error_line(stderr, command)


# -- input files and output paths ------------------------------------------------------------
class TestFiles:
    @pytest.mark.parametrize("command", COMMANDS)
    @settings(max_examples=15)
    @given(content=st.text(max_size=80).map(lambda t: t.encode("utf-8", "surrogatepass"))
           | st.binary(max_size=80))
    def test_unreadable_or_non_toml_configuration_exits_2_naming_the_file(self, command,
                                                                         content):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "cfg.toml"
            path.write_bytes(content)
            code, stdout, stderr = run_main([command, path, "-o", Path(tmp) / "out" / "r"])
            assert not (Path(tmp) / "out").exists()
        event(f"exit {code}")
        assert code == 2, (code, stderr)
        assert "cfg.toml" in assert_one_error_line(stderr, command)

    @settings(max_examples=20)
    @given(content=st.binary(max_size=200)
           | st.binary(max_size=200).map(lambda b: b"PK\x03\x04" + b)
           | st.binary(max_size=200).map(lambda b: b"\x93NUMPY\x01\x00" + b))
    def test_corrupt_result_file_given_to_plot_exits_2_naming_the_file(self, content):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "res.npz"
            path.write_bytes(content)
            code, stdout, stderr = run_main(["plot", path, "-o", Path(tmp) / "fig"])
            written = _files(Path(tmp))
        assert code == 2, (code, stderr)
        assert "res.npz" in assert_one_error_line(stderr, "plot")
        assert written == [Path("res.npz")]

    @pytest.mark.parametrize("command", ["run", "stability"])
    @settings(max_examples=10)
    @given(parts=st.lists(st.text("abcxyz", min_size=1, max_size=5), min_size=1, max_size=3))
    def test_output_under_a_regular_file_exits_2_before_any_work(self, command, parts):
        """-o below an existing regular file cannot be written: refused before the work
        (the stability analysis would take a minute)."""
        with tempfile.TemporaryDirectory() as tmp:
            blocker = Path(tmp) / "file"
            blocker.write_text("x")
            target = blocker.joinpath(*parts)
            argv = ["run", "-o", target] if command == "run" else ["stability", "-o", target]
            code, stdout, stderr = run_main(argv)
            assert _files(Path(tmp)) == [Path("file")]
        assert code == 2, (code, stderr)
        assert "file" in assert_one_error_line(stderr, command)
        assert stdout == ""


def test_nan_option_reaches_the_documented_message():
    """The sanity anchor of the option properties: one exact line for one bad value."""
    code, _, stderr = run_main(["stability", "--sigma", "nan"])
    assert code == 2
    assert stderr == ("odesolve stability: error: `--sigma` must be a number, got NaN; see "
                      "`odesolve stability --help`.\n")
