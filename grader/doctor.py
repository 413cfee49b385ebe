"""``grader doctor``: what is installed or missing for grading, and the command that fixes each."""

from __future__ import annotations

import shutil
from dataclasses import dataclass


@dataclass
class Finding:
    """One thing the grader needs: whether it is there, what was found, how to fix it."""

    name: str
    ok: bool
    found: str
    fix: str = ""
    needed_for: str = "grading"


def _java() -> Finding:
    from grader.runtime.java import find_java

    try:
        java = find_java()
    except Exception as exc:
        return Finding(
            "Java >= 17", False, str(exc).splitlines()[0], "apt-get install openjdk-17-jre-headless"
        )
    return Finding("Java >= 17", True, f"Java {java.major} at {java.executable}")


def _jars() -> Finding:
    from grader.runtime.jars import ensure_runtime

    try:
        runtime = ensure_runtime(progress=False)
    except Exception as exc:
        return Finding("Kafka and Spark-Kafka jars", False, str(exc).splitlines()[0], "grader setup")
    return Finding(
        "Kafka and Spark-Kafka jars",
        True,
        f"{len(runtime.kafka_jars)} Kafka jars, {len(runtime.spark_kafka_jars)} connector jars (cached)",
    )


def _docker_findings() -> list[Finding]:
    needed = "--sandbox docker (isolated grading)"
    try:
        import docker
        import docker.errors
    except ImportError:
        return [Finding("docker SDK", False, "not installed", "pip install docker", needed)]
    try:
        client = docker.from_env(timeout=5)  # type: ignore[attr-defined]
        version = client.version()
    except Exception:
        return [
            Finding(
                "docker engine",
                False,
                "not reachable",
                "apt-get install docker.io, then 'dockerd &' (or 'systemctl start docker'); "
                "on Debian/Ubuntu as root: bash scripts/start-docker.sh",
                needed,
            )
        ]
    out = [
        Finding(
            "docker engine", True, f"{version.get('Version')} (API {version.get('ApiVersion')})", "", needed
        )
    ]
    from grader.sandbox.docker import expected_image

    try:
        tag = expected_image()
        client.images.get(tag)
        out.append(Finding("grading image", True, tag, "", needed))
    except docker.errors.ImageNotFound:
        out.append(Finding("grading image", False, f"{tag} not built", "grader image build", needed))
    except Exception as exc:
        out.append(Finding("grading image", False, str(exc).splitlines()[0], "grader setup", needed))
    has = shutil.which("mmdebstrap") is not None
    out.append(
        Finding(
            "mmdebstrap",
            has,
            "installed" if has else "missing",
            "" if has else "apt-get install mmdebstrap",
            "'grader image build' (only to build the base image)",
        )
    )
    return out


def diagnose() -> list[Finding]:
    """Every finding, in the order a user would fix them."""
    return [_java(), _jars(), *_docker_findings()]
