"""The seminar's Kafka CLI in the sandbox: translation rules (pure) and the real tools on a real cluster."""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import pytest
from conftest import KafkaShell

from grader.kafka_util import KafkaView
from grader.runtime import shims
from grader.runtime.cluster import KafkaCluster
from grader.runtime.jars import ensure_runtime
from grader.runtime.shims import LEGACY_CLASSES, TOOLS, Translation, install, read_translations, translate

B = "127.0.0.1:40001,127.0.0.1:40002"
SEMINAR_HOST = "mipt-node01.atp-fivt.org"


def used(notes: list[Translation]) -> list[str]:
    return [n.used for n in notes]


# -- translate(): every rule -------------------------------------------------------------------------


def test_zookeeper_becomes_bootstrap_server() -> None:
    cls, args, notes = translate(
        "kafka-topics",
        ["--zookeeper", f"{SEMINAR_HOST}:2181", "--create", "--partitions", "6", "--replication-factor", "2",
         "--topic", "hob201901-topic"],
        B,
    )
    assert cls == "org.apache.kafka.tools.TopicCommand"
    assert args == ["--bootstrap-server", B, "--create", "--partitions", "6", "--replication-factor", "2",
                    "--topic", "hob201901-topic"]
    assert used(notes) == [f"--zookeeper {SEMINAR_HOST}:2181"]
    assert notes[0].modern == "--bootstrap-server $BOOTSTRAP_SERVERS"
    assert "ZooKeeper" in notes[0].why
    assert notes[0].message().startswith("kafka-topics: you used '--zookeeper ")


def test_broker_list_becomes_bootstrap_server() -> None:
    cls, args, notes = translate("kafka-console-producer", ["--broker-list", "h:9092", "--topic", "t"], B)
    assert cls == "org.apache.kafka.tools.ConsoleProducer"
    assert args == ["--bootstrap-server", B, "--topic", "t"]
    assert used(notes) == ["--broker-list h:9092"]
    assert "removed" in notes[0].why


def test_new_consumer_is_dropped() -> None:
    cls, args, notes = translate(
        "kafka-console-consumer",
        ["--bootstrap-server", B, "--topic", "t", "--new-consumer", "--from-beginning", "--partition", "0"],
        B,
    )
    assert cls == "org.apache.kafka.tools.consumer.ConsoleConsumer"
    assert args == ["--bootstrap-server", B, "--topic", "t", "--from-beginning", "--partition", "0"]
    assert used(notes) == ["--new-consumer"]


def test_foreign_bootstrap_server_is_redirected_and_own_is_silent() -> None:
    foreign = "mipt-node06.atp-fivt.org:9092"
    _, args, notes = translate("kafka-topics", ["--bootstrap-server", foreign, "--list"], B)
    assert args == ["--bootstrap-server", B, "--list"]
    assert used(notes) == [f"--bootstrap-server {foreign}"]
    _, args, notes = translate("kafka-topics", ["--bootstrap-server", B, "--list"], B)
    assert args == ["--bootstrap-server", B, "--list"]
    assert notes == []


@pytest.mark.parametrize("flag", ["--zookeeper", "--broker-list", "--bootstrap-server"])
def test_opt_equals_value_form(flag: str) -> None:
    _, args, notes = translate("kafka-topics", [f"{flag}=h:1234", "--list"], B)
    assert args == ["--bootstrap-server", B, "--list"]
    assert used(notes) == [f"{flag} h:1234"]


def test_duplicate_bootstrap_flags_give_one_bootstrap_server() -> None:
    _, args, notes = translate(
        "kafka-console-consumer",
        ["--zookeeper", "z:2181", "--topic", "t", "--bootstrap-server=h:9092", "--broker-list", "b:9092"],
        B,
    )
    assert args == ["--bootstrap-server", B, "--topic", "t"]
    assert used(notes) == ["--zookeeper z:2181", "--bootstrap-server h:9092", "--broker-list b:9092"]


def test_flag_without_value_at_the_end() -> None:
    _, args, notes = translate("kafka-topics", ["--list", "--zookeeper"], B)
    assert args == ["--list", "--bootstrap-server", B]
    assert used(notes) == ["--zookeeper"]


def test_other_arguments_pass_through_untouched() -> None:
    argv = ["--topic", "a b", "--property", "print.key=true", "--max-messages", "5", "-x", "--", "--zk"]
    _, args, notes = translate("kafka-console-consumer", argv, B)
    assert args == argv
    assert notes == []


