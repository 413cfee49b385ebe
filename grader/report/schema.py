"""The published JSON Schema of ``results.json``, generated from the results model.

``python -m grader.report.schema`` rewrites the shipped ``results.schema.json``; a test fails when
the shipped file and the model differ, so the schema cannot drift. Consumers validate a
``results.json`` with any JSON Schema validator and need neither the grader nor pyspark.
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from grader.results import SCHEMA_FILE, SCHEMA_VERSION, SubmissionResult

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def results_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``results.json`` as the grader writes it."""
    schema = SubmissionResult.model_json_schema(mode="serialization", by_alias=True)
    schema.update(
        {
            "$schema": SCHEMA_DIALECT,
            "title": f"grader results.json, schema version {SCHEMA_VERSION}",
        }
    )
    return schema


def schema_bytes() -> bytes:
    """The schema as the shipped file holds it."""
    return (json.dumps(results_schema(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def shipped_schema_path() -> Path:
    """Where the shipped ``results.schema.json`` lives inside the package."""
    return Path(str(resources.files("grader.report") / SCHEMA_FILE))


def main() -> int:
    """Regenerate the shipped schema file."""
    path = shipped_schema_path()
    path.write_bytes(schema_bytes())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
