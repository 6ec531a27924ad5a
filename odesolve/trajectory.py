"""The one result type of integrations (and, later, simulations): :class:`Trajectory`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .model import Overlaps, TeacherStudent
from .solvers import INTERRUPTED, OK

__all__ = ["Trajectory", "DivergenceError"]


class DivergenceError(RuntimeError):
    """An integration left the admissible region; ``t_fail`` says when (per member)."""

    def __init__(self, message: str, t_fail: np.ndarray | None = None,
                 members: np.ndarray | None = None) -> None:
        super().__init__(message)
        self.t_fail = t_fail
        self.members = members


@dataclass
class Trajectory:
    """Order parameters over time.

    Attributes
    ----------
    t : ndarray, shape (n,)
        Times (examples / N).
    Q : ndarray, shape (n, K, K) or (B, n, K, K)
    R : ndarray, shape (n, K, M) or (B, n, K, M)
    v : ndarray, shape (n, K) or (B, n, K)
    eps_g : ndarray, shape (n,) or (B, n)
        Generalisation error at each time.
    T : ndarray, shape (M, M) or (B, M, M)
        Teacher-teacher overlaps (constant).
    v_star : ndarray, shape (M,) or (B, M)
    setup : TeacherStudent
    status : ndarray of int, shape () or (B,)
        0 when the member reached the end; see :mod:`odesolve.solvers` for the codes. 5
        (``INTERRUPTED``) marks a member stopped by Ctrl-C, which is not a divergence.
    t_fail : ndarray, shape () or (B,)
        Time at which a member diverged, or was interrupted (NaN when it reached the end);
        its later entries are NaN.
    info : dict
        Solver name, options and work counters.
    """

    t: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    v: np.ndarray
    eps_g: np.ndarray
    T: np.ndarray
    v_star: np.ndarray
    setup: TeacherStudent
    status: np.ndarray
    t_fail: np.ndarray
    info: dict = field(default_factory=dict)

    @property
    def is_batched(self) -> bool:
        return self.Q.ndim == 4

    @property
    def success(self) -> np.ndarray:
        """True (per member for a batch) when the integration reached t_max."""
        return np.asarray(self.status) == OK

    @property
    def interrupted(self) -> bool:
        """True when the run was stopped by Ctrl-C before t_max (some member has status
        ``INTERRUPTED``); the outputs up to ``t_fail`` are kept."""
        return bool(np.any(np.asarray(self.status) == INTERRUPTED))

    def __len__(self):
        return self.t.shape[0]

    def state(self, index: int = -1) -> Overlaps:
        """The :class:`Overlaps` at time index ``index`` (a batch for batched trajectories)."""
        if self.is_batched:
            return Overlaps(self.Q[:, index], self.R[:, index], self.T, self.v[:, index],
                            self.v_star, check=False)
        return Overlaps(self.Q[index], self.R[index], self.T, self.v[index], self.v_star,
                        check=False)

    def member(self, b: int) -> "Trajectory":
        """Member ``b`` of a batched trajectory as an unbatched one."""
        if not self.is_batched:
            raise TypeError("this trajectory is not batched")
        T = self.T[b] if np.ndim(self.T) == 3 else self.T
        vs = self.v_star[b] if np.ndim(self.v_star) == 2 else self.v_star
        return Trajectory(self.t, self.Q[b], self.R[b], self.v[b], self.eps_g[b], T, vs,
                          self.setup, np.asarray(self.status)[b], np.asarray(self.t_fail)[b],
                          dict(self.info))

    def raise_if_failed(self) -> Trajectory:
        """Raise :class:`DivergenceError` naming the members that failed and when.

        Members stopped by Ctrl-C (status ``INTERRUPTED``) did not diverge and are not
        reported; check :attr:`interrupted` for them.
        """
        status = np.atleast_1d(self.status)
        bad = np.flatnonzero((status != OK) & (status != INTERRUPTED))
        if bad.size:
            t_fail = np.atleast_1d(self.t_fail)[bad]
            msgs = self.info.get("messages", {})
            first = int(bad[0])
            what = msgs.get(first, "integration failed")
            who = f"{bad.size} member(s), first {first}" if self.is_batched else "trajectory"
            raise DivergenceError(f"{who}: {what}", t_fail, bad)
        return self

    def arrays(self) -> dict:
        """Plain arrays for saving (``.npz``)."""
        return {"t": self.t, "Q": self.Q, "R": self.R, "v": self.v, "eps_g": self.eps_g,
                "T": self.T, "v_star": self.v_star, "status": np.asarray(self.status),
                "t_fail": np.asarray(self.t_fail)}
