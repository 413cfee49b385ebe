"""Find a Java runtime (>= 17) via ``JAVA_HOME`` or ``PATH``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from grader.errors import RuntimeProvisionError

MIN_JAVA = 17

INSTALL_HINT = (
    "Install a Java runtime >= 17 and put it on PATH or set JAVA_HOME, e.g. "
    "'sudo apt-get install openjdk-17-jre-headless' (Debian/Ubuntu), "
    "'brew install openjdk@17' (macOS), or any Temurin/OpenJDK 17+ build."
)


@dataclass(frozen=True)
class JavaRuntime:
    """A usable ``java`` executable and its major version."""

    executable: Path
    major: int

    @property
    def home(self) -> Path:
        """The JAVA_HOME this executable belongs to (``bin/java`` -> its parent's parent)."""
        return self.executable.resolve().parent.parent


def _major_version(version_output: str) -> int | None:
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        return None
    major = int(match.group(1))
    # Java 8 and older report "1.8.0_x".
    return int(match.group(2) or 0) if major == 1 else major


def find_java(env: dict[str, str] | None = None) -> JavaRuntime:
    """Return the Java runtime to use, or raise a RuntimeProvisionError that says how to get one."""
    env = dict(os.environ if env is None else env)
    candidates: list[tuple[str, Path]] = []
    if env.get("JAVA_HOME"):
        candidates.append(("JAVA_HOME", Path(env["JAVA_HOME"]) / "bin" / "java"))
    on_path = shutil.which("java", path=env.get("PATH"))
    if on_path:
        candidates.append(("PATH", Path(on_path)))
    if not candidates:
        raise RuntimeProvisionError(
            f"Java was not found (JAVA_HOME is unset and no 'java' on PATH). {INSTALL_HINT}"
        )
    problems = []
    for source, exe in candidates:
        if not exe.is_file():
            problems.append(f"{source} points to {exe}, which does not exist")
            continue
        try:
            out = subprocess.run(
                [str(exe), "-version"], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append(f"{exe} ({source}) could not be run: {exc}")
            continue
        major = _major_version(out.stderr + out.stdout)
        if major is None:
            shown = out.stderr.strip()[:200]
            problems.append(f"{exe} ({source}) printed no version we understand: {shown!r}")
        elif major < MIN_JAVA:
            problems.append(
                f"{exe} ({source}) is Java {major}, but Kafka 4 and Spark 4 need Java {MIN_JAVA}+"
            )
        else:
            return JavaRuntime(exe, major)
    raise RuntimeProvisionError("No usable Java: " + "; ".join(problems) + f". {INSTALL_HINT}")
