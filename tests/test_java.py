"""Finding Java: the real one, and clear advice when it is missing, broken or too old."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.errors import RuntimeProvisionError
from grader.runtime.java import MIN_JAVA, _major_version, find_java


def fake_java(folder: Path, version_line: str, exit_code: int = 0) -> Path:
    """A ``folder/bin/java`` script that prints ``version_line`` to stderr, as ``java -version`` does."""
    exe = folder / "bin" / "java"
    exe.parent.mkdir(parents=True)
    exe.write_text(f"#!/bin/sh\necho '{version_line}' >&2\nexit {exit_code}\n")
    exe.chmod(0o755)
    return exe


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.12" 2024-07-16', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_412"', 8),
        ('openjdk version "11.0.2" 2019-01-15', 11),
        ("Picked up JAVA_TOOL_OPTIONS: -Xmx1g\nopenjdk version \"25-ea\" 2025-09-16", 25),
        ("command not found", None),
    ],
)
def test_major_version_parsing(output: str, major: int | None) -> None:
    assert _major_version(output) == major


def test_real_java_is_found() -> None:
    java = find_java()
    assert java.major >= MIN_JAVA
    assert java.executable.is_file()
    assert os.access(java.executable, os.X_OK)
    assert (java.home / "bin" / "java").exists()


def test_no_java_at_all_says_what_to_install() -> None:
    with pytest.raises(RuntimeProvisionError) as err:
        find_java(env={"PATH": "/nonexistent"})
    message = str(err.value)
    assert "Java was not found" in message
    assert "JAVA_HOME is unset" in message
    assert "Java runtime >= 17" in message
    assert "openjdk-17" in message


def test_java_home_pointing_nowhere(tmp_path: Path) -> None:
    with pytest.raises(RuntimeProvisionError, match=r"JAVA_HOME points to .*/bin/java, which does not exist"):
        find_java(env={"PATH": "/nonexistent", "JAVA_HOME": str(tmp_path / "jdk")})


def test_too_old_java_is_rejected_with_its_version(tmp_path: Path) -> None:
    fake_java(tmp_path / "jdk8", 'java version "1.8.0_412"')
    with pytest.raises(RuntimeProvisionError) as err:
        find_java(env={"PATH": "/nonexistent", "JAVA_HOME": str(tmp_path / "jdk8")})
    assert "is Java 8, but Kafka 4 and Spark 4 need Java 17+" in str(err.value)
    assert "Install a Java runtime >= 17" in str(err.value)


def test_unparseable_java_is_reported(tmp_path: Path) -> None:
    fake_java(tmp_path / "weird", "Segmentation fault", exit_code=139)
    with pytest.raises(RuntimeProvisionError, match="printed no version we understand: 'Segmentation fault'"):
        find_java(env={"PATH": str(tmp_path / "weird" / "bin")})


def test_java_home_wins_and_path_is_the_fallback(tmp_path: Path) -> None:
    new = fake_java(tmp_path / "jdk21", 'openjdk version "21.0.4" 2024-07-16')
    old = fake_java(tmp_path / "jdk11", 'openjdk version "11.0.2" 2019-01-15')
    picked = find_java(env={"PATH": str(old.parent), "JAVA_HOME": str(tmp_path / "jdk21")})
    assert (picked.executable, picked.major) == (new, 21)
    # A too-old JAVA_HOME does not hide a good java on PATH.
    picked = find_java(env={"PATH": str(new.parent), "JAVA_HOME": str(tmp_path / "jdk11")})
    assert (picked.executable, picked.major) == (new, 21)
