"""Refresh the committed snapshot of validation records (``docs/validation/``).

Tests and the correctness benchmarks write their measured checks to ``build/validation/``
(``odesolve._records``). The documentation's validation page reads those files first and falls
back to the snapshot in ``docs/validation/`` for checks that did not run in a checkout (the
long N = 10 000 validation, for instance). After running the tests and the benchmarks:

    python -m pytest -q
    python benchmarks/validate_n10000.py        # ~12 minutes on 2 cores
    python benchmarks/linear_checks.py
    python benchmarks/stability_checks.py       # ~1 minute
    python benchmarks/publish_validation.py     # copies build/validation/*.json

then commit ``docs/validation/``. Records that fail are refused (publish what passes).
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from odesolve._records import load_records, records_dir

SNAPSHOT = Path(__file__).resolve().parent.parent / "docs" / "validation"


def main() -> int:
    source = records_dir()
    files = sorted(source.glob("*.json")) if source.exists() else []
    if not files:
        print(f"no records in {source}; run the tests and benchmarks first", file=sys.stderr)
        return 2
    failing = [(f.name, rid) for f in files for rid, r in load_records(f).items()
               if r.get("passed") is False]
    if failing:
        for name, rid in failing:
            print(f"failing record {rid} in {name}", file=sys.stderr)
        return 1
    SNAPSHOT.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copyfile(f, SNAPSHOT / f.name)
        n = len(json.loads(f.read_text())["records"])
        print(f"{f.name}: {n} records -> {SNAPSHOT / f.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
