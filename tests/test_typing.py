"""The public API is typed (the package ships ``py.typed``).

1. Every public callable -- the names in ``odesolve.__all__`` and in the ``__all__`` of the
   public modules below, with the constructors, methods and properties of the public classes --
   annotates each of its parameters (``self``/``cls``, ``*args`` and ``**kwargs`` aside) and its
   return. Dataclass fields are annotated by construction, so their constructors pass.
2. When mypy is installed (it is not a dependency of odesolve), a small script using the API
   type-checks clean, and the calls in it that break the annotations are exactly the ones mypy
   reports: the annotations are seen by a type checker, not only present.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import odesolve

#: the modules whose ``__all__`` is the public API (besides ``odesolve`` itself)
PUBLIC_MODULES = (
    "odesolve",
    "odesolve.model", "odesolve.integration", "odesolve.trajectory", "odesolve.activations",
    "odesolve.observables", "odesolve.plotting", "odesolve.weights",
    "odesolve.simulation.driver", "odesolve.comparison",
    "odesolve.sweeps.runner", "odesolve.sweeps.spec", "odesolve.sweeps.result",
    "odesolve.sweeps.plots", "odesolve.sweeps.chunk",
    "odesolve.multitask.model", "odesolve.multitask.protocol", "odesolve.multitask.ode",
    "odesolve.multitask.simulate", "odesolve.multitask.compare",
    "odesolve.scenarios",
    "odesolve.linear.exact", "odesolve.linear.network", "odesolve.linear.deep",
    "odesolve.linear.trajectory", "odesolve.linear.measures", "odesolve.linear.rank",
    "odesolve.linear.critical", "odesolve.linear.scenarios", "odesolve.linear.fisher",
    "odesolve.fisher", "odesolve.linear.sequence", "odesolve.linear.sequence_scenarios",
    "odesolve.specialisation", "odesolve.linear.specialisation", "odesolve.linear.pathways",
    "odesolve.linear.plasticity_scenarios", "odesolve.networks.digits",
    "odesolve.networks.digits_scenarios", "odesolve.networks.vae",
    "odesolve.networks.vae_scenarios", "odesolve.networks.rnn", "odesolve.networks.rnn_tasks",
    "odesolve.networks.rnn_scenarios", "odesolve.control.schedule",
    "odesolve.control.scheduled", "odesolve.control.sensitivity", "odesolve.control.optimise",
    "odesolve.optimal_linear", "odesolve.jacobian", "odesolve.control.committee",
    "odesolve.control.mixture", "odesolve.control.scenarios", "odesolve.control.protocol",
    "odesolve.optimise_run", "odesolve.simulation.schedules",
    "odesolve.fixedpoint", "odesolve.stability", "odesolve.config", "odesolve.io",
    "odesolve.derive",
    "odesolve.solvers.driver", "odesolve.solvers.problem", "odesolve.solvers.tableaus",
)


def _function(obj):
    """The Python function behind ``obj`` (a Numba dispatcher's ``py_func``), or None."""
    obj = getattr(obj, "py_func", obj)
    return obj if inspect.isfunction(obj) else None


def _class_members(cls, qualname):
    """(name, function, skip_first) of the constructor, methods, class and static methods and
    property getters that ``cls`` and its odesolve base classes define."""
    seen = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("odesolve"):
            continue                           # object.__init__, Exception.__init__, ...
        for name, attr in vars(klass).items():
            if name in seen or (name.startswith("_") and name != "__init__"):
                continue
            seen.add(name)
            where = f"{qualname}.{name}"
            if isinstance(attr, property):
                yield where, attr.fget, True
            elif isinstance(attr, classmethod):
                yield where, attr.__func__, True
            elif isinstance(attr, staticmethod):
                yield where, attr.__func__, False
            elif _function(attr) is not None:
                yield where, _function(attr), True


def public_callables():
    """Every public callable once: a list of (qualified name, function, skip_first)."""
    out, seen = [], set()
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            where = f"{module_name}.{name}"
            if inspect.isclass(obj):
                members = list(_class_members(obj, where))
            elif _function(obj) is not None:
                members = [(where, _function(obj), False)]
            else:
                continue                       # constants, tableaus, problems
            for qual, func, skip_first in members:
                if id(func) not in seen:
                    seen.add(id(func))
                    out.append((qual, func, skip_first))
    return out


def missing_annotations(func, skip_first: bool) -> list[str]:
    """Parameters (and ``return``) of ``func`` without an annotation."""
    sig = inspect.signature(func)
    params = list(sig.parameters.values())[1 if skip_first else 0:]
    missing = [p.name for p in params
               if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.annotation is p.empty]
    if sig.return_annotation is sig.empty:
        missing.append("return")
    return missing


def test_collector_reaches_functions_methods_properties_and_constructors():
    names = {qual for qual, _, _ in public_callables()}
    for expected in ("odesolve.integrate", "odesolve.Trajectory.state",
                     "odesolve.Trajectory.success", "odesolve.Overlaps.random",
                     "odesolve.SweepResult.reduce",
                     "odesolve.fixedpoint.NewtonError.__init__",
                     "odesolve.simulation.driver.sgd_step", "odesolve.derive.generate",
                     "odesolve.solvers.problem.always_valid"):
        assert expected in names, f"{expected} not collected"
    assert len(names) > 200


def test_every_public_callable_annotates_its_parameters_and_return():
    unannotated = {qual: missing for qual, func, skip_first in public_callables()
                   if (missing := missing_annotations(func, skip_first))}
    assert not unannotated, "public callables without annotations:\n" + "\n".join(
        f"  {qual}: {', '.join(missing)}" for qual, missing in sorted(unannotated.items()))


def test_type_checkers_see_every_lazy_top_level_name():
    """``odesolve`` imports its public names lazily (module ``__getattr__``), which a type
    checker cannot follow: each must also be imported, from its module, under
    ``TYPE_CHECKING``."""
    import ast

    tree = ast.parse(Path(odesolve.__file__).read_text())
    seen = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom):
                    seen.update({alias.name: stmt.module for alias in stmt.names})
    assert seen == {name: module for name, module in odesolve._PUBLIC.items()}


