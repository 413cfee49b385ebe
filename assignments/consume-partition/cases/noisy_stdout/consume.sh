#!/usr/bin/env bash
echo "Reading partition $PARTITION of $TOPIC..."
kafka-console-consumer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC" --partition "$PARTITION" --from-beginning --timeout-ms 5000
echo "Done."
