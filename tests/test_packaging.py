"""Packaging: the wheel and the sdist carry what an installed odesolve needs.

The default run builds both (no network: ``--no-isolation``) and inspects them; ``-m slow``
installs the wheel into a fresh virtual environment and runs ``odesolve run`` and
``odesolve derive --check`` there (needs the package index for the dependencies).
"""
import importlib.util
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import odesolve

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(importlib.util.find_spec("build") is None,
                                reason="needs the 'build' package (test extra)")


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir",
                           str(out), str(ROOT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wheels = list(out.glob("*.whl"))
    sdists = list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(out.iterdir())
    return wheels[0], sdists[0]


def test_wheel_ships_generated_code_derivation_sources_and_type_marker(dist):
    wheel, _ = dist
    assert f"odesolve-{odesolve.__version__}-" in wheel.name
    names = set(zipfile.ZipFile(wheel).namelist())
    generated = {p.name for p in (ROOT / "odesolve" / "kernels" / "_generated").glob("*.py")}
    derive = {p.name for p in (ROOT / "odesolve" / "derive").glob("*.py")}
    assert {f"odesolve/kernels/_generated/{n}" for n in generated} <= names
    assert {f"odesolve/derive/{n}" for n in derive} <= names
    assert {"odesolve/py.typed", "odesolve/data/default.toml", "odesolve/data/sweep.toml"} <= names
    assert not any(n.startswith(("tests/", "docs/", "benchmarks/")) for n in names)
    assert not any(n.endswith((".nbi", ".nbc", ".pyc")) for n in names)
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert f"Version: {odesolve.__version__}" in text
    assert any(n.endswith("licenses/LICENSE") for n in names)
    entry = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "odesolve = odesolve.cli:main" in entry


def test_sdist_is_the_repository(dist):
    _, sdist = dist
    names = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
    for path in ("derivations/committee.md", "docs/conf.py", "tests/test_docs.py",
                 "benchmarks/run.py", "CHANGELOG.md", "CITATION.cff", "pyproject.toml",
                 "odesolve/kernels/_generated/committee.py"):
        assert path in names, path
    assert not any(n.startswith(("docs/_build", "docs/api/generated", "docs/gallery/"))
                   for n in names)


def test_version_is_one_number_everywhere():
    v = odesolve.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", v)
    assert re.search(rf"^version: {re.escape(v)}$", (ROOT / "CITATION.cff").read_text(), re.M)
    assert re.search(rf"^## \[?{re.escape(v)}\]?", (ROOT / "CHANGELOG.md").read_text(), re.M)


@pytest.mark.slow
def test_wheel_in_a_fresh_environment_runs_and_checks_its_derivation(dist, tmp_path):
    wheel, _ = dist
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", str(wheel)], check=True)
    work = tmp_path / "work"
    work.mkdir()
    odesolve_cmd = venv / "bin" / "odesolve"
    run = subprocess.run([str(odesolve_cmd), "run"], cwd=work, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (work / "odesolve-out" / "default.npz").exists()
    check = subprocess.run([str(odesolve_cmd), "derive", "--check"], cwd=work,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # the installed package is the wheel's, not this source tree
    where = subprocess.run([str(py), "-c", "import odesolve; print(odesolve.__file__)"],
                           cwd=work, capture_output=True, text=True).stdout
    assert str(ROOT) not in where and "site-packages" in where
