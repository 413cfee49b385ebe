"""The runner grades a long assignment's waiting tail beside the others (no Kafka needed).

Throw-away assignments record what happens, in order, in a fake sandbox; the lead one (``overlap =
true``) waits for the others inside its act, which only ends if they really ran beside it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from grader.registry import Assignment
from grader.results import Status
from grader.runner import grade_submission
from grader.spec import Limits, load_spec


class Box:
    """Just enough of a sandbox for the runner: no processes, a journal of events."""

    name = "fake"

    def __init__(self, submission: Path) -> None:
        self.workdir = submission
        self.limits = Limits()
        self.bootstrap_servers = "127.0.0.1:9"
        self.cluster_start_seconds = 0.0
        self.events: list[str] = []
        self.stopped = False
        self.lock = threading.Lock()

    def log(self, event: str) -> None:
        with self.lock:
            self.events.append(event)

    def start(self) -> Box:
        return self

    def stop(self, keep_logs_to: Path | None = None) -> None:
        self.stopped = True

    def translations(self) -> list:
        return []

    def dead_brokers(self) -> dict[int, str]:
        return {}


SHORT = '''
from grader.content import check

def act(ctx):
    ctx.sandbox.log("{id}")

@check(points=1, title="ran")
def ran(ctx):
    pass
'''

LEAD = '''
import time
from grader.content import StateKey, check

SAW_OTHERS = StateKey[bool]("saw_others")

def act(ctx):
    ctx.sandbox.log("lead: busy")
    time.sleep(0.3)
    {overlap}
    ctx.sandbox.log("lead: waiting")
    deadline = time.monotonic() + {wait}
    while "short-b" not in ctx.sandbox.events and time.monotonic() < deadline:
        time.sleep(0.02)
    {fail}
    ctx.state[SAW_OTHERS] = "short-b" in ctx.sandbox.events
    ctx.sandbox.log("lead: end")

@check(points=2, title="the others ran while it waited")
def beside(ctx):
    ctx.expect(ctx.state[SAW_OTHERS], "the other assignments did not run beside it")
'''


def _assignment(
    root: Path, ident: str, order: int, points: int, code: str, overlap: bool = False
) -> Assignment:
    folder = root / ident
    folder.mkdir()
    (folder / "spec.toml").write_text(
        f'id = "{ident}"\ntitle = "{ident}"\ndescription = "d"\npoints = {points}\norder = {order}\n'
        f'entrypoints = ["run.sh"]\noverlap = {str(overlap).lower()}\n'
    )
    (folder / "checks.py").write_text(code)
    return Assignment(folder, load_spec(folder / "spec.toml"))


def _grade(
    tmp_path: Path,
    *,
    overlap: str = "ctx.allow_overlap()",
    wait: float = 5.0,
    fail: str = "",
    boxes: list[Box] | None = None,
):
    root = tmp_path / "assignments"
    root.mkdir()
    lead = LEAD.format(overlap=overlap, wait=wait, fail=fail)
    assignments = [
        _assignment(root, "short-a", 1, 1, SHORT.format(id="short-a")),
        _assignment(root, "short-b", 2, 1, SHORT.format(id="short-b")),
        _assignment(root, "lead", 3, 2, lead, overlap=True),
    ]
    boxes = [] if boxes is None else boxes

    def factory(sub: Path, brokers: int, limits: Limits) -> Box:
        boxes.append(Box(sub))
        return boxes[-1]

    sub = tmp_path / "sub"
    sub.mkdir()
    result = grade_submission(sub, assignments, seed=1, sandbox_factory=factory)  # type: ignore[arg-type]
    return result, boxes[0]


def test_the_others_are_graded_while_the_lead_only_waits(tmp_path: Path):
    result, box = _grade(tmp_path)
    assert box.events == ["lead: busy", "lead: waiting", "short-a", "short-b", "lead: end"]
    # Reported in the order asked for, whatever order they ran in.
    assert [a.id for a in result.assignments] == ["short-a", "short-b", "lead"]
    assert result.points == result.max_points == 4
    assert box.stopped


def test_nothing_runs_beside_a_lead_that_never_says_it_only_waits(tmp_path: Path):
    result, box = _grade(tmp_path, overlap="pass", wait=0.5)
    assert box.events == ["lead: busy", "lead: waiting", "lead: end", "short-a", "short-b"]
    lead = result.assignments[2]
    assert lead.checks[0].status is Status.FAILED
    assert lead.checks[0].message == "the other assignments did not run beside it"
    assert [a.points for a in result.assignments[:2]] == [1, 1]


def test_a_lead_that_fails_after_letting_others_run_is_a_grader_error_of_its_own(tmp_path: Path):
    result, _box = _grade(tmp_path, fail='raise RuntimeError("timeline broke")')
    assert [a.id for a in result.assignments] == ["short-a", "short-b", "lead"]
    assert "timeline broke" in (result.assignments[2].error or "")
    assert [a.points for a in result.assignments[:2]] == [1, 1]


def test_ctrl_c_while_the_lead_runs_stops_the_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The main thread is interrupted while the others are graded beside the lead: the sandbox is
    # stopped (that ends the lead's runs) and the interrupt goes on to the caller.
    import grader.runner as runner

    real = runner.grade_assignment

    def interrupted(assignment, *args, **kwargs):  # type: ignore[no-untyped-def]
        if assignment.id == "short-a":
            raise KeyboardInterrupt
        return real(assignment, *args, **kwargs)

    monkeypatch.setattr(runner, "grade_assignment", interrupted)
    boxes: list[Box] = []
    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        _grade(tmp_path, wait=3.0, boxes=boxes)
    assert time.monotonic() - began < 2.5  # did not wait for the lead to finish
    assert boxes[0].stopped
    assert boxes[0].events[:2] == ["lead: busy", "lead: waiting"]
