"""Sphinx configuration of the odesolve documentation.

Build (from the repository root):

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The gallery (docs/examples/*.py, sphinx-gallery) runs each script at its quick settings when the
docs build. ``ODESOLVE_DOCS_GALLERY`` chooses how much of it runs:

* ``all`` (default): every example;
* ``quick``: only the examples listed in ``QUICK_EXAMPLES`` (a few seconds; the test suite's build);
* ``off``: no example runs (their pages show the code without figures).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import odesolve  # noqa: E402

project = "odesolve"
author = "The odesolve developers"
copyright = "2026, the odesolve developers"
release = odesolve.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "validation_page",
    "gallery_scraper",
    "cli_reference",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "examples/README.txt", "**/README.md", "validation/*.json"]
templates_path = ["_templates"]
nitpicky = False

# -- MyST (Markdown pages, the theory text and the generated derivations) -------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_dmath_double_inline = True
suppress_warnings = ["myst.header"]   # generated derivation pages start at level-2 sub-headings

# -- API reference: autosummary + numpydoc --------------------------------------------------
autosummary_generate = True
autosummary_ignore_module_all = False
autosummary_imported_members = False
autodoc_typehints = "none"           # numpydoc shows the types from the docstrings
autodoc_default_options = {"member-order": "bysource"}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

intersphinx_mapping = {}              # no network at build time

# -- Gallery ---------------------------------------------------------------------------------
#: examples that run in the quick build (each takes a few seconds once compiled)
QUICK_EXAMPLES = ("plot_run", "plot_5_lazy_rich", "plot_4_scm_deficit")
_GALLERY = os.environ.get("ODESOLVE_DOCS_GALLERY", "all")
if _GALLERY not in ("all", "quick", "off"):
    raise ValueError(f"ODESOLVE_DOCS_GALLERY must be 'all', 'quick' or 'off', got {_GALLERY!r}")
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "gallery",
    "filename_pattern": (r"/(" + "|".join(QUICK_EXAMPLES) + r")\.py$" if _GALLERY == "quick"
                         else os.environ.get("ODESOLVE_DOCS_GALLERY_PATTERN", r"/plot_")),
    "plot_gallery": "False" if _GALLERY == "off" else "True",
    "image_scrapers": ("gallery_scraper.scrape_pngs",),
    "reset_modules": ("matplotlib", "gallery_scraper.reset_output"),
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "min_reported_time": 0,
    "within_subsection_order": "FileNameSortKey",
    "expected_failing_examples": [],
    "show_memory": False,
    "show_signature": False,
}

# -- HTML ------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"odesolve {release}"
html_static_path = []
html_theme_options = {
    "navigation_depth": 3,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}
