"""The documentation builds from the repository with warnings as errors.

The default run builds everything (theory text, user guide, generated derivations, API
reference, validation page) with the *quick* gallery: a few examples run, the others appear
without figures. ``-m slow`` builds the full gallery, every example at its quick settings.
The build runs last in the session (``docs_build`` marker, see conftest.py), so the
validation page shows this session's records.
"""
import importlib.util
import re
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"

pytestmark = [pytest.mark.docs_build,
              pytest.mark.skipif(importlib.util.find_spec("sphinx") is None,
                                 reason="needs the docs extra: pip install -e '.[docs]'")]


def _build(tmp_path, gallery):
    sys.path.insert(0, str(DOCS))
    try:
        from build import build
    finally:
        sys.path.remove(str(DOCS))
    out = tmp_path / "html"
    summary = build(out, gallery)
    assert summary["returncode"] == 0, summary["log"][-5000:]
    return out, summary


def test_docs_build_without_warnings(tmp_path):
    out, summary = _build(tmp_path, "quick")
    assert summary["pages"] >= 30 and summary["api_entries"] >= 100, summary
    assert summary["gallery_figures"] >= 3, summary          # the quick examples ran
    # the validation page lists measured numbers read from the records, none missing
    page = (out / "validation.html").read_text()
    assert "No records found" not in page
    n = int(re.search(r"(\d+) checks from", page).group(1))
    assert n >= 50
    assert re.search(r"(\d+) failing", page).group(1) == "0"
    # the theory text and the generated derivations are part of the site
    for page in ("theory/index.html", "derivations/committee.html", "api/index.html",
                 "guide/cli.html", "getting-started.html"):
        assert (out / page).exists(), page


@pytest.mark.slow
def test_docs_build_with_full_gallery(tmp_path):
    out, summary = _build(tmp_path, "all")
    examples = list((DOCS / "examples").rglob("plot_*.py"))
    assert summary["gallery_examples"] == len(examples)
    assert summary["gallery_figures"] >= len(examples)
