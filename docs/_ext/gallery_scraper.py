"""sphinx-gallery image scraper for figures that odesolve writes to files.

The gallery examples run odesolve the way a user does (the command-line entry point or the
scenario functions), and odesolve writes its figures as PNG files under ``odesolve-out/`` in the
working directory (sphinx-gallery runs each example in its own folder, ``docs/examples``). This
scraper picks up every PNG written there by a code block and embeds it in the page, in the order
they were written. Before each example the folder is emptied (:func:`reset_output`), so a page
shows exactly the figures its example made.
"""
from __future__ import annotations

import shutil
from pathlib import Path

OUT = "odesolve-out"
_seen: set = set()


def _out_dir(block_vars) -> Path:
    return Path(block_vars["src_file"]).parent / OUT


def reset_output(gallery_conf, fname, when=None):
    """sphinx-gallery ``reset_modules`` hook: start each example with an empty output folder."""
    if when not in (None, "before"):
        return
    for out in (Path(gallery_conf["src_dir"]) / "examples").rglob(OUT):
        shutil.rmtree(out)
    _seen.clear()


def scrape_pngs(block, block_vars, gallery_conf):
    """Embed the PNG files that this code block wrote under ``odesolve-out/``."""
    from sphinx_gallery.scrapers import figure_rst

    out = _out_dir(block_vars)
    if not out.exists():
        return ""
    new = sorted((p for p in out.rglob("*.png") if (p, p.stat().st_mtime_ns) not in _seen),
                 key=lambda p: p.stat().st_mtime_ns)
    paths = []
    iterator = block_vars["image_path_iterator"]
    for png in new:
        _seen.add((png, png.stat().st_mtime_ns))
        target = Path(next(iterator))
        shutil.copyfile(png, target)
        paths.append(str(target))
    if not paths:
        return ""
    return figure_rst(paths, gallery_conf["src_dir"])


def setup(app):
    return {"parallel_read_safe": True, "parallel_write_safe": True}
