#!/usr/bin/env bash
# Reference solution for topic-create: 6 partitions, replication factor 2, safe to re-run.
set -euo pipefail
kafka-topics --bootstrap-server "$BOOTSTRAP_SERVERS" --create --if-not-exists \
    --partitions 6 --replication-factor 2 --topic "$TOPIC"
kafka-topics --bootstrap-server "$BOOTSTRAP_SERVERS" --describe --topic "$TOPIC"
