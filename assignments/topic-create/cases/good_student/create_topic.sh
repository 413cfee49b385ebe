#!/usr/bin/env bash
# Create my topic once; re-running is harmless thanks to --if-not-exists.
set -euo pipefail
kafka-topics --bootstrap-server "$BOOTSTRAP_SERVERS" --create --if-not-exists \
    --topic "$TOPIC" --partitions 6 --replication-factor 2
