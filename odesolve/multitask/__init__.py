"""Several teachers, student heads, protocols and EWC
(docs/theory/multitask.md#theory-multitask; issue 5).

- :class:`MultiTaskSetup`, :class:`MultiTaskState`: P teachers of M units, a student of K
  units with a shared first layer and one or P heads; teacher similarity helpers
  :func:`teacher_overlaps`, :func:`readout_with_similarity`.
- :class:`Phase`, :class:`Protocol` and the named protocols :func:`continual`,
  :func:`reversal`, :func:`deficit`.
- :func:`integrate_protocol`: the ODEs through a protocol, EWC derived in the ODE limit.
- :func:`simulate_protocol`, :func:`simulate_mixture`: finite-N SGD through a protocol, or
  with the samples drawn from two tasks in a scheduled mixture (replay).

Modules: ``model``, ``protocol``, ``ode``.
"""
from .model import MultiTaskSetup, MultiTaskState, readout_with_similarity, teacher_overlaps
from .ode import ProtocolTrajectory, fisher_diagonal, integrate_protocol, task_errors
from .simulate import MixtureSimulation, multitask_weights, simulate_mixture, simulate_protocol
from .protocol import Phase, Protocol, continual, deficit, reversal

__all__ = ["MultiTaskSetup", "MultiTaskState", "teacher_overlaps", "readout_with_similarity",
           "Phase", "Protocol", "continual", "reversal", "deficit", "integrate_protocol",
           "ProtocolTrajectory", "fisher_diagonal", "task_errors", "simulate_protocol",
           "multitask_weights", "simulate_mixture", "MixtureSimulation"]
