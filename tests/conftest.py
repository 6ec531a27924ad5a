"""Shared fixtures: validation records for the documentation, and test order.

Tests that check a claim against an independent computation call the ``validation`` fixture
with what they measured; the records go to ``build/validation/tests.json`` (see
``odesolve._records``) and the documentation's validation page is generated from them. A test
records *before* it asserts, so a failing check shows up on the page as failing.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import settings

from odesolve._records import record

# Property-based tests (tests/test_properties_*.py) are derandomised, so that every run, local or
# CI, draws the same examples; no example database is written. HYPOTHESIS_PROFILE=explore draws
# fresh examples each run (for a search by hand, e.g. with --hypothesis-seed).
settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          print_blob=True)
settings.register_profile("explore", derandomize=False, database=None, deadline=None,
                          print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def validation(request):
    """``validation(id, area=..., claim=..., method=..., measured=..., bound=..., unit=...)``
    records one measured check of this test (see :func:`odesolve._records.record`)."""

    def _record(id, **fields):
        return record("tests", id, where=request.node.nodeid, **fields)

    return _record


def pytest_collection_modifyitems(session, config, items):
    """Run the documentation build last, so that it reads this session's records."""
    last = [it for it in items if it.get_closest_marker("docs_build")]
    items[:] = [it for it in items if not it.get_closest_marker("docs_build")] + last


def pytest_configure(config):
    config.addinivalue_line("markers", "docs_build: builds the documentation (runs last)")
