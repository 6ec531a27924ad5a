"""Training protocols: a run is a sequence of phases.

Each :class:`Phase` says for how long (in t = steps/N), which teacher provides the labels,
which student head is trained and read, which layers train at which rates, and the
regulariser (weight decay, EWC). Continual learning, reversal learning and deficit windows are
protocols built from phases (:func:`continual`, :func:`reversal`, :func:`deficit`), not special
code; the same :class:`Protocol` drives the ODE (:func:`odesolve.multitask.integrate_protocol`)
and the simulator (:func:`odesolve.multitask.simulate_protocol`).

EWC (Kirkpatrick et al. 2017) in phase k penalises, with strength ``ewc``, the distance to the
weights at the end of phase k - 1 (the anchor), weighted by the diagonal Fisher information of
the output of the previous phase's task (derived in :mod:`odesolve.derive.ewc`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import MultiTaskSetup

__all__ = ["Phase", "Protocol", "continual", "reversal", "deficit"]


@dataclass(frozen=True)
class Phase:
    """One stage of training.

    Parameters
    ----------
    duration : float
        Length in t (examples / N), > 0.
    teacher : int
        Index of the teacher that labels the inputs.
    head : int, optional
        Student head trained and used for the error; default the teacher's head
        (``setup.head_of(teacher)``).
    eta, eta_v : float, optional
        Learning rates of the first layer and of the head; default the setup's.
    train_first, train_readout : bool
        Which layers learn (a layer that does not learn has rate 0).
    weight_decay : float, optional
        Default the setup's.
    ewc : float, optional
        EWC strength lambda around the weights at the end of the previous phase; None (the
        default) for no EWC. ``ewc=0.0`` runs the EWC machinery (anchors as extra order
        parameters) with zero strength, which must equal None.
    """

    duration: float
    teacher: int = 0
    head: int | None = None
    eta: float | None = None
    eta_v: float | None = None
    train_first: bool = True
    train_readout: bool = True
    weight_decay: float | None = None
    ewc: float | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.duration, (int, float)) and math.isfinite(self.duration)
                and self.duration > 0):
            raise ValueError(f"phase `duration` must be a positive number, got "
                             f"{self.duration!r}.")
        for name in ("eta", "eta_v", "weight_decay"):
            val = getattr(self, name)
            if val is not None and not (math.isfinite(val) and val >= 0):
                raise ValueError(f"phase `{name}` must be a non-negative number, got {val!r}.")
        if self.ewc is not None and not (math.isfinite(self.ewc) and self.ewc >= 0):
            raise ValueError(f"phase `ewc` (EWC strength) must be non-negative, got "
                             f"{self.ewc!r}.")
        if isinstance(self.teacher, bool) or not isinstance(self.teacher, int) \
                or self.teacher < 0:
            raise ValueError(f"phase `teacher` must be a non-negative integer, got "
                             f"{self.teacher!r}.")


@dataclass(frozen=True)
class Protocol:
    """A sequence of :class:`Phase` objects."""

    phases: Sequence[Phase]

    def __post_init__(self) -> None:
        phases = tuple(self.phases)
        if not phases or not all(isinstance(p, Phase) for p in phases):
            raise ValueError("a Protocol needs at least one Phase.")
        if phases[0].ewc is not None:
            raise ValueError("EWC in the first phase has no earlier weights to anchor to.")
        object.__setattr__(self, "phases", phases)

    @property
    def t_max(self) -> float:
        """Total duration of the phases."""
        return float(sum(p.duration for p in self.phases))

    @property
    def switch_times(self) -> list[float]:
        """Start times of phases 2, 3, ..."""
        out, t = [], 0.0
        for p in self.phases[:-1]:
            t += p.duration
            out.append(t)
        return out

    def check(self, setup: MultiTaskSetup) -> None:
        """Raise if a phase names a teacher or head the setup does not have."""
        for k, ph in enumerate(self.phases):
            if ph.teacher >= setup.P:
                raise ValueError(f"phase {k}: teacher {ph.teacher} but the setup has "
                                 f"P = {setup.P} teachers.")
            head = setup.head_of(ph.teacher) if ph.head is None else ph.head
            if not 0 <= head < setup.H:
                raise ValueError(f"phase {k}: head {head} but the student has {setup.H} "
                                 "head(s).")

    def head(self, setup: MultiTaskSetup, k: int) -> int:
        """The head trained and read in phase ``k``."""
        ph = self.phases[k]
        return setup.head_of(ph.teacher) if ph.head is None else ph.head


def continual(t1: float, t2: float, ewc: float | None = None, **phase_kw: Any) -> Protocol:
    """Task 1 (teacher 0) for ``t1``, then task 2 (teacher 1) for ``t2``, optionally with EWC
    around the end-of-task-1 weights."""
    return Protocol((Phase(t1, teacher=0, **phase_kw),
                     Phase(t2, teacher=1, ewc=ewc, **phase_kw)))


def reversal(t1: float, t2: float, **phase_kw: Any) -> Protocol:
    """Teacher 0, then teacher 1 through the *same* head. Build teacher 1 as teacher 0 with
    flipped readouts (``readout_with_similarity(v, -1)``, feature similarity 1)."""
    return Protocol((Phase(t1, teacher=0, head=0, **phase_kw),
                     Phase(t2, teacher=1, head=0, **phase_kw)))


def deficit(t_before: float, t_deficit: float, t_after: float, degraded: int = 1,
            **phase_kw: Any) -> Protocol:
    """A deficit window (critical-period studies): the intact teacher 0, then a degraded
    teacher (index ``degraded``, e.g. low feature similarity or a noisy copy) through the same
    head for ``t_deficit``, then teacher 0 again."""
    return Protocol((Phase(t_before, teacher=0, head=0, **phase_kw),
                     Phase(t_deficit, teacher=degraded, head=0, **phase_kw),
                     Phase(t_after, teacher=0, head=0, **phase_kw)))
