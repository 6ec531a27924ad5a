"""The repository is self-contained and its theory text is consistent.

* No file of the repository refers to the team's working notes or to a path outside the
  repository (a relative path climbing above the root, a sibling folder, an absolute path of
  someone's machine).
* Every reference ``docs/theory/<page>.md#<label>`` written anywhere resolves: the page exists
  and defines the label ``(<label>)=``.
* Inside the theory pages, every ``{ref}`` target and every relative link resolves, and labels
  are unique.
* The module table of ``docs/theory/index.md`` lists every module of the package.

The detectors are tested on synthetic text too, so that a test that cannot fail does not pass.
"""
from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
THEORY = DOCS / "theory"
PACKAGE = ROOT / "odesolve"

#: files that are not text (never scanned)
BINARY_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".ico", ".pdf", ".npz", ".npy", ".pkl",
                   ".pyc", ".so", ".whl", ".gz", ".zip", ".nbi", ".nbc"}
#: folders never walked when git is unavailable (besides those named in .gitignore)
SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", "build", "dist",
             "_build", "odesolve-out", "node_modules"}

# The patterns are assembled at run time so that this file does not match itself.
#: the team's working note (any case)
NOTE_NAME = re.compile(r"(?<![\w-])" + "theory" + r"\.md\b", re.IGNORECASE)
#: the team's shared folder next to the repository
SHARED = os.path.join("..", "shared")
#: absolute paths of a developer's or a build machine's home or work folders
ABSOLUTE = re.compile(r"(?<![\w.~:/-])/(?:" + "|".join(["work", "root", "home", "Users"]) + r")/")
#: relative paths that climb: one or more "../" and what follows them
CLIMBING = re.compile(r"(?:\.\./)+[^\s'\"`<>()\[\]{},;|*]*")
#: a reference into the theory text
THEORY_REF = re.compile(r"docs/theory/([\w.-]+)\.md#([\w-]+)")
#: a MyST target line, ``(label)=``
LABEL = re.compile(r"^\(([\w-]+)\)=\s*$", re.MULTILINE)
#: MyST ``{ref}`` roles: ``{ref}`label``` or ``{ref}`text <label>```
REF_ROLE = re.compile(r"\{ref\}`(?:[^`<]*<([\w-]+)>|([\w-]+))`")
#: relative Markdown links ``[text](path)`` (URLs and pure anchors excluded)
MD_LINK = re.compile(r"\]\((?!https?:|mailto:|#)([^)\s]+)\)")


# ----------------------------------------------------------------------------------------
# which files
# ----------------------------------------------------------------------------------------
def _gitignore_patterns():
    path = ROOT / ".gitignore"
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith(("#", "!"))]


def _ignored(rel: str, name: str, patterns) -> bool:
    for pat in patterns:
        p = pat.rstrip("/").lstrip("/")
        if fnmatch.fnmatch(name, p) or fnmatch.fnmatch(rel, p) or rel.startswith(p + "/"):
            return True
    return False


def _walk_files():
    """Every file under the root except ignored folders (the fallback without git)."""
    patterns = _gitignore_patterns()
    for folder, dirs, files in os.walk(ROOT):
        rel_folder = Path(folder).relative_to(ROOT).as_posix()
        rel_folder = "" if rel_folder == "." else rel_folder + "/"
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")
                   and not _ignored(rel_folder + d, d, patterns)]
        for name in files:
            if not _ignored(rel_folder + name, name, patterns):
                yield Path(folder) / name


def repository_files() -> list[Path]:
    """The tracked files (``git ls-files`` at the root), or every non-ignored file when git
    or the repository metadata is unavailable; plus the theory pages, which must be clean
    before they are first committed."""
    files = None
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             timeout=60, check=True)
        names = [n for n in out.stdout.decode("utf-8", "replace").split("\0") if n]
        if names:
            files = [ROOT / n for n in names]
    except (OSError, subprocess.SubprocessError):
        pass
    if files is None:
        files = list(_walk_files())
    files += sorted(THEORY.glob("*.md"))
    return sorted({f for f in files if f.is_file()})


def read_text(path: Path) -> str | None:
    """The file as text, or None for binary files."""
    if path.suffix.lower() in BINARY_SUFFIXES:
        return None
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def text_files():
    for path in repository_files():
        text = read_text(path)
        if text is not None:
            yield path, text


# ----------------------------------------------------------------------------------------
# detectors
# ----------------------------------------------------------------------------------------
def outside_references(text: str, path: Path) -> list[str]:
    """What in ``text`` (the content of ``path``) refers to the team's notes or leaves the
    repository, one message per finding (with the line number)."""
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{path.relative_to(ROOT).as_posix()}:{number}"
        if NOTE_NAME.search(line):
            problems.append(f"{where}: mentions the team's working note: {line.strip()}")
        if SHARED in line:
            problems.append(f"{where}: refers to the shared folder outside the repository: "
                            f"{line.strip()}")
        if ABSOLUTE.search(line):
            problems.append(f"{where}: absolute path of a machine: {line.strip()}")
        for match in CLIMBING.finditer(line):
            target = (path.parent / match.group(0)).resolve()
            if target != ROOT and ROOT not in target.parents:
                problems.append(f"{where}: relative path {match.group(0)!r} leaves the "
                                "repository")
    return problems


def theory_labels(page: str) -> set[str] | None:
    """The labels ``(label)=`` defined by ``docs/theory/<page>.md``; None if it is missing."""
    path = THEORY / f"{page}.md"
    if not path.is_file():
        return None
    return set(LABEL.findall(path.read_text()))


