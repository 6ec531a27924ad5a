"""
``odesolve stability``: plateau, escape and learning-rate thresholds
====================================================================

``odesolve stability`` finds the fixed points of the derived equations for K = M (erf units,
readouts fixed at 1 unless ``--train-v``) as a function of the learning rate eta, by Newton's
method with exact Jacobians and continuation in eta. It draws the generalisation error on the
symmetric plateau, the escape rate from the plateau (its unstable eigenvalue) and the decay rate
of the error near perfect learning, with the largest stable learning rate eta_max and the
fastest one eta_opt marked.

Quick settings here: 12 values of eta (``--n-eta 12``); the default is 40 (about half a
minute). Shell command::

    odesolve stability --K 2
"""
from odesolve.cli import main

assert main(["stability", "--K", "2", "--n-eta", "12"]) == 0
