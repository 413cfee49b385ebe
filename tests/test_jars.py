"""The jar cache: its lock check (re-hash on size/mtime change, everything with verify), repair on use,
offline use, and the offline error."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import zipfile
from pathlib import Path

import pytest

import grader.runtime.jars as jars_module
from grader.errors import RuntimeProvisionError
from grader.runtime.jars import (
    VERIFIED,
    Bundle,
    _artifact_name,
    _check_lock,
    _kafka_home_jars,
    cache_root,
    damaged_jars,
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


def test_tampered_jar_is_caught_on_use_and_reported_with_the_fix_when_it_cannot_be_fetched(
    empty_cache: Path,
) -> None:
    bundle = fake_bundle({"a-1.0.jar": b"alpha", "b-2.0.jar": b"bravo!"})
    assert _check_lock(bundle, deep=False) is not None
    (bundle.folder / "lib" / "b-2.0.jar").write_bytes(b"BRAVO!")  # same size, other bytes, new mtime
    assert _check_lock(bundle, deep=False) is None  # the everyday check re-hashes what changed
    assert damaged_jars(bundle) == ["b-2.0.jar"]
    with pytest.raises(RuntimeProvisionError) as err:
        ensure_bundle(bundle, find_java(), progress=False)
    text = str(err.value)
    assert f"The cached jar(s) b-2.0.jar in {bundle.folder / 'lib'} are damaged" in text
    assert "Could not download Fake 1.0" in text  # what the repair attempt ran into
    assert "Fix: run 'grader setup' with network access" in text
    assert (bundle.folder / "lib" / "b-2.0.jar").read_bytes() == b"BRAVO!"  # nothing half-replaced


def test_damage_that_keeps_size_and_mtime_is_left_to_verify(empty_cache: Path) -> None:
    """The documented limit of the cheap check: only 'grader setup --verify' re-hashes everything."""
    bundle = fake_bundle({"a-1.0.jar": b"alpha"})
    jar = bundle.folder / "lib" / "a-1.0.jar"
    assert _check_lock(bundle, deep=False) is not None
    before = jar.stat()
    jar.write_bytes(b"ALPHA")
    os.utime(jar, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert _check_lock(bundle, deep=False) is not None
    assert _check_lock(bundle, deep=True) is None


def test_hashes_are_reused_until_size_or_mtime_change(
    empty_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = fake_bundle({"a-1.0.jar": b"alpha", "b-2.0.jar": b"bravo!"})
    hashed: list[str] = []
    real = jars_module._sha256

    def counting(path: Path) -> str:
        hashed.append(path.name)
        return real(path)

    monkeypatch.setattr(jars_module, "_sha256", counting)
    assert _check_lock(bundle, deep=False) is not None
    assert sorted(hashed) == ["a-1.0.jar", "b-2.0.jar"]  # first use: hash and record size + mtime
    recorded = json.loads((bundle.folder / VERIFIED).read_text())
    assert set(recorded["a-1.0.jar"]) == {"size", "mtime_ns", "sha256"}
    hashed.clear()
    assert _check_lock(bundle, deep=False) is not None
    assert hashed == []
    jar = bundle.folder / "lib" / "a-1.0.jar"
    os.utime(jar, ns=(jar.stat().st_atime_ns, jar.stat().st_mtime_ns + 1_000_000))
    assert _check_lock(bundle, deep=False) is not None
    assert hashed == ["a-1.0.jar"]
    hashed.clear()
    assert _check_lock(bundle, deep=True) is not None
    assert sorted(hashed) == ["a-1.0.jar", "b-2.0.jar"]


POM = (
    "<project><modelVersion>4.0.0</modelVersion><groupId>org.example</groupId>"
    "<artifactId>fake</artifactId><version>1.0</version></project>"
)


def test_a_damaged_jar_is_repaired_from_ivys_cache_offline(
    empty_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resolve a real (tiny) artifact from a local Maven repository, damage the cached jar, go
    offline: the next use fetches it again from Ivy's cache and the content is the original."""
    folder = tmp_path / "repo" / "org" / "example" / "fake" / "1.0"
    folder.mkdir(parents=True)
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("org/example/Fake.txt", "fake")
    (folder / "fake-1.0.jar").write_bytes(data.getvalue())
    (folder / "fake-1.0.pom").write_text(POM)
    monkeypatch.setenv("GRADER_MAVEN_REPO", (tmp_path / "repo").as_uri() + "/")
    bundle = Bundle("fake-1.0", ("org.example:fake:1.0",), "Fake 1.0")
    (jar,) = ensure_bundle(bundle, find_java(), progress=False)
    assert jar.read_bytes() == data.getvalue()
    jar.write_bytes(bytes(len(data.getvalue())))  # same size, zeroes
    monkeypatch.setenv("GRADER_MAVEN_REPO", OFFLINE_REPO)
    (repaired,) = ensure_bundle(bundle, find_java(), progress=False)
    assert repaired.read_bytes() == data.getvalue()
    assert damaged_jars(bundle) == []


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
