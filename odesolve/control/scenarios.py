"""Scenarios of optimal protocols (issue 16): ``optimal_lr`` and ``optimal_replay``.

``optimal_lr``: the optimal learning-rate schedule of the soft committee machine against
constant rates and ``1/t`` annealing.

For each case (erf, K = M, fixed readouts v = v* = 1, output noise sigma) the student starts
from small random overlaps (Q ~ 0.01, the symmetric plateau ahead) and learns for a horizon
t_f. The objective is the generalisation error at t_f. Three protocols are optimised for it
on the same RK4 grid (:func:`~odesolve.control.objective_gradient`):

- **optimal**: a piecewise-constant eta(t) with ``n_pieces`` pieces in ``[0, eta_max]``
  (:func:`~odesolve.control.optimise.optimise_schedules`, exact adjoint gradients);
- **constant**: the best constant eta in ``[0, eta_max]`` (one piece, same optimiser);
- **annealing**: the best ``eta0 t0 / (t0 + t)`` (Nelder-Mead over ``log eta0, log t0``),
  applied as the means over the same pieces.

Reported per protocol: the final eps_g, the escape time from the plateau (the first time the
mean specialisation ``(max_n R_in - min_n R_in) / sqrt(Q_ii)`` of the student units exceeds
0.5; see :func:`escape_time`) and the eps_g curve.

``optimal_replay``: two tasks of feature similarity a (one teacher unit each, a student with
K = 2 units and one head per task, as the ``forgetting`` scenario), a fixed budget t_f of
training. The mixture ODE (:mod:`odesolve.control.mixture`) trains on task 1 with the
fraction ``mix(t)`` of the samples and on task 0 with the rest. Three protocols, each judged
by ``eps_0(t_f) + eps_1(t_f)``:

- **block**: task 0 for the first half of the budget, then task 1 (continual learning);
- **interleaved**: half of the samples from each task throughout (``mix = 0.5``);
- **optimal**: ``mix(t)`` in [0, 1] and eta(t) in [0, eta_max], ``n_pieces`` pieces each,
  optimised with exact gradients (started from interleaving).

for the balanced (non-specialised) and imbalanced (specialised) initialisations of the
``forgetting`` scenario (:data:`odesolve.scenarios.INITS`).
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from .. import committee
from .._checks import check_bool
from ..model import Overlaps, TeacherStudent
from .committee import committee_sensitivity_problem
from .optimise import optimise_schedules
from .schedule import Schedule, annealing, piecewise_constant
from .sensitivity import objective_gradient

__all__ = ["optimal_lr", "optimal_lr_case", "escape_time", "optimal_replay",
           "optimal_replay_case", "CONTROL_SCENARIOS"]

#: the cases of the full scenario: (K, sigma, t_f)
CASES = ((2, 0.0, 150.0), (2, 0.3, 150.0), (3, 0.0, 300.0), (3, 0.3, 300.0))
#: RK4 steps per unit of time
STEPS_PER_UNIT = 20
#: threshold of the specialisation that marks the escape from the plateau
ESCAPE_LEVEL = 0.5


def plateau_start(K: int, seed: int = 0, student_std: float = 0.1) -> tuple[TeacherStudent,
                                                                              Overlaps]:
    """Small random student overlaps (Q ~ student_std^2), orthonormal teacher, v = v* = 1."""
    st = Overlaps.random(K, K, N=10_000, student_std=student_std, seed=seed)
    return (TeacherStudent(K, K, "erf", eta=1.0, eta_v=0.0),
            Overlaps(st.Q, st.R, np.eye(K), np.ones(K), np.ones(K)))


def escape_time(t: np.ndarray, y: np.ndarray, K: int, M: int,
                level: float = ESCAPE_LEVEL) -> float:
    """First time the mean specialisation of the student units exceeds ``level``.

    Parameters
    ----------
    t : ndarray, shape (n_t,)
    y : ndarray, shape (n_t, K*K + K*M + K)
        Committee states (:func:`odesolve.committee.pack_state` layout).
    K, M : int
    level : float

    Returns
    -------
    float
        The specialisation of unit i is ``(max_n R_in - min_n R_in) / sqrt(Q_ii)``; NaN if
        the mean never exceeds ``level``.
    """
    Q, R, _ = committee.unpack_state(y, K, M)
    diag = np.sqrt(np.maximum(np.einsum("tii->ti", Q), 1e-300))
    spec = ((R.max(axis=2) - R.min(axis=2)) / diag).mean(axis=1)
    hit = np.flatnonzero(spec > level)
    return float(t[hit[0]]) if hit.size else float("nan")


def _best_annealing(run, t_f, n_pieces):
    """(schedule, objective) of the best eta0 t0 / (t0 + t), Nelder-Mead on the logs."""
    from scipy.optimize import minimize

    def f(x):
        sch = annealing(t_f, n_pieces, float(np.exp(x[0])), float(np.exp(x[1])))
        val = run(sch).objective[0]
        return float(val) if np.isfinite(val) else 1e30

    best = min(((f(np.log([e0, t0])), (e0, t0)) for e0 in (0.5, 1.0, 2.0)
                for t0 in (t_f / 10, t_f / 3, t_f)), key=lambda r: r[0])
    res = minimize(f, np.log(best[1]), method="Nelder-Mead",
                   options={"xatol": 1e-4, "fatol": 1e-12, "maxiter": 400})
    e0, t0 = np.exp(res.x)
    return annealing(t_f, n_pieces, float(e0), float(t0)), float(res.fun), (float(e0), float(t0))


def optimal_lr_case(K: int, sigma: float, t_f: float, n_pieces: int = 100,
                    eta_max: float = 5.0, seed: int = 0,
                    steps_per_unit: int = STEPS_PER_UNIT) -> dict[str, Any]:
    """Optimal, best constant and best ``1/t`` schedules for one case (module docstring).

    Parameters
    ----------
    K : int
        K = M, at least 1.
    sigma : float
        Output noise, non-negative.
    t_f : float
        Horizon, positive.
    n_pieces : int
        Pieces of the optimal schedule (and of the annealing schedule).
    eta_max : float
        Upper bound of the learning rate.
    seed : int
        Seed of the initial overlaps (:func:`plateau_start`).
    steps_per_unit : int
        RK4 steps per unit of time (rounded up so that every jump lies on the grid).

    Returns
    -------
    dict
        ``K``, ``sigma``, ``t_f``, ``protocols``: name -> ``{"schedule" (Schedule.to_dict),
        "eps_final", "t_escape", "t" (list), "eps_g" (list)}``, plus optimiser details.
    """
    setup, state = plateau_start(K, seed)
    prob = committee_sensitivity_problem(setup)
    p0 = committee.pack_params(TeacherStudent(K, K, "erf", eta=1.0, eta_v=0.0, sigma=sigma),
                               state)[0]
    y0 = committee.pack_state(state)[0]
    n_steps = int(round(t_f * steps_per_unit))
    n_steps += (-n_steps) % n_pieces                     # jumps on the step grid

    def run(sch: Schedule, n_record: int = 2):
        return objective_gradient(prob, y0, p0, {"eta": sch}, t_f, n_steps, method="none",
                                  n_record=n_record)

    t0 = time.perf_counter()
    const = optimise_schedules(prob, y0, p0, {"eta": piecewise_constant(t_f, [1.0])}, t_f,
                               n_steps, bounds={"eta": (0.0, eta_max)})
    c_eta = float(const.schedules["eta"].values[0])
    ann, _, (e0, tau) = _best_annealing(run, t_f, n_pieces)
    start = piecewise_constant(t_f, np.full(n_pieces, c_eta))
    opt = optimise_schedules(prob, y0, p0, {"eta": start}, t_f, n_steps,
                             bounds={"eta": (0.0, eta_max)}, max_iter=500)
    protocols = {"optimal": opt.schedules["eta"], "constant": start, "annealing": ann}
    out: dict[str, Any] = {"K": K, "sigma": sigma, "t_f": t_f, "n_pieces": n_pieces,
                           "eta_max": eta_max, "n_steps": n_steps, "seed": seed,
                           "annealing_params": {"eta0": e0, "t0": tau},
                           "optimiser": {k: v for k, v in opt.to_dict().items()
                                         if k != "schedules"},
                           "protocols": {}}
    for name, sch in protocols.items():
        res = run(sch, n_record=301)
        eps = committee.evaluate_eps_g(setup.activation, res.y, np.broadcast_to(
            p0, (1, p0.size)))[0]
        out["protocols"][name] = {"schedule": sch.to_dict(),
                                  "eps_final": float(res.objective[0]),
                                  "t_escape": escape_time(res.t, res.y[0], K, K),
                                  "t": res.t.tolist(), "eps_g": eps.tolist()}
    out["seconds"] = time.perf_counter() - t0
    return out


def optimal_lr(quick: bool = False) -> dict[str, Any]:
    """The ``optimal_lr`` scenario: :func:`optimal_lr_case` for every case of :data:`CASES`;
    ``quick``: K = 2 with noise only, t_f = 40, 10 pieces, 10 steps per unit.

    Returns
    -------
    dict
        ``{"scenario": "optimal_lr", "cases": [...]}``.

    Raises
    ------
    TypeError
        ``quick`` not a boolean.
    """
    quick = check_bool("quick", quick)
    if quick:
        return {"scenario": "optimal_lr",
                "cases": [optimal_lr_case(2, 0.3, 40.0, n_pieces=10, steps_per_unit=10)]}
    return {"scenario": "optimal_lr",
            "cases": [optimal_lr_case(K, s, tf) for K, s, tf in CASES]}


def _plot_optimal_lr(d, axes):
    styles = {"optimal": ("C3", "-"), "constant": ("k", "--"), "annealing": ("C0", ":")}
    cases = d["cases"]
    n_col = len(axes) // 2
    for ax in axes[len(cases):n_col]:
        ax.set_visible(False)
    for ax in axes[n_col + len(cases):]:
        ax.set_visible(False)
    for j, case in enumerate(cases):
        ax_eta, ax_eps = axes[j], axes[n_col + j]
        for name, (color, ls) in styles.items():
            pr = case["protocols"][name]
            sch = Schedule.from_dict(pr["schedule"])
            ax_eta.step(sch.times, np.append(sch.values, sch.values[-1]), where="post",
                        color=color, ls=ls, label=name)
            esc = pr["t_escape"]
            ax_eps.semilogy(pr["t"], np.maximum(pr["eps_g"], 1e-12), color=color, ls=ls,
                            label=f"{name}: {pr['eps_final']:.2e}"
                                  + (f", escape {esc:.0f}" if np.isfinite(esc) else ""))
        ax_eta.set(title=f"K = M = {case['K']}, sigma = {case['sigma']:g}",
                   ylabel="eta(t)" if j == 0 else "")
        ax_eps.set(xlabel="t", ylabel="eps_g" if j == 0 else "")
        ax_eps.legend(fontsize=7)
    axes[0].legend(fontsize=7)




#: the cases of the full replay scenario: (initialisation, feature similarity a)
REPLAY_CASES = (("balanced", 0.2), ("imbalanced", 0.2), ("balanced", 0.8), ("imbalanced", 0.8))


def optimal_replay_case(init: str, a: float, t_f: float = 60.0, n_pieces: int = 40,
                        eta_max: float = 3.0, seed: int = 0, steps_per_unit: int = 10
                        ) -> dict[str, Any]:
    """Block, interleaved and optimal protocols for one initialisation and similarity.

    Parameters
    ----------
    init : {"balanced", "imbalanced"}
        Initialisation of :data:`odesolve.scenarios.INITS`.
    a : float
        Feature similarity of the two teachers, in [0, 1].
    t_f : float
        Training budget (time, so ``t_f N`` samples).
    n_pieces : int
        Pieces of the mix and eta schedules (even).
    eta_max : float
        Upper bound of the learning rate.
    seed : int
        Seed of the initial overlaps.
    steps_per_unit : int
        RK4 steps per unit of time.

    Returns
    -------
    dict
        ``init``, ``a``, ``t_f``, ``protocols``: name -> ``{"mix", "eta"`` (Schedule dicts),
        ``"eps_final"`` ([eps_0, eps_1]), ``"objective"``, ``"t"``, ``"eps_g"`` (n, 2)}.
    """
    from ..multitask import MultiTaskSetup, MultiTaskState
    from ..multitask.model import teacher_overlaps
    from ..scenarios import INITS
    from .mixture import mixture_problem, mixture_state, pack_mixture, unpack_mixture

    mt = MultiTaskSetup(2, 1, P=2, heads="multi", eta=1.0)
    T = teacher_overlaps(1, 2, feature_similarity=a)
    st = MultiTaskState.random(mt, T, [[1.0], [1.0]], N=10_000, seed=seed, **INITS[init])
    ts = TeacherStudent(2, 1, "erf", eta=1.0, eta_v=1.0)
    p0 = pack_mixture(ts, st.T, st.V_star, heads=(0, 1), n_heads=2)
    prob = mixture_problem("erf", 2, 1)
    y0 = mixture_state(st.Q, st.R, st.V)
    n_steps = int(round(t_f * steps_per_unit))
    n_steps += (-n_steps) % n_pieces
    half = n_pieces // 2
    eta1 = piecewise_constant(t_f, np.ones(n_pieces))
    t0 = time.perf_counter()
    opt = optimise_schedules(prob, y0, p0, {"mix": piecewise_constant(t_f, np.full(n_pieces,
                                                                                    0.5)),
                                            "eta": eta1}, t_f, n_steps,
                             bounds={"mix": (0.0, 1.0), "eta": (0.0, eta_max)}, max_iter=400)
    protocols = {"block": {"mix": piecewise_constant(t_f, [0.0] * half + [1.0] * half),
                           "eta": eta1},
                 "interleaved": {"mix": piecewise_constant(t_f, np.full(n_pieces, 0.5)),
                                 "eta": eta1},
                 "optimal": opt.schedules}
    out: dict[str, Any] = {"init": init, "a": a, "t_f": t_f, "n_pieces": n_pieces,
                           "eta_max": eta_max, "seed": seed, "n_steps": n_steps,
                           "optimiser": {k: v for k, v in opt.to_dict().items()
                                         if k != "schedules"}, "protocols": {}}
    for name, sch in protocols.items():
        res = objective_gradient(prob, y0, p0, sch, t_f, n_steps, method="none", n_record=121)
        eps = np.stack([_task_errors(prob, res.y[0], p0, task) for task in (0, 1)], axis=1)
        _, _, V = unpack_mixture(res.y[0, -1], 2, 1, 2)
        out["protocols"][name] = {"mix": sch["mix"].to_dict(), "eta": sch["eta"].to_dict(),
                                  "objective": float(res.objective[0]),
                                  "eps_final": eps[-1].tolist(), "t": res.t.tolist(),
                                  "eps_g": eps.tolist(), "heads_final": V.tolist()}
    out["seconds"] = time.perf_counter() - t0
    return out


def _task_errors(prob, y, p0, task):
    """eps_g of one task along states y (n, n_y), from the mixture cost with weight on it."""
    p = p0.copy()
    p[prob.slots["c_0"]] = 1.0 if task == 0 else 0.0
    p[prob.slots["c_1"]] = 1.0 if task == 1 else 0.0
    work = np.zeros(prob.n_work)
    gy, gp = np.zeros(y.shape[1]), np.zeros(p.size)
    return np.array([prob.cost(0.0, row, p, work, gy, gp) for row in y])


def optimal_replay(quick: bool = False) -> dict[str, Any]:
    """The ``optimal_replay`` scenario: :func:`optimal_replay_case` for every case of
    :data:`REPLAY_CASES`; ``quick``: imbalanced, a = 0.5, t_f = 20, 8 pieces.

    Returns
    -------
    dict
        ``{"scenario": "optimal_replay", "cases": [...]}``.

    Raises
    ------
    TypeError
        ``quick`` not a boolean.
    """
    quick = check_bool("quick", quick)
    if quick:
        cases = [optimal_replay_case("imbalanced", 0.5, t_f=20.0, n_pieces=8)]
    else:
        cases = [optimal_replay_case(init, a) for init, a in REPLAY_CASES]
    return {"scenario": "optimal_replay", "cases": cases}


def _plot_optimal_replay(d, axes):
    styles = {"optimal": ("C3", "-"), "block": ("k", "--"), "interleaved": ("C0", ":")}
    cases = d["cases"]
    n_col = len(axes) // 2
    for ax in list(axes[len(cases):n_col]) + list(axes[n_col + len(cases):]):
        ax.set_visible(False)
    for j, case in enumerate(cases):
        ax_s, ax_e = axes[j], axes[n_col + j]
        opt = case["protocols"]["optimal"]
        for key, color in (("mix", "C3"), ("eta", "C1")):
            sch = Schedule.from_dict(opt[key])
            ax_s.step(sch.times, np.append(sch.values, sch.values[-1]), where="post",
                      color=color, label=f"optimal {key}(t)")
        for name, (color, ls) in styles.items():
            pr = case["protocols"][name]
            tot = np.sum(pr["eps_g"], axis=1)
            ax_e.semilogy(pr["t"], np.maximum(tot, 1e-12), color=color, ls=ls,
                          label=f"{name}: {pr['objective']:.1e}")
        ax_s.set(title=f"{case['init']}, a = {case['a']:g}", ylabel="schedule" if j == 0 else "")
        ax_e.set(xlabel="t", ylabel="eps_0 + eps_1" if j == 0 else "")
        ax_e.legend(fontsize=7)
    axes[0].legend(fontsize=7)


CONTROL_SCENARIOS = {
    "optimal_lr": (optimal_lr, _plot_optimal_lr, (2, 4),
                   "optimal learning-rate schedule against constant and 1/t annealing"),
    "optimal_replay": (optimal_replay, _plot_optimal_replay, (2, 4),
                       "optimal task selection and learning rate against block and "
                       "interleaved training"),
}