def theory_reference_problems(text: str, where: str) -> list[str]:
    """Every ``docs/theory/<page>.md#<label>`` in ``text`` that does not resolve."""
    problems = []
    for page, label in THEORY_REF.findall(text):
        labels = theory_labels(page)
        if labels is None:
            problems.append(f"{where}: docs/theory/{page}.md does not exist (#{label})")
        elif label not in labels:
            problems.append(f"{where}: docs/theory/{page}.md defines no label ({label})=")
    return problems


def package_modules() -> list[str]:
    """Modules of the package (posix paths from the root), without ``__init__.py`` and the
    generated code."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if path.name == "__init__.py" or "_generated" in parts or "__pycache__" in parts:
            continue
        if "GENERATED by `odesolve derive`" in path.read_text()[:1000]:
            continue
        out.append(path.relative_to(ROOT).as_posix())
    return out


def module_table_entries() -> set[str]:
    """The ``odesolve/...`` paths named in the table rows of ``docs/theory/index.md``."""
    rows = [line for line in (THEORY / "index.md").read_text().splitlines()
            if line.lstrip().startswith("|")]
    return {m for row in rows for m in re.findall(r"`(odesolve/[^`]+)`", row)}


# ----------------------------------------------------------------------------------------
# (a) nothing refers to the team's notes or outside the repository
# ----------------------------------------------------------------------------------------
def test_repository_files_are_found_and_include_code_docs_and_tests():
    names = {p.relative_to(ROOT).as_posix() for p in repository_files()}
    assert {"README.md", "pyproject.toml", "odesolve/model.py", "derivations/committee.md",
            "docs/theory/index.md"} <= names


def test_walk_without_git_finds_every_tracked_file():
    """The fallback used when git or the repository metadata is missing (e.g. an unpacked
    source archive) scans at least what git tracks."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("git is not available")
    tracked = {n for n in out.stdout.decode("utf-8", "replace").split("\0")
               if n and (ROOT / n).is_file()}
    if not tracked:
        pytest.skip("not a git checkout")
    walked = {p.relative_to(ROOT).as_posix() for p in _walk_files()}
    assert not sorted(tracked - walked)


def test_no_file_refers_to_team_notes_or_outside_the_repository():
    problems = [p for path, text in text_files() for p in outside_references(text, path)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("text", [
    "see " + "THEORY" + ".md section 1",
    "the formulas of " + "theory" + ".md",
    "(" + os.path.join("..", "shared", "STYLE.md") + ")",
    "open('" + "/" + "work/shared/notes.txt')",
    "cd " + "/" + "root/project",
    "[link](" + "../" * 3 + "elsewhere/file.md)",
])
def test_outside_reference_detector_flags(text):
    assert outside_references(text, THEORY / "index.md")


@pytest.mark.parametrize("text", [
    "see docs/theory/committee.md#theory-committee-odes",
    "[the derivation](" + "../" + "derivations/committee.md)",
    "https://example.org/" + "home/page and ~/" + "work/x",
    "def test_dR_matches_theory_md_written_form():",
    "from ..model import Overlaps",
])
def test_outside_reference_detector_accepts(text):
    assert not outside_references(text, THEORY / "index.md")


# ----------------------------------------------------------------------------------------
# (b) references into the theory text resolve
# ----------------------------------------------------------------------------------------
def test_every_theory_reference_resolves():
    problems, count = [], 0
    for path, text in text_files():
        count += len(THEORY_REF.findall(text))
        problems += theory_reference_problems(text, path.relative_to(ROOT).as_posix())
    assert not problems, "\n".join(problems)
    assert count >= 20          # the code, the tests and the README point into the theory


def test_theory_reference_detector_flags_missing_pages_and_labels():
    assert theory_reference_problems("docs/theory/committee.md#theory-committee-odes", "x") == []
    # assembled at run time: written out, these dangling references would fail the scan above
    assert theory_reference_problems("docs/theory/" + "committee.md#no-such-label", "x")
    assert theory_reference_problems("docs/theory/" + "no-such-page.md#theory-committee-odes",
                                     "x")


def test_theory_refs_and_links_resolve_and_labels_are_unique():
    defined, problems = {}, []
    for page in sorted(DOCS.rglob("*.md")):
        if "_build" in page.parts:
            continue
        for label in LABEL.findall(page.read_text()):
            defined.setdefault(label, []).append(page.relative_to(ROOT).as_posix())
    problems += [f"label ({label})= defined in {pages}" for label, pages in defined.items()
                 if len(pages) > 1]
    pages = sorted(THEORY.glob("*.md"))
    assert len(pages) >= 8
    for page in pages:
        text = page.read_text()
        rel = page.relative_to(ROOT).as_posix()
        for explicit, bare in REF_ROLE.findall(text):
            if (explicit or bare) not in defined:
                problems.append(f"{rel}: {{ref}} target {explicit or bare!r} is not defined")
        for link in MD_LINK.findall(text):
            target = (page.parent / link.split("#")[0]).resolve()
            if not target.exists():
                problems.append(f"{rel}: link {link!r} points to a missing file")
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------------------
# (c) the module table covers the package
# ----------------------------------------------------------------------------------------
def test_module_table_lists_every_module_of_the_package():
    modules = package_modules()
    assert "odesolve/model.py" in modules and "odesolve/derive/sgd.py" in modules
    missing = sorted(set(modules) - module_table_entries())
    assert not missing, f"add these modules to the table of docs/theory/index.md: {missing}"


def test_module_table_names_only_existing_modules():
    stale = sorted(m for m in module_table_entries() if not (ROOT / m).exists())
    assert not stale, f"docs/theory/index.md lists modules that do not exist: {stale}"
