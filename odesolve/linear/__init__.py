"""Deep linear networks (docs/theory/linear.md#theory-linear).

- :func:`train` -> :class:`LinearTrajectory`: one entry point and result type for exact and
  numerical runs (loss, network function, kernel distance, weight change).
- :func:`exact_QQT`: the exact lambda-balanced solution (Domine et al. 2024) of a two-layer
  linear network, with the network function and NTK blocks; :func:`saxe_mode`,
  :func:`balanced_mode` for single modes.
- :func:`balanced_weights`: lambda-balanced initial weights; :func:`gradient_flow`: the
  reference integration of the same dynamics with the compiled solvers.
- :func:`chain_gradient_flow`: (masked) gradient flow of depth-D chains; :func:`depth_mode`
  for one mode of a balanced chain; :func:`aligned_chain`, :func:`random_chain`.
- Rich versus lazy: :func:`weight_change`, :func:`kernel_distance`,
  :func:`representation_alignment`, low-rank starts, :func:`random_start` and :func:`rank_study`.
- Critical periods: :func:`pathway_deficit`, :func:`critical_period_curve`,
  :func:`completion_deficit`, :func:`completion_deficit_curve`.
- Task sequences: :class:`TaskPhase`, :func:`train_sequence` (exact through every switch, or
  numerical), :func:`rotated_task`, :func:`reversed_task`, :func:`learning_time`,
  :func:`forgetting`, and the continual, reversal and transfer studies.
- Two pathways with deficits that remove or transform their inputs (:func:`deficit_run`,
  :func:`lasting_effect`, :func:`window_scan`).
- Fisher information of the weights: :func:`fisher_trace`, :func:`fisher_diagonal`,
  :func:`fisher_blocks`, :func:`pathway_fisher_trace`, :func:`trajectory_fisher_trace`.
"""
from .exact import balanced_mode, exact_QQT, network_function, ntk_blocks, riccati_matrix, saxe_mode
from .measures import (kernel_distance, low_rank_weights, representation_alignment,
                       task_aligned_low_rank, weight_change)
from .critical import (completion_deficit, completion_deficit_curve, completion_task,
                       critical_period_curve, depth_mode, pathway_deficit)
from .deep import aligned_chain, chain_gradient_flow, end_to_end, random_chain
from .network import balanced_weights, gradient_flow
from .rank import RANK_STARTS, random_start, rank_study, rank_task
from .trajectory import LinearTrajectory, train
from .sequence import (TaskPhase, continual_study, forgetting, learning_time, reversal_study,
                       reversed_task, rotated_task, train_sequence, transfer_study)
from .pathways import (DEFICITS, PathwayRun, deficit_matrix, deficit_run, join_pathways,
                       joint_statistics, lasting_effect, pathway_masks, two_pathway_start,
                       two_pathway_task, window_scan)
from .fisher import (fisher_blocks, fisher_diagonal, fisher_matrix, fisher_trace,
                     pathway_fisher_trace, trajectory_fisher_trace, weight_jacobian)

__all__ = ["exact_QQT", "network_function", "ntk_blocks", "riccati_matrix", "saxe_mode",
           "balanced_mode", "balanced_weights", "gradient_flow", "kernel_distance",
           "low_rank_weights", "representation_alignment", "task_aligned_low_rank",
           "weight_change", "critical_period_curve", "depth_mode", "pathway_deficit",
           "completion_task", "completion_deficit", "completion_deficit_curve",
           "chain_gradient_flow", "aligned_chain", "random_chain", "end_to_end",
           "rank_study", "rank_task", "random_start", "RANK_STARTS", "LinearTrajectory", "train",
           "TaskPhase", "train_sequence", "rotated_task", "reversed_task", "learning_time",
           "forgetting", "continual_study", "reversal_study", "transfer_study",
           "fisher_blocks", "fisher_diagonal", "fisher_matrix", "fisher_trace",
           "pathway_fisher_trace", "trajectory_fisher_trace", "weight_jacobian",
           "DEFICITS", "PathwayRun", "deficit_matrix", "deficit_run", "join_pathways",
           "joint_statistics", "lasting_effect", "pathway_masks", "two_pathway_start",
           "two_pathway_task", "window_scan"]
