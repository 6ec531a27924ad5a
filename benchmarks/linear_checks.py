"""Issue 6 figures: exact lambda-balanced solution against numerical gradient flow, and the
conservation of lambda-balancedness. Run: python benchmarks/linear_checks.py

Records the worst figures for the documentation's validation page
(``build/validation/linear_checks.json``, see ``odesolve._records``)."""
import numpy as np

from odesolve._records import record
from odesolve.linear import balanced_weights, exact_QQT, gradient_flow, saxe_mode


def main():
    worst, drift_worst = 0.0, 0.0
    for dims in [(3, 3, 3), (5, 2, 4), (4, 3, 6), (6, 6, 6)]:
        d_in, h, d_out = dims
        Sigma = np.random.default_rng(sum(dims)).standard_normal((d_out, d_in))
        for lam in (-2.0, -1.0, -0.1, 0.0, 0.5, 2.0, 5.0):
            W1, W2 = balanced_weights(d_in, h, d_out, lam, scale=0.5, seed=1)
            t = np.array([0.0, 0.3, 1.0, 3.0, 10.0, 30.0])
            X = exact_QQT(Sigma, W1, W2, t)
            A1, A2 = gradient_flow(Sigma, W1, W2, t)
            Q = np.concatenate([np.swapaxes(A1, 1, 2), A2], axis=1)
            err = np.abs(X - Q @ np.swapaxes(Q, 1, 2)).max()
            drift = np.abs(np.swapaxes(A2, 1, 2) @ A2 - A1 @ np.swapaxes(A1, 1, 2)
                           - lam * np.eye(h)).max()
            print(f"dims {dims} lambda {lam:5.1f}: max |X_exact - QQ^T_flow| = {err:.2e}, "
                  f"balancedness drift {drift:.2e}")
            worst, drift_worst = max(worst, err), max(drift_worst, drift)
    print(f"worst over all: {worst:.2e} (target 1e-8); drift {drift_worst:.2e}")
    where = "python benchmarks/linear_checks.py"
    record("linear_checks", "linear.exact-vs-flow.all", area="Deep linear networks",
           claim="the exact lambda-balanced solution equals gradient flow over 28 settings "
                 "(dims 3-3-3, 5-2-4, 4-3-6, 6-6-6; lambda from -2 to 5; t <= 30)",
           method="numerical gradient flow of both layers (compiled dopri5)",
           measured=worst, bound=1e-8, unit="max abs difference of QQ^T", where=where)
    record("linear_checks", "linear.balancedness-drift", area="Deep linear networks",
           claim="gradient flow conserves W2^T W2 - W1 W1^T = lambda I",
           method="numerical gradient flow, same 28 settings", measured=drift_worst,
           bound=1e-8, unit="max abs drift", where=where)
    print(f"Saxe: u(1.9001) = {saxe_mode(1.9001, 2.0, 1e-3):.6f} (s/2 = 1)")


if __name__ == "__main__":
    main()
