"""Compiled explicit Runge-Kutta solvers for batches of ODE initial value problems.

``solve(problem, y0, p, t_eval, method=...)`` integrates B members in parallel with Euler,
classic RK4 (fixed step) or Dormand-Prince 5(4) (adaptive with dense output, or fixed step).
Methods are Butcher tableaus (:mod:`.tableaus`) fed to one stepping routine (:mod:`._stepper`),
compiled per :class:`Problem` with :func:`odesolve._jit.specialise` and Numba's disk cache.
The compiled run goes in a worker thread (:mod:`._control`), so that a long run shows a
progress bar and stops cleanly on Ctrl-C (status ``INTERRUPTED``).
"""
from .driver import (INTERRUPTED, INVALID, MAX_STEPS, NONFINITE, OK, STATUS_MESSAGES,
                     STEP_TOO_SMALL, SolverError, SolverResult, check_fixed_step,
                     compiled_solver, solve)
from .problem import Problem, always_valid
from .tableaus import DOPRI5, EULER, RK4, TABLEAUS, Tableau

__all__ = ["solve", "Problem", "SolverResult", "SolverError", "Tableau", "TABLEAUS", "EULER",
           "RK4", "DOPRI5", "OK", "NONFINITE", "INVALID", "MAX_STEPS", "STEP_TOO_SMALL",
           "INTERRUPTED", "STATUS_MESSAGES", "always_valid", "compiled_solver",
           "check_fixed_step"]
