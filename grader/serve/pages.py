"""The service's HTML pages: jinja2 templates (autoescaped, ``{% trans %}`` ready) in the report's look."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment

import grader
from grader.report.html import strict_environment

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@cache
def environment() -> Environment:
    """The template environment; translations are the identity until the Russian catalogue lands."""
    env = strict_environment(TEMPLATES, ("jinja2.ext.i18n",))
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(version=grader.__version__)
    return env


def render(template: str, **values: Any) -> str:
    """Render the page ``template`` with ``values``."""
    return environment().get_template(template).render(**values)
