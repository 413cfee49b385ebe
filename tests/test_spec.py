"""Spec validation and per-run parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import SpecError
from grader.registry import discover
from grader.spec import load_spec

GOOD = """
id = "demo"
title = "Demo"
description = "d"
points = 3
entrypoints = ["run.sh"]
[params.TOPIC]
kind = "topic"
[params.N]
kind = "int"
min = 5
max = 500
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


def test_parameters_are_reproducible_per_seed_and_vary_between_seeds(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.draw_params(7) == spec.draw_params(7)
    drawn = {tuple(spec.draw_params(seed).items()) for seed in range(20)}
    assert len(drawn) > 15
    for seed in range(20):
        params = spec.draw_params(seed)
        assert 5 <= params["N"] <= 500
        assert str(params["TOPIC"]).startswith("hob2026-")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (GOOD.replace("points = 3", "points = -1"), "points"),
        (GOOD.replace('entrypoints = ["run.sh"]', "entrypoints = []"), "entrypoints"),
        (GOOD.replace("min = 5", "min = 900"), "larger than max"),
        (GOOD.replace("[params.N]", "[params.n]"), "environment variable"),
        (GOOD.replace('kind = "int"', 'kind = "float"'), "params.N"),
        (GOOD + 'colour = "red"\n', "colour"),
        ("id = [", "cannot read the spec"),
    ],
)
def test_broken_spec_gives_a_clear_error_naming_file_and_field(tmp_path, change, expected):
    path = write(tmp_path, change)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_points_must_match_the_checks(tmp_path):
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "spec.toml").write_text(GOOD)
    (folder / "checks.py").write_text(
        "from grader.checks import check\n\n@check(points=2, title='t')\ndef only(ctx):\n    pass\n"
    )
    (assignment,) = discover(tmp_path)
    with pytest.raises(SpecError, match="says 3 points but the checks add up to 2"):
        _ = assignment.checks


def test_bundled_assignments_are_valid():
    found = discover()
    assert [a.id for a in found][:3] == ["topic-create", "produce-sequence", "consume-partition"]
    for a in found:
        assert a.checks
        assert (a.folder / "README.md").is_file()
        assert any((a.reference / e).is_file() for e in a.spec.entrypoints)


def test_run_secret_is_fresh_per_run_hidden_and_independent_of_the_seed():
    from grader.checks import CheckContext
    from grader.kafka_util import KafkaView
    from grader.registry import select
    from grader.spec import RunSecret

    (a,) = select(["consume-partition"])
    params = a.spec.draw_params(42)
    one, two = (
        CheckContext(spec=a.spec, params=params, sandbox=None, kafka=KafkaView("127.0.0.1:9"))  # type: ignore[arg-type]
        for _ in range(2)
    )
    # Same seed, same public parameters, different hidden data.
    draw = [ctx.secret.rng("consume-partition:records").sample(range(10**6), 20) for ctx in (one, two)]
    assert draw[0] != draw[1]
    # Nothing of it reaches the student's environment or a printed representation.
    assert set(one.env()) == {*params, "GRADER_ASSIGNMENT"}  # the parameters and which assignment runs
    assert "hidden" in repr(one.secret)
    # A fixed key (tests only) is reproducible, and purposes are independent streams.
    fixed = RunSecret(b"k" * 32)
    assert fixed.rng("a").random() == RunSecret(b"k" * 32).rng("a").random()
    assert fixed.rng("a").random() != fixed.rng("b").random()


def test_the_assignments_of_one_submission_get_distinct_topics():
    """They share one cluster: a shared topic name would make the second 'prepare' a grader error."""
    from grader.registry import select

    specs = [a.spec for a in select(None)]
    for seed in range(30000):
        topics = [str(s.draw_params(seed)["TOPIC"]) for s in specs if "TOPIC" in s.params]
        assert len(set(topics)) == len(topics), (seed, topics)
