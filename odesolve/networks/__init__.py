"""Trained networks beyond the ODE models (issue 15 of the roadmap): low-rank recurrent
networks trained by backpropagation through time, a deep linear VAE, and two-layer networks
on the handwritten digits that ship with scikit-learn.

Each is small, fast, hand-written NumPy/Numba training code whose gradients are checked against
finite differences, measured with the same levers as the theory (initial rank, weight
imbalance, specialisation).
"""
