"""Resolve, verify and cache the pinned Kafka and Spark-Kafka connector jars.

Resolution uses Apache Ivy, a real dependency resolver: the Ivy jar that ships inside pyspark
reads the published POMs (no hand-written POM parsing), verifies the repository's checksums on
download and retrieves the runtime closure. The grader then records a SHA-256 of every jar in a
``lock.json``; later runs check the lock and never touch the network, so everything works
offline once cached.

Every use verifies the cache cheaply: ``verified.json`` records, per jar, the size and mtime it
had when its SHA-256 last matched the lock; a jar whose size or mtime changed since is hashed
again. A jar that no longer matches is fetched again (repair, from Ivy's cache or the network)
or, when that is impossible, reported with the fix. ``grader setup --verify`` re-hashes every
jar regardless (it also catches damage that kept both size and mtime).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from grader.errors import RuntimeProvisionError
from grader.runtime.java import JavaRuntime, find_java

KAFKA_VERSION = "4.3.1"
LOG4J_VERSION = "2.25.4"
RESOURCES = Path(__file__).parent


def cache_root() -> Path:
    """Where jars are cached: ``$GRADER_CACHE_DIR`` or the user cache dir."""
    if os.environ.get("GRADER_CACHE_DIR"):
        return Path(os.environ["GRADER_CACHE_DIR"])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("grader"))


def pyspark_version() -> str:
    """The installed pyspark version; the connector is pinned to exactly this version."""
    return importlib.metadata.version("pyspark")


def pyspark_jars_dir() -> Path:
    """The ``jars/`` folder inside the installed pyspark package."""
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


@dataclass(frozen=True)
class Bundle:
    """A pinned set of Maven coordinates resolved together into one cached folder."""

    name: str
    coordinates: tuple[str, ...]
    description: str

    @property
    def folder(self) -> Path:
        return cache_root() / self.name


def kafka_bundle() -> Bundle:
    """Kafka broker + tools + a log4j2 SLF4J binding."""
    return Bundle(
        f"kafka-{KAFKA_VERSION}",
        (
            f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION}",
            f"org.apache.kafka:kafka-tools:{KAFKA_VERSION}",
            f"org.apache.logging.log4j:log4j-slf4j2-impl:{LOG4J_VERSION}",
        ),
        f"Kafka {KAFKA_VERSION}",
    )


def spark_kafka_bundle() -> Bundle:
    """The Structured Streaming Kafka source matching the installed pyspark."""
    version = pyspark_version()
    return Bundle(
        f"spark-sql-kafka-{version}",
        (f"org.apache.spark:spark-sql-kafka-0-10_2.13:{version}",),
        f"Spark Kafka connector {version}",
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _ivy_jar() -> Path:
    jars = sorted(pyspark_jars_dir().glob("ivy-*.jar"))
    if not jars:
        raise RuntimeProvisionError(
            f"The Ivy resolver jar was not found in {pyspark_jars_dir()}. Reinstall the grader "
            "('make install') so that pyspark is complete."
        )
    return jars[-1]


def _ivy_module(bundle: Bundle) -> str:
    deps = []
    for coordinate in bundle.coordinates:
        org, name, rev = coordinate.split(":")
        deps.append(
            f'<dependency org="{escape(org)}" name="{escape(name)}" rev="{escape(rev)}" '
            'conf="default->default"/>'
        )
    return (
        '<ivy-module version="2.0"><info organisation="grader" module="'
        + bundle.name
        + '"/><configurations><conf name="default"/></configurations><dependencies>'
        + "".join(deps)
        + "</dependencies></ivy-module>"
    )


def _ivy_settings(repo_url: str) -> str:
    return (
        '<ivysettings><settings defaultResolver="mirror"/><resolvers>'
        f'<ibiblio name="mirror" m2compatible="true" root="{escape(repo_url)}"/>'
        "</resolvers></ivysettings>"
    )


class _Progress:
    """A one-line progress display fed by Ivy's output (resolving modules, downloading jars)."""

    def __init__(self, label: str, stream=sys.stderr) -> None:
        self.label = label
        self.stream = stream
        self.found = 0
        self.downloaded = 0
        self.tty = stream.isatty()

    def feed(self, line: str) -> None:
        if line.lstrip().startswith("found "):
            self.found += 1
        elif "[SUCCESSFUL ]" in line:
            self.downloaded += 1
        else:
            return
        text = f"  {self.label}: {self.found} modules resolved, {self.downloaded} files downloaded"
        if self.tty:
            self.stream.write("\r" + text)
            self.stream.flush()
        elif self.downloaded and self.downloaded % 20 == 0:
            self.stream.write(text + "\n")

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")
        self.stream.write(f"  {self.label}: {self.found} modules, {self.downloaded} files downloaded\n")


