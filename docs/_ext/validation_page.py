"""The ``validation-records`` directive: tables of the independent checks and their numbers.

Numbers are read from the JSON records that tests and benchmarks write through
``odesolve._records.record``: first ``$ODESOLVE_VALIDATION_DIR`` (or ``build/validation`` in the
repository), then the committed snapshot ``docs/validation/``; for a check present in both, the
newer record wins. Nothing is typed into the page by hand.
"""
from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList

DOCS = Path(__file__).resolve().parent.parent
REPO = DOCS.parent

#: areas in the order the page lists them (others follow alphabetically)
AREA_ORDER = ["Gaussian kernels", "Derivation", "Solvers", "Committee ODEs",
              "Simulation agreement", "Closed-form limits", "Fixed points and stability",
              "Continual learning", "Deep linear networks"]


def record_dirs() -> list[Path]:
    fresh = Path(os.environ.get("ODESOLVE_VALIDATION_DIR", REPO / "build" / "validation"))
    return [fresh, DOCS / "validation"]


def collect() -> tuple[dict, dict]:
    """All records ``{id: record}`` (newest wins) and, per file, where it was read."""
    records, files = {}, {}
    for folder in record_dirs():
        for path in sorted(folder.glob("*.json")) if folder.exists() else []:
            data = json.loads(path.read_text())
            for rid, rec in data.get("records", {}).items():
                rec = dict(rec, file=_display(path), source=data.get("source", path.stem))
                if rid not in records or rec["written"] > records[rid]["written"]:
                    records[rid] = rec
            files[_display(path)] = len(data.get("records", {}))
    return records, files


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def _fmt(x) -> str:
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in x) + "]"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in x.items()) + "}"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:.3g}"
    return f"{x:.4g}"


def _escape(text: str) -> str:
    """Plain text for reST: no substitutions (``|x|``), emphasis, literals or references."""
    text = re.sub(r"([\\|*`])", r"\\\1", str(text))
    return re.sub(r"_(?=\s|$)", r"\\_", text)


def _cell(text: str) -> str:
    return _escape(" ".join(str(text).split())) or " "


def _table(recs: list) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 32 28 12 12 8 8", "",
             "   * - Claim", "     - Independent check", "     - Measured", "     - Bound",
             "     - Result", "     - Where"]
    for r in recs:
        unit = f" {_escape(r['unit'])}" if r.get("unit") else ""
        bound = f"{r['comparison']} {_fmt(r['bound'])}{unit}" if r.get("bound") is not None \
            else ""
        verdict = {True: "pass", False: "**FAIL**", None: "measured"}[r.get("passed")]
        extra = "; ".join(f"{k} = {_fmt(v)}" for k, v in r.get("extra", {}).items())
        method = r["method"] + (f" ({extra})" if extra else "")      # escaped by _cell
        where = f"``{' '.join(r['where'].split())}``" if r.get("where") else ""
        lines += [f"   * - {_cell(r['claim'])}", f"     - {_cell(method)}",
                  f"     - {_fmt(r['measured'])}{unit}", f"     - {_cell(bound)}",
                  f"     - {verdict}", f"     - {where} ({r['commit']}, {r['written'][:10]})"]
    return lines


class ValidationRecords(Directive):
    """Render every validation record, grouped by area, with a summary line."""

    has_content = False

    def run(self):
        records, files = collect()
        env = self.state.document.settings.env
        for folder in record_dirs():
            if folder.exists():
                for path in folder.glob("*.json"):
                    env.note_dependency(str(path))
        by_area = defaultdict(list)
        for rec in records.values():
            by_area[rec["area"]].append(rec)
        areas = [a for a in AREA_ORDER if a in by_area] + sorted(set(by_area) - set(AREA_ORDER))
        n_fail = sum(r.get("passed") is False for r in records.values())
        lines = [f"{len(records)} checks from {len(files)} record file(s); "
                 f"{n_fail} failing.", ""]
        if not records:
            lines = ["No records found: run ``python -m pytest`` (and the benchmarks) first.",
                     ""]
        for area in areas:
            lines += [area, "-" * len(area), ""]
            lines += _table(sorted(by_area[area], key=lambda r: r["id"])) + [""]
        lines += ["Record files", "------------", ""]
        lines += [f"- ``{f}``: {n} record(s)" for f, n in sorted(files.items())] + [""]
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(StringList(lines, source="validation-records"),
                                self.content_offset, node, match_titles=True)
        return node.children


def setup(app):
    app.add_directive("validation-records", ValidationRecords)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
