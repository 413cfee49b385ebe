#!/usr/bin/env bash
# Reference solution for consume-partition: one partition, from the beginning, stop when idle.
set -euo pipefail
kafka-console-consumer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC" \
    --partition "$PARTITION" --from-beginning --timeout-ms 5000
