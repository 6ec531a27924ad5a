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

Inside a phase the learning rates, the weight decay and the EWC strength may follow
schedules (:class:`odesolve.control.Schedule`, in the phase's own time: 0 at its start); the
ODE and the simulator read the same schedules
(docs/theory/multitask.md#theory-multitask-schedules).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._checks import check_bool, check_int, check_real, describe
from ..control.schedule import Schedule, as_schedule

if TYPE_CHECKING:
    from .model import MultiTaskSetup

__all__ = ["Phase", "Protocol", "continual", "reversal", "deficit", "PHASE_SCHEDULABLE"]

#: the hyper-parameters a :class:`Phase` can schedule
PHASE_SCHEDULABLE = ("eta", "eta_v", "weight_decay", "ewc")


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
    schedules : mapping of str to Schedule, optional
        Time-dependent values inside the phase, read in the phase's own time (0 at its
        start; held at the end values outside the schedule's knots): any of ``"eta"``,
        ``"eta_v"``, ``"weight_decay"`` and ``"ewc"`` (:data:`PHASE_SCHEDULABLE`), each an
        :class:`odesolve.control.Schedule`, its dict form
        (:meth:`~odesolve.control.Schedule.to_dict`, e.g. read from JSON) or a
        real number (constant); all values >= 0.
        They replace the constant values. ``"ewc"`` needs ``ewc`` set (it switches the EWC
        machinery on), ``"eta"`` a trained first layer, ``"eta_v"`` a trained readout. As
        for constant rates, when neither the setup nor the phase gives a readout rate, an
        ``"eta"`` schedule drives the readout too. A piecewise-constant schedule changes
        its value exactly at its knots in the ODE (the solver restarts there) and at the
        nearest whole step in the simulator; a piecewise-linear one is read continuously by
        the ODE and held on sub-intervals of at most 0.01 in the simulator
        (:mod:`odesolve.simulation.schedules`).

    Raises
    ------
    TypeError
        An argument has the wrong type (``duration=True``, ``teacher=1.0``, ``eta="0.5"``,
        ``train_first="no"``, ``schedules={"eta": "fast"}``, ...).
    ValueError
        ``duration`` not positive and finite, ``teacher`` or ``head`` negative, a rate or
        ``ewc`` negative or not finite; a schedule of an unknown name, with negative values,
        or of a hyper-parameter the phase does not use (``"ewc"`` without ``ewc``,
        ``"eta"`` with ``train_first=False``, ``"eta_v"`` with ``train_readout=False``).
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
    schedules: Mapping[str, Schedule] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        checked = {"duration": check_real("duration", self.duration, positive=True),
                   "teacher": check_int("teacher", self.teacher, minimum=0),
                   "train_first": check_bool("train_first", self.train_first),
                   "train_readout": check_bool("train_readout", self.train_readout)}
        if self.head is not None:
            checked["head"] = check_int("head", self.head, minimum=0)
        for name in ("eta", "eta_v", "weight_decay", "ewc"):
            if getattr(self, name) is not None:
                checked[name] = check_real(name, getattr(self, name), minimum=0.0)
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "schedules", self._checked_schedules())

    def _checked_schedules(self) -> dict[str, Schedule] | None:
        from ..simulation.schedules import check_schedules

        if self.schedules is None:
            return None
        if not isinstance(self.schedules, Mapping):
            raise TypeError(f"`schedules` must map parameter names to odesolve.control.Schedule "
                            f"objects, got {describe(self.schedules)}.")
        given = dict(self.schedules)
        for name, value in self.schedules.items():
            if name not in PHASE_SCHEDULABLE:
                continue                                # check_schedules names it
            try:
                given[name] = (Schedule.from_dict(value) if isinstance(value, dict) else
                               as_schedule(f"schedules[{name!r}]", value, self.duration))
            except ValueError as err:
                raise ValueError(f"`schedules[{name!r}]`: {err}") from None
        out = check_schedules(given, PHASE_SCHEDULABLE, nonnegative=PHASE_SCHEDULABLE)
        needs = {"ewc": (self.ewc is not None, "`ewc` set (the EWC strength it replaces)"),
                 "eta": (self.train_first, "a trained first layer (train_first=True)"),
                 "eta_v": (self.train_readout, "a trained readout (train_readout=True)")}
        for name, (ok, what) in needs.items():
            if name in out and not ok:
                raise ValueError(f"`schedules[{name!r}]` needs {what}.")
        return out or None


@dataclass(frozen=True)
class Protocol:
    """A sequence of :class:`Phase` objects.

    Parameters
    ----------
    phases : sequence of Phase
        At least one; the first may not use EWC (it has no earlier weights to anchor to).

    Raises
    ------
    TypeError
        ``phases`` is not a sequence (a list or tuple) of :class:`Phase`.
    ValueError
        ``phases`` is empty, or the first phase uses EWC.
    """

    phases: Sequence[Phase]

    def __post_init__(self) -> None:
        if isinstance(self.phases, (str, bytes)) or not isinstance(self.phases, Sequence):
            raise TypeError(f"`phases` must be a sequence of Phase, got "
                            f"{describe(self.phases)}.")
        phases = tuple(self.phases)
        if not phases:
            raise ValueError("`phases` is empty: a Protocol needs at least one Phase.")
        for k, ph in enumerate(phases):
            if not isinstance(ph, Phase):
                raise TypeError(f"`phases[{k}]` must be a Phase, got {describe(ph)}.")
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
        """Raise if a phase names a teacher or head the setup does not have.

        Raises
        ------
        TypeError
            ``setup`` is not a :class:`~odesolve.multitask.MultiTaskSetup`.
        ValueError
            naming the phase, its teacher or head and the setup's number of them.
        """
        from .model import MultiTaskSetup

        if not isinstance(setup, MultiTaskSetup):
            raise TypeError(f"`setup` must be a MultiTaskSetup, got {type(setup).__name__}.")
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
    around the end-of-task-1 weights.

    Parameters
    ----------
    t1, t2 : float
        Durations of the two tasks, positive.
    ewc : float, optional
        EWC strength of the second phase (:class:`Phase`).
    **phase_kw :
        Further :class:`Phase` options for both phases (``eta``, ``head``, ...).

    Raises
    ------
    TypeError, ValueError
        A duration or a phase option breaks the rules of :class:`Phase` (the message names
        the argument), or ``phase_kw`` holds ``duration``, ``teacher`` or an unknown option.
    """
    t1, t2 = _durations(t1=t1, t2=t2)
    _check_phase_options("continual", phase_kw, ("duration", "teacher"))
    return Protocol((Phase(t1, teacher=0, **phase_kw),
                     Phase(t2, teacher=1, ewc=ewc, **phase_kw)))


def reversal(t1: float, t2: float, **phase_kw: Any) -> Protocol:
    """Teacher 0, then teacher 1 through the *same* head. Build teacher 1 as teacher 0 with
    flipped readouts (``readout_with_similarity(v, -1)``, feature similarity 1).

    Parameters
    ----------
    t1, t2 : float
        Durations of the two phases, positive.
    **phase_kw :
        Further :class:`Phase` options for both phases (not ``head``: head 0 serves both).

    Raises
    ------
    TypeError, ValueError
        As :func:`continual`.
    """
    t1, t2 = _durations(t1=t1, t2=t2)
    _check_phase_options("reversal", phase_kw, ("duration", "teacher", "head"))
    return Protocol((Phase(t1, teacher=0, head=0, **phase_kw),
                     Phase(t2, teacher=1, head=0, **phase_kw)))


def deficit(t_before: float, t_deficit: float, t_after: float, degraded: int = 1,
            **phase_kw: Any) -> Protocol:
    """A deficit window (critical-period studies): the intact teacher 0, then a degraded
    teacher (index ``degraded``, e.g. low feature similarity or a noisy copy) through the same
    head for ``t_deficit``, then teacher 0 again.

    Parameters
    ----------
    t_before, t_deficit, t_after : float
        Durations of the three phases, positive.
    degraded : int
        Index of the degraded teacher (0, the intact teacher itself, gives the undisturbed
        control with the same phases).
    **phase_kw :
        Further :class:`Phase` options for all phases (not ``head``: head 0 serves all).

    Raises
    ------
    TypeError, ValueError
        As :func:`continual`; ``degraded`` not a non-negative integer.
    """
    t_before, t_deficit, t_after = _durations(t_before=t_before, t_deficit=t_deficit,
                                              t_after=t_after)
    degraded = check_int("degraded", degraded, minimum=0)
    _check_phase_options("deficit", phase_kw, ("duration", "teacher", "head"))
    return Protocol((Phase(t_before, teacher=0, head=0, **phase_kw),
                     Phase(t_deficit, teacher=degraded, head=0, **phase_kw),
                     Phase(t_after, teacher=0, head=0, **phase_kw)))


def _durations(**durations: Any) -> list[float]:
    """The phase durations of a builder, checked under their own names."""
    return [check_real(name, value, positive=True) for name, value in durations.items()]


def _check_phase_options(builder: str, phase_kw: dict[str, Any], reserved: tuple[str, ...]
                         ) -> None:
    """``phase_kw`` holds only :class:`Phase` options that ``builder`` does not set itself."""
    options = {f.name for f in dataclasses.fields(Phase)}
    for key in phase_kw:
        if key in reserved:
            raise TypeError(f"`{key}` is set by {builder}() and cannot be passed to its "
                            "phases.")
        if key not in options:
            raise TypeError(f"`{key}` is not an option of Phase (the keyword arguments of "
                            f"{builder}() are passed to its phases).")
