#!/usr/bin/env python3
"""Type-check every assignment folder as the package the grader imports it as.

Assignment folders are named like their ids (``topic-create``), which is no Python package name,
so mypy cannot be pointed at them directly. This lays out ``grader_course/<id with _>/`` with
links to each folder's own modules (not its reference, stub or cases: those are student code) and
runs mypy on that, with the project's configuration, so relative imports resolve as when grading.

    .venv/bin/python scripts/mypy-assignments.py [mypy options]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from grader.registry import PACKAGE_ROOT, discover

    with tempfile.TemporaryDirectory(prefix="grader-mypy-") as tmp:
        package = Path(tmp) / PACKAGE_ROOT
        package.mkdir()
        (package / "__init__.py").write_text("")
        files = []
        for assignment in discover(ROOT / "assignments"):
            folder = package / assignment.package.rsplit(".", 1)[1]
            folder.mkdir()
            (folder / "__init__.py").write_text("")
            for module in sorted(assignment.folder.glob("*.py")):
                (folder / module.name).symlink_to(module)
                files.append(str(folder / module.name))
        env = {**os.environ, "MYPYPATH": f"{ROOT}{os.pathsep}{tmp}"}
        command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *argv, *files]
        return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
