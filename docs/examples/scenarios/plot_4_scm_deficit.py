"""
``odesolve scenario scm_deficit``: A deficit window in the teacher-student setting
==================================================================================

A deficit window in the committee machine (K = M = 2, erf, balanced start): the student learns
teacher 0, is trained for 100 time units on an unrelated teacher 1 instead, then on teacher 0
again. Against the onset of the window, the figure shows the time task 0 loses beyond the window
itself and the time it needs to recover after the window. An early window costs little more than
its own length (the deficit acts as a pause); a window after the task was learned costs about
its length again, to relearn. No onset leaves a lasting deficit, as a critical period would.

Quick settings here (``--quick``: fewer points and replicas). Full version::

    odesolve scenario scm_deficit
"""
import json

from odesolve.cli import main

assert main(["scenario", "scm_deficit", "--quick", "-o", "odesolve-out"]) == 0

# %%
# The plotted numbers are in ``odesolve-out/scm_deficit.json``: per onset of the window, the
# time task 0 loses beyond the window and the recovery time after it.
with open("odesolve-out/scm_deficit.json") as fh:
    data = json.load(fh)
for onset, lost, rec in zip(data["onsets"], data["extra_time_lost"], data["recovery_time"]):
    print(f"onset {onset:5g}: extra time lost {lost:6.1f}, recovery {rec:6.1f}")
