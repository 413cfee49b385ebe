"""The jar cache: its lock check (sizes fast, SHA-256 with verify), offline use, and the offline error."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from grader.errors import RuntimeProvisionError
from grader.runtime.jars import (
    Bundle,
    _artifact_name,
    _check_lock,
    _kafka_home_jars,
    cache_root,
    ensure_bundle,
    kafka_bundle,
    spark_kafka_bundle,
)
from grader.runtime.java import find_java

OFFLINE_REPO = "http://127.0.0.1:9/"  # the discard port: connection refused at once


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty jar cache and a Maven repository that cannot be reached."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GRADER_CACHE_DIR", str(cache))
    monkeypatch.setenv("GRADER_MAVEN_REPO", OFFLINE_REPO)
    return cache


def fake_bundle(contents: dict[str, bytes]) -> Bundle:
    """A resolved-looking bundle in the current cache: ``lib/<name>`` files plus a matching lock.json."""
    bundle = Bundle("fake-1.0", ("org.example:fake:1.0",), "Fake 1.0")
    lib = bundle.folder / "lib"
    lib.mkdir(parents=True)
    jars = {}
    for name, data in contents.items():
        (lib / name).write_bytes(data)
        jars[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    lock = {"coordinates": list(bundle.coordinates), "jars": jars}
    (bundle.folder / "lock.json").write_text(json.dumps(lock))
    return bundle


@pytest.mark.parametrize(
    ("jar", "artifact"),
    [
        ("kafka-clients-4.3.1.jar", "kafka-clients"),
        ("kafka_2.13-4.3.1.jar", "kafka_2.13"),
        ("scala-library-2.13.16.jar", "scala-library"),
        ("zstd-jni-1.5.6-10.jar", "zstd-jni"),
        ("commons-pool2-2.12.0.jar", "commons-pool2"),
        ("log4j-slf4j2-impl-2.25.4.jar", "log4j-slf4j2-impl"),
    ],
)
def test_artifact_name_strips_the_version(jar: str, artifact: str) -> None:
    assert _artifact_name(Path(jar)) == artifact


def test_cache_root_follows_env(empty_cache: Path) -> None:
    assert cache_root() == empty_cache
    assert kafka_bundle().folder == empty_cache / "kafka-4.3.1"


def test_intact_bundle_passes_both_checks_and_is_used_offline(empty_cache: Path) -> None:
    bundle = fake_bundle({"a-1.0.jar": b"alpha", "b-2.0.jar": b"bravo!"})
    expected = sorted(bundle.folder / "lib" / n for n in ("a-1.0.jar", "b-2.0.jar"))
    assert sorted(_check_lock(bundle, deep=False) or []) == expected
    assert sorted(_check_lock(bundle, deep=True) or []) == expected
    # The repository is unreachable, so this only works because nothing is downloaded.
    assert sorted(ensure_bundle(bundle, find_java(), verify=True, progress=False)) == expected


def test_tampered_jar_is_caught_by_verify(empty_cache: Path) -> None:
    bundle = fake_bundle({"a-1.0.jar": b"alpha", "b-2.0.jar": b"bravo!"})
    (bundle.folder / "lib" / "b-2.0.jar").write_bytes(b"BRAVO!")  # same size, other bytes
    assert _check_lock(bundle, deep=False) is not None  # the everyday check compares sizes only
    assert _check_lock(bundle, deep=True) is None
    # With verify the mismatch makes the grader fetch the bundle again, which fails offline.
    with pytest.raises(RuntimeProvisionError, match=r"Could not download Fake 1\.0"):
        ensure_bundle(bundle, find_java(), verify=True, progress=False)
    assert (bundle.folder / "lib" / "b-2.0.jar").read_bytes() == b"BRAVO!"  # nothing half-replaced


@pytest.mark.parametrize("damage", ["size", "missing", "coordinates", "corrupt-lock", "no-lock"])
def test_lock_mismatches_are_rejected(empty_cache: Path, damage: str) -> None:
    bundle = fake_bundle({"a-1.0.jar": b"alpha"})
    jar, lock = bundle.folder / "lib" / "a-1.0.jar", bundle.folder / "lock.json"
    if damage == "size":
        jar.write_bytes(b"alpha-and-more")
    elif damage == "missing":
        jar.unlink()
    elif damage == "coordinates":
        data = json.loads(lock.read_text())
        data["coordinates"] = ["org.example:fake:0.9"]
        lock.write_text(json.dumps(data))
    elif damage == "corrupt-lock":
        lock.write_text("{not json")
    else:
        lock.unlink()
    assert _check_lock(bundle, deep=False) is None
    assert _check_lock(bundle, deep=True) is None


def test_real_cache_matches_its_lock() -> None:
    """The jars the cluster runs on are exactly the ones recorded at download time."""
    for bundle in (kafka_bundle(), spark_kafka_bundle()):
        lock = json.loads((bundle.folder / "lock.json").read_text())
        jars = _check_lock(bundle, deep=True)
        assert jars is not None, f"{bundle.folder} does not match its lock"
        assert {j.name for j in jars} == set(lock["jars"])
    assert any(j.name == "kafka_2.13-4.3.1.jar" for j in _check_lock(kafka_bundle(), deep=False) or [])


def test_offline_with_empty_cache_says_network_is_needed_once(empty_cache: Path) -> None:
    began = time.monotonic()
    with pytest.raises(RuntimeProvisionError) as err:
        ensure_bundle(kafka_bundle(), find_java(), progress=False)
    message = str(err.value)
    assert time.monotonic() - began < 120
    assert "Could not download Kafka 4.3.1" in message
    assert "org.apache.kafka:kafka_2.13:4.3.1" in message
    assert f"from {OFFLINE_REPO}" in message  # names the repository it really tried
    assert "Connection refused" in message
    assert "needs network access to Maven Central once" in message
    assert "works offline from the cache" in message
    assert "GRADER_MAVEN_REPO" in message
    # Nothing half-resolved is left to be mistaken for a cache later.
    assert not kafka_bundle().folder.exists()
    assert [p.name for p in empty_cache.iterdir() if p.name != "ivy-cache"] == []


def test_kafka_home_must_be_a_distribution(tmp_path: Path) -> None:
    (tmp_path / "libs").mkdir()
    (tmp_path / "libs" / "kafka-clients-4.3.1.jar").write_bytes(b"")
    with pytest.raises(RuntimeProvisionError, match="is not a Kafka distribution"):
        _kafka_home_jars(tmp_path)
    (tmp_path / "libs" / "kafka_2.13-4.3.1.jar").write_bytes(b"")
    assert len(_kafka_home_jars(tmp_path)) == 2
