"""Find assignments: each folder under ``assignments/`` with a ``spec.toml`` and a ``checks.py``."""

from __future__ import annotations

import importlib
import importlib.machinery
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


PACKAGE_ROOT = "grader_course"
"""Assignment folders are imported as sub-packages of this (a name no installed package uses)."""


def package_name(assignment_id: str) -> str:
    """``topic-create`` -> ``grader_course.topic_create``."""
    return f"{PACKAGE_ROOT}.{assignment_id.replace('-', '_')}"


def load_package(folder: Path, name: str) -> ModuleType:
    """Import ``folder`` (no ``__init__.py`` needed) as the package ``name``; its modules import each
    other relatively. A package of that name from another folder (another course checkout) is
    forgotten first, with its modules."""
    root = sys.modules.get(PACKAGE_ROOT)
    if root is None:
        root = ModuleType(PACKAGE_ROOT, "The course's assignment folders, imported by grader.registry.")
        root.__path__ = []
        sys.modules[PACKAGE_ROOT] = root
    known = sys.modules.get(name)
    if known is not None and list(getattr(known, "__path__", [])) == [str(folder)]:
        return known
    for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[loaded]
    init = folder / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(folder)])
    else:  # a namespace-like package: the folder is its only search location
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
    if spec is None:
        raise SpecError(f"{folder}: cannot be imported as a package")
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    if spec.loader is not None:
        spec.loader.exec_module(package)
    setattr(root, name.rsplit(".", 1)[1], package)
    return package


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

    @property
    def package(self) -> str:
        """The name the folder is imported under: ``grader_course.<id with _ for ->``."""
        return package_name(self.id)

    @property
    def stub(self) -> Path:
        """The template stub students start from: ``<folder>/stub/`` (copied to ``student_template/``)."""
        return self.folder / "stub"

    @property
    def cases(self) -> Path:
        """Wrong and alternative submissions that prove the checks: ``<folder>/cases/<name>/``."""
        return self.folder / "cases"

    @cached_property
    def module(self) -> ModuleType:
        """The check module, ``checks.py`` of the folder imported as a package (relative imports work)."""
        path = self.folder / "checks.py"
        if not path.is_file():
            raise SpecError(f"{path}: an assignment needs a checks.py beside its spec.toml")
        load_package(self.folder, self.package)
        try:
            return importlib.import_module(f"{self.package}.checks")
        except Exception as exc:
            raise SpecError(f"{path}: the check module fails to import: {exc!r}") from exc

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
