"""Assignment specs: a validated ``spec.toml`` per assignment folder, and per-run parameters.

Parameters are randomised per run from a recorded seed (so hard-coded answers fail) and are
reproducible: the same seed gives the same parameters, hence an identical regrade.

Parameters are public (student code gets them in its environment, reports print the seed), so
nothing a check compares against may be derived from them. Hidden test data (e.g. the values the
grader writes into a topic before a consumer runs) comes from a :class:`RunSecret` instead: fresh
random bytes per run, kept in the grader's memory only.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import secrets
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from grader.errors import SpecError

ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


class RunSecret:
    """A per-run secret that hidden test data is drawn from; never exported, printed or recorded.

    It is independent of the seed on purpose: the seed is printed in every report and the
    parameters are in the student's environment, so anything derived from them can be
    recomputed by student code without doing the work. A regrade with the same seed gets the
    same parameters but other hidden data, which a correct solution does not notice.
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes | None = None) -> None:
        """``key``: fixed bytes for tests; by default 32 fresh bytes from the OS's CSPRNG."""
        self._key = key if key is not None else secrets.token_bytes(32)

    def rng(self, purpose: str) -> random.Random:
        """A random generator for one purpose (e.g. ``"consume-partition:values"``), keyed by the secret."""
        return random.Random(hmac.new(self._key, purpose.encode(), hashlib.sha256).digest())

    def __repr__(self) -> str:
        return "RunSecret(<hidden>)"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IntParam(_Strict):
    """An integer drawn uniformly from ``min..max`` (inclusive)."""

    kind: Literal["int"]
    min: int
    max: int
    description: str = ""

    @model_validator(mode="after")
    def _range(self) -> IntParam:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        return self

    def draw(self, rng: random.Random) -> int:
        return rng.randint(self.min, self.max)


class TopicParam(_Strict):
    """A per-student topic name in the seminar's style, e.g. ``hob2026-37a1c0-topic``.

    Six hex digits: the assignments of one submission share a cluster, so their topics must not
    collide (with four digits, about one class in forty of 300 students would have a pair that did).
    """

    kind: Literal["topic"]
    prefix: str = "hob2026"
    description: str = ""

    def draw(self, rng: random.Random) -> str:
        return f"{self.prefix}-{rng.randrange(16**6):06x}-topic"


class ChoiceParam(_Strict):
    """One of a fixed list of values."""

    kind: Literal["choice"]
    choices: list[int | str] = Field(min_length=1)
    description: str = ""

    def draw(self, rng: random.Random) -> int | str:
        return rng.choice(self.choices)


Param = Annotated[IntParam | TopicParam | ChoiceParam, Field(discriminator="kind")]


class Limits(_Strict):
    """Time and resource limits for the student's processes."""

    run_seconds: float = Field(60.0, gt=0)
    """Wall-clock limit of one run of the entrypoint; the whole process group is killed after it."""
    cpu_seconds: int = Field(300, gt=0)
    """CPU-time limit per process (RLIMIT_CPU)."""
    memory_mb: int = Field(12288, gt=0)
    """Address-space limit per process (RLIMIT_AS); generous because JVMs reserve a lot."""
    file_size_mb: int = Field(256, gt=0)
    """Largest file a process may write (RLIMIT_FSIZE)."""
    output_kb: int = Field(64, gt=0)
    """Bytes of stdout and of stderr kept per run (the rest is drained and counted)."""


class AssignmentSpec(_Strict):
    """What an assignment is: id, texts, points, accepted entrypoints, parameters, limits."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    points: float = Field(gt=0)
    """Total points; must equal the sum of the check module's checks."""
    order: int = 0
    """Position in listings and reports."""
    entrypoints: list[str] = Field(min_length=1)
    """Accepted file names in the submission's ``<id>/`` folder, first match wins."""
    brokers: int = Field(3, ge=1, le=9)
    """Kafka cluster size this assignment needs."""
    params: dict[str, Param] = Field(default_factory=dict)
    """Parameters, exported to student code as environment variables of the same name."""
    limits: Limits = Limits()
    overlap: bool = False
    """Long-running: graded first in a submission, and once its act calls ``ctx.allow_overlap()``
    (it only waits on the student's app) the submission's other assignments are graded beside it."""

    @field_validator("params")
    @classmethod
    def _env_names(cls, params: dict[str, Param]) -> dict[str, Param]:
        for name in params:
            if not ENV_NAME.match(name):
                raise ValueError(
                    f"parameter name {name!r} must look like an environment variable (e.g. TOPIC)"
                )
        return params

    @field_validator("entrypoints")
    @classmethod
    def _plain_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if "/" in name or name.startswith("."):
                raise ValueError(f"entrypoint {name!r} must be a plain file name")
        return names

    def draw_params(self, seed: int) -> dict[str, str | int | float]:
        """This run's parameter values: a pure function of (seed, assignment id, parameter name)."""
        return {
            name: param.draw(random.Random(f"{seed}:{self.id}:{name}")) for name, param in self.params.items()
        }


def load_spec(path: Path) -> AssignmentSpec:
    """Read and validate a ``spec.toml``; a broken spec raises SpecError naming the file and field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{path}: cannot read the spec: {exc}") from exc
    try:
        return AssignmentSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        raise SpecError(f"{path}: invalid spec: {problems}") from exc
