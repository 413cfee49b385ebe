"""grader.content is the one door from assignment code into the engine (no Kafka needed)."""

from __future__ import annotations

import ast

import pytest

import grader.content
from grader.registry import discover
from grader.state import Stash, StateKey


def _engine_imports(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "grader" or name.startswith("grader.")}


@pytest.mark.parametrize("assignment", discover(), ids=lambda a: a.id)
def test_assignment_modules_import_the_engine_only_through_grader_content(assignment):
    for module in sorted(assignment.folder.glob("*.py")):
        assert _engine_imports(module.read_text()) <= {"grader.content"}, module


def test_the_public_api_lists_what_it_exports():
    assert sorted(grader.content.__all__) == sorted(set(grader.content.__all__))
    for name in grader.content.__all__:
        assert hasattr(grader.content, name), name


def test_typed_state_keys_name_a_value_nobody_set():
    count = StateKey[int]("count")
    stash = Stash()
    assert count not in stash
    assert stash.get(count) is None
    assert stash.get(count, 0) == 0
    stash[count] = 3
    assert stash[count] == 3
    assert stash.setdefault(count, 5) == 3
    other = StateKey[int]("count")  # same name, another key: keys are compared by identity
    with pytest.raises(KeyError, match="'count' was never set in this run's state"):
        stash[other]
