"""Find assignments: each folder under ``assignments/`` with a ``spec.toml`` and a ``checks.py``."""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType

from grader.checks import Check
from grader.errors import SpecError, UsageError
from grader.spec import AssignmentSpec, load_spec

REPO_ROOT = Path(__file__).resolve().parents[1]


def assignments_root() -> Path:
    """``$GRADER_ASSIGNMENTS``, else the course checkout's ``assignments/``, else the installed copy."""
    if os.environ.get("GRADER_ASSIGNMENTS"):
        return Path(os.environ["GRADER_ASSIGNMENTS"])
    if (REPO_ROOT / "assignments").is_dir():
        return REPO_ROOT / "assignments"
    spec = importlib.util.find_spec("grader_assignments")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return REPO_ROOT / "assignments"


def references_root() -> Path | None:
    """``$GRADER_REFERENCES``: a course-private folder holding one ``<id>/`` reference solution each.

    When set, reference solutions are read from there instead of ``assignments/<id>/reference/``,
    so the repository students install the grader from need not contain any.
    """
    value = os.environ.get("GRADER_REFERENCES")
    return Path(value) if value else None


def template_root() -> Path:
    """``$GRADER_TEMPLATE`` or the ``student_template/`` folder next to the grader package."""
    return Path(os.environ.get("GRADER_TEMPLATE", REPO_ROOT / "student_template"))


@dataclass(frozen=True)
class Assignment:
    """An assignment folder: spec, check module, reference solution, README."""

    folder: Path
    spec: AssignmentSpec

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def reference(self) -> Path:
        """The reference solution: ``$GRADER_REFERENCES/<id>`` if set, else ``<folder>/reference``."""
        root = references_root()
        return root / self.id if root is not None else self.folder / "reference"

    @cached_property
    def module(self) -> ModuleType:
        """The check module, imported from its file (assignment folders are not packages)."""
        path = self.folder / "checks.py"
        name = f"grader_assignment_{self.id.replace('-', '_')}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise SpecError(f"{path}: cannot load the check module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise SpecError(f"{path}: the check module fails to import: {exc!r}") from exc
        return module

    @cached_property
    def checks(self) -> list[Check]:
        """The module's checks in definition order, validated against the spec."""
        checks = [v for v in vars(self.module).values() if isinstance(v, Check)]
        if not checks:
            raise SpecError(f"{self.folder / 'checks.py'} defines no checks")
        ids = [c.id for c in checks]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise SpecError(f"{self.folder / 'checks.py'}: duplicate check ids {sorted(dupes)}")
        for c in checks:
            unknown = [r for r in c.requires if r not in ids]
            if unknown:
                raise SpecError(f"{self.folder / 'checks.py'}: check {c.id!r} requires unknown {unknown}")
        total = sum(c.points for c in checks)
        if abs(total - self.spec.points) > 1e-9:
            raise SpecError(
                f"{self.folder}: spec.toml says {self.spec.points:g} points "
                f"but the checks add up to {total:g}"
            )
        return checks


def discover(root: Path | None = None) -> list[Assignment]:
    """Every assignment under ``root``, in spec order."""
    root = root or assignments_root()
    if not root.is_dir():
        raise UsageError(
            f"no assignments folder at {root}; set GRADER_ASSIGNMENTS to the course's assignments/"
        )
    found = []
    for spec_file in sorted(root.glob("*/spec.toml")):
        spec = load_spec(spec_file)
        if spec.id != spec_file.parent.name:
            raise SpecError(
                f"{spec_file}: id {spec.id!r} must equal the folder name {spec_file.parent.name!r}"
            )
        found.append(Assignment(spec_file.parent, spec))
    return sorted(found, key=lambda a: (a.spec.order, a.id))


def select(ids: list[str] | None, root: Path | None = None) -> list[Assignment]:
    """The assignments named in ``ids`` (all when empty); unknown ids are a usage error."""
    everything = discover(root)
    if not ids:
        return everything
    by_id = {a.id: a for a in everything}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise UsageError(f"unknown assignment(s) {', '.join(unknown)}; known: {', '.join(by_id)}")
    return [by_id[i] for i in ids]


def describe(assignment: Assignment) -> dict[str, object]:
    """An assignment as plain data (``grader list --json``): its spec plus its checks."""
    data: dict[str, object] = assignment.spec.model_dump(mode="json")
    data["checks"] = [
        {
            "id": c.id,
            "title": c.title,
            "points": c.points,
            "requires": list(c.requires),
            "visibility": c.visibility.value,
        }
        for c in assignment.checks
    ]
    return data
