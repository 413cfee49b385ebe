"""The grading image's identity and contents, and ``grader doctor``."""

from __future__ import annotations

import shutil

import pytest

import grader
from grader.cli import ExitCode, main
from grader.runtime.jars import ensure_runtime
from grader.sandbox import image


@pytest.fixture
def runtime_copy(tmp_path, monkeypatch):
    """The grader's runtime files copied aside, so a test can change one and see the tag move."""
    root = tmp_path / "grader"
    for rel in image.RUNTIME_FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(image._runtime_root() / rel, root / rel)
    monkeypatch.setattr(image, "_runtime_root", lambda: root)
    return root


def test_tag_is_a_hash_of_the_inputs(runtime_copy):
    runtime = ensure_runtime(progress=False)
    first = image.image_tag(runtime)
    assert first.startswith("grader-sandbox:")
    assert image.image_tag(runtime) == first
    (runtime_copy / "runtime" / "cluster.py").write_text("# changed\n", encoding="utf-8")
    assert image.image_tag(runtime) != first


def test_tag_does_not_depend_on_where_the_venv_is(monkeypatch):
    """Console scripts outside site-packages name their venv in the shebang; a fresh clone's
    venv elsewhere must still find the image built from the same inputs."""
    import importlib.metadata

    runtime = ensure_runtime(progress=False)
    first = image.image_tag(runtime)
    real = importlib.metadata.distribution

    class Elsewhere:
        def __init__(self, name: str) -> None:
            self._dist = real(name)
            self.version = self._dist.version

        def read_text(self, filename: str) -> str | None:
            text = self._dist.read_text(filename)
            if filename == "RECORD":
                return "../../../bin/some-script,sha256=another-venv-path,99\n" + (text or "")
            return text

    monkeypatch.setattr(image.importlib.metadata, "distribution", Elsewhere)
    assert image.image_tag(runtime) == first


def test_only_the_runtime_goes_into_the_image():
    files = set(image.RUNTIME_FILES)
    assert "runtime/cluster.py" in files
    assert "student/seminar_spark.py" in files
    for private in ("checks.py", "runner.py", "api.py", "registry.py", "report/__init__.py"):
        assert private not in files
    for rel in files:
        assert (image._runtime_root() / rel).is_file(), rel
    assert (image.definition_dir() / "Dockerfile").is_file()
    assert "openjdk-17-jre-headless" in image.base_packages()


def test_context_holds_no_assignment_or_reference(tmp_path):
    image._context(ensure_runtime(progress=False), tmp_path)
    names = {p.name for p in tmp_path.rglob("*")}
    assert "container_main.py" in names
    assert "checks.py" not in names
    assert "reference" not in names
    assert not any(n.startswith("grader_assignments") for n in names)
    assert (tmp_path / "site-packages" / "pyspark").is_dir()
    assert (tmp_path / "python" / "grader" / "__init__.py").read_text() == (
        image._runtime_root() / "__init__.py"
    ).read_text()
    assert grader.__version__


def test_doctor_names_what_is_missing_and_the_fix(capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    rc = main(["doctor"])
    out = capsys.readouterr().out
    assert "Java >= 17" in out
    assert "MISSING  docker engine" in out
    assert "fix: apt-get install docker.io" in out
    # Without docker the local sandbox still grades: doctor fails only for what grading itself needs.
    assert rc == ExitCode.OK


def test_a_failing_build_step_names_the_step_and_the_fix(monkeypatch):
    monkeypatch.setattr(image.shutil, "which", lambda name: None)
    with pytest.raises(image.ImageBuildError, match="apt-get install mmdebstrap"):
        image._build_base(client=None, tag="grader-base:test", log=lambda _: None)