def _resolve(bundle: Bundle, java: JavaRuntime, progress: bool) -> None:
    target = bundle.folder
    staging = Path(tempfile.mkdtemp(prefix=f".{bundle.name}-", dir=target.parent))
    try:
        (staging / "ivy.xml").write_text(_ivy_module(bundle))
        cmd = [
            str(java.executable),
            "-jar",
            str(_ivy_jar()),
            "-ivy",
            str(staging / "ivy.xml"),
            "-cache",
            str(cache_root() / "ivy-cache"),
            "-confs",
            "default",
            "-retrieve",
            str(staging / "lib" / "[artifact]-[revision](-[classifier]).[ext]"),
        ]
        if os.environ.get("GRADER_MAVEN_REPO"):
            (staging / "ivysettings.xml").write_text(_ivy_settings(os.environ["GRADER_MAVEN_REPO"]))
            cmd += ["-settings", str(staging / "ivysettings.xml")]
        if progress:
            sys.stderr.write(f"Resolving {bundle.description} ({', '.join(bundle.coordinates)})\n")
        bar = _Progress(bundle.description)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if progress:
                bar.feed(line)
        rc = proc.wait()
        if progress:
            bar.done()
        jars = sorted((staging / "lib").glob("*.jar")) if (staging / "lib").is_dir() else []
        if rc != 0 or not jars:
            problems = [
                ln.strip() for ln in lines if "UNRESOLVED" in ln or ("::" in ln and "not found" in ln)
            ]
            problems += [ln.strip() for ln in lines if "Connection refused" in ln or "UnknownHost" in ln][:3]
            detail = "\n    ".join((problems or lines[-8:])[:12])
            source = os.environ.get("GRADER_MAVEN_REPO") or "Maven Central"
            raise RuntimeProvisionError(
                f"Could not download {bundle.description} ({', '.join(bundle.coordinates)}) from {source} "
                f"and nothing usable is cached in {target}.\n    {detail}\n"
                "The grader needs network access to Maven Central once; after that it works offline from the "
                "cache. Fix: connect and run 'grader setup', set GRADER_MAVEN_REPO to a Maven mirror, or set "
                "KAFKA_HOME to an unpacked Kafka distribution (Kafka jars only)."
            )
        lock = {
            "coordinates": list(bundle.coordinates),
            "jars": {jar.name: {"sha256": _sha256(jar), "size": jar.stat().st_size} for jar in jars},
        }
        (staging / "lock.json").write_text(json.dumps(lock, indent=2, sort_keys=True))
        (staging / "ivy.xml").unlink()
        (staging / "ivysettings.xml").unlink(missing_ok=True)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


VERIFIED = "verified.json"


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json_atomically(path: Path, data: dict) -> None:
    """Write ``path`` so that a concurrent reader sees the old or the new file, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a read-only cache still works; it is just hashed every time


def _stamp(stat: os.stat_result) -> dict[str, int]:
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _check_lock(bundle: Bundle, deep: bool) -> list[Path] | None:
    """The bundle's jars if the cache matches its lock, else None.

    A jar's SHA-256 is computed when ``deep``, or when its size or mtime differ from those recorded
    in ``verified.json`` the last time it matched; the record is then refreshed.
    """
    lock = _read_json(bundle.folder / "lock.json")
    if lock is None or lock.get("coordinates") != list(bundle.coordinates):
        return None
    verified = _read_json(bundle.folder / VERIFIED) or {}
    fresh: dict[str, dict] = {}
    jars = []
    for name, meta in lock["jars"].items():
        jar = bundle.folder / "lib" / name
        try:
            stat = jar.stat()
        except OSError:
            return None
        if stat.st_size != meta["size"]:
            return None
        record = {**_stamp(stat), "sha256": meta["sha256"]}
        if (deep or verified.get(name) != record) and _sha256(jar) != meta["sha256"]:
            return None
        fresh[name] = record
        jars.append(jar)
    if fresh != verified:
        _write_json_atomically(bundle.folder / VERIFIED, fresh)
    return jars


def damaged_jars(bundle: Bundle) -> list[str]:
    """Names of the bundle's cached jars that are missing or whose content no longer matches the lock."""
    lock = _read_json(bundle.folder / "lock.json") or {}
    bad = []
    for name, meta in (lock.get("jars") or {}).items():
        jar = bundle.folder / "lib" / name
        if not jar.is_file() or jar.stat().st_size != meta["size"] or _sha256(jar) != meta["sha256"]:
            bad.append(name)
    return bad


def ensure_bundle(
    bundle: Bundle, java: JavaRuntime, *, verify: bool = False, progress: bool = True
) -> list[Path]:
    """The jars of ``bundle``, resolving them once if the cache is empty and again (a repair) when it
    no longer matches its lock."""
    bundle.folder.parent.mkdir(parents=True, exist_ok=True)
    jars = _check_lock(bundle, deep=verify)
    if jars is None:
        with _LOCK:
            jars = _check_lock(bundle, deep=verify)
            if jars is None:
                jars = _repair_or_resolve(bundle, java, progress)
    return jars


