"""``grader package gradescope``: the zip's contents; run_autograder on a folder laid out like /autograder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
from grading import example_path
from platform_schemas import GRADESCOPE_SCHEMA

from grader.package.gradescope import build_package, reference_files
from grader.registry import REPO_ROOT
from grader.runtime.jars import cache_root

GRADER_BIN = str(Path(sys.executable).parent / "grader")


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One autograder zip for topic-create (building the wheel takes a few seconds)."""
    out = tmp_path_factory.mktemp("package") / "autograder.zip"
    built = build_package(out, ["topic-create"])
    assert built.assignments == ["topic-create"]
    return out


def _autograder(tmp_path: Path, package: Path, submission: Path | None) -> Path:
    """A folder laid out like Gradescope's /autograder: source/ (the unzipped package), submission/."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(package) as z:
        z.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):
        (root / "source" / name).chmod(0o755)  # zipfile does not restore modes; Gradescope does
    if submission is not None:
        shutil.copytree(submission, root / "submission")
    else:
        (root / "submission").mkdir()
    return root


def _run(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = dict(
        os.environ,
        AUTOGRADER_ROOT=str(root),
        GRADER_BIN=GRADER_BIN,
        GRADER_RUN_AS="",
        GRADER_CACHE_DIR=str(cache_root()),
        **env,
    )
    return subprocess.run(
        [str(root / "source" / "run_autograder")],
        cwd=root,
        env=full,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_zip_has_the_scripts_at_its_root_and_no_reference_solutions(package: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(package) as z:
        names = z.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
        assert {"setup.sh", "run_autograder"} <= set(names)
        assert modes["setup.sh"] & 0o111
        assert modes["run_autograder"] & 0o111
        wheels = [n for n in names if n.endswith(".whl")]
        assert len(wheels) == 1
        z.extract(wheels[0], tmp_path)
        run = z.read("run_autograder").decode()
        setup = z.read("setup.sh").decode()
    assert not [n for n in names if "reference" in n]
    wheel = tmp_path / wheels[0]
    assert reference_files(wheel) == [], "the wheel students' and Gradescope's installs use has no solutions"
    with zipfile.ZipFile(wheel) as w:
        inside = set(w.namelist())
    assert "grader/report/results.schema.json" in inside
    assert "grader/package/templates/run_autograder" in inside
    assert "grader_assignments/topic-create/checks.py" in inside
    # Every module of every assignment package (the loader imports them all) and every stub ship;
    # the cases (wrong submissions and their expectations) stay in the course repository.
    from grader.registry import discover

    for a in discover():
        for path in [*a.folder.glob("*.py"), *a.stub.iterdir()]:
            assert f"grader_assignments/{a.id}/{path.relative_to(a.folder).as_posix()}" in inside
    assert not [n for n in inside if "/cases/" in n]
    assert {p.name for p in (REPO_ROOT / "assignments" / "topic-create" / "reference").iterdir()}, (
        "the course checkout does have references (so the test above means something)"
    )
    assert "-a topic-create" in run
    assert not re.search(r"@[A-Z_]+@", run + setup), "every placeholder is filled"
    assert wheels[0] in setup
    for script in ("setup.sh", "run_autograder"):
        (tmp_path / script).write_text(setup if script == "setup.sh" else run)
        assert subprocess.run(["bash", "-n", str(tmp_path / script)], check=False).returncode == 0


def test_a_grader_error_leaves_no_results_file(package: Path, tmp_path: Path) -> None:
    root = _autograder(tmp_path, package, None)
    (root / "results").mkdir()
    (root / "results" / "results.json").write_text('{"score": 99}')  # stale: must not be posted
    broken = tmp_path / "broken-assignments" / "topic-create"
    broken.mkdir(parents=True)
    (broken / "spec.toml").write_text('id = "topic-create"\n')
    proc = _run(root, GRADER_ASSIGNMENTS=str(broken.parent))
    assert proc.returncode == 1
    assert not (root / "results" / "results.json").exists(), "Gradescope's autograder-failure path"
    assert "GRADER ERROR (grader exit status 3)" in proc.stdout
    assert "invalid spec" in proc.stderr


@pytest.mark.kafka
def test_run_autograder_end_to_end(package: Path, tmp_path: Path) -> None:
    # Uploaded as a zip of the repository's folder: the submission holds that one folder.
    submission = tmp_path / "upload"
    repo = submission / "my-repo"
    shutil.copytree(example_path("good-student") / "topic-create", repo / "topic-create")
    (repo / "reports" / "old").mkdir(parents=True)
    (repo / "reports" / "old" / "results.json").write_text("{}")
    (submission / "__MACOSX").mkdir()
    root = _autograder(tmp_path, package, submission)
    proc = _run(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    jsonschema.Draft202012Validator(GRADESCOPE_SCHEMA).validate(data)
    assert data["score"] == 10
    assert all(t["status"] == "passed" for t in data["tests"])
    assert {t["tags"][0] for t in data["tests"]} == {"topic-create"}
    assert data["extra_data"]["params"]["topic-create"]["TOPIC"].startswith("hob2026-")
    assert sorted(p.name for p in (root / "results").iterdir()) == ["results.json"]
    assert "Total: 10/10" in proc.stdout
    assert data["extra_data"]["submission"] == "my-repo"


IMAGE = "grader-sandbox"
INSIDE = """set -eu
useradd --system --create-home --shell /usr/sbin/nologin grader-student
# What setup.sh's 'pip install' gives, without network: a venv that sees the wheel's packages and
# their dependencies (the host's, same Python 3.11).
python3 -m venv --without-pip --system-site-packages /opt/grader/venv
printf '/opt/grader/site\\n/opt/grader/hostsite\\n' > /opt/grader/venv/lib/python3.11/site-packages/grader.pth
printf '#!/bin/sh\\nexec /opt/grader/venv/bin/python -m grader "$@"\\n' > /opt/grader/venv/bin/grader
chmod 755 /opt/grader/venv/bin/grader
chown -R grader-student /opt/grader/cache
exec /autograder/source/run_autograder
"""
TAMPERING = """#!/usr/bin/env bash
# Tries to post its own score and to rewrite the autograder, then does the work.
echo '{"score": 1000, "tests": []}' > /autograder/results/results.json 2>/dev/null
echo 'exit 0' >> /autograder/source/run_autograder 2>/dev/null
id -un > /probe/user
set -euo pipefail
kafka-topics --bootstrap-server "$BOOTSTRAP_SERVERS" --create --if-not-exists \\
    --topic "$TOPIC" --partitions 6 --replication-factor 2