@pytest.mark.parametrize(("legacy", "modern"), sorted(LEGACY_CLASSES.items()))
def test_run_class_maps_legacy_classes(legacy: str, modern: str) -> None:
    cls, args, notes = translate("kafka-run-class", [legacy, "--broker-list", "h:9092", "--topic", "t"], B)
    assert cls == modern
    assert args == ["--bootstrap-server", B, "--topic", "t"]
    assert used(notes) == [legacy, "--broker-list h:9092"]
    assert notes[0].modern == modern


def test_run_class_keeps_other_classes_and_needs_one() -> None:
    cls, args, notes = translate("kafka-run-class", ["org.example.Tool", "--x", "1"], B)
    assert (cls, args, notes) == ("org.example.Tool", ["--x", "1"], [])
    assert translate("kafka-run-class", [], B) == ("", [], [])


def test_run_class_without_class_prints_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"bootstrap": B, "log_file": str(tmp_path / "t.jsonl")}))
    assert shims.main([str(config), "kafka-run-class"]) == 2
    assert "usage: kafka-run-class CLASS" in capsys.readouterr().err


def test_every_mapped_class_exists_in_the_kafka_jars() -> None:
    """A typo in a class name would only show up as ClassNotFound in a student's run."""
    wanted = {c for c in TOOLS.values() if c} | set(LEGACY_CLASSES.values())
    present = set()
    for jar in ensure_runtime(progress=False).kafka_jars:
        with zipfile.ZipFile(jar) as zf:
            names = set(zf.namelist())
        present |= {c for c in wanted if c.replace(".", "/") + ".class" in names}
    assert present == wanted


# -- install() and the translation log ----------------------------------------------------------------


def test_install_writes_executable_scripts_and_config(tmp_path: Path) -> None:
    written = install(tmp_path / "bin", python="/py", java="/j", classpath="a.jar:b.jar",
                      log4j=Path("/l.props"), bootstrap=B, log_file=tmp_path / "t.jsonl")
    names = {p.name for p in written}
    assert names == set(TOOLS) | {f"{t}.sh" for t in TOOLS}
    for script in written:
        assert os.access(script, os.X_OK)
        assert script.read_text().startswith("#!/bin/sh\nexec \"/py\" -m grader.runtime.shims ")
    config = json.loads((tmp_path / "bin" / shims.CONFIG_NAME).read_text())
    assert config == {"java": "/j", "classpath": "a.jar:b.jar", "log4j": "/l.props", "bootstrap": B,
                      "log_file": str(tmp_path / "t.jsonl")}


def test_read_translations_dedupes_and_skips_junk(tmp_path: Path) -> None:
    log = tmp_path / "t.jsonl"
    assert read_translations(log) == []
    a = Translation("kafka-topics", "--zookeeper a:2181", "m", "w")
    b = Translation("kafka-topics", "--zookeeper b:2181", "m", "w")
    c = Translation("kafka-console-producer", "--broker-list h", "m", "w")
    lines = [json.dumps(a.__dict__), "not json", json.dumps({"x": 1}), json.dumps(b.__dict__),
             json.dumps(c.__dict__)]
    log.write_text("\n".join(lines) + "\n")
    assert read_translations(log) == [a, c]


# -- the real tools through the shims on a real 3-broker cluster ----------------------------------


def parse_describe(text: str) -> dict[int, tuple[int, tuple[int, ...], tuple[int, ...]]]:
    """``kafka-topics --describe`` partition lines -> {partition: (leader, replicas, isr)}."""
    rows = {}
    pattern = r"Partition: (\d+)\s+Leader: (-?\d+)\s+Replicas: ([\d,]+)\s+Isr: ([\d,]*)"
    for m in re.finditer(pattern, text):
        ints = lambda s: tuple(int(x) for x in s.split(",") if x)  # noqa: E731
        rows[int(m.group(1))] = (int(m.group(2)), ints(m.group(3)), ints(m.group(4)))
    return rows


