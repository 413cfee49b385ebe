"""CLI conventions for machines: --version, -q/-v, list --json, --format; check skips its own reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import report_data

import grader
from grader.api import grading_copy
from grader.cli import ExitCode, _print_result, main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"grader {grader.__version__}"


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == ExitCode.OK
    data = json.loads(capsys.readouterr().out)
    by_id = {a["id"]: a for a in data}
    assert {"topic-create", "produce-sequence", "consume-partition", "stateful-wordcount"} <= set(by_id)
    for a in data:
        assert sum(c["points"] for c in a["checks"]) == pytest.approx(a["points"])
        assert {c["visibility"] for c in a["checks"]} <= {"visible", "after_due_date", "hidden"}
    assert by_id["consume-partition"]["params"]["PARTITION"]["kind"] in {"int", "choice"}


def test_formats_writing_the_same_file_are_a_usage_error_before_grading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(
        ["check", str(tmp_path), "--format", "json", "--format", "gradescope", "--out", str(tmp_path / "o")]
    )
    assert rc == ExitCode.USAGE
    assert "both write results.json" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_quiet_and_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    result = report_data.failed_only()
    _print_result(result, {}, -1)
    assert capsys.readouterr().out.strip() == "4/10 failed (seed 424242)"
    _print_result(result, {}, 0)
    normal = capsys.readouterr().out
    assert "FAIL  0/3  Topic has 6 partitions" in normal
    assert "topic hob2026-abc exists" not in normal, "passed checks' messages only with -v"
    _print_result(result, {"json": Path("out/results.json")}, 2)
    verbose = capsys.readouterr().out
    assert "topic hob2026-abc exists" in verbose
    assert "PartitionCount: 3" in verbose
    assert "Timings:" in verbose
    assert "json: out/results.json" in verbose


def test_grading_copy_leaves_out_reports_git_and_the_output_folder(tmp_path: Path) -> None:
    repo = tmp_path / "my-repo"
    (repo / "topic-create").mkdir(parents=True)
    (repo / "topic-create" / "create_topic.sh").write_text("#!/bin/sh\n")
    (repo / "reports" / "my-repo").mkdir(parents=True)
    (repo / "reports" / "my-repo" / "report.html").write_text("old")
    (repo / ".git").mkdir()
    (repo / "out-here").mkdir()
    copy = grading_copy(repo, repo / "out-here", tmp_path / "tmp")
    assert copy.name == "my-repo", "reports name the submission after its folder"
    assert sorted(p.name for p in copy.iterdir()) == ["topic-create"]
    clean = tmp_path / "clean"
    (clean / "topic-create").mkdir(parents=True)
    assert grading_copy(clean, tmp_path / "elsewhere", tmp_path / "tmp2") == clean, (
        "nothing to leave out: no copy"
    )


def test_references_come_from_a_course_private_folder_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from grader.registry import select

    (a,) = select(["topic-create"])
    assert a.reference == a.folder / "reference"
    monkeypatch.setenv("GRADER_REFERENCES", str(tmp_path))
    assert a.reference == tmp_path / "topic-create"
    assert main(["validate", "--references", str(tmp_path / "missing")]) == ExitCode.USAGE
    assert "is not a folder" in capsys.readouterr().err


def test_a_broken_course_set_up_still_takes_the_platforms_grader_error_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "assignments" / "topic-create"
    broken.mkdir(parents=True)
    (broken / "spec.toml").write_text('id = "topic-create"\n')
    monkeypatch.setenv("GRADER_ASSIGNMENTS", str(broken.parent))
    (tmp_path / "sub").mkdir()
    out = tmp_path / "out"
    argv = ["check", str(tmp_path / "sub"), "--out", str(out)]
    assert main([*argv, "--format", "prairielearn", "--format", "junit"]) == ExitCode.GRADER_ERROR
    assert "invalid spec" in capsys.readouterr().err
    prairielearn = json.loads((out / "results.json").read_text())
    assert prairielearn["gradable"] is False
    assert "invalid spec" in prairielearn["output"]
    assert '<error message="' in (out / "junit.xml").read_text()
    gradescope = tmp_path / "gradescope"
    gradescope.mkdir()
    (gradescope / "results.json").write_text('{"score": 10}')  # from an earlier run: must not be posted
    argv = ["check", str(tmp_path / "sub"), "--out", str(gradescope), "--format", "gradescope"]
    assert main(argv) == ExitCode.GRADER_ERROR
    assert list(gradescope.iterdir()) == [], "no results.json: Gradescope's autograder-failure state"


def test_format_choices_are_the_report_formats() -> None:
    from grader.cli import build_parser
    from grader.report import FORMATS

    check_parser = build_parser()._subparsers._group_actions[0].choices["check"]  # type: ignore[union-attr]
    (action,) = [a for a in check_parser._actions if a.dest == "format"]
    assert list(action.choices) == list(FORMATS)
