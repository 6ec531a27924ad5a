"""
``odesolve compare``: the ODE against a finite-N simulation
===========================================================

``odesolve compare CONFIG.toml`` simulates the real two-layer networks at input dimension N by
online SGD, for several random seeds, and integrates the ODE from each seed's realised initial
overlaps. It then judges, at every recorded time, whether the seed mean of the simulation agrees
with the ODE within the statistical error of the mean plus an allowance for finite-N corrections
that shrinks like 1/sqrt(N), and draws both with their error bands.

Quick settings here: the example configuration that ``odesolve compare --print-example`` prints
(small N and few seeds; well under a minute). The validation at N = 10 000 is
``python benchmarks/validate_n10000.py`` (about 12 minutes on 2 cores).
"""
import contextlib
import io
from pathlib import Path

from odesolve.cli import main

# the example configuration, as printed by `odesolve compare --print-example > compare.toml`
text = io.StringIO()
with contextlib.redirect_stdout(text):
    assert main(["compare", "--print-example"]) == 0
Path("odesolve-out").mkdir(exist_ok=True)
Path("odesolve-out/compare.toml").write_text(text.getvalue())
print(text.getvalue())

# %%
# Run it: the exit code is 0 when the verdict is PASS (1 for FAIL or INCONCLUSIVE).
assert main(["compare", "odesolve-out/compare.toml", "--quiet"]) == 0
