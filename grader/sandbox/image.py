"""The grading image: built on the host from Debian packages and the grader's own caches, no registry.

``grader image build`` makes two images:

1. the **base** (``grader-base:<hash>``): a Debian root file system with Java 17, Python 3 and tini,
   made by ``mmdebstrap --variant=minbase`` from the host's own apt sources and ``docker import``-ed;
2. the **grading image** (``grader-sandbox:<hash>``): ``docker/Dockerfile`` on top of the base, fed
   from the host only: the installed pyspark/py4j/kafka-python distributions, the verified Kafka and
   connector jars of the grader's cache, and the grader's runtime modules (never the check modules,
   assignments or reference solutions). The build runs with no network.

Each tag is a hash of its inputs, so an unchanged grader re-uses its image in well under a second
and a changed runtime file is noticed (the sandbox then asks for a rebuild instead of grading with
stale code).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grader
from grader.errors import GraderError
from grader.runtime.jars import Runtime

IMAGE_REPO = "grader-sandbox"
BASE_REPO = "grader-base"
LABEL = "org.grader.image"
SUITE = "bookworm"
DISTRIBUTIONS = ("pyspark", "py4j", "kafka-python", "psutil")
# The grader's runtime: what the container needs to run brokers, the CLI shims and student helpers.
RUNTIME_FILES = (
    "__init__.py",
    "errors.py",
    "procs.py",
    "kafka_util.py",
    "waiting.py",
    "runtime/__init__.py",
    "runtime/cluster.py",
    "runtime/container_main.py",
    "runtime/java.py",
    "runtime/jars.py",
    "runtime/run_killer.py",
    "runtime/shims.py",
    "runtime/spark_cds.py",
    "runtime/log4j2-broker.properties",
    "runtime/log4j2-tools.properties",
    "student/__init__.py",
    "student/seminar_spark.py",
)
_BASE_CLEANUP = (
    'rm -rf "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/locale/* '
    '"$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*'
)


class ImageBuildError(GraderError):
    """The grading image could not be built; the message names the failing step and its log."""


def definition_dir() -> Path:
    """The ``docker/`` folder: next to the grader in a checkout, else the installed ``grader_docker`` data."""
    here = Path(grader.__file__).resolve().parent.parent / "docker"
    if (here / "Dockerfile").is_file():
        return here
    return Path(str(importlib.resources.files("grader_docker")))


def base_packages() -> list[str]:
    lines = (definition_dir() / "base-packages.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def _digest(parts: list[str | bytes]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:12]


def base_tag() -> str:
    return f"{BASE_REPO}:{_digest([SUITE, *base_packages(), _BASE_CLEANUP])}"


def _distribution_files(name: str) -> list[tuple[str, Path]]:
    """(path relative to site-packages, absolute path) of an installed distribution's files."""
    dist = importlib.metadata.distribution(name)
    out = []
    for f in dist.files or []:
        rel = str(f)
        if rel.startswith("..") or "__pycache__" in rel or rel.endswith(".pyc"):
            continue
        out.append((rel, Path(str(dist.locate_file(f)))))
    return out


def _runtime_root() -> Path:
    return Path(grader.__file__).parent


def image_tag(runtime: Runtime) -> str:
    """The grading image's tag: a hash of everything that goes into it (cheap: no jar is re-read)."""
    parts: list[str | bytes] = [base_tag()]
    for name in ("Dockerfile", "run-student"):
        parts.append((definition_dir() / name).read_bytes())
    root = _runtime_root()
    for rel in RUNTIME_FILES:
        parts += [rel, (root / rel).read_bytes()]
    for jar in (*runtime.kafka_jars, *runtime.spark_kafka_jars):
        parts += [jar.name, str(jar.stat().st_size)]
    for name in DISTRIBUTIONS:
        dist = importlib.metadata.distribution(name)
        # Only files inside site-packages (those go into the image): the console scripts outside it
        # carry the venv's own path in their shebang, which would make every checkout's tag differ.
        record = [ln for ln in (dist.read_text("RECORD") or "").splitlines() if not ln.startswith("..")]
        parts += [name, dist.version, "\n".join(record)]
    return f"{IMAGE_REPO}:{_digest(parts)}"


@dataclass
class BuildResult:
    """What ``grader image build`` did."""

    tag: str
    reused: bool
    seconds: float
    size_mb: float
    base_seconds: float = 0.0


