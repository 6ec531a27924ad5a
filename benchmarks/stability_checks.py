"""Issue 7 figures: derived fixed points and stability against independent computations.

Run: python benchmarks/stability_checks.py   (about a minute)
"""
import time

import numpy as np

from odesolve import TeacherStudent, integrate
from odesolve._records import record
from odesolve.fixedpoint import symmetric_state
from odesolve.model import Overlaps
from odesolve.stability import (escape_rate, max_learning_rate, optimal_learning_rate, plateau,
                                plateau_small_eta)


def theory(K):
    q = 1 / (2 * K - 1)
    r = 1 / np.sqrt(K * (2 * K - 1))
    return np.array([q, q, r, r]), K / np.pi * (np.pi / 6 - K * np.arcsin(1 / (2 * K)))


def near_perfect(K):
    rng = np.random.default_rng(3)
    R = np.eye(K) + 0.01 * rng.standard_normal((K, K))
    return Overlaps(Q=R @ R.T + 1e-3 * np.eye(K), R=R, T=np.eye(K), v=np.ones(K),
                    v_star=np.ones(K))


WHERE = "python benchmarks/stability_checks.py"


def main():
    tic = time.perf_counter()
    print("1. eta -> 0 plateau against docs/theory/stability.md#theory-stability-plateau "
          "(Richardson from eta = 0.02, 0.01, 0.005)")
    for K in (2, 3, 4):
        d = plateau_small_eta(TeacherStudent(K, K, "erf", eta=0.1, eta_v=0.0))
        x, eps = theory(K)
        record("stability_checks", f"limits.plateau.small-eta.K{K}", area="Closed-form limits",
               claim=f"eta -> 0 plateau eps_g equals (K/pi)(pi/6 - K asin(1/(2K))), K = {K}",
               method="Newton on the derived symmetric equations, Richardson extrapolation",
               measured=abs(d["eps_g"] - eps), bound=1e-7, unit="abs error", where=WHERE)
        print(f"   K = {K}: max |x - formula| = {np.abs(np.array(d['x']) - x).max():.1e}, "
              f"eps_g {d['eps_g']:.10f} vs {eps:.10f} (diff {d['eps_g'] - eps:.1e}), "
              f"escape rate / eta = {d['escape_rate_per_eta']:.6f}")
    print("2. finite-eta plateau against a long integration from identical students")
    for K, eta in ((2, 0.5), (3, 0.3), (4, 0.2)):
        s = TeacherStudent(K, K, "erf", eta=eta, eta_v=0.0)
        fp = plateau(s)
        tr = integrate(s, symmetric_state(K, 0.2, 0.2, 0.05, 0.05), 300 / eta,
                       method="dopri5", rtol=1e-11, atol=1e-13, n_out=3)
        dev = max(np.abs(tr.Q[-1] - fp.state.Q).max(), np.abs(tr.R[-1] - fp.state.R).max())
        record("stability_checks", f"fixed-point.plateau.K{K}.eta{eta:g}.long",
               area="Fixed points and stability",
               claim=f"finite-eta plateau (Newton) is where a long integration ends, K = {K}, "
                     f"eta = {eta:g}", method=f"dopri5 to t = {300 / eta:g}", measured=dev,
               bound=1e-6, unit="max abs difference of Q, R", where=WHERE)
        print(f"   K = {K}, eta = {eta}: plateau eps_g {fp.eps_g:.8f}, max deviation {dev:.1e}")
    print("3. eta_max: perfect learning stable below, bracketed by integration")
    for K, trained in ((2, False), (2, True), (3, False)):
        base = TeacherStudent(K, K, "erf", eta=1.0, eta_v=None if trained else 0.0)
        em = max_learning_rate(base)
        eo, g = optimal_learning_rate(base, em)
        res = []
        for f in (0.98, 1.02):
            s = TeacherStudent(K, K, "erf", eta=f * em, eta_v=None if trained else 0.0)
            tr = integrate(s, near_perfect(K), 5000.0, method="dopri5", rtol=1e-10,
                           atol=1e-12, on_failure="flag", n_out=3)
            res.append(f"{f} eta_max -> eps_g(5000) = {tr.eps_g[-1]:.1e} (status {tr.status})")
            record("stability_checks",
                   f"fixed-point.eta-max.K{K}.{'trained' if trained else 'fixed'}.{f:g}",
                   area="Fixed points and stability",
                   claim=f"K = {K}, readouts {'trained' if trained else 'fixed'}: at {f:g} "
                         f"eta_max (= {em:.6f}) a start near perfect learning "
                         f"{'converges' if f < 1 else 'does not converge'}",
                   method="dopri5 integration to t = 5000",
                   measured=float(tr.eps_g[-1]) if tr.status == 0 else float("inf"),
                   bound=1e-10 if f < 1 else 1e-6, comparison="<=" if f < 1 else ">=",
                   unit="final eps_g", where=WHERE)
        print(f"   K = {K}, readouts {'trained' if trained else 'fixed'}: eta_max = {em:.6f}, "
              f"eta_opt = {eo:.6f} (gamma {g:.5f}); " + "; ".join(res))
    print("4. escape time against the initial symmetry breaking delta (eta = 0.5)")
    for K in (2, 3):
        s = TeacherStudent(K, K, "erf", eta=0.5, eta_v=0.0)
        fp = plateau(s)
        lam = escape_rate(fp)
        e = fp.eigenvectors[:, 0].real
        e = e / np.abs(e).max() * np.sign(e[2] - e[3])
        times = []
        for delta in (1e-4, 1e-6, 1e-8, 1e-10, 1e-12):
            x = fp.x + delta * e
            x[0] = x[1] + 2 * (x[2] - x[3]) ** 2
            tr = integrate(s, symmetric_state(K, *x), 2000.0, method="dopri5", rtol=1e-11,
                           atol=1e-14, times=np.linspace(0, 2000, 40001))
            times.append(tr.t[np.flatnonzero(tr.eps_g < fp.eps_g / 2)[0]])
        slope = np.diff(times) / np.log(100)
        record("stability_checks", f"fixed-point.escape-time.K{K}",
               area="Fixed points and stability",
               claim=f"the escape time from the plateau grows by ln(100)/lambda per factor 100 "
                     f"in the initial symmetry breaking, K = {K}",
               method="integrations from the plateau displaced along the unstable eigenvector "
                      "by 1e-4 .. 1e-12", measured=float(np.abs(slope * lam - 1).max()),
               bound=0.02, unit="relative error of the slope", where=WHERE,
               extra={"1/lambda": 1 / lam})
        print(f"   K = {K}: 1/lambda = {1 / lam:.4f}; escape times {np.round(times, 2)}; "
              f"per ln(100): {np.round(slope, 4)}")
    print(f"total {time.perf_counter() - tic:.0f} s")


if __name__ == "__main__":
    main()
