"""DockerSandbox: one fresh, locked-down container per submission (work in progress)."""

from __future__ import annotations


def docker_unavailable_reason() -> str | None:
    """None when a docker engine is reachable and the grading image exists; else why not."""
    try:
        import docker
    except ImportError:
        return "the 'docker' Python package is not installed"
    try:
        client = docker.from_env(timeout=5)
        client.ping()
    except Exception:
        return "no docker engine is reachable"
    return "the grading image is not built yet ('grader image build')"