@pytest.mark.kafka
def test_seminar_topic_create_and_describe(kafka_cluster: KafkaCluster, kafka_shell: KafkaShell) -> None:
    res = kafka_shell.run(
        f"kafka-topics --zookeeper {SEMINAR_HOST}:2181 --create --partitions 6 --replication-factor 2 "
        "--topic hob201901-topic"
    )
    assert res.returncode == 0, res.stderr
    assert "Created topic hob201901-topic." in res.stdout
    assert f"you used '--zookeeper {SEMINAR_HOST}:2181'" in res.stderr

    res = kafka_shell.run(
        f"kafka-topics.sh --zookeeper {SEMINAR_HOST}:2181 --describe --topic hob201901-topic"
    )
    assert res.returncode == 0, res.stderr
    assert re.search(r"PartitionCount: 6\s+ReplicationFactor: 2", res.stdout), res.stdout
    rows = parse_describe(res.stdout)
    assert sorted(rows) == list(range(6))
    for leader, replicas, isr in rows.values():
        assert len(replicas) == len(set(replicas)) == 2
        assert set(replicas) <= set(kafka_cluster.broker_ids)
        assert leader in replicas
        assert set(isr) == set(replicas)
    # The tool's view agrees with the cluster's metadata.
    view = KafkaView(kafka_cluster.bootstrap_servers)
    try:
        info = view.describe_topic("hob201901-topic")
    finally:
        view.close()
    assert info is not None
    assert {p.partition: set(p.replicas) for p in info.partitions} == {p: set(r[1]) for p, r in rows.items()}

    recorded = [t for t in kafka_shell.translations() if t.used.startswith("--zookeeper")]
    assert recorded, kafka_shell.translations()
    assert recorded[0].tool == "kafka-topics"
    assert recorded[0].used == f"--zookeeper {SEMINAR_HOST}:2181"
    assert recorded[0].modern == "--bootstrap-server $BOOTSTRAP_SERVERS"


@pytest.mark.kafka
def test_console_producer_and_consumer_round_trip(
    kafka_cluster: KafkaCluster, kafka_shell: KafkaShell
) -> None:
    topic = "roundtrip-topic"
    view = KafkaView(kafka_cluster.bootstrap_servers)
    try:
        view.create_topic(topic, 1, 2)
        res = kafka_shell.run(
            f"seq 20 | kafka-console-producer --broker-list mipt-node05.atp-fivt.org:9092 --topic {topic}"
        )
        assert res.returncode == 0, res.stderr
        assert [r[3] for r in view.read_all(topic)] == [str(i).encode() for i in range(1, 21)]
    finally:
        view.close()
    res = kafka_shell.run(
        f"kafka-console-consumer --bootstrap-server mipt-node06.atp-fivt.org:9092 --topic {topic} "
        "--new-consumer --from-beginning --partition 0 --timeout-ms 5000"
    )
    assert res.stdout.split() == [str(i) for i in range(1, 21)], res.stderr
    assert "Processed a total of 20 messages" in res.stderr
    seen = {(t.tool, t.used) for t in kafka_shell.translations()}
    assert ("kafka-console-producer", "--broker-list mipt-node05.atp-fivt.org:9092") in seen
    assert ("kafka-console-consumer", "--new-consumer") in seen


@pytest.mark.kafka
def test_get_offset_shell_via_run_class(kafka_cluster: KafkaCluster, kafka_shell: KafkaShell) -> None:
    topic = "offsets-topic"
    view = KafkaView(kafka_cluster.bootstrap_servers)
    try:
        view.create_topic(topic, 3, 2)
        view.produce(topic, [(0, None, b"a")] * 7 + [(2, None, b"b")] * 4)
        expected = view.end_offsets(topic)
    finally:
        view.close()
    assert expected == {0: 7, 1: 0, 2: 4}
    res = kafka_shell.run(
        "kafka-run-class kafka.tools.GetOffsetShell --broker-list mipt-node05.atp-fivt.org:9092 "
        f"--topic {topic} --time -1"
    )
    assert res.returncode == 0, res.stderr
    assert sorted(res.stdout.split()) == [f"{topic}:{p}:{n}" for p, n in sorted(expected.items())]
    assert "org.apache.kafka.tools.GetOffsetShell" in res.stderr
    assert any(t.used == "kafka.tools.GetOffsetShell" for t in kafka_shell.translations())


@pytest.mark.kafka
def test_unknown_flag_fails_fast_with_kafkas_message(kafka_shell: KafkaShell) -> None:
    res = kafka_shell.run("kafka-topics --bootstrap-server $BOOTSTRAP_SERVERS --list --bogus", timeout=60)
    assert res.returncode != 0
    assert "bogus is not a recognized option" in res.stdout + res.stderr


@pytest.mark.kafka
def test_describing_a_missing_topic(kafka_cluster: KafkaCluster, kafka_shell: KafkaShell) -> None:
    res = kafka_shell.run(
        "kafka-topics --bootstrap-server $BOOTSTRAP_SERVERS --describe --topic no-such-topic", timeout=60
    )
    assert res.returncode != 0
    assert "Topic 'no-such-topic' does not exist" in res.stdout + res.stderr
    view = KafkaView(kafka_cluster.bootstrap_servers)
    try:
        assert view.describe_topic("no-such-topic") is None
    finally:
        view.close()
