"""Course material assembled from the assignment folders, so that an assignment touches only its own.

* the **student template** (``grader template --out DIR``): ``student_template/``'s own files (README,
  workflow, ``.gitignore``) plus each assignment's ``stub/`` as ``<id>/`` -- the repository a course
  hands to students (GitHub Classroom's template, a zip on the course page);
* the **example submissions** (``grader examples --out DIR``): for each example name, the case of each
  assignment whose ``expect.toml`` says ``example = "<name>"``, as ``<name>/<id>/``. ``make demo``
  grades them.

A new assignment brings its stub and its example cases in its own folder and appears in both.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.cases import EXPECT_FILE, Case, load_cases
from grader.errors import UsageError
from grader.registry import Assignment, template_root
from grader.submission_files import copy_tree


def template(assignments: list[Assignment], dest: Path) -> Path:
    """Write the student template into ``dest`` (which must not exist yet or be empty)."""
    own = {p.name for p in template_root().iterdir()} if template_root().is_dir() else set()
    _fresh(dest, own | {a.id for a in assignments})
    copy_tree(template_root(), dest, skip={a.id for a in assignments})
    for a in assignments:
        if not a.stub.is_dir():
            raise UsageError(f"{a.folder}: there is no stub/ folder (the file students start from)")
        copy_tree(a.stub, dest / a.id)
    return dest


def example_cases(assignments: list[Assignment]) -> dict[str, list[Case]]:
    """Example name -> its case of each assignment that has one, in assignment order."""
    found: dict[str, list[Case]] = {}
    for a in assignments:
        for case in load_cases(a.id, a.cases):
            if case.expect.example:
                found.setdefault(case.expect.example, []).append(case)
    return found


def examples(assignments: list[Assignment], dest: Path, names: list[str] | None = None) -> list[Path]:
    """Write each example submission (all, or ``names``) as ``dest/<name>/``; their folders."""
    cases = example_cases(assignments)
    unknown = sorted(set(names or []) - set(cases))
    if unknown:
        known = ", ".join(sorted(cases))
        raise UsageError(f"no example named {', '.join(unknown)}; the cases define: {known}")
    written = []
    for name in names or sorted(cases):
        folder = dest / name
        _fresh(folder, {a.id for a in assignments})
        for case in cases[name]:
            copy_tree(case.folder, folder / case.assignment, skip={EXPECT_FILE})
        written.append(folder)
    return written


def _fresh(folder: Path, ours: set[str]) -> None:
    """An empty ``folder``: one holding only what this assembles (an earlier run) is replaced, one
    holding anything else is refused (it may be someone's work)."""
    if folder.exists():
        if not folder.is_dir():
            raise UsageError(f"{folder} is a file: pass a folder (it is created)")
        others = sorted(p.name for p in folder.iterdir() if p.name not in ours)
        if others:
            shown = ", ".join(others[:3])
            raise UsageError(f"{folder} holds {shown}, not written by the grader: pass a new or empty folder")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