"""


def _docker_unavailable() -> str | None:
    if shutil.which("docker") is None:
        return "no docker CLI"
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return "no docker engine running (docker info fails)"
    if (
        subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True, check=False).returncode
        != 0
    ):
        return f"no {IMAGE} image (grader image build)"
    return None


@pytest.mark.docker
@pytest.mark.kafka
def test_run_autograder_in_a_container_laid_out_like_gradescope(package: Path, tmp_path: Path) -> None:
    reason = _docker_unavailable()
    if reason:
        pytest.skip(reason)
    submission = tmp_path / "repo" / "topic-create"
    submission.mkdir(parents=True)
    (submission / "create_topic.sh").write_text(TAMPERING)
    (submission / "create_topic.sh").chmod(0o755)
    root = _autograder(tmp_path, package, submission.parent)
    run_autograder = (root / "source" / "run_autograder").read_bytes()
    site = tmp_path / "site"
    with zipfile.ZipFile(package) as z:
        (wheel,) = [n for n in z.namelist() if n.endswith(".whl")]
        z.extract(wheel, tmp_path)
    with zipfile.ZipFile(tmp_path / wheel) as w:
        w.extractall(site)
    cache = tmp_path / "cache"
    for bundle in ("kafka-4.3.1", "spark-sql-kafka-4.2.0", "kafka-cds", "kraft-bootstrap"):
        if (cache_root() / bundle).exists():
            shutil.copytree(cache_root() / bundle, cache / bundle, symlinks=True)
    probe = tmp_path / "probe"
    probe.mkdir(mode=0o777)
    probe.chmod(0o777)
    (tmp_path / "inside.sh").write_text(INSIDE)
    hostsite = next(p for p in map(Path, sys.path) if p.name == "site-packages" and (p / "pydantic").is_dir())
    name = f"grader-test-gradescope-{os.getpid()}"
    command = [
        "docker", "run", "--rm", "--name", name, "--network", "none", "--workdir", "/autograder",
        "-v", f"{root}:/autograder", "-v", f"{site}:/opt/grader/site:ro",
        "-v", f"{hostsite}:/opt/grader/hostsite:ro", "-v", f"{cache}:/opt/grader/cache",
        "-v", f"{probe}:/probe", "-v", f"{tmp_path / 'inside.sh'}:/inside.sh:ro",
        "-e", "JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64", "-e", "GRADER_CACHE_DIR=/opt/grader/cache",
        "-e", "PYTHONPATH=", "--entrypoint", "bash", IMAGE, "/inside.sh",
    ]  # fmt: skip
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (probe / "user").read_text().strip() == "grader-student", (
        "student code ran as the unprivileged user"
    )
    data = json.loads((root / "results" / "results.json").read_text())
    jsonschema.Draft202012Validator(GRADESCOPE_SCHEMA).validate(data)
    assert data["score"] == 10, "the grader's score, not the one the submission tried to post"
    assert all(t["status"] == "passed" for t in data["tests"])
    assert (root / "source" / "run_autograder").read_bytes() == run_autograder, "the autograder is untouched"
