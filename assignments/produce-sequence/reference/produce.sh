#!/usr/bin/env bash
# Reference solution for produce-sequence: the seminar's "seq N | producer", Kafka 4 style.
set -euo pipefail
seq "$N" | kafka-console-producer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC"
