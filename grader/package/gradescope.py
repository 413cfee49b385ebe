"""``grader package gradescope``: the autograder zip Gradescope builds its image from.

The zip holds, at its root (as Gradescope requires), ``setup.sh``, ``run_autograder`` and the
grader as a wheel built from this checkout. The wheel carries the specs, checks and READMEs but
never the ``reference/`` solutions; the build refuses a wheel that contains any. See the scripts'
own comments for what runs where, and README.md ("Gradescope") for the course set-up.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from grader.errors import GraderError, UsageError
from grader.registry import REPO_ROOT, discover, select

RUN_AS = "grader-student"
"""The unprivileged user the grader and the student's code run as on Gradescope."""
EXECUTABLE = 0o100755 << 16
"""A zip entry's external attributes for an executable regular file."""
REGULAR = 0o100644 << 16


@dataclass(frozen=True)
class BuiltPackage:
    """What ``build_package`` wrote."""

    path: Path
    assignments: list[str]
    wheel: str

    @property
    def size_kb(self) -> int:
        return round(self.path.stat().st_size / 1024)


def _template(name: str) -> str:
    return (resources.files("grader.package") / "templates" / name).read_text("utf-8")


def build_wheel(dest: Path, project: Path = REPO_ROOT) -> Path:
    """Build the grader's wheel from ``project`` into ``dest`` with pip (no dependencies bundled)."""
    if not (project / "pyproject.toml").is_file():
        raise UsageError(
            f"no pyproject.toml in {project}: "
            "'grader package' builds from the course's checkout of the grader"
        )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--wheel-dir",
            str(dest),
            str(project),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wheels = sorted(dest.glob("grader-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise GraderError(
            f"building the grader wheel failed (pip exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    return wheels[-1]


def reference_files(wheel: Path) -> list[str]:
    """Entries of ``wheel`` that belong to a reference solution (must be none)."""
    with zipfile.ZipFile(wheel) as z:
        return [n for n in z.namelist() if "/reference/" in f"/{n}"]


def _add(z: zipfile.ZipFile, name: str, data: bytes, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = mode
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, data)


def build_package(out: Path, assignment_ids: list[str] | None = None) -> BuiltPackage:
    """Write the Gradescope autograder zip to ``out`` for ``assignment_ids`` (all when empty)."""
    ids = [a.id for a in select(assignment_ids)]
    with tempfile.TemporaryDirectory(prefix="grader-package-") as tmp:
        wheel = build_wheel(Path(tmp))
        leaked = reference_files(wheel)
        if leaked:
            raise GraderError(
                f"the grader wheel contains reference solutions ({', '.join(leaked[:5])}); refusing"
            )
        args = " ".join(f"-a {i}" for i in ids) if assignment_ids else ""
        setup = _template("setup.sh").replace("@RUN_AS@", RUN_AS).replace("@WHEEL@", wheel.name)
        run = (
            _template("run_autograder")
            .replace("@RUN_AS@", RUN_AS)
            .replace("@ASSIGNMENT_ARGS@", args)
            .replace("@ASSIGNMENT_IDS@", " ".join(a.id for a in discover()))
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(f".{out.name}.tmp")
        with zipfile.ZipFile(partial, "w") as z:
            _add(z, "setup.sh", setup.encode(), EXECUTABLE)
            _add(z, "run_autograder", run.encode(), EXECUTABLE)
            _add(z, wheel.name, wheel.read_bytes(), REGULAR)
        partial.replace(out)
    return BuiltPackage(out, ids, wheel.name)