def test_missing_annotations_detects_what_it_should():
    def f(a, b: int, *args, c=1, **kwargs) -> None: ...
    def g(self, x: int): ...
    assert missing_annotations(f, False) == ["a", "c"]
    assert missing_annotations(g, True) == ["return"]


# -- mypy on a usage script ----------------------------------------------------------------------
#: uses the API as a user would; lines marked ``# error`` break the annotations and must be the
#: only ones mypy reports
USAGE = '''
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import odesolve
from odesolve import Overlaps, TeacherStudent, Trajectory
from odesolve.comparison import ComparisonReport
from odesolve.config import load_config, setup_from_config
from odesolve.fixedpoint import FixedPoint
from odesolve.linear.exact import exact_QQT, saxe_mode
from odesolve.linear.trajectory import LinearTrajectory, train
from odesolve.multitask import MultiTaskSetup, MultiTaskState, ProtocolTrajectory, continual
from odesolve.multitask import integrate_protocol, teacher_overlaps
from odesolve.observables import specialisation_index, summarise
from odesolve.plotting import plot_trajectory
from odesolve.solvers import TABLEAUS, Problem, SolverResult, Tableau, solve
from odesolve.solvers.testproblems import logistic
from odesolve.sweeps import SweepResult, SweepSpec
from odesolve.sweeps.plots import plot_curves, plot_heatmap

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from typing_extensions import assert_type


def run() -> None:
    setup = TeacherStudent(2, 2, "erf", eta=1.0)
    state = Overlaps.random(2, 2, N=1000, student_std=0.3, readout_std=0.3, seed=0)
    batch = Overlaps.random(2, 2, batch=4, seed=np.random.default_rng([1, 2]))
    traj = odesolve.integrate(setup, state, t_max=2.0, n_out=11)
    assert_type(traj, Trajectory)
    assert_type(traj.eps_g, np.ndarray)
    assert_type(traj.state(-1), Overlaps)
    assert_type(odesolve.generalisation_error(setup, batch), "float | np.ndarray")
    fig = plot_trajectory(traj)
    assert_type(fig, Figure)
    assert_type(plot_trajectory(traj, Path("eps.png")), Path)
    assert_type(plot_trajectory(traj, "eps.png"), str)
    W, W_star, v, v_star = odesolve.weights_from_overlaps(state, 1000, seed=0)
    assert_type(W, np.ndarray)
    sim = odesolve.simulate(setup, state, N=1000, t_max=2.0, seeds=range(4), progress=False)
    rep = odesolve.compare(setup, (W, W_star, v, v_star), seeds=[0, 1, 2, 3], out="rep.json")
    assert_type(rep, ComparisonReport)
    assert_type(rep.save("rep.json"), tuple[Path, Path])
    stats: dict[str, tuple[np.ndarray, np.ndarray]] = odesolve.seed_statistics(sim)
    res = odesolve.sweep(setup, axes={"eta": [0.5, 1.0], "readout_std": np.array([0.1, 1.0])},
                         init={"student_std": 0.1}, replicas=3, t_max=20, progress=False)
    assert_type(res, SweepResult)
    assert_type(res.reduce("eps_g_final", how="fraction_finite"), np.ndarray)
    assert_type(plot_heatmap(res), Figure)
    assert_type(plot_heatmap(res, path="heat.png"), str)
    assert_type(plot_curves(res, "eta", Path("c.png")), Path)
    assert_type(SweepSpec.from_dict(res.spec.to_dict()), SweepSpec)
    s = specialisation_index(traj.Q, traj.R, traj.T)
    summary: dict[str, np.ndarray] = summarise(traj.t, traj.Q[None], traj.R[None],
                                               traj.T[None], traj.eps_g[None])
    fp = odesolve.fixed_point(setup, "plateau", small_eta=True)
    assert_type(fp, FixedPoint)
    branch = odesolve.continuation(setup, fp, np.linspace(0.1, 1.0, 5))
    first = branch[0]
    if first is not None:
        assert_type(first.leading, complex)
    mt = MultiTaskSetup(2, 1, P=2, heads="single")
    T = teacher_overlaps(1, 2, feature_similarity=0.5)
    mstate = MultiTaskState.random(mt, T, np.ones((2, 1)), seed=0)
    ptraj = integrate_protocol(mt, [mstate, mstate], continual(10.0, 10.0, ewc=1.0))
    assert_type(ptraj, ProtocolTrajectory)
    X = exact_QQT(np.eye(2), np.eye(2), np.eye(2), [0.0, 1.0])
    u = saxe_mode(np.linspace(0, 1, 5), 1.0, 1e-3)
    lt = train(np.eye(2), [np.eye(2), np.eye(2)], np.linspace(0, 1, 5), method="exact")
    assert_type(lt, LinearTrajectory)
    config = load_config(Path("run.toml"), command="run")
    assert_type(setup_from_config(config), TeacherStudent)
    problem = Problem(logistic, name="logistic")
    result = solve(problem, np.full((3, 1), 0.1), np.ones((3, 2)), np.linspace(0, 1, 5),
                   method="dopri5", rtol=1e-8)
    assert_type(result, SolverResult)
    assert_type(TABLEAUS["rk4"], Tableau)

    odesolve.integrate(setup, state, t_max="2")                           # error
    odesolve.simulate(setup, state, seeds=3.5)                            # error
    res.reduce("eps_g_final", how="average")                              # error
    MultiTaskSetup(2, 1, heads="double")                                  # error
    plot_trajectory(traj).savefig("x.png")
    plot_trajectory(traj, "x.png").savefig("x.png")                       # error
    train(np.eye(2), [np.eye(2)], [0.0, 1.0], method="euler")             # error
'''


