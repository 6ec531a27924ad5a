"""
``odesolve run``: the plateau and the escape
============================================

``odesolve run`` integrates a configuration; without one it integrates the built-in default: an
erf soft committee machine with K = M = 2, both layers trained by online SGD (eta = 1) from small
random weights drawn as in a network of input dimension N = 10 000. The generalisation error
first sits on the symmetric plateau, where both student units carry the same mixture of the two
teacher units; then the units specialise (the student-teacher overlaps R split) and the error
falls to zero. The figure shows eps_g and the order parameters R, Q and v against time t (SGD
steps / N).

This is the full run (seconds once compiled). Shell command::

    odesolve run

``odesolve run --print-default`` prints the configuration, to start your own.
"""
from odesolve.cli import main

assert main(["run"]) == 0
