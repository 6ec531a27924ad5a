"""Build the documentation: ``python docs/build.py [--gallery all|quick|off] [--out DIR]``.

Runs Sphinx with warnings as errors (``-W --keep-going``) from ``docs/`` into
``docs/_build/html`` (or ``--out``) and prints what was built: the number of pages, of API
entries (documented functions, classes and methods), of gallery examples and figures, and the
build time. ``--gallery`` sets ``ODESOLVE_DOCS_GALLERY`` (see ``docs/conf.py``): ``all`` runs
every gallery example at its quick settings (the default, a few minutes on 2 cores), ``quick``
only a few of them (the test suite's build), ``off`` none.

Exit status: Sphinx's (0 when the build had no warning).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent


def build(out: Path, gallery: str = "all", fresh: bool = True) -> dict:
    """Run Sphinx; return a summary dict (``returncode``, counts, ``seconds``, ``log``).

    ``fresh`` rebuilds everything: the gallery examples run again and the API pages are
    generated again (sphinx-gallery otherwise reuses the results of unchanged examples)."""
    env = dict(os.environ, ODESOLVE_DOCS_GALLERY=gallery)
    args = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    if fresh:                     # also the sources that sphinx-gallery and autosummary write
        args.append("-E")
        for generated in (DOCS / "gallery", DOCS / "api" / "generated", Path(out)):
            shutil.rmtree(generated, ignore_errors=True)
    tic = time.perf_counter()
    proc = subprocess.run(args + [str(DOCS), str(out)], env=env, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - tic
    summary = {"returncode": proc.returncode, "seconds": round(seconds, 1),
               "gallery": gallery, "log": proc.stdout + proc.stderr}
    summary.update(count(out))
    return summary


def count(out: Path) -> dict:
    """Pages, API entries and gallery figures of a built site."""
    pages = [p for p in out.rglob("*.html")
             if not p.relative_to(out).parts[0] in ("_modules", "_static", "_sources")
             and p.name not in ("genindex.html", "search.html", "py-modindex.html")]
    api = 0
    for p in (out / "api" / "generated").glob("*.html"):
        api += len(re.findall(r'<dl class="py (?:function|class|method|exception|attribute|'
                              r'property|data)', p.read_text(errors="replace")))
    examples = list((out / "gallery").rglob("plot_*.html"))
    figures = [p for p in (out / "_images").glob("sphx_glr_plot_*.png")
               if not p.stem.endswith("_thumb")]
    return {"pages": len(pages), "api_entries": api, "gallery_examples": len(examples),
            "gallery_figures": len(figures)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gallery", choices=["all", "quick", "off"], default="all",
                        help="which gallery examples run (default all, at quick settings)")
    parser.add_argument("--out", default=str(DOCS / "_build" / "html"), help="output folder")
    parser.add_argument("--json", help="also write the summary to this JSON file")
    args = parser.parse_args(argv)
    summary = build(Path(args.out), args.gallery)
    if summary["returncode"]:
        sys.stderr.write(summary["log"])
    summary.pop("log")
    print(f"docs: {summary['pages']} pages, {summary['api_entries']} API entries, "
          f"{summary['gallery_examples']} gallery examples with {summary['gallery_figures']} "
          f"figures, built in {summary['seconds']:.0f} s (gallery: {args.gallery}) -> "
          f"{args.out}" + ("" if not summary["returncode"] else "  [FAILED, see above]"))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))
    return summary["returncode"]


if __name__ == "__main__":
    sys.exit(main())
