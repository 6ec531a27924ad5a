"""Command line: run a config, errors that name the key, atomic results with the config."""
import subprocess
import sys

import numpy as np
import pytest

from odesolve.cli import main
from odesolve.io import load_npz

CONFIG = """
[setup]
K = 2
M = 2
activation = "erf"
eta = 0.8

[init]
kind = "overlaps"
Q = [[0.5, 0.1], [0.1, 0.4]]
R = [[0.1, 0.0], [0.0, 0.05]]
T = [[1.0, 0.0], [0.0, 1.0]]
v = [0.3, 0.2]
v_star = [1.0, 1.0]

[solver]
method = "rk4"
dt = 0.05
t_max = 20.0
n_out = 21

[output]
plot = true
"""


def test_run_writes_results_with_embedded_config_and_a_figure(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / "res" / "run.npz"
    assert main(["run", str(cfg), "-o", str(out)]) == 0
    arrays, config = load_npz(out)
    assert arrays["Q"].shape == (21, 2, 2) and arrays["eps_g"].shape == (21,)
    np.testing.assert_allclose(arrays["Q"][0], [[0.5, 0.1], [0.1, 0.4]])
    assert config["setup"]["eta"] == 0.8 and config["solver"]["method"] == "rk4"
    assert out.with_suffix(".png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert str(out.resolve()) in printed
    assert not list(out.parent.glob(".*"))           # no temporary files left behind


@pytest.mark.parametrize("bad, needle", [
    ("eta = 0.8", "eta = -1.0"),
    ("K = 2\n", "K = 2\nwidth = 3\n"),
    ('kind = "overlaps"', 'kind = "weights"'),
])
def test_bad_config_errors_name_the_key(tmp_path, capsys, bad, needle):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(CONFIG.replace(bad, needle, 1))
    assert main(["run", str(cfg), "-o", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err
    key = {"eta = -1.0": "`eta`", "K = 2\nwidth = 3\n": "width", 'kind = "weights"': "kind"}
    assert key[needle] in err


def test_missing_config_file_is_reported(capsys):
    assert main(["run", "/nonexistent/run.toml"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_help_lists_examples():
    proc = subprocess.run([sys.executable, "-m", "odesolve", "--help"], capture_output=True,
                          text=True, check=True)
    assert "odesolve run" in proc.stdout and "odesolve derive --check" in proc.stdout


def test_print_default_is_a_valid_config(tmp_path, capsys):
    assert main(["run", "--print-default"]) == 0
    text = capsys.readouterr().out
    from odesolve import config
    conf = config.tomllib.loads(text)
    setup = config.setup_from_config(conf)
    assert setup.K == 2 and config.state_from_config(conf, setup).K == 2


def test_stability_command_writes_curves_and_figure(tmp_path, capsys):
    import json

    assert main(["stability", "--K", "2", "--n-eta", "6", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "eta_max" in out and "eta_opt" in out
    d = json.loads((tmp_path / "stability-K2-erf.json").read_text())
    assert (tmp_path / "stability-K2-erf.png").stat().st_size > 10_000
    assert 0 < d["eta_opt"] < d["eta_max"]
    decay = np.array(d["decay_rate"])
    eta = np.array(d["eta"])
    assert np.all(decay[eta < d["eta_max"]] > 0) and np.all(decay[eta > d["eta_max"]] < 0)
    assert main(["stability", "--K", "2", "--activation", "relu", "-o", str(tmp_path)]) == 2
    assert "for erf units" in capsys.readouterr().err
