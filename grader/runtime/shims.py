"""The seminar's Kafka CLI inside the sandbox: ``kafka-topics``, console producer/consumer, ...

Each command on the sandbox ``PATH`` is a two-line script that runs this module, which
translates seminar-era usage (Kafka 0.10/ZooKeeper) to Kafka 4 against the sandbox cluster and
then ``exec``s the real Kafka tool. Every translation is appended to a JSON-lines log so that the
report can say "you used X; in Kafka 4 write Y".

Translations:
  --zookeeper HOST:2181      -> --bootstrap-server <sandbox brokers>   (kafka-topics, consumer, groups)
  --broker-list HOST:9092    -> --bootstrap-server <sandbox brokers>   (console producer, GetOffsetShell)
  --new-consumer             -> dropped (every consumer is the "new" one since Kafka 2.0)
  --bootstrap-server OTHER   -> --bootstrap-server <sandbox brokers>   (e.g. the course's host names)
  kafka-run-class kafka.tools.GetOffsetShell -> org.apache.kafka.tools.GetOffsetShell
"""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

TOOLS = {
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-delete-records": "org.apache.kafka.tools.DeleteRecordsCommand",
    "kafka-run-class": "",
}
LEGACY_CLASSES = {
    "kafka.tools.GetOffsetShell": "org.apache.kafka.tools.GetOffsetShell",
    "kafka.admin.TopicCommand": "org.apache.kafka.tools.TopicCommand",
    "kafka.tools.ConsoleConsumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka.tools.ConsoleProducer": "org.apache.kafka.tools.ConsoleProducer",
    "kafka.admin.ConsumerGroupCommand": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
}
CONFIG_NAME = "shim-config.json"
TOOL_JVM_FLAGS = ("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData")


ASSIGNMENT_ENV = "GRADER_ASSIGNMENT"
"""Set in every student process: the id of the assignment it runs for."""


@dataclass(frozen=True)
class Translation:
    """One seminar-era usage the shim rewrote, with the Kafka 4 form to use instead."""

    tool: str
    used: str
    modern: str
    why: str
    assignment: str = ""
    """The assignment whose run used it (``$GRADER_ASSIGNMENT``; runs of a submission may overlap)."""

    def message(self) -> str:
        if not self.modern:
            return f"{self.tool}: you used '{self.used}'; in Kafka 4 leave it out ({self.why})."
        return f"{self.tool}: you used '{self.used}'; in Kafka 4 write '{self.modern}' ({self.why})."


def _split_opt(arg: str) -> tuple[str, str | None]:
    if arg.startswith("--") and "=" in arg:
        name, value = arg.split("=", 1)
        return name, value
    return arg, None


def translate(tool: str, args: list[str], bootstrap: str) -> tuple[str, list[str], list[Translation]]:
    """Map a command line to (main class, Kafka 4 arguments, translations made)."""
    notes: list[Translation] = []
    main_class = TOOLS[tool]
    if tool == "kafka-run-class":
        if not args:
            return "", [], notes
        cls, args = args[0], list(args[1:])
        if cls in LEGACY_CLASSES:
            notes.append(
                Translation(
                    tool,
                    cls,
                    LEGACY_CLASSES[cls],
                    "the tools moved to org.apache.kafka.tools; 'kafka-get-offsets' is the short form",
                )
            )
            cls = LEGACY_CLASSES[cls]
        main_class = cls
    out: list[str] = []
    have_bootstrap = False
    i = 0
    while i < len(args):
        name, inline = _split_opt(args[i])
        if name in ("--zookeeper", "--broker-list", "--bootstrap-server"):
            value = inline
            if value is None and i + 1 < len(args):
                i += 1
                value = args[i]
            given = name if value is None else f"{name} {value}"
            if name == "--zookeeper":
                notes.append(
                    Translation(
                        tool,
                        given,
                        "--bootstrap-server $BOOTSTRAP_SERVERS",
                        "Kafka 4 runs without ZooKeeper (KRaft); tools talk to the brokers",
                    )
                )
            elif name == "--broker-list":
                notes.append(
                    Translation(
                        tool,
                        given,
                        "--bootstrap-server $BOOTSTRAP_SERVERS",
                        "--broker-list was removed in Kafka 4.0",
                    )
                )
            elif value != bootstrap:
                notes.append(
                    Translation(
                        tool,
                        given,
                        "--bootstrap-server $BOOTSTRAP_SERVERS",
                        "the sandbox's brokers are in $BOOTSTRAP_SERVERS; do not hard-code hosts",
                    )
                )
            if not have_bootstrap:
                out += ["--bootstrap-server", bootstrap]
                have_bootstrap = True
        elif name == "--new-consumer":
            notes.append(
                Translation(
                    tool,
                    "--new-consumer",
                    "",
                    "the old ZooKeeper consumer is gone; every consumer is the new one",
                )
            )
        else:
            out.append(args[i])
        i += 1
    return main_class, out, notes


def install(
    bin_dir: Path, *, python: str, java: str, classpath: str, log4j: Path, bootstrap: str, log_file: Path
) -> list[Path]:
    """Write the shim scripts (with and without ``.sh``) and their config into ``bin_dir``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "java": java,
        "classpath": classpath,
        "log4j": str(log4j),
        "bootstrap": bootstrap,
        "log_file": str(log_file),
    }
    (bin_dir / CONFIG_NAME).write_text(json.dumps(config))
    written = []
    for tool in TOOLS:
        for name in (tool, f"{tool}.sh"):
            script = bin_dir / name
            script.write_text(
                f'#!/bin/sh\nexec "{python}" -m grader.runtime.shims "{bin_dir / CONFIG_NAME}" {tool} "$@"\n'
            )
            script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            written.append(script)
    return written


def read_translations(log_file: Path) -> list[Translation]:
    """The translations recorded in ``log_file`` (each distinct one once, in first-use order)."""
    if not log_file.is_file():
        return []
    seen: dict[tuple[str, str, str], Translation] = {}
    for line in log_file.read_text().splitlines():
        try:
            t = Translation(**json.loads(line))
        except (ValueError, TypeError):
            continue
        seen.setdefault((t.assignment, t.tool, t.used.split(" ")[0]), t)
    return list(seen.values())


def main(argv: list[str]) -> int:
    """Entry point of the shim scripts: ``shims CONFIG TOOL [ARGS...]``."""
    config = json.loads(Path(argv[0]).read_text())
    tool, args = argv[1], argv[2:]
    main_class, args, notes = translate(tool, args, config["bootstrap"])
    if not main_class:
        sys.stderr.write("usage: kafka-run-class CLASS [ARGS...]\n")
        return 2
    if notes:
        with open(config["log_file"], "a") as log:
            for note in notes:
                log.write(
                    json.dumps({**asdict(note), "assignment": os.environ.get(ASSIGNMENT_ENV, "")}) + "\n"
                )
        for note in notes:
            sys.stderr.write(f"[grader sandbox] {note.message()}\n")
    cmd = [
        config["java"],
        *TOOL_JVM_FLAGS,
        f"-Dlog4j2.configurationFile={config['log4j']}",
        "-cp",
        config["classpath"],
        main_class,
        *args,
    ]
    sys.stderr.flush()
    os.execv(cmd[0], cmd)
    return 127  # pragma: no cover - execv does not return


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
