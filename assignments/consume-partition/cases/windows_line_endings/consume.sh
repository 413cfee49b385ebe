#!/usr/bin/env bash
# Written on Windows: CRLF line endings.
set -euo pipefail
kafka-console-consumer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC" \
    --partition "$PARTITION" --from-beginning --timeout-ms 5000
