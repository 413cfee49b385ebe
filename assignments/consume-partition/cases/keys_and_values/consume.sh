#!/usr/bin/env bash
# Prints key and value (print.key=true), as a tutorial showed.
set -euo pipefail
kafka-console-consumer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC" \
    --partition "$PARTITION" --from-beginning --timeout-ms 5000 --property print.key=true
