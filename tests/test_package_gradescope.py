"""``grader package gradescope``: the zip's contents; run_autograder on a folder laid out like /autograder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
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
    assert {p.name for p in (REPO_ROOT / "assignments" / "topic-create" / "reference").iterdir()}, (
        "the course checkout does have references (so the test above means something)"
    )
    assert "-a topic-create" in run
    assert "@" not in run.replace("${as_user[@]}", ""), "every placeholder is filled"
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
    submission = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "examples" / "good-student" / "topic-create", submission / "topic-create")
    (submission / "reports" / "old").mkdir(parents=True)
    (submission / "reports" / "old" / "results.json").write_text("{}")
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