def _mypy_errors(script: Path, cache: Path) -> dict[int, list[str]]:
    """mypy's errors in ``script`` by line; odesolve is found in the source tree (an editable
    install is an import hook mypy cannot follow) and checked silently."""
    env = {**os.environ, "MYPYPATH": str(Path(odesolve.__file__).resolve().parent.parent)}
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--follow-imports=silent", "--ignore-missing-imports",
         "--no-error-summary", "--show-error-codes", "--cache-dir", str(cache), str(script)],
        capture_output=True, text=True, env=env, cwd=script.parent, timeout=600)
    if proc.returncode not in (0, 1) or proc.stderr.strip():
        raise AssertionError(f"mypy did not run: {proc.stderr or proc.stdout}")
    errors: dict[int, list[str]] = {}
    for line in proc.stdout.splitlines():
        m = re.match(rf"{re.escape(script.name)}:(\d+): error: (.*)", line)
        if m:
            errors.setdefault(int(m.group(1)), []).append(m.group(2))
    return errors


def test_mypy_accepts_typed_usage_and_rejects_exactly_the_wrong_calls(tmp_path, request):
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (it is not a dependency of odesolve)")
    script = tmp_path / "usage.py"
    script.write_text(textwrap.dedent(USAGE))
    expected = {i for i, line in enumerate(script.read_text().splitlines(), 1)
                if line.rstrip().endswith("# error")}
    errors = _mypy_errors(script, request.config.cache.mkdir("mypy"))
    unexpected = {i: e for i, e in errors.items() if i not in expected}
    assert not unexpected, f"mypy rejects correct usage: {unexpected}"
    assert set(errors) == expected, \
        f"wrong calls mypy accepted (lines): {sorted(expected - set(errors))}"
