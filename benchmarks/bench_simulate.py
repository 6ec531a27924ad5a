"""Speed of the finite-N simulator: SGD steps per second on one core.

    python benchmarks/bench_simulate.py [--quick]

erf, K = M = 2, both layers trained, one seed on one thread, at N = 1 000, 10 000 and 100 000.
Baseline measured in the same run: a plain Numba loop that draws each input component with
``np.random.standard_normal()`` (one number at a time) and then calls the *same* compiled SGD
update, so the ratio isolates the input sampling (the simulator's per-seed xoshiro256++ streams
with Ziggurat normals), which dominates the cost of a step. Target at N = 10 000: >= 15 000
steps/s, at least 4x the plain loop.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numba
import numpy as np

if __name__ == "__main__":  # runnable alone from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import odesolve  # noqa: E402
from odesolve.simulation import sgd  # noqa: E402
from odesolve.simulation.rng import fill_normal, seed_state  # noqa: E402

_SETUP = odesolve.TeacherStudent(2, 2, "erf", eta=1.0)
_STEP = sgd.compiled("erf").sgd_step


@numba.njit
def _plain_loop(W, W_star, v, v_star, params, x, lam, nu, n_steps):
    """The baseline: the same update, inputs from np.random.standard_normal() one at a time."""
    for _ in range(n_steps):
        for j in range(x.shape[0]):
            x[j] = np.random.standard_normal()
        zeta = np.random.standard_normal()
        _STEP(W, W_star, v, v_star, x, zeta, params, lam, nu)


def _problem(N):
    state = odesolve.Overlaps.random(2, 2, N=N, student_std=0.1, readout_std=0.1, seed=0)
    rng = np.random.default_rng(0)
    W = 0.1 * rng.standard_normal((1, 2, N))
    W_star = rng.standard_normal((1, 2, N))
    v = np.ascontiguousarray(state.v[None].copy())
    v_star = np.ascontiguousarray(state.v_star[None].copy())
    return W, W_star, v, v_star


def _rate(run, n_steps, seconds):
    """Steps per second of ``run(n)``: grow n until a call lasts ``seconds``, best of 3."""
    n = n_steps
    while True:
        tic = time.perf_counter()
        run(n)
        elapsed = time.perf_counter() - tic
        if elapsed >= seconds / 3:
            break
        n = int(n * min(10.0, 1.2 * seconds / 3 / max(elapsed, 1e-6)))
    best = elapsed
    for _ in range(2):
        tic = time.perf_counter()
        run(n)
        best = min(best, time.perf_counter() - tic)
    return n / best


def _ns_per_normal(seconds):
    out = np.empty(100_000)
    state = seed_state(0)

    @numba.njit
    def plain(out, reps):
        for _ in range(reps):
            for j in range(out.shape[0]):
                out[j] = np.random.standard_normal()

    def zig(reps):
        for _ in range(reps):
            fill_normal(state, out)

    plain(out, 1)
    zig(1)
    return (1e9 / (_rate(zig, 10, seconds) * out.size),
            1e9 / (_rate(lambda r: plain(out, r), 10, seconds) * out.size))


def bench_simulate(quick=False):
    """Steps/s of the simulator and of the plain loop at N = 1e3, 1e4, 1e5, one core.

    Returns
    -------
    dict
        ``rows``: one per N with both rates and their ratio; also the cost of one normal number
        (Ziggurat vs ``np.random.standard_normal``) and the throughput of two seeds on two
        threads at N = 10 000.
    """
    seconds = 0.3 if quick else 1.5
    fns = sgd.compiled("erf")
    params = sgd.pack_params(_SETUP)
    threads = numba.get_num_threads()
    rows = []
    try:
        numba.set_num_threads(1)
        for N in (1_000, 10_000, 100_000):
            W, W_star, v, v_star = _problem(N)
            states = seed_state(1)[None].copy()
            x, fields, active = np.empty((1, N)), np.empty((1, 4)), np.ones(1, dtype=np.bool_)
            none = sgd.no_ewc(1, 2)

            def ours(n):
                fns.advance(W, W_star, v, v_star, params, states, x, fields, active, n, *none)

            Wp, Wsp, vp, vsp = W[0].copy(), W_star[0], v[0].copy(), v_star[0]
            xp, lam, nu = np.empty(N), np.empty(2), np.empty(2)

            def plain(n):
                _plain_loop(Wp, Wsp, vp, vsp, params, xp, lam, nu, n)

            ours(1)
            plain(1)
            r_ours, r_plain = _rate(ours, 100, seconds), _rate(plain, 100, seconds)
            rows.append({"N": N, "odesolve_steps_per_s": r_ours, "plain_steps_per_s": r_plain,
                         "speedup": r_ours / r_plain,
                         "odesolve_ns_per_component": 1e9 / (r_ours * N)})
        zig_ns, plain_ns = _ns_per_normal(seconds / 3)
    finally:
        numba.set_num_threads(threads)
    two = float("nan")
    if threads >= 2:
        W, W_star, v, v_star = (np.concatenate([a, a]) for a in _problem(10_000))
        states = np.stack([seed_state(1), seed_state(2)])
        x, fields, active = np.empty((2, 10_000)), np.empty((2, 4)), np.ones(2, dtype=np.bool_)
        none = sgd.no_ewc(2, 2)
        two = 2 * _rate(lambda n: fns.advance(W, W_star, v, v_star, params, states, x, fields,
                                              active, n, *none), 100, seconds)
    return {"ziggurat_ns_per_normal": zig_ns, "np_random_ns_per_normal": plain_ns,
            "two_seeds_two_threads_total_steps_per_s_N10000": two, "rows": rows}


def main(argv=None):
    quick = "--quick" in (sys.argv[1:] if argv is None else argv)
    res = bench_simulate(quick)
    for key, value in res.items():
        if key != "rows":
            print(f"{key}: {value:.4g}")
    keys = list(res["rows"][0])
    print("  ".join(f"{k:>26}" for k in keys))
    for row in res["rows"]:
        print("  ".join(f"{row[k]:>26.4g}" for k in keys))


if __name__ == "__main__":
    main()
