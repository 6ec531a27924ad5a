"""Deep linear networks (THEORY.md section 3; issue 6, in progress).

- :func:`exact_QQT`: the exact lambda-balanced solution (Domine et al. 2024) of a two-layer
  linear network, with the network function and NTK blocks; :func:`saxe_mode`,
  :func:`balanced_mode` for single modes.
- :func:`balanced_weights`: lambda-balanced initial weights; :func:`gradient_flow`: the
  reference integration of the same dynamics with the compiled solvers.
"""
from .exact import balanced_mode, exact_QQT, network_function, ntk_blocks, riccati_matrix, saxe_mode
from .measures import (kernel_distance, low_rank_weights, representation_alignment,
                       task_aligned_low_rank, weight_change)
from .critical import critical_period_curve, depth_mode, pathway_deficit
from .network import balanced_weights, gradient_flow

__all__ = ["exact_QQT", "network_function", "ntk_blocks", "riccati_matrix", "saxe_mode",
           "balanced_mode", "balanced_weights", "gradient_flow", "kernel_distance",
           "low_rank_weights", "representation_alignment", "task_aligned_low_rank",
           "weight_change", "critical_period_curve", "depth_mode", "pathway_deficit"]