def _has_image(client, tag: str) -> bool:  # type: ignore[no-untyped-def]
    import docker.errors

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def _build_base(client, tag: str, log: Callable[[str], None]) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("mmdebstrap") is None:
        raise ImageBuildError(
            "building the base image needs mmdebstrap on the host: 'apt-get install mmdebstrap' "
            "(Debian/Ubuntu), then run 'grader image build' again"
        )
    # The host's own apt sources (and so its mirror and proxies), pasted into the new root file system.
    candidates = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
    sources = [p for p in candidates if p.is_file() and p.read_text().strip()]
    with tempfile.TemporaryDirectory(prefix="grader-base-") as tmp:
        tar = Path(tmp) / "rootfs.tar"
        cmd = [
            "mmdebstrap",
            "--variant=minbase",
            f"--include={','.join(base_packages())}",
            '--aptopt=Acquire::Check-Valid-Until "false"',
            f"--customize-hook={_BASE_CLEANUP}",
            SUITE,
            str(tar),
            *(str(p) for p in sources[:1]),
        ]
        log(f"base: {' '.join(cmd[:3])} ... (Debian {SUITE}: {', '.join(base_packages())})")
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
        if done.returncode != 0 or not tar.is_file() or tar.stat().st_size == 0:
            tail = "\n".join((done.stderr or done.stdout).splitlines()[-25:])
            raise ImageBuildError(
                f"step 'base root file system' failed: mmdebstrap exited {done.returncode}:\n{tail}"
            )
        log(f"base: importing {tar.stat().st_size / 2**20:.0f} MiB into docker as {tag}")
        repo, _, version = tag.partition(":")
        import docker.errors

        try:
            client.api.import_image_from_file(str(tar), repository=repo, tag=version)
        except docker.errors.APIError as exc:
            raise ImageBuildError(f"step 'docker import' of the base root file system failed: {exc}") from exc
    if not _has_image(client, tag):
        raise ImageBuildError(f"step 'docker import' did not produce {tag}")


def _context(runtime: Runtime, folder: Path) -> None:
    """Lay out the build context: Dockerfile, launcher, jars, distributions, runtime modules."""
    for name in ("Dockerfile", "run-student"):
        shutil.copy2(definition_dir() / name, folder / name)
    for sub, jars in (("kafka", runtime.kafka_jars), ("spark-kafka", runtime.spark_kafka_jars)):
        (folder / sub).mkdir()
        for jar in jars:
            if jar.stat().st_dev == folder.stat().st_dev:
                os.link(jar, folder / sub / jar.name)  # same file system: no copy of ~100 MB
            else:
                shutil.copy2(jar, folder / sub / jar.name)
    site = folder / "site-packages"
    for name in DISTRIBUTIONS:
        for rel, src in _distribution_files(name):
            dest = site / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
    root = _runtime_root()
    for rel in RUNTIME_FILES:
        dest = folder / "python" / "grader" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, dest)


def build(
    runtime: Runtime,
    *,
    client=None,
    force: bool = False,
    log: Callable[[str], None] = print,  # type: ignore[no-untyped-def]
) -> BuildResult:
    """Build (or re-use) the grading image for this grader and runtime."""
    import docker
    import docker.errors

    began = time.monotonic()
    client = client or docker.from_env(timeout=600)  # type: ignore[attr-defined]
    tag = image_tag(runtime)
    if not force and _has_image(client, tag):
        size = client.images.get(tag).attrs.get("Size", 0) / 2**20
        return BuildResult(tag, True, time.monotonic() - began, size)
    base = base_tag()
    base_seconds = 0.0
    if force or not _has_image(client, base):
        t0 = time.monotonic()
        _build_base(client, base, log)
        base_seconds = time.monotonic() - t0
    with tempfile.TemporaryDirectory(prefix="grader-image-", dir=_context_parent()) as tmp:
        folder = Path(tmp)
        log(f"image: assembling the build context ({', '.join(DISTRIBUTIONS)}, jars, runtime)")
        _context(runtime, folder)
        log(f"image: docker build {tag} (no network)")
        lines: list[str] = []
        try:
            for chunk in client.api.build(
                path=str(folder),
                tag=tag,
                buildargs={"BASE": base},
                network_mode="none",
                rm=True,
                forcerm=True,
                decode=True,
                labels={LABEL: "1", "org.grader.version": grader.__version__},
            ):
                if "stream" in chunk:
                    lines.extend(chunk["stream"].splitlines())
                if "error" in chunk:
                    raise ImageBuildError(
                        "step 'docker build' failed: "
                        + chunk["error"].strip()
                        + "\nlast lines of the build log:\n"
                        + "\n".join(lines[-25:])
                    )
        except docker.errors.APIError as exc:
            raise ImageBuildError(f"step 'docker build' failed: {exc}") from exc
    if not _has_image(client, tag):
        raise ImageBuildError(f"docker build finished but {tag} is missing:\n" + "\n".join(lines[-25:]))
    client.images.get(tag).tag(IMAGE_REPO, "latest")
    size = client.images.get(tag).attrs.get("Size", 0) / 2**20
    return BuildResult(tag, False, time.monotonic() - began, size, base_seconds)


def _context_parent() -> str | None:
    """Build the context next to the jar cache when possible, so jars are hard-linked, not copied."""
    from grader.runtime.jars import cache_root

    root = cache_root()
    return str(root) if root.is_dir() else None


def describe(result: BuildResult) -> str:
    """One line for the CLI: tag, built or re-used, time, size."""
    how = "re-used (inputs unchanged)" if result.reused else "built"
    base = f" (base root file system {result.base_seconds:.0f} s)" if result.base_seconds else ""
    return f"{result.tag}: {how} in {result.seconds:.1f} s, {result.size_mb:.0f} MiB{base}"