def _repair_or_resolve(bundle: Bundle, java: JavaRuntime, progress: bool) -> list[Path]:
    """Resolve ``bundle`` into the cache; when it was there but damaged, insist on the same content."""
    old_lock = _read_json(bundle.folder / "lock.json")
    same_coordinates = old_lock is not None and old_lock.get("coordinates") == list(bundle.coordinates)
    damaged = damaged_jars(bundle) if same_coordinates else []
    fix = (
        f"Fix: run 'grader setup' with network access (it fetches them again), or delete {bundle.folder} "
        "and run it."
    )
    if damaged:
        sys.stderr.write(
            f"The cached {bundle.description} jars changed since they were downloaded "
            f"({', '.join(damaged[:5])}); fetching them again.\n"
        )
    try:
        _resolve(bundle, java, progress)
    except RuntimeProvisionError as exc:
        if not damaged:
            raise
        raise RuntimeProvisionError(
            f"The cached jar(s) {', '.join(damaged)} in {bundle.folder / 'lib'} are damaged: their SHA-256 "
            "no longer matches the one recorded when they were downloaded, and fetching them again "
            f"failed:\n{exc}\n{fix}"
        ) from exc
    jars = _check_lock(bundle, deep=True)
    new_lock = _read_json(bundle.folder / "lock.json") or {}
    if same_coordinates and old_lock is not None:
        changed = [
            name
            for name, meta in old_lock["jars"].items()
            if (new_lock.get("jars") or {}).get(name, {}).get("sha256") != meta["sha256"]
        ]
        if changed:
            raise RuntimeProvisionError(
                f"Fetching {bundle.description} again gave jars that differ from the ones recorded at the "
                f"first download ({', '.join(changed[:5])}): Ivy's cache in {cache_root() / 'ivy-cache'} is "
                f"damaged too. Fix: delete {cache_root() / 'ivy-cache'} and {bundle.folder}, then run "
                "'grader setup' with network access."
            )
    if jars is None:
        raise RuntimeProvisionError(f"The cached jars in {bundle.folder} do not match their lock.json. {fix}")
    return jars


_LOCK = threading.Lock()


def _artifact_name(jar: Path) -> str:
    """``kafka-clients-3.9.1.jar`` -> ``kafka-clients`` (the name without version)."""
    return re.sub(r"-\d[\w.\-]*$", "", jar.stem)


@dataclass(frozen=True)
class Runtime:
    """Everything needed to run Kafka and Spark-with-Kafka: Java plus verified jar lists."""

    java: JavaRuntime
    kafka_jars: tuple[Path, ...]
    spark_kafka_jars: tuple[Path, ...]
    kafka_source: str
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def kafka_classpath(self) -> str:
        return os.pathsep.join(str(j) for j in self.kafka_jars)

    @property
    def broker_log4j(self) -> Path:
        return RESOURCES / "log4j2-broker.properties"

    @property
    def tools_log4j(self) -> Path:
        return RESOURCES / "log4j2-tools.properties"

    def describe(self) -> list[str]:
        """Human-readable lines for ``grader setup``."""
        return [
            f"Java {self.java.major}: {self.java.executable}",
            f"Kafka {KAFKA_VERSION}: {len(self.kafka_jars)} jars from {self.kafka_source}",
            f"Spark Kafka connector {pyspark_version()}: {len(self.spark_kafka_jars)} jars "
            f"(added to pyspark's own) in {spark_kafka_bundle().folder / 'lib'}",
        ]


def _kafka_home_jars(home: Path) -> list[Path]:
    jars = sorted((home / "libs").glob("*.jar"))
    if not any(j.name.startswith("kafka_2.13") for j in jars):
        raise RuntimeProvisionError(
            f"KAFKA_HOME={home} is not a Kafka distribution (no libs/kafka_2.13-*.jar). "
            "Unset KAFKA_HOME to let the grader fetch Kafka itself, or point it to an unpacked Kafka 4.x."
        )
    return jars


@cache
def ensure_runtime(verify: bool = False, progress: bool = True) -> Runtime:
    """Find Java and make sure the pinned jars are cached (downloading them once if needed)."""
    java = find_java()
    if os.environ.get("KAFKA_HOME"):
        kafka_jars = _kafka_home_jars(Path(os.environ["KAFKA_HOME"]))
        source = f"KAFKA_HOME={os.environ['KAFKA_HOME']}"
    else:
        kafka_jars = ensure_bundle(kafka_bundle(), java, verify=verify, progress=progress)
        source = str(kafka_bundle().folder / "lib")
    connector = ensure_bundle(spark_kafka_bundle(), java, verify=verify, progress=progress)
    # pyspark ships Spark itself and several of the connector's transitive dependencies; adding a
    # second copy of those (often another version) to spark.jars invites classpath conflicts.
    bundled = {_artifact_name(j) for j in pyspark_jars_dir().glob("*.jar")}
    spark_jars = [j for j in connector if _artifact_name(j) not in bundled]
    return Runtime(java, tuple(kafka_jars), tuple(spark_jars), source)
