"""``grader new ID``: a new assignment folder that validates as it is, to be edited into the real one.

It writes a small but complete assignment ("write the word hello into $TOPIC"): ``spec.toml``,
``checks.py`` (two checks, each catching a wrong submission), ``README.md``, ``reference/``,
``stub/`` and one case with its ``expect.toml``. ``grader validate -a ID`` passes on it at once, and
keeps passing while the course maintainer turns it into their assignment case by case.
"""

from __future__ import annotations

import re
from pathlib import Path

from grader.errors import UsageError

ID_PATTERN = re.compile(r"^[a-z][a-z0-9-]*$")

SPEC = """\
id = "{id}"
title = "{title}"
description = "Write the word hello into the topic $TOPIC, as one record."
points = 5
order = {order}
entrypoints = ["produce.sh", "produce.py"]
brokers = 3

[params.TOPIC]
kind = "topic"
description = "the topic to write to (the grader creates it before your script runs)"

[limits]
run_seconds = 30
"""

CHECKS = '''\
"""Checks for {id}: the topic $TOPIC holds the record hello (a scaffold: make it your assignment)."""

from __future__ import annotations

from grader.content import RUN, CheckContext, StateKey, check, runs_cleanly

VALUES = StateKey[list[str]]("values")
"""The records of $TOPIC after the student's script ran, as text."""


def prepare(ctx: CheckContext) -> None:
    """The topic exists before the student's script runs."""
    ctx.kafka.create_topic(ctx.params["TOPIC"], 3, 2)


def act(ctx: CheckContext) -> None:
    """Run the script once, then read back what the topic holds (the effect, not the output)."""
    ctx.state[RUN] = ctx.run_entrypoint("run")
    records = ctx.kafka.read_all(ctx.params["TOPIC"])
    ctx.state[VALUES] = [(raw or b"").decode("utf-8", errors="replace").strip() for *_, raw in records]


runs = runs_cleanly(2)


@check(
    points=3,
    title="The topic holds the record hello",
    hint='echo hello | kafka-console-producer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC"',
)
def wrote_hello(ctx: CheckContext) -> None:
    values = ctx.state[VALUES]
    ctx.expect(
        "hello" in values,
        f"expected a record hello in {{ctx.params['TOPIC']!r}} ($TOPIC); found "
        + (f"{{len(values)}} records, e.g. {{values[:3]}}" if values else "no record at all"),
    )
'''

README = """\
# {title}

Write `{id}/produce.sh` (or `produce.py`): it writes the word `hello` into the topic named in
`$TOPIC`, on the brokers in `$BOOTSTRAP_SERVERS`, as one record, and ends with exit status 0.

| points | check |
|---|---|
| 2 | the script runs as is and ends by itself with exit status 0 |
| 3 | the topic holds the record `hello` |

Self-check: `grader check . -a {id}`
"""

REFERENCE = """\
#!/usr/bin/env bash
# Reference solution of {id}.
set -euo pipefail
echo hello | kafka-console-producer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC"
"""

STUB = """\
#!/usr/bin/env bash
# {id}: write the word hello into $TOPIC (see README.md). Self-check: grader check .. -a {id}
echo "{id}: not implemented yet — edit produce.sh (see README.md)" >&2
exit 1
"""

CASE = """\
#!/usr/bin/env bash
# Writes a greeting of its own instead of the word hello.
echo "Hello, world" | kafka-console-producer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC"
"""

EXPECT = """\
summary = "writes another text than the word hello"

[checks.wrote_hello]
status = "failed"
message = "found 1 records, e.g. ['Hello, world']"
"""


def scaffold(root: Path, assignment_id: str, order: int) -> Path:
    """Write the new assignment ``assignment_id`` under ``root`` (the course's assignments/)."""
    if not ID_PATTERN.match(assignment_id):
        raise UsageError(
            f"{assignment_id!r} is not an assignment id: use lower-case letters, digits and '-', "
            "starting with a letter (e.g. delivery-semantics)"
        )
    folder = root / assignment_id
    if folder.exists():
        raise UsageError(f"{folder} already exists: pick another id, or edit that assignment")
    title = assignment_id.replace("-", " ").capitalize()
    values = {"id": assignment_id, "title": title, "order": order}
    files = {
        "spec.toml": SPEC,
        "checks.py": CHECKS,
        "README.md": README,
        "reference/produce.sh": REFERENCE,
        "stub/produce.sh": STUB,
        "cases/.gitattributes": "# Cases keep their bytes (a CRLF case must stay CRLF).\n* -text\n",
        "cases/other_text/produce.sh": CASE,
        "cases/other_text/expect.toml": EXPECT,
    }
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(**values), encoding="utf-8")
        if path.suffix == ".sh":
            path.chmod(0o755)
    return folder
