"""The check API's visibility option: declared on @check, validated, carried into every CheckResult."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from grader.checks import check
from grader.errors import SpecError
from grader.registry import discover
from grader.results import AssignmentResult, Status, Visibility
from grader.runner import _run_checks


def _noop(ctx: object) -> None:
    return None


def _fails(ctx: object) -> None:
    raise AssertionError("grader bug")


def test_default_is_visible_and_the_three_values_are_accepted() -> None:
    assert check(points=1, title="a")(_noop).visibility is Visibility.VISIBLE
    assert (
        check(points=1, title="a", visibility="after_due_date")(_noop).visibility is Visibility.AFTER_DUE_DATE
    )
    assert check(points=1, title="a", visibility="hidden")(_noop).visibility is Visibility.HIDDEN


def test_an_unknown_visibility_names_the_choices() -> None:
    with pytest.raises(ValueError, match="visibility must be one of 'visible', 'after_due_date', 'hidden'"):
        check(points=1, title="Topic exists", visibility="secret")


def test_an_unknown_visibility_in_a_check_module_is_a_spec_error(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "spec.toml").write_text(
        'id = "demo"\ntitle = "Demo"\ndescription = "d"\npoints = 1\nentrypoints = ["run.sh"]\n'
    )
    (folder / "checks.py").write_text(
        "from grader.checks import check\n\n"
        "@check(points=1, title='x', visibility='later')\n"
        "def x(ctx):\n    pass\n"
    )
    (assignment,) = discover(tmp_path)
    with pytest.raises(SpecError, match="visibility must be one of"):
        _ = assignment.checks


def test_the_runner_copies_visibility_into_results() -> None:
    checks = [
        check(points=1, title="shown")(_noop),
        check(points=2, title="later", visibility="after_due_date")(_noop),
        check(points=3, title="broken", visibility="hidden")(_fails),
    ]
    result = AssignmentResult(id="demo", title="Demo", max_points=6)
    _run_checks(SimpleNamespace(checks=checks), None, result)  # type: ignore[arg-type]
    assert [c.visibility for c in result.checks] == [
        Visibility.VISIBLE,
        Visibility.AFTER_DUE_DATE,
        Visibility.HIDDEN,
    ]
    assert [c.status for c in result.checks] == [Status.PASSED, Status.PASSED, Status.ERROR]
    assert all(c.duration_s >= 0 for c in result.checks)
