"""Butcher tableaus of the explicit Runge-Kutta methods, as data.

Conventions follow ``scipy.integrate._ivp.rk``: a method with ``s`` stages has ``A`` (s, s)
(strictly lower triangular), ``B`` (s,), ``C`` (s,). The stepper stores ``s + 1`` stage vectors
``K``: ``K[0] = f(t, y)`` and ``K[s] = f(t + h, y_new)``, which is the next step's ``K[0]``
(first same as last, FSAL, for every method: an explicit step costs ``s`` right-hand side
evaluations). The embedded error weights ``E`` (s + 1,) and the dense-output matrix ``P``
(s + 1, n_dense) act on all ``s + 1`` stages:

    error = h * K.T @ E,
    y(t + x h) = y + h * (K.T @ P) @ [x, x**2, ..., x**n_dense].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Tableau", "EULER", "RK4", "DOPRI5", "TABLEAUS"]


def _frozen(values, ndim):
    arr = np.array(values, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"expected a {ndim}-d coefficient array, got shape {arr.shape}")
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class Tableau:
    """Coefficients of an explicit Runge-Kutta method.

    Parameters
    ----------
    A : array_like, shape (s, s)
        Stage coefficients, strictly lower triangular.
    B : array_like, shape (s,)
        Weights of the propagated solution (of order ``order``).
    C : array_like, shape (s,)
        Nodes, ``C[i] = A[i].sum()``.
    E : array_like, shape (s + 1,), or None
        Error weights (propagated minus embedded solution, the last entry acting on the FSAL
        stage ``f(t + h, y_new)``); None for methods without an error estimate.
    order : int
        Order of the propagated solution.
    error_order : int
        Order of the embedded solution whose error is controlled (0 if there is none).
    name : str
        Method name as accepted by :func:`odesolve.solvers.solve`.
    P : array_like, shape (s + 1, n_dense), or None
        Dense-output coefficients (continuous extension), or None.
    """

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    E: np.ndarray | None
    order: int
    error_order: int
    name: str
    P: np.ndarray | None = None

    def __post_init__(self):
        for field, ndim in (("A", 2), ("B", 1), ("C", 1), ("E", 1), ("P", 2)):
            value = getattr(self, field)
            if value is not None:
                object.__setattr__(self, field, _frozen(value, ndim))
        s = self.B.shape[0]
        if self.A.shape != (s, s) or self.C.shape != (s,):
            raise ValueError(f"inconsistent tableau {self.name!r}: A {self.A.shape}, "
                             f"B {self.B.shape}, C {self.C.shape}")
        if np.any(np.triu(self.A) != 0):
            raise ValueError(f"tableau {self.name!r} is not explicit")
        for field in ("E", "P"):
            value = getattr(self, field)
            if value is not None and value.shape[0] != s + 1:
                raise ValueError(f"`{field}` of tableau {self.name!r} needs {s + 1} rows")

    @property
    def n_stages(self) -> int:
        """Number of stages ``s`` (right-hand side evaluations per step)."""
        return self.B.shape[0]

    @property
    def adaptive(self) -> bool:
        """True when the tableau has an embedded error estimate."""
        return self.E is not None


EULER = Tableau(A=[[0.0]], B=[1.0], C=[0.0], E=None, order=1, error_order=0, name="euler")

RK4 = Tableau(
    A=[[0, 0, 0, 0],
       [1 / 2, 0, 0, 0],
       [0, 1 / 2, 0, 0],
       [0, 0, 1, 0]],
    B=[1 / 6, 1 / 3, 1 / 3, 1 / 6],
    C=[0, 1 / 2, 1 / 2, 1],
    E=None, order=4, error_order=0, name="rk4")

# Dormand & Prince (1980), with Shampine's (1986) quartic continuous extension, exactly as in
# scipy's RK45 (Hairer's DOPRI5 uses the same pair; its dense output differs slightly).
DOPRI5 = Tableau(
    A=[[0, 0, 0, 0, 0, 0],
       [1 / 5, 0, 0, 0, 0, 0],
       [3 / 40, 9 / 40, 0, 0, 0, 0],
       [44 / 45, -56 / 15, 32 / 9, 0, 0, 0],
       [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0, 0],
       [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656, 0]],
    B=[35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
    C=[0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1],
    E=[-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40],
    order=5, error_order=4, name="dopri5",
    P=[[1, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
       [0, 0, 0, 0],
       [0, 131558114200 / 32700410799, -68118460800 / 10900136933,
        87487479700 / 32700410799],
       [0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
       [0, 127303824393 / 49829197408, -318862633887 / 49829197408,
        701980252875 / 199316789632],
       [0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
       [0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423]])

#: Method name -> tableau.
TABLEAUS = {tab.name: tab for tab in (EULER, RK4, DOPRI5)}
